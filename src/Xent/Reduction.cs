namespace Xent;

/// <summary>How per-row losses are combined into the result, as PyTorch's <c>reduction</c> argument.</summary>
public enum Reduction
{
    /// <summary>Weighted mean over the rows that are not ignored (PyTorch's default).</summary>
    Mean,

    /// <summary>Sum over all rows.</summary>
    Sum,

    /// <summary>No reduction: one loss per row.</summary>
    None,
}
