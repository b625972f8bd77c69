using System.Globalization;
using System.Text.Json;
using Xent.Training.Data;

namespace Xent.Training.Checkpoints;

/// <summary>
/// Saves and loads a checkpoint directory: model.safetensors (weights under their parameter names, AdamW
/// moments under "adamw.m.NAME" and "adamw.v.NAME", the step and the config in "__metadata__") and
/// config.json beside it.
/// </summary>
/// <remarks>
/// Atomicity: model.safetensors alone is the checkpoint. It holds the config in its metadata, so the one rename
/// that puts it in place makes the whole step visible at once, and until that rename the previous
/// model.safetensors, complete, stays where it was. config.json is a readable copy renamed in just after; a
/// kill between the two renames leaves it one step behind, and a reader then takes the config inside
/// model.safetensors and says so (<see cref="Checkpoint.Note"/>). No order of two files could avoid that window;
/// one file that carries everything has none. Temporary files of killed saves are removed by the next save.
/// </remarks>
public static class CheckpointStore
{
    /// <summary>The layout version written to config.json.</summary>
    public const int FormatVersion = 1;

    /// <summary>Name of the tensor file in a checkpoint directory.</summary>
    public const string ModelFile = "model.safetensors";

    /// <summary>Name of the config file in a checkpoint directory.</summary>
    public const string ConfigFile = "config.json";

    private const string MomentPrefix = "adamw.m.";
    private const string VariancePrefix = "adamw.v.";
    private const string StepKey = "xent.step";
    private const string ConfigKey = "xent.config";
    private const string OptimizerStepKey = "adamw.step";

    // The file's checksum (SafeTensorsChecksum); checkpoints saved before it have none and are read unchecked.
    private const string ChecksumKey = "xent.xxh3";

    // What a read of the checkpoint's files is for, in a message of a read that failed.
    private const string Loading = "loading the checkpoint";

