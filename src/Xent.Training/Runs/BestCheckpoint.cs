using System.Globalization;
using System.Text.Json.Nodes;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>
/// The checkpoint with the lowest validation loss of a run, kept in the subfolder <see cref="Folder"/> of the run's
/// folder beside the last one, with <see cref="InfoFile"/> saying its step and loss (so a resumed run only replaces
/// it with a better one). <c>xent eval</c>, <c>xent sample</c> and <c>xent export</c> read it by default.
/// </summary>
public static class BestCheckpoint
{
    /// <summary>The subfolder's name.</summary>
    public const string Folder = "best";

    /// <summary>The file in the subfolder holding {"step", "val_loss"}.</summary>
    public const string InfoFile = "best.json";

    /// <summary>The folder to load from: the best checkpoint of <paramref name="directory"/> when it has one and <paramref name="last"/> is false, else the directory itself.</summary>
    /// <param name="directory">A run's folder (or any checkpoint folder).</param>
    /// <param name="last">Whether the last checkpoint is wanted instead of the best.</param>
    public static string Resolve(string directory, bool last)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string best = Path.Combine(directory, Folder);
        return !last && CheckpointStore.Exists(best) ? best : directory;
    }

    /// <summary>The step and validation loss of the best checkpoint in a run's folder; null when there is none or its note is not one.</summary>
    /// <param name="directory">A run's folder.</param>
    /// <exception cref="TrainingInputException">
    /// best.json exists but cannot be read (no permission, an I/O error): a run that went on without it would take its
    /// next evaluation for the best and replace best/'s checkpoint, whatever its loss. The error is the inner exception.
    /// </exception>
    public static (long Step, double ValLoss)? Read(string directory)
    {
        string path = Path.Combine(directory, Folder, InfoFile);
        if (!File.Exists(path))
        {
            return null;
        }

        string text;
        try
        {
            using var reader = new StreamReader(CheckpointFiles.Current.OpenRead(path));
            text = reader.ReadToEnd();
        }
        catch (Exception e) when (FileProblems.IsReadFailure(e))
        {
            throw FileProblems.ReadFailure(e, path, "resuming with the run's best checkpoint so far",
                $"Nothing was written: {Folder}/ and the checkpoint are untouched, and the run did not start (without {InfoFile} its next evaluation would replace {Folder}/'s checkpoint whatever its loss).");
        }

        try
        {
            if (JsonNode.Parse(text) is JsonObject o && o["step"]?.GetValue<long>() is { } step && o["val_loss"]?.GetValue<double>() is { } loss)
            {
                return (step, loss);
            }
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            // Not a note this program wrote (it writes whole files only): the next evaluation's checkpoint becomes the best.
        }

        return null;
    }

    /// <summary>
    /// Writes the checkpoint into the best subfolder (created if missing), then its note. Called just after the run's
    /// own checkpoint of the same step was saved in <paramref name="directory"/>, which a failure here says. A best/
    /// that this save created is removed again when the save fails (its checkpoint and note are one save: an empty or
    /// half-written best/ would look like a checkpoint to eval, sample and export); one that existed keeps its earlier
    /// checkpoint, untouched or (a failure once model.safetensors was replaced) as the message says.
    /// </summary>
    /// <exception cref="TrainingInputException">
    /// An I/O error creating best/ or writing a file in it (a full disk, no permission): the message names the folder
    /// or file and says what best/ and the run's folder hold; the error is the inner exception.
    /// </exception>
    internal static void Save(string directory, CheckpointConfig config, CheckpointState state, double valLoss)
    {
        string folder = Path.Combine(directory, Folder);
        string step = config.Step.ToString(CultureInfo.InvariantCulture);
        string ownCheckpoint = $"The run's own checkpoint of step {step} is saved in '{directory}'.";
        bool existed = Directory.Exists(folder);
        try
        {
            // A best/ created here goes again with what was put in it (CheckpointStore.Save).
            ModelCheckpoint.Save(folder, config, state);
        }
        catch (TrainingInputException e)
        {
            throw CheckpointSaveFailure.Adding(e, ownCheckpoint);
        }

        // The earlier note is read only where the write failed, which left it as it was.
        string path = Path.Combine(folder, InfoFile);
        string doing = $"noting the best checkpoint (step {step}, validation loss {valLoss.ToString("R", CultureInfo.InvariantCulture)})";
        WholeFiles.WriteText(path, new JsonObject { ["step"] = config.Step, ["val_loss"] = valLoss }.ToJsonString() + "\n",
            (e, at) => existed
                ? CheckpointSaveFailure.OfFile(e, at, "the run", doing,
                    $"The checkpoint of step {step} is saved in '{directory}' and in '{folder}'; {InfoFile} was not replaced: " +
                    (Read(directory) is { } best
                        ? $"it still gives the earlier best, step {best.Step.ToString(CultureInfo.InvariantCulture)}."
                        : $"'{folder}' has none, so a resumed run takes its first evaluation as the best."))
                : CheckpointSaveFailure.Adding(CheckpointSaveFailure.OfFileRemovingFolder(e, at, "the run", doing, [Path.GetFullPath(folder)],
                    [Path.Combine(folder, CheckpointStore.ModelFile), Path.Combine(folder, CheckpointStore.ConfigFile)]), ownCheckpoint));
    }
}
