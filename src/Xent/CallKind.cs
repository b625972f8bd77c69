namespace Xent;

/// <summary>Which public entry point a call came through: it decides what is required and what is written.</summary>
internal enum CallKind
{
    /// <summary>The reduced loss only.</summary>
    Loss,

    /// <summary>Per-row losses (and optionally log-sum-exp).</summary>
    PerRow,

    /// <summary>The reduced loss and its gradient.</summary>
    LossAndGradient,

    /// <summary>The gradient of sum_n g[n] r[n] (per-row upstream).</summary>
    Backward,
}
