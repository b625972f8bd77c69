namespace Xent.Distributed.Mpi;

/// <summary>An MPI call returned an error; the message is MPI's own error string.</summary>
public sealed class MpiException : Exception
{
    /// <summary>An error of <paramref name="function"/>.</summary>
    /// <param name="function">The MPI function that failed.</param>
    /// <param name="errorCode">Its return code.</param>
    /// <param name="errorString">MPI's text for the code.</param>
    public MpiException(string function, int errorCode, string errorString)
        : base($"{function} failed with MPI error {errorCode}: {errorString}")
    {
        ErrorCode = errorCode;
    }

    /// <summary>Creates an exception with no error code.</summary>
    public MpiException()
    {
    }

    /// <summary>Creates an exception with no error code.</summary>
    /// <param name="message">What happened.</param>
    public MpiException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with no error code.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="inner">The cause.</param>
    public MpiException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>The MPI return code (0 when none).</summary>
    public int ErrorCode { get; }
}
