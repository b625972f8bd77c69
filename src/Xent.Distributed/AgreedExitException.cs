namespace Xent.Distributed;

/// <summary>
/// Thrown on every rank by <see cref="DistributedJob.Agree"/> when the preparation failed on some rank with bad input
/// (already reported once): <see cref="DistributedJob.Run"/> ends every rank with <see cref="ExitCode"/>.
/// </summary>
public sealed class AgreedExitException : Exception
{
    /// <summary>The exit code every rank ends with, and the rank that reported the failure.</summary>
    /// <param name="exitCode">The failing rank's exit code.</param>
    /// <param name="failingRank">The lowest rank that failed (it printed the message).</param>
    public AgreedExitException(int exitCode, int failingRank)
        : base($"rank {failingRank} could not start the job (exit code {exitCode}); it reported why.")
    {
        ExitCode = exitCode;
        FailingRank = failingRank;
    }

    /// <summary>An exception with no code (exit code 1).</summary>
    public AgreedExitException()
        : this(1, 0)
    {
    }

    /// <summary>An exception with a message (exit code 1).</summary>
    /// <param name="message">Why.</param>
    public AgreedExitException(string message)
        : base(message)
    {
        ExitCode = 1;
    }

    /// <summary>An exception with a message and a cause (exit code 1).</summary>
    /// <param name="message">Why.</param>
    /// <param name="innerException">The cause.</param>
    public AgreedExitException(string message, Exception innerException)
        : base(message, innerException)
    {
        ExitCode = 1;
    }

    /// <summary>The exit code of every rank.</summary>
    public int ExitCode { get; }

    /// <summary>The lowest rank that failed.</summary>
    public int FailingRank { get; }
}
