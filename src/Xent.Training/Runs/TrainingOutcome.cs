namespace Xent.Training.Runs;

/// <summary>What a run did (summary.json is written from it).</summary>
public sealed record TrainingOutcome
{
    /// <summary>How the run ended.</summary>
    public required TrainingStatus Status { get; init; }

    /// <summary>The step it started from (0, or the resumed checkpoint's).</summary>
    public required long StartStep { get; init; }

    /// <summary>Optimizer steps done at the end.</summary>
    public required long FinalStep { get; init; }

    /// <summary>Validation loss before the first step of this run (a resumed run: of this segment); NaN when the run was cancelled before it was measured.</summary>
    public required double InitialValLoss { get; init; }

    /// <summary>
    /// Validation loss before step 0 of the whole run: this run's own, or, when resumed, the one its checkpoint
    /// carried; null when a resumed checkpoint did not record it.
    /// </summary>
    public double? RunInitialValLoss { get; init; }

    /// <summary>Validation loss at the end; null after a non-finite loss, and after a cancellation that came before it was measured.</summary>
    public double? FinalValLoss { get; init; }

    /// <summary>Training loss of the last step; null when no step was taken.</summary>
    public double? FinalTrainLoss { get; init; }

    /// <summary>Training tokens per second over the steps (forward, backward, update).</summary>
    public required double TokensPerSecond { get; init; }

    /// <summary>Seconds spent in steps.</summary>
    public required double TrainSeconds { get; init; }

    /// <summary>Seconds of the whole run, validation and checkpoints included.</summary>
    public required double WallSeconds { get; init; }

    /// <summary>The step whose loss was not finite, if any.</summary>
    public long? NonFiniteStep { get; init; }

    /// <summary>The step of the last checkpoint this run wrote; null if it wrote none.</summary>
    public long? CheckpointStep { get; init; }

    /// <summary>The step of the best checkpoint (lowest validation loss, kept in <see cref="BestCheckpoint.Folder"/>); null if none.</summary>
    public long? BestStep { get; init; }

    /// <summary>The validation loss of the best checkpoint; null if none.</summary>
    public double? BestValLoss { get; init; }

    /// <summary>Whether the run stopped before its last step because the validation loss stopped improving.</summary>
    public bool StoppedEarly { get; init; }

    /// <summary>Parameters of the model.</summary>
    public required long ParameterCount { get; init; }

    /// <summary>Processes that trained together (data parallel); 1 for one process.</summary>
    public int WorldSize { get; init; } = 1;

    /// <summary>Whether the unembedding was split across the processes by vocabulary.</summary>
    public bool VocabParallel { get; init; }

    /// <summary>
    /// metrics.jsonl's records as the run left it (earlier runs' included; empty on a process that writes none): what
    /// loss.png draws, so that the file is not read back after the run.
    /// </summary>
    public IReadOnlyList<MetricRecord> Metrics { get; init; } = [];
}
