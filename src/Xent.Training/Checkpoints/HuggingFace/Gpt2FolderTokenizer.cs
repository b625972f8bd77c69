using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xent.Training.Data;

namespace Xent.Training.Checkpoints.HuggingFace;

/// <summary>
/// The tokenizer of a Hugging Face GPT-2 folder: GPT-2's for a folder of Hugging Face's own, else that of the run of
/// xent train it was exported from (<see cref="Gpt2ConfigJson.TokenizerKey"/>). A bpe run's export holds its merges in
/// <see cref="MergesFile"/>, which config.json names (<see cref="Gpt2ConfigJson.BpeMergesKey"/>) with its SHA-256: a
/// JSON object whose "bpe_merges" lists merge i as "LEFT RIGHT", the token ids it joins into id 256 + i (ids 0..255
/// are the bytes), as the run's own config.json has them.
/// </summary>
public static class Gpt2FolderTokenizer
{
    /// <summary>The merges file's name in a bpe run's export.</summary>
    public const string MergesFile = "xent_bpe_merges.json";

    private const string MergesProperty = "bpe_merges";

    /// <summary>
    /// The tokenizer the folder's ids are in: GPT-2's (no <see cref="Gpt2ConfigJson.TokenizerKey"/>, or gpt2), bytes,
    /// or a bpe run's merges (<see cref="Merges"/>).
    /// </summary>
    /// <param name="folder">A folder, its config.json read.</param>
    /// <exception cref="TrainingInputException">
    /// The export of a run on the built-in Markov corpus (its ids are that corpus's symbols, which no text encodes into)
    /// or of an unknown tokenizer, or a bpe export whose merges file is missing or damaged.
    /// </exception>
    public static ITokenizer For(Gpt2Folder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        return folder.ExportedTokenizer(folder.Directory, "Give --checkpoint the xent train folder it was exported from.") switch
        {
            null or TokenizerKind.Gpt2 => Gpt2Tokenizer.Instance,
            TokenizerKind.Bytes => ByteTokenizer.Instance,
            TokenizerKind.Bpe => Merges(folder),
            var refused => throw new InvalidOperationException($"The {refused} tokenizer reads no folder; ExportedTokenizer refuses it."),
        };
    }

    /// <summary>The learned encoding of a bpe run's export, from its merges file.</summary>
    /// <param name="folder">The export's folder, its config.json read.</param>
    /// <exception cref="TrainingInputException">
    /// config.json names no merges file, or the file is missing, unreadable, not the one exported with config.json (its
    /// SHA-256 differs), malformed, or of another vocabulary than vocab_size: the message names the file. Merges are
    /// never learned again in its place: other merges give the model's ids to other text.
    /// </exception>
    public static BpeTokenizer Merges(Gpt2Folder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string config = folder.ConfigPath;
        const string Again = "export the run again (xent export --format hf) to write them";
        var (name, sha256) = (folder.MergesFile, folder.MergesSha256);
        if (name is null || sha256 is null)
        {
            throw new TrainingInputException(
                $"{config}: the tokenizer is bpe but \"{(name is null ? Gpt2ConfigJson.BpeMergesKey : Gpt2ConfigJson.BpeMergesSha256Key)}\" is missing, so the folder's merges cannot be found or checked; {Again}.");
        }

        if (name != Path.GetFileName(name) || name is "" or "." or "..")
        {
            throw new TrainingInputException($"{config}: \"{Gpt2ConfigJson.BpeMergesKey}\" is '{name}', not the name of a file in the folder.");
        }

        string path = Path.Combine(folder.Directory, name);
        if (!File.Exists(path))
        {
            throw new TrainingInputException($"{path}: no such file; it holds the merges of the bpe tokenizer {config} names, without which the ids mean no text: {Again}.");
        }

        byte[] bytes = Read(path);
        string actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (!string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new TrainingInputException(
                $"{path} is damaged or not this export's: its SHA-256 {actual} is not the {sha256} of {config} ({Gpt2ConfigJson.BpeMergesSha256Key}); {Again}.");
        }

        var tokenizer = BpeTokenizer.FromMergeNames(Names(path, bytes), path);
        int vocab = folder.Model.VocabSize;
        return tokenizer.VocabSize == vocab ? tokenizer
            : throw new TrainingInputException(
                $"{path} holds {tokenizer.Merges.Count} merges, a vocabulary of {tokenizer.VocabSize} tokens, but {config} has vocab_size {vocab}.");
    }

    /// <summary>The merges file's content for <paramref name="tokenizer"/>: UTF-8 JSON, as <see cref="Merges"/> reads it.</summary>
    /// <param name="tokenizer">A learned encoding.</param>
    public static byte[] MergesJson(BpeTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var o = new JsonObject { [MergesProperty] = new JsonArray([.. tokenizer.MergeNames().Select(n => JsonValue.Create(n))]) };
        return Encoding.UTF8.GetBytes(o.ToJsonString() + "\n");
    }

    private static byte[] Read(string path)
    {
        try
        {
            using var stream = CheckpointFiles.Current.OpenRead(path);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, "loading the checkpoint");
        }
    }

    private static string[] Names(string path, byte[] bytes)
    {
        try
        {
            if (JsonNode.Parse(bytes) is JsonObject o && o[MergesProperty] is JsonArray merges)
            {
                return [.. merges.Select((m, i) => m is JsonValue v && v.TryGetValue(out string? s) ? s
                    : throw new TrainingInputException($"{path}: bpe merge {i} is {m?.ToJsonString() ?? "null"}; expected two token ids \"LEFT RIGHT\"."))];
            }
        }
        catch (JsonException e)
        {
            throw new TrainingInputException($"{path}: not valid JSON ({e.Message}).", e);
        }

        throw new TrainingInputException($"{path}: not a JSON object with the list \"{MergesProperty}\".");
    }
}
