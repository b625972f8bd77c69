using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xent.Training.Data;

using Xent.Training.Model;

namespace Xent.Training.Checkpoints.HuggingFace;

/// <summary>
/// config.json of a Hugging Face GPT-2 checkpoint (<c>GPT2Config</c>) to and from <see cref="GptConfig"/>. Only the
/// GPT-2 function Xent computes is accepted: LayerNorm eps 1e-5, the tanh GELU (<c>gelu_new</c>), attention scaled
/// by 1/sqrt(head size) and an MLP of width 4D; any other value is an error naming the key. Xent's one dropout
/// probability (<see cref="GptConfig.Dropout"/>) drops the embedding output and both residual branches, GPT-2's
/// <c>embd_pdrop</c> and <c>resid_pdrop</c>, and never the attention probabilities (<c>attn_pdrop</c> 0).
/// </summary>
public static class Gpt2ConfigJson
{
    /// <summary>GPT-2's LayerNorm epsilon, the one Xent's model uses.</summary>
    public const double LayerNormEpsilon = 1e-5;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Whether the JSON text is a Hugging Face GPT-2 config (it has <c>n_embd</c>, or <c>model_type</c> "gpt2").</summary>
    /// <param name="json">config.json's text.</param>
    public static bool LooksLike(string json) => ParseIfGpt2(json) is not null;

    /// <summary>config.json's object.</summary>
    /// <param name="path">config.json's path, named in every error.</param>
    /// <exception cref="TrainingInputException">An unreadable file, or one that is not a JSON object.</exception>
    internal static JsonObject ReadObject(string path) => Parse(ReadText(path), path);

    /// <summary>config.json's object where it is a Hugging Face GPT-2 config (see <see cref="LooksLike"/>), else null.</summary>
    /// <param name="path">config.json's path, named in every error.</param>
    /// <exception cref="TrainingInputException">An unreadable file.</exception>
    internal static JsonObject? ReadIfGpt2(string path) => ParseIfGpt2(ReadText(path));

    /// <summary>
    /// The folder whose config.json is <paramref name="o"/>, checked: the model it describes, the tokenizer and a bpe
    /// export's merges file it names (<see cref="TokenizerKey"/>, <see cref="BpeMergesKey"/>, <see cref="BpeMergesSha256Key"/>).
    /// </summary>
    /// <param name="directory">The folder, as the user named it.</param>
    /// <param name="path">Its config.json, named in every error.</param>
    /// <param name="o">config.json's object.</param>
    /// <exception cref="TrainingInputException">A missing or bad key, or a value Xent's model does not compute.</exception>
    internal static Gpt2Folder Folder(string directory, string path, JsonObject o) =>
        new(directory, path, Model(o, path), String(o, TokenizerKey, path), String(o, BpeMergesKey, path), String(o, BpeMergesSha256Key, path));

    // The model shape config.json describes, and whether the embeddings are tied.
    private static GptConfig Model(JsonObject o, string path)
    {
        string? modelType = String(o, "model_type", path);
        if (modelType is not null and not "gpt2")
        {
            throw new TrainingInputException($"{path}: model_type '{modelType}' is not gpt2; Xent reads GPT-2 checkpoints only.");
        }

        int dim = Int(o, "n_embd", path) ?? throw Missing(path, "n_embd");
        var config = new GptConfig
        {
            Dim = dim,
            Layers = Int(o, "n_layer", path) ?? throw Missing(path, "n_layer"),
            Heads = Int(o, "n_head", path) ?? throw Missing(path, "n_head"),
            ContextLength = Int(o, "n_positions", path) ?? Int(o, "n_ctx", path) ?? throw Missing(path, "n_positions"),
            VocabSize = Int(o, "vocab_size", path) ?? throw Missing(path, "vocab_size"),
            TieEmbeddings = Bool(o, "tie_word_embeddings", path) ?? true,
            Dropout = (float)Dropout(o, path),
        };
        double eps = Number(o, "layer_norm_epsilon", path) ?? LayerNormEpsilon;
        if ((float)eps != (float)LayerNormEpsilon)
        {
            throw new TrainingInputException($"{path}: layer_norm_epsilon {eps.ToString(CultureInfo.InvariantCulture)} is not GPT-2's 1e-05, the only one Xent's model computes.");
        }

        string activation = String(o, "activation_function", path) ?? "gelu_new";
        if (activation is not ("gelu_new" or "gelu_pytorch_tanh"))
        {
            throw new TrainingInputException($"{path}: activation_function '{activation}' is not gelu_new (the tanh GELU), the only one Xent's model computes.");
        }

        if (Int(o, "n_inner", path) is { } inner && inner != 4 * dim)
        {
            throw new TrainingInputException($"{path}: n_inner {inner} is not 4 x n_embd = {4 * dim}, the only MLP width Xent's model has.");
        }

        if (Bool(o, "scale_attn_weights", path) == false || Bool(o, "scale_attn_by_inverse_layer_idx", path) == true)
        {
            throw new TrainingInputException($"{path}: Xent's attention scales the scores by 1/sqrt(head size) only (scale_attn_weights true, scale_attn_by_inverse_layer_idx false).");
        }

        if (Bool(o, "add_cross_attention", path) == true)
        {
            throw new TrainingInputException($"{path}: add_cross_attention is true; Xent's model is a decoder without cross-attention.");
        }

        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new TrainingInputException($"{path}: {e.Message}", e);
        }

