using Xent.Training.Data;

using Xent.Training.Model;

namespace Xent.Training.Checkpoints.HuggingFace;

/// <summary>
/// Hugging Face GPT-2 checkpoints (a folder with config.json and model.safetensors, as
/// <c>GPT2LMHeadModel.save_pretrained</c> writes it) to and from <see cref="GptModel"/>. The layout: tensor names
/// with or without the "transformer." prefix; <c>Conv1D</c> weights (c_attn, c_proj, c_fc) stored [in, out], the
/// transpose of Xent's [out, in]; the attention mask buffers attn.bias / attn.masked_bias ignored when present;
/// lm_head.weight only for untied embeddings; F32, F16, BF16 or F64 tensors (Xent computes in float32).
/// </summary>
public static class Gpt2Checkpoint
{
    /// <summary>The tensor file's name in the folder.</summary>
    public const string ModelFile = "model.safetensors";

    /// <summary>The config file's name in the folder.</summary>
    public const string ConfigFile = "config.json";

    private const string Prefix = "transformer.";
    private const string LmHead = "lm_head.weight";

    /// <summary>Whether <paramref name="directory"/> holds a Hugging Face GPT-2 checkpoint (its config.json is a GPT2Config).</summary>
    /// <param name="directory">A folder.</param>
    /// <remarks>A command that goes on to read the folder takes <see cref="Gpt2Folder.TryRead"/>, which tells the same from the one reading it uses.</remarks>
    public static bool IsCheckpoint(string directory)
    {
        string config = Path.Combine(directory, ConfigFile);
        return File.Exists(config) && File.Exists(Path.Combine(directory, ModelFile)) && Gpt2ConfigJson.ReadIfGpt2(config) is not null;
    }

    /// <summary>Reads the checkpoint into a new model.</summary>
    /// <param name="directory">The folder with config.json and model.safetensors.</param>
    /// <param name="contextLength">See <see cref="Load(Gpt2Folder, int?, float?)"/>.</param>
    /// <param name="dropout">See <see cref="Load(Gpt2Folder, int?, float?)"/>.</param>
    /// <exception cref="TrainingInputException">A missing file, a bad config, or a tensor missing, unknown, of another shape or dtype: the message names the file and the tensor.</exception>
    public static GptModel Load(string directory, int? contextLength = null, float? dropout = null) =>
        Load(Gpt2Folder.Read(directory), contextLength, dropout);

    /// <summary>Reads the checkpoint into a new model of the config already read.</summary>
    /// <param name="folder">The folder, its config.json read.</param>
    /// <param name="contextLength">
    /// Null: the checkpoint's n_positions. A smaller T keeps the first T rows of the position embedding wpe, for a
    /// model (fine-tuning, evaluation) that never sees longer sequences: the same function on them, less memory.
    /// </param>
    /// <param name="dropout">Null: the checkpoint's resid_pdrop (see <see cref="Gpt2ConfigJson"/>); else the model's dropout in [0, 1), for training it.</param>
    /// <exception cref="TrainingInputException">A missing model.safetensors, or a tensor missing, unknown, of another shape or dtype: the message names the file and the tensor.</exception>
    public static GptModel Load(Gpt2Folder folder, int? contextLength = null, float? dropout = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string configPath = folder.ConfigPath;
        GptConfig stored = folder.Model;
        if (contextLength is < 1 || contextLength > stored.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, $"The context length must be in [1, {stored.ContextLength}] (n_positions of {configPath}).");
        }

        var config = stored with { ContextLength = contextLength ?? stored.ContextLength, Dropout = dropout ?? stored.Dropout };
        using var file = Gpt2TensorFile.Open(Path.Combine(folder.Directory, ModelFile));
        var names = CanonicalNames(file);
        // The model is allocated from config.json before any tensor is read: a config far larger than the tensors
        // (n_layer 10^9) is refused here, before it allocates gigabytes for parameters the file cannot hold. One that
        // is off by a little (a layer, a tensor) costs at most twice the file's memory and is left to the loop below,
        // whose message names the first tensor missing or of another shape.
        double needed = ParameterCount(stored);
        if (needed > (2 * file.Values) + (1 << 20))
        {
            throw new TrainingInputException(
                $"{configPath} describes a model of {needed:0} parameters (n_layer {stored.Layers}, n_embd {stored.Dim}, n_positions {stored.ContextLength}, vocab_size {stored.VocabSize}), but {file.Path} holds {file.Values:0} values in all: the config does not match the tensors.");
        }

