using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Xent.Tests.Cli;
using Xent.Training.Model;

namespace Xent.Tests.Training.HuggingFace;

/// <summary>
/// Writes a Hugging Face GPT-2 folder by hand from the layout's description (not with the code under test): config.json
/// with GPT2Config's keys, model.safetensors with Conv1D weights [in, out], optional "transformer." prefix, optional
/// mask buffers, F32 / F16 / BF16 data.
/// </summary>
internal static class TestHfCheckpoint
{
    public static readonly GptConfig Small = new() { VocabSize = 97, ContextLength = 16, Layers = 2, Heads = 4, Dim = 64 };

    /// <summary>A model with random weights (biases and LayerNorm parameters too, so every tensor matters).</summary>
    public static GptModel RandomModel(GptConfig config, int seed)
    {
        var model = new GptModel(config, seed);
        var random = new Random(seed + 1);
        foreach (var p in model.Parameters)
        {
            for (int i = 0; i < p.Data.Length; i++)
            {
                p.Data[i] += 0.05f * ((2 * random.NextSingle()) - 1);
            }
        }

        return model;
    }

    public static void Write(string dir, GptModel model, string dtype = "F32", bool prefix = true, bool buffers = false,
        Action<JsonObject>? editConfig = null, Func<List<(string Name, string DType, long[] Shape, byte[] Data)>, List<(string Name, string DType, long[] Shape, byte[] Data)>>? editTensors = null)
    {
        Directory.CreateDirectory(dir);
        var c = model.Config;
        var config = new JsonObject
        {
            ["model_type"] = "gpt2",
            ["n_embd"] = c.Dim,
            ["n_layer"] = c.Layers,
            ["n_head"] = c.Heads,
            ["n_positions"] = c.ContextLength,
            ["vocab_size"] = c.VocabSize,
            ["layer_norm_epsilon"] = 1e-5,
            ["activation_function"] = "gelu_new",
            ["resid_pdrop"] = c.Dropout,
            ["embd_pdrop"] = c.Dropout,
            ["attn_pdrop"] = 0.0,
        };
        if (!c.TieEmbeddings)
        {
            config["tie_word_embeddings"] = false;
        }

        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());

        string pre = prefix ? "transformer." : string.Empty;
        var tensors = new List<(string Name, string DType, long[] Shape, byte[] Data)>();
        foreach (var p in model.Parameters)
        {
            string name = p.Name switch
            {
                "wte" or "wpe" => pre + p.Name + ".weight",
                "lm_head" => "lm_head.weight",
                _ => pre + p.Name,
            };
            bool conv = p.Name.EndsWith("c_attn.weight", StringComparison.Ordinal) || p.Name.EndsWith("c_proj.weight", StringComparison.Ordinal)
                || p.Name.EndsWith("c_fc.weight", StringComparison.Ordinal);
            float[] data = p.Data;
            long[] shape = [.. p.Shape.Select(d => (long)d)];
            if (conv)
            {
                int rows = p.Shape[0], cols = p.Shape[1];
                data = new float[p.Data.Length];
                for (int r = 0; r < rows; r++)
                {
                    for (int k = 0; k < cols; k++)
                    {
                        data[(k * rows) + r] = p.Data[(r * cols) + k];
                    }
                }

                shape = [cols, rows];
            }

            tensors.Add((name, dtype, shape, Encode(data, dtype)));
            if (buffers && p.Name.EndsWith("attn.c_attn.weight", StringComparison.Ordinal))
            {
                string block = name[..^"c_attn.weight".Length];
                int t = c.ContextLength;
                tensors.Add((block + "bias", "F32", [1, 1, t, t], Encode(new float[t * t], "F32")));
                tensors.Add((block + "masked_bias", "F32", [], Encode([-1e4f], "F32")));
            }
        }

        TestSafeTensors.Write(Path.Combine(dir, "model.safetensors"), [.. editTensors is null ? tensors : editTensors(tensors)]);
    }

    /// <summary>The value a float32 becomes when stored as <paramref name="dtype"/> and read back.</summary>
    public static float RoundTrip(float x, string dtype) => dtype switch
    {
        "F16" => (float)(Half)x,
        "BF16" => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) & unchecked((int)0xFFFF0000)),
        _ => x,
    };

    public static byte[] Encode(float[] data, string dtype)
    {
        int size = dtype == "F32" ? 4 : 2;
        var bytes = new byte[data.Length * size];
        for (int i = 0; i < data.Length; i++)
        {
            var b = bytes.AsSpan(i * size, size);
            switch (dtype)
            {
                case "F32":
                    BinaryPrimitives.WriteSingleLittleEndian(b, data[i]);
                    break;
                case "F16":
                    BinaryPrimitives.WriteHalfLittleEndian(b, (Half)data[i]);
                    break;
                default:
                    BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)(BitConverter.SingleToUInt32Bits(data[i]) >> 16));
                    break;
            }
        }

        return bytes;
    }
}
