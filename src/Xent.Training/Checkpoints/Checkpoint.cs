namespace Xent.Training.Checkpoints;

/// <summary>A loaded checkpoint: config, weights and AdamW state, all keyed by parameter name.</summary>
public sealed class Checkpoint
{
    internal Checkpoint(CheckpointConfig config, Dictionary<string, SafeTensor> weights,
        Dictionary<string, SafeTensor> m, Dictionary<string, SafeTensor> v, long optimizerStep)
    {
        Config = config;
        Weights = weights;
        M = m;
        V = v;
        OptimizerStep = optimizerStep;
    }

    /// <summary>config.json.</summary>
    public CheckpointConfig Config { get; }

    /// <summary>Model parameters by name.</summary>
    public IReadOnlyDictionary<string, SafeTensor> Weights { get; }

    /// <summary>AdamW first moments by parameter name.</summary>
    public IReadOnlyDictionary<string, SafeTensor> M { get; }

    /// <summary>AdamW second moments by parameter name.</summary>
    public IReadOnlyDictionary<string, SafeTensor> V { get; }

    /// <summary>AdamW's step counter (for bias correction).</summary>
    public long OptimizerStep { get; }

    /// <summary>
    /// Set when the directory was not as a finished save leaves it and the checkpoint was still read whole
    /// (config.json behind model.safetensors after an interrupted save): what was found and what was used, for
    /// the user. Null for a checkpoint read as saved.
    /// </summary>
    public string? Note { get; init; }

    /// <summary>The folder and file it was read from (null for a checkpoint not read by <see cref="CheckpointStore.Load"/>).</summary>
    internal CheckpointOrigin? Origin { get; init; }
}