    /// <summary>Whether <paramref name="directory"/> holds a checkpoint (its model.safetensors; config.json may lag behind).</summary>
    /// <param name="directory">The checkpoint directory.</param>
    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, ModelFile));

    /// <summary>
    /// Whether <paramref name="directory"/> holds a checkpoint of xent train: a model.safetensors whose metadata
    /// carries xent's step. A Hugging Face folder (also a model.safetensors and a config.json) does not, so a writer
    /// of that layout can tell a folder it may replace from a run it would destroy.
    /// </summary>
    /// <param name="directory">Any folder; a missing one holds nothing.</param>
    /// <exception cref="TrainingInputException">Its model.safetensors cannot be read (no permission, an I/O error).</exception>
    public static bool IsTrainingCheckpoint(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string path = Path.Combine(directory, ModelFile);
        if (!File.Exists(path))
        {
            return false;
        }

        try
        {
            _ = ReadModelMetadata(model: null, path);
            return true;
        }
        catch (TrainingInputException e) when (e.InnerException is not { } cause || !FileProblems.IsReadFailure(cause))
        {
            // No xent step in its metadata, or not a safetensors file at all: not a checkpoint this library wrote. One
            // that cannot be read (no permission, a failing disk) may be one: its failure goes on to the caller.
            return false;
        }
    }

    /// <summary>Writes a checkpoint atomically: it becomes visible whole, by one rename, or not at all.</summary>
    /// <param name="directory">Created if missing.</param>
    /// <param name="config">config.json's content; its step must equal the state's.</param>
    /// <param name="weights">Model parameters (name, shape, data).</param>
    /// <param name="m">AdamW first moments, one per weight, same names and shapes.</param>
    /// <param name="v">AdamW second moments, one per weight, same names and shapes.</param>
    /// <param name="optimizerStep">AdamW's step counter.</param>
    /// <exception cref="TrainingInputException">
    /// A folder stands where model.safetensors or config.json goes (nothing was written or replaced), or writing or
    /// renaming a file failed (a full disk, no permission, a read-only file system, the folder gone): the message names
    /// the file and says what the folder holds now (<see cref="CheckpointSaveFailure"/>); the I/O error is the inner exception.
    /// A folder this save created is removed again then, with the files it had put there, and the message says so; one
    /// that existed keeps what it held. Or the folder could not be created (<see cref="OutputFolder.Create"/>).
    /// </exception>
    public static void Save(string directory, CheckpointConfig config, IReadOnlyList<SafeTensor> weights,
        IReadOnlyList<SafeTensor> m, IReadOnlyList<SafeTensor> v, long optimizerStep)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(v);
        if (m.Count != weights.Count || v.Count != weights.Count)
        {
            throw new ArgumentException("There must be one first and one second moment per weight.");
        }

        // Created (e.g. best/) with the folder's problem in our words: a file in the way, a full disk, no permission.
        IReadOnlyList<string> created = OutputFolder.Create(directory, CheckpointFiles.Current);
        string configJson = JsonSerializer.Serialize(config, TrainingJsonIndented.Default.CheckpointConfig);
        var tensors = new List<SafeTensor>(3 * weights.Count);
        tensors.AddRange(weights);
        for (int i = 0; i < weights.Count; i++)
        {
            tensors.Add(m[i] with { Name = MomentPrefix + weights[i].Name });
        }

        for (int i = 0; i < weights.Count; i++)
        {
            tensors.Add(v[i] with { Name = VariancePrefix + weights[i].Name });
        }

        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            [StepKey] = config.Step.ToString(CultureInfo.InvariantCulture),
            [OptimizerStepKey] = optimizerStep.ToString(CultureInfo.InvariantCulture),
            [ConfigKey] = JsonSerializer.Serialize(config, TrainingJson.Default.CheckpointConfig),
        };

        // The commit is the first rename: from it on, the directory holds the new step, whole (config included). A
        // folder named as either file is refused before anything is written: config.json's rename would fail only
        // after model.safetensors had been replaced. Any other I/O error names the file and says what it left; a folder
        // this save created is removed again first, with what it had put there (worded once the temporaries are gone).
        WholeFiles.WriteWordingLate(CheckpointFiles.Current,
        [
            new(Path.Combine(directory, ModelFile), stream => SafeTensorsWriter.Write(stream, tensors, metadata, ChecksumKey)),
            new(Path.Combine(directory, ConfigFile), stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(configJson + "\n"))),
        ],
        (e, at) => CheckpointSaveFailure.Of(e, at, directory, config.Step, created));
    }

    /// <summary>
    /// The config of the checkpoint in <paramref name="directory"/>: config.json when it belongs to
    /// model.safetensors (same step), else the copy inside model.safetensors, with a note saying why; a note too when
    /// config.json, though of the same step, differs from that copy.
    /// </summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <returns>The config, a note for the user when config.json was not used or differs from the model's copy (null otherwise), and the file it came from.</returns>
    public static (CheckpointConfig Config, string? Note, string Source) ResolveConfig(string directory) =>
        Resolve(directory, model: null);

    // model: model.safetensors already open (Load reads its tensors from the same handle), or null to open it here.
    private static (CheckpointConfig Config, string? Note, string Source) Resolve(string directory, Stream? model)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
        {
            throw new TrainingInputException(File.Exists(directory)
                ? $"'{directory}' is a file; a checkpoint is a directory holding {ModelFile} and {ConfigFile}."
                : $"Checkpoint directory '{directory}' does not exist.");
        }

        string configPath = Path.Combine(directory, ConfigFile);
        string modelPath = Path.Combine(directory, ModelFile);
        if (!File.Exists(modelPath))
        {
            // Without the tensors there is no checkpoint; config.json alone is still checked, for its message.
            if (File.Exists(configPath))
            {
                _ = ReadConfigFile(configPath);
            }

            throw new TrainingInputException(File.Exists(configPath)
                ? $"'{directory}' is not a checkpoint: {ModelFile} is missing."
                : $"'{directory}' is not a checkpoint: {ConfigFile} is missing.");
        }

        var (step, embedded) = ReadModelMetadata(model, modelPath);
        CheckpointConfig? fromFile = null;
        string? problem;
        try
        {
            fromFile = File.Exists(configPath) ? ReadConfigFile(configPath) : null;
            problem = fromFile is null ? "is missing"
                : fromFile.Step != step ? $"says step {fromFile.Step}"
                : null;
        }
        catch (TrainingInputException e) when (embedded is not null)
        {
            problem = $"is not usable ({e.Message})";
        }

        if (problem is null)
        {
            // config.json is what a user edits, so it wins; but a change they did not make (bit rot keeping it valid
            // JSON: a learning rate of 0.001 read as 0.003) was trained with silently, beside a copy inside the
            // checksummed model file that said otherwise.
            string? differs = embedded is not null && embedded.Step == step && !SameConfig(fromFile!, embedded)
                ? $"{configPath} differs from the config saved inside {ModelFile} at step {step} (edited by hand, or damaged on disk): using {ConfigFile}."
                : null;
            return (fromFile!, differs, configPath);
        }

        if (embedded is null || embedded.Step != step)
        {
            if (fromFile is null)
            {
                throw new TrainingInputException($"'{directory}' is not a checkpoint: {ConfigFile} is missing.");
            }

            throw new TrainingInputException(
                $"Checkpoint '{directory}' is inconsistent: {ModelFile} is at step {step} but {ConfigFile} says {fromFile.Step}.");
        }
        string note = $"{configPath} {problem}, but {ModelFile} is a complete checkpoint of step {step}: " +
            "using the config saved inside it (a save interrupted between its two renames leaves config.json behind; the next save rewrites it).";
        return (embedded, note, modelPath);
    }

    private static bool SameConfig(CheckpointConfig a, CheckpointConfig b) => string.Equals(
        JsonSerializer.Serialize(a, TrainingJson.Default.CheckpointConfig),
        JsonSerializer.Serialize(b, TrainingJson.Default.CheckpointConfig),
        StringComparison.Ordinal);

    /// <summary>The checkpoint's config (see <see cref="ResolveConfig"/>), without its tensors.</summary>
    /// <param name="directory">The checkpoint directory.</param>
    public static CheckpointConfig LoadConfig(string directory) => ResolveConfig(directory).Config;

    /// <summary>
    /// Loads a checkpoint and checks it against the model its config describes: every expected parameter
    /// (and its two AdamW moments) present, F32, with the expected shape, and nothing else.
    /// </summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <param name="expectedParameters">Names and shapes of the model's parameters, given the config.</param>
    public static Checkpoint Load(string directory,
        Func<CheckpointConfig, IReadOnlyList<(string Name, int[] Shape)>> expectedParameters)
    {
        ArgumentNullException.ThrowIfNull(expectedParameters);
        string path = Path.Combine(directory, ModelFile);

        // One handle for the step, the config and the tensors: a run saving into this folder meanwhile replaces
        // model.safetensors by a rename, and an open handle keeps the file it opened (reading the file twice could
        // see two steps). A missing file is left to ResolveConfig, whose messages say what is missing.
        using FileStream? model = File.Exists(path) ? OpenModel(path) : null;
        var (config, note, _) = Resolve(directory, model);

        // Before the tensors are read: the expected model is checked (and may be refused) first.
        IReadOnlyList<(string Name, int[] Shape)> expected;
        try
        {
            expected = expectedParameters(config);
        }
        catch (ArgumentException e)
        {
            throw new TrainingInputException($"Checkpoint config '{Path.Combine(directory, ConfigFile)}' describes an invalid model: {e.Message}", e);
        }

        IReadOnlyList<SafeTensor> tensors;
        IReadOnlyDictionary<string, string> metadata;
        try
        {
            model!.Position = 0;
            (tensors, metadata) = SafeTensorsReader.Read(model, ChecksumKey);
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, Loading);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new TrainingInputException($"Checkpoint file '{path}' is corrupt: {e.Message}", e);
        }

        if (!metadata.TryGetValue(StepKey, out string? stepText)
            || !long.TryParse(stepText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long step))
        {
            throw NotWrittenByXentTrain(path);
        }

        if (step != config.Step)
        {
            throw new TrainingInputException(
                $"Checkpoint '{directory}' is inconsistent: {ModelFile} is at step {step} but {ConfigFile} says {config.Step}.");
        }

        long optimizerStep = metadata.TryGetValue(OptimizerStepKey, out string? optText)
            && long.TryParse(optText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long os) ? os : step;

        var byName = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        foreach (SafeTensor t in tensors)
        {
            byName[t.Name] = t;
        }

        var weights = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        var m = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        var v = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        foreach (var (name, shape) in expected)
        {
            weights[name] = Take(byName, name, shape, path);
            m[name] = Take(byName, MomentPrefix + name, shape, path);
            v[name] = Take(byName, VariancePrefix + name, shape, path);
        }
        if (byName.Count > 0)
        {
            throw new TrainingInputException(
                $"Checkpoint file '{path}' does not match its config: unexpected tensor(s) {string.Join(", ", byName.Keys.Take(5).Select(k => $"'{k}'"))}.");
        }

        var origin = new CheckpointOrigin(Path.GetFullPath(directory), directory, step, File.GetLastWriteTimeUtc(model.SafeFileHandle), model.Length);
        return new Checkpoint(config, weights, m, v, optimizerStep) { Note = note, Origin = origin };
    }

    /// <summary>
    /// Throws <see cref="TrainingInputException"/> when the folder's model.safetensors is no longer the file
    /// <paramref name="origin"/> was read from: another run saved into the folder (or removed the checkpoint) after
    /// it was loaded. A run resuming it would rewind that run's later steps; called with the folder locked.
    /// </summary>
    /// <param name="origin">Where the checkpoint was loaded from.</param>
    /// <param name="shown">The folder as the message names it (as the user gave it, where that still leads there).</param>
    internal static void ThrowIfReplaced(CheckpointOrigin origin, string shown)
    {
        var file = new FileInfo(Path.Combine(origin.Directory, ModelFile));
        if (file.Exists && file.LastWriteTimeUtc == origin.ModelWriteTimeUtc && file.Length == origin.ModelLength)
        {
            return;
        }

        string now;
        try
        {
            now = file.Exists ? $"it is now at step {LoadConfig(origin.Directory).Step}" : $"its {ModelFile} is gone";
        }
        catch (TrainingInputException)
        {
            now = $"its {ModelFile} is another file";
        }

        throw new TrainingInputException(
            $"The checkpoint in '{shown}' changed after it was loaded at step {origin.Step}: {now} (another run saved into the folder). " +
            "Nothing was written; load it again to continue from there.");
    }

    private static SafeTensor Take(Dictionary<string, SafeTensor> byName, string name, int[] shape, string path)
    {
        if (!byName.Remove(name, out SafeTensor? t))
        {
            throw new TrainingInputException($"Checkpoint file '{path}' does not match its config: tensor '{name}' is missing.");
        }

        if (!t.Shape.AsSpan().SequenceEqual(shape))
        {
            throw new TrainingInputException(
                $"Checkpoint file '{path}' does not match its config: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], " +
                $"the config's model needs [{string.Join(", ", shape)}].");
        }

        return t;
    }

    private static CheckpointConfig ParseConfig(string json, string path)
    {
        CheckpointConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(json, TrainingJson.Default.CheckpointConfig);
        }
        catch (JsonException e) when (ConfigFields.Missing(json) is { } field)
        {
            throw new TrainingInputException(
                $"Checkpoint config '{path}' is not valid: \"{field}\" is missing; every {ConfigFile} xent writes has it, and a run read without it would train with other settings than it was saved with.", e);
        }
        catch (JsonException e)
        {
            // .NET's message names .NET types ("System.Int64"); say where, in the file's terms.
            string where = e.Path is { Length: > 1 } p ? $"the value at {p[2..]}" : "the text";
            string line = e.LineNumber is { } n ? $" (line {n + 1})" : "";
            throw new TrainingInputException(
                $"Checkpoint config '{path}' is not valid: {where}{line} is not JSON of the right kind (whole numbers for counts and sizes, strings for names, true/false for flags).", e);
        }
        if (config is null)
        {
            throw new TrainingInputException($"Checkpoint config '{path}' is empty.");
        }

        if (config.FormatVersion != FormatVersion)
        {
            throw new TrainingInputException(
                $"Checkpoint config '{path}' has format_version {config.FormatVersion}; this xent reads version {FormatVersion}.");
        }

        if (config.Step < 0)
        {
            throw new TrainingInputException($"Checkpoint config '{path}' has a negative step.");
        }

        return config;
    }

    // A file that cannot be opened or read (no permission, a failing disk) is not a corrupt one: the message says
    // which and what to do (FileProblems.ReadFailure), as a failed write's does.
    private static FileStream OpenModel(string path)
    {
        try
        {
            return CheckpointFiles.Current.OpenRead(path);
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, Loading);
        }
    }

    /// <summary>The step recorded inside the model.safetensors of <paramref name="directory"/> (its header only).</summary>
    /// <exception cref="TrainingInputException">The file cannot be read, is corrupt, or was not written by xent train.</exception>
    internal static long ModelStep(string directory) => ReadModelMetadata(null, Path.Combine(directory, ModelFile)).Step;

    private static (long Step, CheckpointConfig? Config) ReadModelMetadata(Stream? model, string path)
    {
        IReadOnlyDictionary<string, string> metadata;
        using FileStream? opened = model is null ? OpenModel(path) : null;
        Stream stream = model ?? opened!;
        try
        {
            stream.Position = 0;
            metadata = SafeTensorsHeader.Read(stream).Metadata;
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, Loading);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new TrainingInputException($"Checkpoint file '{path}' is corrupt: {e.Message}", e);
        }
        if (!metadata.TryGetValue(StepKey, out string? stepText)
            || !long.TryParse(stepText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long step))
        {
            throw NotWrittenByXentTrain(path);
        }

        CheckpointConfig? config = null;
        if (metadata.TryGetValue(ConfigKey, out string? json))
        {
            try
            {
                config = ParseConfig(json, path + " (its metadata)");
            }
            catch (TrainingInputException)
            {
                // An unreadable embedded copy only means config.json must be the one to use.
            }
        }
        return (step, config);
    }

    // Reached also for a Hugging Face folder whose config.json is not a GPT-2 config (not JSON, no n_embd or
    // model_type), which the line would otherwise take for a damaged checkpoint of xent train.
    private static TrainingInputException NotWrittenByXentTrain(string path) => new(
        $"Checkpoint file '{path}' has no step in its metadata: not written by xent train; nor is its folder a Hugging Face GPT-2 one (a {ConfigFile} of JSON with n_embd or model_type).");

    private static CheckpointConfig ReadConfigFile(string path)
    {
        string json;
        try
        {
            using var reader = new StreamReader(CheckpointFiles.Current.OpenRead(path));
            json = reader.ReadToEnd();
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, Loading);
        }

        return ParseConfig(json, path);
    }
}
