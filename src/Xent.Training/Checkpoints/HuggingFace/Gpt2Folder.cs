using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Training.Checkpoints.HuggingFace;

/// <summary>
/// A Hugging Face GPT-2 folder with its config.json read and checked once: the model's shape, and the tokenizer and
/// merges file of the run of xent train it was exported from. <see cref="Gpt2Checkpoint.Load(Gpt2Folder, int?, float?)"/>
/// and <see cref="Gpt2FolderTokenizer.For"/> take it, so a command's model and tokenizer come from one reading: read
/// again for each, a config.json replaced in between (an export into the folder while the command starts) gave a model
/// of one config and the tokenizer of another.
/// </summary>
public sealed class Gpt2Folder
{
    internal Gpt2Folder(string directory, string configPath, GptConfig model, string? tokenizer, string? mergesFile, string? mergesSha256)
    {
        Directory = directory;
        ConfigPath = configPath;
        Model = model;
        Tokenizer = tokenizer;
        MergesFile = mergesFile;
        MergesSha256 = mergesSha256;
    }

    /// <summary>The folder, as the user named it.</summary>
    public string Directory { get; }

    /// <summary>Its config.json, as the messages name it.</summary>
    public string ConfigPath { get; }

    /// <summary>The model config.json describes (n_positions, resid_pdrop and all), checked to be one Xent computes.</summary>
    public GptConfig Model { get; }

    /// <summary>The tokenizer config.json names (<see cref="Gpt2ConfigJson.TokenizerKey"/>), or null where it names none (a folder of Hugging Face's own).</summary>
    public string? Tokenizer { get; }

    /// <summary>A bpe export's merges file, its name in the folder (<see cref="Gpt2ConfigJson.BpeMergesKey"/>); null where config.json has none.</summary>
    public string? MergesFile { get; }

    /// <summary>The SHA-256 config.json gives the merges file (<see cref="Gpt2ConfigJson.BpeMergesSha256Key"/>); null where it has none.</summary>
    public string? MergesSha256 { get; }

    /// <summary>
    /// The kind of the tokenizer config.json names (<see cref="Tokenizer"/>, read with <see cref="TokenizerNames"/>),
    /// or null where it names none (a folder of Hugging Face's own, in GPT-2's tokens unless the caller says otherwise).
    /// </summary>
    /// <param name="named">The folder as the refusal names it: as given, with its option where it has one ("--init DIR").</param>
    /// <param name="instead">A sentence for the Markov refusal saying what to give instead, or null for none.</param>
    /// <exception cref="TrainingInputException">
    /// The export of a run on the built-in Markov corpus (its ids are that corpus's symbols, which no text encodes into),
    /// or a name that is none of xent's.
    /// </exception>
    public TokenizerKind? ExportedTokenizer(string named, string? instead = null)
    {
        if (Tokenizer is not { } name)
        {
            return null;
        }

        return TokenizerNames.Find(name) switch
        {
            TokenizerKind.Markov => throw new TrainingInputException(
                $"{named} was exported by xent export from a run with the markov tokenizer: its token ids are the built-in Markov corpus's symbols, which no text encodes into.{(instead is null ? "" : " " + instead)}"),
            { } kind => kind,
            null => throw new TrainingInputException(
                $"{named}: {ConfigPath} names the tokenizer '{name}' ({Gpt2ConfigJson.TokenizerKey}), which is not one of xent's ({TokenizerNames.All})."),
        };
    }

    /// <summary>Reads the folder's config.json.</summary>
    /// <param name="directory">The folder with config.json and model.safetensors.</param>
    /// <exception cref="TrainingInputException">No config.json, or an unreadable or bad one: the message names the file and the key.</exception>
    public static Gpt2Folder Read(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string config = Path.Combine(directory, Gpt2Checkpoint.ConfigFile);
        if (!File.Exists(config))
        {
            throw new TrainingInputException($"{config}: no such file ('{directory}' is not a Hugging Face checkpoint).");
        }

        return Gpt2ConfigJson.Folder(directory, config, Gpt2ConfigJson.ReadObject(config));
    }

    /// <summary>
    /// The folder read as <see cref="Read"/> does where it is a Hugging Face GPT-2 checkpoint (as
    /// <see cref="Gpt2Checkpoint.IsCheckpoint"/> tells), else null: one reading both tells the layout and is used.
    /// </summary>
    /// <param name="directory">A folder, perhaps a checkpoint of xent train.</param>
    /// <exception cref="TrainingInputException">An unreadable config.json, or a Hugging Face one that is bad.</exception>
    public static Gpt2Folder? TryRead(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string config = Path.Combine(directory, Gpt2Checkpoint.ConfigFile);
        return File.Exists(config) && File.Exists(Path.Combine(directory, Gpt2Checkpoint.ModelFile))
            && Gpt2ConfigJson.ReadIfGpt2(config) is { } o ? Gpt2ConfigJson.Folder(directory, config, o) : null;
    }
}
