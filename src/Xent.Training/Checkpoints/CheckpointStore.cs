using System.Globalization;
using System.Text.Json;
using Xent.Training.Data;

namespace Xent.Training.Checkpoints;

/// <summary>
/// Saves and loads a checkpoint directory: model.safetensors (weights under their parameter names, AdamW
/// moments under "adamw.m.NAME" and "adamw.v.NAME", the step and the config in "__metadata__") and
/// config.json beside it. Saving writes temporary files and renames them over the old ones, so a crash or a
/// full disk never leaves a half-written file under a checkpoint's name.
/// </summary>
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

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };

    /// <summary>Whether <paramref name="directory"/> holds a checkpoint's two files.</summary>
    /// <param name="directory">The checkpoint directory.</param>
    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, ModelFile)) && File.Exists(Path.Combine(directory, ConfigFile));

    /// <summary>Writes a checkpoint atomically (each file is renamed into place only once fully written).</summary>
    /// <param name="directory">Created if missing.</param>
    /// <param name="config">config.json's content; its step must equal the state's.</param>
    /// <param name="weights">Model parameters (name, shape, data).</param>
    /// <param name="m">AdamW first moments, one per weight, same names and shapes.</param>
    /// <param name="v">AdamW second moments, one per weight, same names and shapes.</param>
    /// <param name="optimizerStep">AdamW's step counter.</param>
    public static void Save(string directory, CheckpointConfig config, IReadOnlyList<SafeTensor> weights,
        IReadOnlyList<SafeTensor> m, IReadOnlyList<SafeTensor> v, long optimizerStep)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(v);
        if (m.Count != weights.Count || v.Count != weights.Count)
            throw new ArgumentException("There must be one first and one second moment per weight.");
        Directory.CreateDirectory(directory);
        string configJson = JsonSerializer.Serialize(config, s_json);
        var tensors = new List<SafeTensor>(3 * weights.Count);
        tensors.AddRange(weights);
        for (int i = 0; i < weights.Count; i++)
            tensors.Add(m[i] with { Name = MomentPrefix + weights[i].Name });
        for (int i = 0; i < weights.Count; i++)
            tensors.Add(v[i] with { Name = VariancePrefix + weights[i].Name });
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            [StepKey] = config.Step.ToString(CultureInfo.InvariantCulture),
            [OptimizerStepKey] = optimizerStep.ToString(CultureInfo.InvariantCulture),
            [ConfigKey] = JsonSerializer.Serialize(config),
        };

        // Both files are complete on disk before either replaces its old version.
        string modelPath = Path.Combine(directory, ModelFile);
        string configPath = Path.Combine(directory, ConfigFile);
        string modelTemp = TempName(modelPath);
        string configTemp = TempName(configPath);
        try
        {
            using (var stream = new FileStream(modelTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                SafeTensorsWriter.Write(stream, tensors, metadata);
                stream.Flush(flushToDisk: true);
            }
            using (var stream = new FileStream(configTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(configJson);
                writer.Write('\n');
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(modelTemp, modelPath, overwrite: true);
            File.Move(configTemp, configPath, overwrite: true);
        }
        finally
        {
            TryDelete(modelTemp);
            TryDelete(configTemp);
        }
    }

    /// <summary>Reads and parses config.json only.</summary>
    /// <param name="directory">The checkpoint directory.</param>
    public static CheckpointConfig LoadConfig(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new TrainingInputException($"Checkpoint directory '{directory}' does not exist.");
        string path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path))
            throw new TrainingInputException($"'{directory}' is not a checkpoint: {ConfigFile} is missing.");
        try
        {
            return ParseConfig(File.ReadAllText(path), path);
        }
        catch (IOException e)
        {
            throw new TrainingInputException($"Cannot read '{path}': {e.Message}", e);
        }
    }

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
        CheckpointConfig config = LoadConfig(directory);
        string path = Path.Combine(directory, ModelFile);
        if (!File.Exists(path))
            throw new TrainingInputException($"'{directory}' is not a checkpoint: {ModelFile} is missing.");
        IReadOnlyList<SafeTensor> tensors;
        IReadOnlyDictionary<string, string> metadata;
        try
        {
            (tensors, metadata) = SafeTensorsReader.ReadFile(path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new TrainingInputException($"Checkpoint file '{path}' is corrupt: {e.Message}", e);
        }

        if (!metadata.TryGetValue(StepKey, out string? stepText)
            || !long.TryParse(stepText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long step))
            throw new TrainingInputException($"Checkpoint file '{path}' has no step in its metadata: not written by xent train.");
        if (step != config.Step)
            throw new TrainingInputException(
                $"Checkpoint '{directory}' is inconsistent: {ModelFile} is at step {step} but {ConfigFile} says {config.Step}.");
        long optimizerStep = metadata.TryGetValue(OptimizerStepKey, out string? optText)
            && long.TryParse(optText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long os) ? os : step;

        IReadOnlyList<(string Name, int[] Shape)> expected;
        try
        {
            expected = expectedParameters(config);
        }
        catch (ArgumentException e)
        {
            throw new TrainingInputException($"Checkpoint config '{Path.Combine(directory, ConfigFile)}' describes an invalid model: {e.Message}", e);
        }

        var byName = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        foreach (SafeTensor t in tensors)
            byName[t.Name] = t;
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
            throw new TrainingInputException(
                $"Checkpoint file '{path}' does not match its config: unexpected tensor(s) {string.Join(", ", byName.Keys.Take(5).Select(k => $"'{k}'"))}.");
        return new Checkpoint(config, weights, m, v, optimizerStep);
    }

    private static SafeTensor Take(Dictionary<string, SafeTensor> byName, string name, int[] shape, string path)
    {
        if (!byName.Remove(name, out SafeTensor? t))
            throw new TrainingInputException($"Checkpoint file '{path}' does not match its config: tensor '{name}' is missing.");
        if (!t.Shape.AsSpan().SequenceEqual(shape))
            throw new TrainingInputException(
                $"Checkpoint file '{path}' does not match its config: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], " +
                $"the config's model needs [{string.Join(", ", shape)}].");
        return t;
    }

    private static CheckpointConfig ParseConfig(string json, string path)
    {
        CheckpointConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<CheckpointConfig>(json);
        }
        catch (JsonException e)
        {
            throw new TrainingInputException($"Checkpoint config '{path}' is not valid: {e.Message}", e);
        }
        if (config is null)
            throw new TrainingInputException($"Checkpoint config '{path}' is empty.");
        if (config.FormatVersion != FormatVersion)
            throw new TrainingInputException(
                $"Checkpoint config '{path}' has format_version {config.FormatVersion}; this xent reads version {FormatVersion}.");
        if (config.Step < 0)
            throw new TrainingInputException($"Checkpoint config '{path}' has a negative step.");
        return config;
    }

    private static string TempName(string path) =>
        $"{path}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";

    private static void TryDelete(string path)
    {
        try
        {
            if (File.Exists(path))
                File.Delete(path);
        }
        catch (IOException)
        {
            // A leftover temp file is harmless; the real checkpoint is untouched.
        }
    }
}