        return config;
    }

    /// <summary>
    /// The key naming the tokenizer of the run a folder was exported from: Hugging Face keeps a key it does not know as
    /// an attribute, and xent sample and xent eval, which read such a folder with GPT-2's tokenizer, refuse one whose
    /// ids are another tokenizer's instead of printing other text.
    /// </summary>
    public const string TokenizerKey = "xent_tokenizer";

    /// <summary>The key naming the file of a bpe run's merges in the folder (<see cref="Gpt2FolderTokenizer"/>).</summary>
    public const string BpeMergesKey = "xent_bpe_merges";

    /// <summary>
    /// The key holding the SHA-256 of the merges file: a damaged file that still parses (an id changed) would give other
    /// text under the same ids, and a merges file left from another export beside this config is told from its own.
    /// </summary>
    public const string BpeMergesSha256Key = "xent_bpe_merges_sha256";

    /// <summary>config.json for <paramref name="config"/>, as <c>GPT2Config.save_pretrained</c> writes it.</summary>
    /// <param name="config">The model's shape.</param>
    /// <param name="tokenizer">The tokenizer of the run (<see cref="TokenizerKey"/>), or null to leave it out.</param>
    /// <param name="bpeMerges">
    /// A bpe run's merges file (its name in the folder) and the file's SHA-256, lowercase hex (<see cref="BpeMergesKey"/>,
    /// <see cref="BpeMergesSha256Key"/>); null for another tokenizer.
    /// </param>
    public static string Write(GptConfig config, string? tokenizer = null, (string File, string Sha256)? bpeMerges = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["model_type"] = "gpt2",
            ["vocab_size"] = config.VocabSize,
            ["n_positions"] = config.ContextLength,
            ["n_ctx"] = config.ContextLength,
            ["n_embd"] = config.Dim,
            ["n_layer"] = config.Layers,
            ["n_head"] = config.Heads,
            ["n_inner"] = null,
            ["activation_function"] = "gelu_new",
            ["layer_norm_epsilon"] = LayerNormEpsilon,
            ["initializer_range"] = 0.02,
            // The run's own, where Xent's model drops: a fine-tune in transformers is regularised as xent train was.
            ["resid_pdrop"] = Decimal(config.Dropout),
            ["embd_pdrop"] = Decimal(config.Dropout),
            ["attn_pdrop"] = 0.0,
            ["scale_attn_weights"] = true,
            ["scale_attn_by_inverse_layer_idx"] = false,
            ["reorder_and_upcast_attn"] = false,
            ["tie_word_embeddings"] = config.TieEmbeddings,
            ["bos_token_id"] = EndOfText(config),
            ["eos_token_id"] = EndOfText(config),
            ["use_cache"] = true,
            ["torch_dtype"] = "float32",
        };
        if (tokenizer is not null)
        {
            o[TokenizerKey] = tokenizer;
        }

        if (bpeMerges is var (file, sha256))
        {
            o[BpeMergesKey] = file;
            o[BpeMergesSha256Key] = sha256;
        }

        return o.ToJsonString(Indented) + "\n";
    }

    // GPT-2's <|endoftext|>, where the vocabulary has it; written as null otherwise, since GPT2Config takes a missing
    // key for 50256, an id out of range for a vocabulary of xent's own (generate pads and stops with it).
    private static int? EndOfText(GptConfig config) => config.VocabSize > 50256 ? 50256 : null;

    // resid_pdrop, GPT2Config's 0.1 when missing, is the model's one probability: the two residual branches of every
    // block weigh more than the embedding's one site (embd_pdrop), and the attention has none (attn_pdrop).
    private static double Dropout(JsonObject o, string path)
    {
        double p = Number(o, "resid_pdrop", path) ?? Gpt2DefaultDropout;
        if (!(p >= 0 && p < 1))
        {
            throw new TrainingInputException($"{path}: resid_pdrop {p.ToString(CultureInfo.InvariantCulture)} is not a dropout probability in [0, 1).");
        }

        return p;
    }

    /// <summary>GPT2Config's resid_pdrop, embd_pdrop and attn_pdrop when config.json leaves them out.</summary>
    public const double Gpt2DefaultDropout = 0.1;

    // The float's shortest decimal form (0.2f is written 0.2, not 0.20000000298023224), as xent train's config.json has it.
    private static double Decimal(float x) => double.Parse(x.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static string ReadText(string path)
    {
        try
        {
            using var reader = new StreamReader(CheckpointFiles.Current.OpenRead(path));
            return reader.ReadToEnd();
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, "loading the checkpoint");
        }
    }

    private static JsonObject Parse(string json, string path)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw new TrainingInputException($"{path}: not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new TrainingInputException($"{path}: not valid JSON ({e.Message}).", e);
        }
    }

    // Any model_type says Hugging Face (xent train's config has none): Model then names a bad one, where the cast of a
    // number or an object to string threw (an internal error).
    private static JsonObject? ParseIfGpt2(string json)
    {
        try
        {
            return JsonNode.Parse(json) is JsonObject o && (o.ContainsKey("n_embd") || o.ContainsKey("model_type")) ? o : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static TrainingInputException Missing(string path, string key) => new($"{path}: the key \"{key}\" is missing.");

    private static int? Int(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out int i) => i,
        JsonValue v when v.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue => (int)d,
        var other => throw new TrainingInputException($"{path}: \"{key}\" is {other.ToJsonString()}, not an integer."),
    };

    private static double? Number(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out double d) => d,
        var other => throw new TrainingInputException($"{path}: \"{key}\" is {other.ToJsonString()}, not a number."),
    };

    private static bool? Bool(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool b) => b,
        var other => throw new TrainingInputException($"{path}: \"{key}\" is {other.ToJsonString()}, not true or false."),
    };

    private static string? String(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        var other => throw new TrainingInputException($"{path}: \"{key}\" is {other.ToJsonString()}, not a string."),
    };
}
