using System.Globalization;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>
/// A run resumed from the checkpoint of one folder into another (<c>xent train --resume A --out B</c>): B starts as a
/// copy of A's run up to the checkpoint (its best/, and its metrics.jsonl lines through the checkpoint's step, which
/// <see cref="MetricsLog.Open"/> copies), so best/, --early-stop, summary.json and loss.png go on as a resume in A
/// would; A is only read. Without it B's best/ would start from B's next evaluation, however much worse than A's best,
/// or from whatever best/ B held. A B that holds another run's files is refused before anything is written: the
/// copy would mix them with A's, or replace them. What this same resume left in B when it was stopped before B's first
/// checkpoint (<see cref="UnfinishedResumeCopy"/>) is not another run's: the copy is done again over it.
/// </summary>
internal static class ResumeIntoOtherFolder
{
    // What a run leaves in its folder (loss.png, the command line's, comes after metrics.jsonl).
    private static readonly string[] RunFiles =
        [CheckpointStore.ModelFile, CheckpointStore.ConfigFile, MetricsLog.FileName, RunSummary.FileName, BestCheckpoint.Folder];

    /// <summary>
    /// The folder of the resumed run when <paramref name="plan"/> writes into another; null for a fresh run, a resume
    /// in place, or a checkpoint not loaded from a folder. It is named as the caller named it, so messages show it as
    /// `train` shows --out (<see cref="TrainingLoop.Shown"/>).
    /// </summary>
    public static string? Source(TrainingPlan plan) =>
        plan.Resume?.Checkpoint.Origin is not { } origin || TrainingLoop.SameFolder(origin.Directory, plan.OutDir) ? null : TrainingLoop.Shown(origin);

    /// <summary>
    /// Refuses an <paramref name="into"/> holding a run's files (but for an unfinished copy of this resume, which is
    /// redone), then copies <paramref name="from"/>'s best/ into it
    /// and opens its metrics.jsonl with <paramref name="from"/>'s lines through <paramref name="step"/>. A failure of
    /// the log removes the copy of best/ again, so a run that did not start leaves no run's files in the folder.
    /// </summary>
    /// <returns>The best checkpoint so far (<see cref="BestCheckpoint.ReadForResume"/>; null for none), and the log.</returns>
    /// <exception cref="TrainingInputException">
    /// <paramref name="into"/> holds a run's files; or as <see cref="BestCheckpoint.ReadForResume"/>, <see cref="BestCheckpoint.CopyForResume"/> and <see cref="MetricsLog.Open"/>.
    /// </exception>
    public static ((long Step, double ValLoss)? Best, MetricsLog Log) Start(string from, string into, long step)
    {
        // Read once, for the check of an unfinished copy and for the copy.
        var best = BestCheckpoint.ReadForResume(from, rewrite: false);
        bool wholeBest = false;
        string[] held = [.. RunFiles.Where(f => Path.Exists(Path.Combine(into, f))).Select(f => f == BestCheckpoint.Folder ? $"{f}/" : f)];
        if (held.Length > 0 && !UnfinishedResumeCopy.Holds(from, into, step, best, out wholeBest, out string? damaged))
        {
            throw new TrainingInputException(Refusal(from, into, step, held, damaged));
        }

        // An unfinished copy's best/ goes first (where the other folder has no best now, none is copied over it), but
        // for a whole one, which is kept.
        if (!wholeBest)
        {
            BestCheckpoint.RemoveCopy(into);
            BestCheckpoint.CopyForResume(from, into, best);
        }

        try
        {
            return (best, MetricsLog.Open(into, step, from));
        }
        catch (TrainingInputException)
        {
            BestCheckpoint.RemoveCopy(into);
            throw;
        }
    }

    // Why the folder is refused, and what can be done: a folder without a checkpoint has no run to resume in it, and one
    // whose file could not be parsed is not known to be another run's, only not this resume's copy.
    private static string Refusal(string from, string into, long step, string[] held, string? damaged)
    {
        string files = string.Join(", ", held), stepText = step.ToString(CultureInfo.InvariantCulture);
        string holds = damaged is null
            ? $"'{into}' holds another run's {files}"
            : $"'{into}' holds {files}, not taken for what this resume left there when it was stopped ({damaged})";
        string advice = CheckpointStore.Exists(into)
            ? $"give it a new or empty folder, or resume the run in '{into}' from its own checkpoint."
            : "give it a new or empty folder.";
        return $"{holds}: a run resumed from the checkpoint in '{from}' into another folder starts it as a copy of that run up to step {stepText} " +
            $"({BestCheckpoint.Folder}/ and {MetricsLog.FileName}), which would be mixed with these or replace them. Nothing was written and the run did not start: {advice}";
    }
}
