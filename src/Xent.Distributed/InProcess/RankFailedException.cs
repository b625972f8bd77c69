namespace Xent.Distributed.InProcess;

/// <summary>Thrown by a collective of an in-process group when another rank failed or aborted.</summary>
public sealed class RankFailedException : Exception
{
    /// <summary>A failure of rank <paramref name="rank"/>.</summary>
    /// <param name="rank">The rank that failed.</param>
    /// <param name="message">What happened, naming the rank.</param>
    /// <param name="inner">The rank's own exception, if any.</param>
    public RankFailedException(int rank, string message, Exception? inner = null)
        : base(message, inner)
    {
        Rank = rank;
    }

    /// <summary>Creates an exception with no rank (-1).</summary>
    public RankFailedException()
        : this(-1, "A rank failed.")
    {
    }

    /// <summary>Creates an exception with no rank (-1).</summary>
    /// <param name="message">What happened.</param>
    public RankFailedException(string message)
        : this(-1, message)
    {
    }

    /// <summary>Creates an exception with no rank (-1).</summary>
    /// <param name="message">What happened.</param>
    /// <param name="inner">The cause.</param>
    public RankFailedException(string message, Exception inner)
        : this(-1, message, inner)
    {
    }

    /// <summary>The rank that failed first.</summary>
    public int Rank { get; }
}
