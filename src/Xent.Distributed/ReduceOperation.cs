namespace Xent.Distributed;

/// <summary>How <see cref="ICommunicator.AllReduce{T}"/> combines the ranks' values, element by element.</summary>
public enum ReduceOperation
{
    /// <summary>The sum over the ranks.</summary>
    Sum,

    /// <summary>The largest value over the ranks.</summary>
    Max,
}
