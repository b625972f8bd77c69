using System.Runtime.InteropServices;
using Xent.Cli.Terminal;
using Xent.Distributed;
using Xent.Training.Checkpoints;

namespace Xent.Cli.Commands;

/// <summary>
/// Ctrl+C (SIGINT), SIGTERM (a timeout, <c>docker stop</c>, systemd) and SIGHUP (its terminal closed, an ssh session
/// dropped) during <c>xent train</c>, handled alike: a run whose terminal went away keeps its last steps as one stopped.
/// While the run is prepared (the text read and encoded, the baseline fitted, steps timed for --time) nothing has
/// been written: the first signal releases the run folder as it was found (<see cref="RunFolderLock.Abandon"/>),
/// says so, and lets the process end as the signal does. Once training has begun (<see cref="StartTraining"/>), the
/// first signal cancels <see cref="Token"/>: the loop stops after the current step (or in its validation) and saves a checkpoint. A second
/// one ends the process at once (checkpoint files are renamed into place whole, so that cannot leave a broken one).
/// </summary>
internal sealed class TrainSignals : IDisposable
{
    private readonly Lock gate = new();
    private readonly CancellationTokenSource stop;
    private readonly TextWriter error;
    private readonly List<PosixSignalRegistration> registrations = [];
    private RunFolderLock? folderLock;
    private bool training;
    private bool interrupted;

    public TrainSignals(TextWriter error, CancellationToken cancellationToken)
    {
        this.error = error;
        stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        foreach (var signal in (PosixSignal[])[PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP])
        {
            try
            {
                registrations.Add(PosixSignalRegistration.Create(signal, Handle));
            }
            catch (PlatformNotSupportedException)
            {
                // A platform without this signal cannot send it either.
            }
        }
    }

    /// <summary>Cancelled by the first signal once training has begun.</summary>
    public CancellationToken Token => stop.Token;

    /// <summary>Whether training has begun (<see cref="StartTraining"/>), the run's preparation over.</summary>
    public bool Training
    {
        get
        {
            lock (gate)
            {
                return training;
            }
        }
    }

    /// <summary>The signal that stopped the training (SIGINT, SIGTERM or SIGHUP); null when none did.</summary>
    public PosixSignal? StoppedBy { get; private set; }

    /// <summary>
    /// Under mpirun, once the training stopped: every rank takes the signal some rank saw (SIGHUP over SIGTERM over SIGINT),
    /// so a signal sent to one process only is named by rank 0 and every rank exits with its code (129, 143 or 130), not 130
    /// from the ranks that saw none. A collective: every rank calls it.
    /// </summary>
    /// <param name="world">The ranks training together.</param>
    public void AgreeStoppedBy(ICommunicator world)
    {
        Span<int> code = [0];
        lock (gate)
        {
            code[0] = StoppedBy switch { PosixSignal.SIGHUP => 3, PosixSignal.SIGTERM => 2, null => 0, _ => 1 };
        }

        world.AllReduce<int>(code, ReduceOperation.Max);
        lock (gate)
        {
            StoppedBy = code[0] switch { 3 => PosixSignal.SIGHUP, 2 => PosixSignal.SIGTERM, 1 => PosixSignal.SIGINT, _ => null };
        }
    }

    /// <summary>The run folder's lock, released as the folder was found if a signal comes before training begins.</summary>
    public void Guard(RunFolderLock? runFolderLock)
    {
        lock (gate)
        {
            folderLock = runFolderLock;
        }
    }

    /// <summary>From here on a signal stops the run after its current step, with a checkpoint.</summary>
    public void StartTraining()
    {
        lock (gate)
        {
            if (!interrupted)
            {
                training = true;
                return;
            }
        }

        // A signal came first: its handler released the folder, and the signal is ending the process now.
        Thread.Sleep(TimeSpan.FromSeconds(10));
        throw new OperationCanceledException("interrupted while the run was prepared");
    }

    public void Dispose()
    {
        foreach (var registration in registrations)
        {
            registration.Dispose();
        }

        stop.Dispose();
    }

    private void Handle(PosixSignalContext context)
    {
        if (context.Signal == PosixSignal.SIGHUP)
        {
            StandardStreamWriter.TerminalClosed();
        }

        lock (gate)
        {
            if (!training)
            {
                if (!interrupted)
                {
                    interrupted = true;
                    folderLock?.Abandon();
                    error.WriteLine($"xent: interrupted ({context.Signal}) while the run was prepared; nothing was written.");
                    error.Flush();
                }

                // Not cancelled: the process ends as the signal does (exit status 130, 143 or 129).
                return;
            }

            if (StoppedBy is null)
            {
                StoppedBy = context.Signal;
                context.Cancel = true;
                stop.Cancel();
            }
        }
    }
}