        var model = new GptModel(config, seed: 0);
        foreach (var p in model.Parameters)
        {
            string key = HfName(p.Name);
            if (!names.TryGetValue(key, out string? storedName))
            {
                throw new TrainingInputException($"{file.Path}: tensor '{key}' is missing (config.json {(config.TieEmbeddings ? "ties" : "unties")} the embeddings, n_layer {config.Layers}).");
            }

            if (p.Name == "wpe" && config.ContextLength < stored.ContextLength)
            {
                var full = new Parameter(p.Name, stored.ContextLength, config.Dim);
                ReadInto(file, storedName, full);
                full.Data.AsSpan(0, p.Length).CopyTo(p.Data);
            }
            else
            {
                ReadInto(file, storedName, p);
            }

            names.Remove(key);
        }

        if (names.Remove(LmHead, out string? head))
        {
            if (!config.TieEmbeddings)
            {
                throw new InvalidOperationException("lm_head is a parameter of an untied model and was read above.");
            }

            var wte = model.Parameters[0];
            var copy = new Parameter(wte.Name, wte.Shape);
            ReadInto(file, head, copy);
            if (!copy.Data.AsSpan().SequenceEqual(wte.Data))
            {
                throw new TrainingInputException($"{file.Path}: tensor '{head}' differs from the token embedding wte, but {ConfigFile} ties them (tie_word_embeddings is true or absent).");
            }
        }

        if (names.Count > 0)
        {
            throw new TrainingInputException($"{file.Path}: tensor '{names.Values.First()}' is not part of a GPT-2 model of this config (expected names such as transformer.h.0.attn.c_attn.weight).");
        }

