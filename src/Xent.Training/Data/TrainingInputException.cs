namespace Xent.Training.Data;

/// <summary>
/// Bad input to training, evaluation or sampling (a missing or unusable text file, a corrupt or mismatched
/// checkpoint). The message is written for the user: the CLI prints it as is and exits with code 2.
/// </summary>
public sealed class TrainingInputException : Exception
{
    /// <summary>Creates the exception with a user-facing message.</summary>
    public TrainingInputException(string message) : base(message) { }

    /// <summary>Creates the exception with a user-facing message and the low-level cause.</summary>
    public TrainingInputException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with a generic message.</summary>
    public TrainingInputException() : base("Bad training input.") { }
}
