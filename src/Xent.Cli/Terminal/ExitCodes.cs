namespace Xent.Cli.Terminal;

/// <summary>The process exit codes of every verb.</summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>An unexpected failure inside xent (a bug): the message says so.</summary>
    public const int InternalError = 1;

    /// <summary>Bad input: bad command line, missing or malformed file, shapes or values the computation rejects.</summary>
    public const int BadInput = 2;

    /// <summary>Training stopped because the loss became non-finite; the last good checkpoint is kept.</summary>
    public const int NonFiniteLoss = 3;

    /// <summary>Stopped by SIGHUP (its terminal closed) after saving a checkpoint, as shells report it (128 + 1).</summary>
    public const int HungUp = 129;

    /// <summary>Stopped by Ctrl+C after saving a checkpoint, as shells report SIGINT (128 + 2).</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGTERM after saving a checkpoint, as shells report it (128 + 15).</summary>
    public const int Terminated = 143;
}