        return model;
    }

    /// <summary>
    /// Writes the model as a Hugging Face GPT-2 checkpoint that <c>GPT2LMHeadModel.from_pretrained(directory)</c>
    /// loads: config.json and model.safetensors (F32, "transformer."-prefixed names, Conv1D weights [in, out],
    /// lm_head.weight only when untied, metadata format "pt"), and for a bpe run its merges
    /// (<see cref="Gpt2FolderTokenizer.MergesFile"/>). All files are written whole into temporary files beside their
    /// names first, and only then renamed into place, config.json last. An earlier bpe export's merges file there is
    /// removed when this export has none.
    /// </summary>
    /// <remarks>
    /// A failure while writing (a full disk, a kill) leaves the folder as it was: the earlier export whole, or no
    /// files; a folder the export created is removed again on a failure (a kill leaves it, empty but for temporary
    /// files the next writer removes), and one that existed is left with what it held. The one window left is
    /// between the renames: a kill there leaves the new model.safetensors (and merges) beside the earlier config.json. Hugging Face's layout has no single file to commit both (its loader reads the config
    /// from config.json only), so two renames are the least; the earlier config describes the same model unless the
    /// architecture changed, and then loading fails on the tensors' shapes rather than computing something else. New
    /// merges beside the earlier config.json are refused for its SHA-256 of the earlier ones.
    /// Two exports into one folder at once each write their own temporary files, but the last rename of each file wins.
    /// </remarks>
    /// <param name="directory">Created if missing.</param>
    /// <param name="model">Any Xent model (its tokenizer is the caller's business: Hugging Face assumes GPT-2's for V = 50257).</param>
    /// <param name="tokenizer">The tokenizer of the run (xent train's name: bytes, bpe, gpt2, markov), written to config.json
    /// as <see cref="Gpt2ConfigJson.TokenizerKey"/>; null to leave it out.</param>
    /// <param name="merges">The learned encoding of a bpe run (of the model's vocabulary), required for bpe; null for the others.</param>
    public static void Save(string directory, GptModel model, string? tokenizer = null, BpeTokenizer? merges = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(model);
        if ((tokenizer == "bpe") != (merges is not null))
        {
            throw new ArgumentException("The merges are given for the bpe tokenizer, and only for it.", nameof(merges));
        }

        if (merges is not null && merges.VocabSize != model.Config.VocabSize)
        {
            throw new ArgumentException($"The merges make a vocabulary of {merges.VocabSize} tokens, the model's has {model.Config.VocabSize}.", nameof(merges));
        }

        IReadOnlyList<string> created = OutputFolder.Create(directory, CheckpointFiles.Current);
        var tensors = new List<SafeTensor>(model.Parameters.Count);
        foreach (var p in model.Parameters)
        {
            string key = HfName(p.Name);
            string stored = key == LmHead ? key : Prefix + key;
            tensors.Add(IsConv1D(p.Name)
                ? new SafeTensor(stored, [p.Shape[1], p.Shape[0]], Transpose(p.Data, p.Shape[0], p.Shape[1]))
                : new SafeTensor(stored, p.Shape, p.Data));
        }

        string modelPath = Path.Combine(directory, ModelFile);
        string configPath = Path.Combine(directory, ConfigFile);
        byte[]? mergesJson = merges is null ? null : Gpt2FolderTokenizer.MergesJson(merges);
        (string, string)? mergesKeys = mergesJson is null ? null
            : (Gpt2FolderTokenizer.MergesFile, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(mergesJson)));
        List<WholeFile> files = mergesJson is null ? [] : [new(Path.Combine(directory, Gpt2FolderTokenizer.MergesFile), s => s.Write(mergesJson))];
        files.Add(new(modelPath, s => SafeTensorsWriter.Write(s, tensors, new Dictionary<string, string> { ["format"] = "pt" })));
        files.Add(new(configPath, s => s.Write(System.Text.Encoding.UTF8.GetBytes(Gpt2ConfigJson.Write(model.Config, tokenizer, mergesKeys)))));

        // All files whole on disk before anything of the earlier export is replaced (see remarks). The failure is
        // worded once the temporary files are gone, so that a folder this export created can go too.
        WholeFiles.WriteWordingLate(CheckpointFiles.Current, files, (e, at) => Failure(e, directory, at, created));
        if (mergesJson is null)
        {
            RemoveEarlierMerges(directory);
        }
    }

    // An earlier bpe export's merges, which the config.json just written no longer names: left, they would pass for
    // this model's tokenizer to whoever looks at the folder. Removed only once the new export is in place (the earlier
    // one needs them until then), and only the one name xent writes.
    private static void RemoveEarlierMerges(string directory)
    {
        string path = Path.Combine(directory, Gpt2FolderTokenizer.MergesFile);
        if (!File.Exists(path))
        {
            return;
        }

        try
        {
            CheckpointFiles.Current.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TrainingInputException(
                $"cannot remove '{path}', the merges of an earlier bpe export: {FileProblems.Describe(e, directory)}. " +
                $"The export itself is written whole ({ConfigFile} no longer names that file); remove it by hand.", e);
        }
    }

    // The values of GptModel's parameters (see GptModel.Parameters): wte and wpe, per block two layer norms (4D), c_attn
    // (3D x D + 3D), attention c_proj (D x D + D), c_fc (4D x D + 4D) and MLP c_proj (D x 4D + D), ln_f (2D), and
    // lm_head when untied. In double: a config's product may exceed a long.
    private static double ParameterCount(GptConfig config)
    {
        double d = config.Dim;
        double embeddings = (double)config.VocabSize * d * (config.TieEmbeddings ? 1 : 2);
        return embeddings + (config.ContextLength * d) + (config.Layers * ((12 * d * d) + (13 * d))) + (2 * d);
    }

    // Xent's parameter name -> the Hugging Face name without the "transformer." prefix.
    private static string HfName(string name) => name switch
    {
        "wte" or "wpe" => name + ".weight",
        "lm_head" => LmHead,
        _ => name,
    };

    private static bool IsConv1D(string name) =>
        name.EndsWith(".c_attn.weight", StringComparison.Ordinal) || name.EndsWith(".c_proj.weight", StringComparison.Ordinal)
        || name.EndsWith(".c_fc.weight", StringComparison.Ordinal);

    // Names without the prefix -> the name stored in the file; the attention mask buffers are dropped.
    private static Dictionary<string, string> CanonicalNames(Gpt2TensorFile file)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string stored in file.Names)
        {
            string key = stored.StartsWith(Prefix, StringComparison.Ordinal) ? stored[Prefix.Length..] : stored;
            if (key.EndsWith(".attn.bias", StringComparison.Ordinal) || key.EndsWith(".attn.masked_bias", StringComparison.Ordinal))
            {
                continue;
            }

            if (!names.TryAdd(key, stored))
            {
                throw new TrainingInputException($"{file.Path}: tensor '{key}' is stored twice ('{names[key]}' and '{stored}').");
            }
        }

        return names;
    }

    private static void ReadInto(Gpt2TensorFile file, string stored, Parameter p)
    {
        bool conv = IsConv1D(p.Name);
        long[] expected = conv ? [p.Shape[1], p.Shape[0]] : [.. p.Shape.Select(d => (long)d)];
        long[] shape = file.Shape(stored)!;
        if (!shape.AsSpan().SequenceEqual(expected))
        {
            throw new TrainingInputException($"{file.Path}: tensor '{stored}' has shape [{string.Join(", ", shape)}], expected [{string.Join(", ", expected)}] from {ConfigFile}{(conv ? " (Conv1D: [in, out])" : string.Empty)}.");
        }

        float[] data = file.Read(stored);
        if (conv)
        {
            Transpose(data, p.Shape[1], p.Shape[0]).CopyTo(p.Data, 0);
        }
        else
        {
            data.CopyTo(p.Data, 0);
        }
    }

    /// <summary>The transpose [cols, rows] of a row-major [rows, cols] matrix.</summary>
    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                t[((long)c * rows) + r] = m[((long)r * cols) + c];
            }
        }

        return t;
    }

    // Names the file the user will look for, never the temporary one, and says what the folder holds now: the earlier
    // export untouched, or (a rename failing after the first succeeded, see Save's remarks) files that no longer belong
    // together, which Hugging Face's loader cannot tell; or, where this export created the folder (created: the
    // folders it made, deepest first), nothing: its files and the folder are removed again.
    private static TrainingInputException Failure(Exception e, string directory, WholeFileFailure at, IReadOnlyList<string> created)
    {
        if (e is FolderInTheWayException folder)
        {
            return folder.Refusal("the export");
        }

        string problem = FileProblems.Describe(e, directory, at.Temporary, at.Path);
        if (at.FlushingFolder)
        {
            // Every file was written and renamed into place: the folder's entries are what a power loss may undo, so the
            // folder is named, with its files (not the last file, as if it had not been written).
            string kept = created.Count > 0 ? OutputFolder.RemoveCreated(directory, "this export", created, at.Replaced)
                : $"{string.Join(" and ", at.Unflushed.Select(Path.GetFileName))} were renamed into place, but they may not survive a power loss: check the disk, then export again.";
            return new($"cannot flush the folder '{directory}' to disk: {problem}. {kept}", e);
        }

        string left = created.Count > 0 ? OutputFolder.RemoveCreated(directory, "this export", created, at.Replaced)
            : at.Replaced.Count == 0 ? "Nothing was replaced: an earlier export there is untouched."
            : $"{string.Join(" and ", at.Replaced.Select(Path.GetFileName))} {(at.Replaced.Count == 1 ? "was" : "were")} already replaced by this export's, " +
                $"and {Path.GetFileName(at.Path)} is still the earlier one: the folder's files no longer belong together; export again once the problem is fixed.";
        return new($"cannot write '{at.Path}': {problem}. {left}", e);
    }
}
