using System.Text.Json.Nodes;
using Xent.Tests.Cli;
using Xent.Tests.Model;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Tests.Training.HuggingFace;

/// <summary>Hugging Face GPT-2 folders: every layout variant read to the right values, export and import to the same bits, bad files named.</summary>
public sealed class Gpt2CheckpointTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    public static TheoryData<string, bool, bool, bool> Layouts => new()
    {
        { "F32", true, false, true },
        { "F32", false, true, true },
        { "F16", true, true, true },
        { "BF16", false, false, true },
        { "F32", true, true, false },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void EveryLayoutVariantReadsTheStoredValues(string dtype, bool prefix, bool buffers, bool tied)
    {
        var source = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { TieEmbeddings = tied }, 3);
        TestHfCheckpoint.Write(dir.Path, source, dtype, prefix, buffers);
        Assert.True(Gpt2Checkpoint.IsCheckpoint(dir.Path));
        var model = Gpt2Checkpoint.Load(dir.Path);
        Assert.Equal(source.Config, model.Config);
        Assert.Equal(source.Parameters.Select(p => p.Name), model.Parameters.Select(p => p.Name));
        for (int i = 0; i < source.Parameters.Count; i++)
        {
            float[] expected = [.. source.Parameters[i].Data.Select(x => TestHfCheckpoint.RoundTrip(x, dtype))];
            Assert.Equal(expected, model.Parameters[i].Data);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ExportThenImportGivesTheSameBitsAndTheSameLoss(bool tied)
    {
        var source = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { TieEmbeddings = tied }, 8);
        Gpt2Checkpoint.Save(dir.Path, source);
        Assert.Equal(["config.json", "model.safetensors"], dir.Files().Order());
        var model = Gpt2Checkpoint.Load(dir.Path);
        Assert.Equal(source.Config, model.Config);
        for (int i = 0; i < source.Parameters.Count; i++)
        {
            Assert.Equal(source.Parameters[i].Data, model.Parameters[i].Data);
        }

        int[] tokens = [.. Enumerable.Range(0, 2 * 16).Select(i => (i * 31) % 97)];
        int[] targets = [.. tokens.Skip(1).Append(5)];
        Assert.Equal(source.Loss(tokens, targets, 2, 16), model.Loss(tokens, targets, 2, 16));

        var config = JsonNode.Parse(File.ReadAllText(dir["config.json"]))!;
        Assert.Equal("GPT2LMHeadModel", (string?)config["architectures"]![0]);
        Assert.Equal(tied, (bool)config["tie_word_embeddings"]!);
        Assert.True(source.Config.VocabSize < 50256);
        Assert.Null(config["bos_token_id"]);
        Assert.Null(config["eos_token_id"]);
        Assert.True(((JsonObject)config).ContainsKey("eos_token_id"));
        var gpt2 = JsonNode.Parse(Gpt2ConfigJson.Write(source.Config with { VocabSize = 50257 }))!;
        Assert.Equal(50256, (int)gpt2["eos_token_id"]!);
        string header = File.ReadAllText(dir["model.safetensors"]);
        Assert.Contains("\"transformer.h.1.mlp.c_fc.weight\":{\"dtype\":\"F32\",\"shape\":[64,256]", header, StringComparison.Ordinal);
        Assert.Contains("\"format\":\"pt\"", header, StringComparison.Ordinal);
        Assert.Equal(!tied, header.Contains("lm_head.weight", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.2f)]
    public void TheExportCarriesTheRunsDropoutWhereTheModelAppliesItAndReadsItBack(float p)
    {
        // Xent drops the embedding output and both residual branches (GPT-2's embd_pdrop and resid_pdrop), never the
        // attention probabilities (attn_pdrop): GPT2Config's 0.1 everywhere would regularise a fine-tune differently.
        var source = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { Dropout = p }, 8);
        Gpt2Checkpoint.Save(dir.Path, source);
        var config = JsonNode.Parse(File.ReadAllText(dir["config.json"]))!;
        Assert.Equal(p, (double)config["resid_pdrop"]!, 1e-7);
        Assert.Equal(p, (double)config["embd_pdrop"]!, 1e-7);
        Assert.Equal(0.0, (double)config["attn_pdrop"]!);
        Assert.Equal(source.Config, Gpt2Checkpoint.Load(dir.Path).Config);
    }

    [Fact]
    public void AConfigWithoutDropoutKeysReadsGpt2ConfigsDefaultAndResidPdropIsTheModelsDropout()
    {
        var source = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 8);
        TestHfCheckpoint.Write(dir.Path, source, editConfig: c =>
        {
            c.Remove("resid_pdrop");
            c.Remove("embd_pdrop");
            c.Remove("attn_pdrop");
        });
        Assert.Equal(0.1f, Gpt2Checkpoint.Load(dir.Path).Config.Dropout);

        TestHfCheckpoint.Write(dir.Path, source, editConfig: c => c["resid_pdrop"] = 0.3);
        Assert.Equal(0.3f, Gpt2Checkpoint.Load(dir.Path).Config.Dropout);

        TestHfCheckpoint.Write(dir.Path, source, editConfig: c => c["resid_pdrop"] = 1.0);
        var e = Assert.Throws<TrainingInputException>(() => Gpt2Checkpoint.Load(dir.Path));
        Assert.Contains("resid_pdrop", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLoadedModelComputesGpt2AsTheFloat64ReferenceDoes()
    {
        var source = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 6);
        TestHfCheckpoint.Write(dir.Path, source, "BF16", prefix: true, buffers: true);
        var model = Gpt2Checkpoint.Load(dir.Path);
        int[] tokens = [.. Enumerable.Range(0, 16).Select(i => (i * 37) % 97)];
        int[] targets = [.. tokens.Skip(1).Append(11)];
        double reference = new ReferenceGpt(model).Loss(tokens, targets, 1, 16);
        Assert.InRange(Math.Abs(model.Loss(tokens, targets, 1, 16) - reference) / reference, 0, 1e-5);
    }

    [Fact]
    public void ATiedLmHeadEqualToWteIsAccepted()
    {
        var source = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 4);
        TestHfCheckpoint.Write(dir.Path, source, editTensors: t =>
        {
            t.Add(("lm_head.weight", "F32", [97, 64], TestHfCheckpoint.Encode(source.Parameters[0].Data, "F32")));
            return t;
        });
        Assert.Equal(source.Parameters[0].Data, Gpt2Checkpoint.Load(dir.Path).Parameters[0].Data);
    }

    public static TheoryData<string, string, string> BadFiles => new()
    {
        { "missing tensor", "model.safetensors", "tensor 'h.1.ln_2.bias' is missing" },
        { "wrong shape", "model.safetensors", "tensor 'transformer.h.0.attn.c_attn.weight' has shape [192, 64], expected [64, 192]" },
        { "unknown tensor", "model.safetensors", "tensor 'transformer.h.0.attn.rotary' is not part of a GPT-2 model" },
        { "integer tensor", "model.safetensors", "tensor 'transformer.ln_f.bias' has dtype I32" },
        { "lm_head differs", "model.safetensors", "tensor 'lm_head.weight' differs from the token embedding wte" },
        { "truncated", "model.safetensors", "truncated" },
        { "epsilon", "config.json", "layer_norm_epsilon 1E-06" },
        { "activation", "config.json", "activation_function 'relu'" },
        { "missing key", "config.json", "\"n_head\" is missing" },
        { "heads", "config.json", "Dim must be >= 1 and a multiple of Heads (5)" },
        { "model type", "config.json", "model_type 'llama' is not gpt2" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadFilesNameTheFileAndTheTensor(string name, string file, string problem)
    {
        var source = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 5);
        Action<JsonObject>? config = name switch
        {
            "epsilon" => c => c["layer_norm_epsilon"] = 1e-6,
            "activation" => c => c["activation_function"] = "relu",
            "missing key" => c => c.Remove("n_head"),
            "heads" => c => c["n_head"] = 5,
            "model type" => c => c["model_type"] = "llama",
            _ => null,
        };
        TestHfCheckpoint.Write(dir.Path, source, editConfig: config, editTensors: t => name switch
        {
            "missing tensor" => [.. t.Where(x => x.Name != "transformer.h.1.ln_2.bias")],
            "wrong shape" => [.. t.Select(x => x.Name == "transformer.h.0.attn.c_attn.weight" ? x with { Shape = [192, 64] } : x)],
            "unknown tensor" => [.. t.Append(("transformer.h.0.attn.rotary", "F32", [2], new byte[8]))],
            "integer tensor" => [.. t.Select(x => x.Name == "transformer.ln_f.bias" ? x with { DType = "I32" } : x)],
            "lm_head differs" => [.. t.Append(("lm_head.weight", "F32", [97, 64], new byte[97 * 64 * 4]))],
            _ => t,
        });
        if (name == "truncated")
        {
            var bytes = File.ReadAllBytes(dir["model.safetensors"]);
            File.WriteAllBytes(dir["model.safetensors"], bytes[..^100]);
        }

        var e = Assert.Throws<TrainingInputException>(() => Gpt2Checkpoint.Load(dir.Path));
        Assert.Contains(Path.Combine(dir.Path, file), e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
    }
}
