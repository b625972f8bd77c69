using System.Text.Json.Serialization;

namespace Xent.Training.Runs;

/// <summary>
/// One line of metrics.jsonl: the state after a training step. A line is read as one only with the fields every xent
/// has written on every line (val_loss among them, null where none was measured); world_size and vocab_parallel came
/// later, so a line without them (an older xent's) is still a record.
/// </summary>
public sealed record MetricRecord
{
    /// <summary>Optimizer steps done (1 after the first step).</summary>
    [JsonRequired, JsonPropertyName("step")] public long Step { get; init; }

    /// <summary>Training loss of the step's batch (nats/token, before the update).</summary>
    [JsonRequired, JsonPropertyName("loss")] public double Loss { get; init; }

    /// <summary>Validation loss after the step; null where none was measured.</summary>
    [JsonRequired, JsonPropertyName("val_loss")] public double? ValLoss { get; init; }

    /// <summary>Learning rate of the step.</summary>
    [JsonRequired, JsonPropertyName("lr")] public double LearningRate { get; init; }

    /// <summary>Training tokens per second of this step (forward, backward, update).</summary>
    [JsonRequired, JsonPropertyName("tokens_per_s")] public double TokensPerSecond { get; init; }

    /// <summary>Global gradient norm before clipping.</summary>
    [JsonRequired, JsonPropertyName("grad_norm")] public double GradNorm { get; init; }

    /// <summary>Processes that trained the step together (data parallel); 1 for one process.</summary>
    [JsonPropertyName("world_size")] public int WorldSize { get; init; } = 1;

    /// <summary>Whether the unembedding was split across the processes by vocabulary.</summary>
    [JsonPropertyName("vocab_parallel")] public bool VocabParallel { get; init; }
}
