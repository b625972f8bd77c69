namespace Xent.Distributed;

/// <summary>
/// The main of a distributed program: runs it on the world communicator and turns a failure of any rank into the
/// end of the whole job, within seconds, with one message naming the rank and the cause (instead of the other ranks
/// waiting forever in their next collective).
/// </summary>
public static class DistributedJob
{
    /// <summary>
    /// Runs <paramref name="body"/> with <see cref="Communicator.World"/>. When it throws (or another thread of the
    /// process dies of an unhandled exception), under mpirun the message "rank R of K failed: Type: message" goes to
    /// stderr and MPI_Abort ends every process of the job with exit code <paramref name="failureExitCode"/>; in a
    /// single process the exception propagates as usual. An <see cref="AgreedExitException"/> (from <see cref="Agree"/>,
    /// which has reported the failure) ends the body with its exit code on every rank, without an abort.
    /// </summary>
    /// <param name="body">The program; returns its exit code.</param>
    /// <param name="failureExitCode">The job's exit code when a rank fails.</param>
    /// <param name="classify">
    /// Optional: for an exception the program reports in its own words (bad input), the exit code and the line to
    /// print; null for any other failure. Such a failure ends the job with that code and that line, printed once:
    /// rank 0 aborts at once, another rank a moment later, so that when every rank meets the same bad input only
    /// rank 0's line is printed.
    /// </param>
    /// <returns>The body's exit code (the job has ended before returning otherwise).</returns>
    public static int Run(Func<ICommunicator, int> body, int failureExitCode = 1, Func<Exception, (int ExitCode, string Line)?>? classify = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        var world = Communicator.World();
        if (world.Size == 1 && !Communicator.UnderMpirun)
        {
            using (world)
            {
                try
                {
                    return body(world);
                }
                catch (AgreedExitException e)
                {
                    return e.ExitCode; // reported by Agree already
                }
            }
        }

        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
            world.Abort(failureExitCode, Describe(world, e.ExceptionObject as Exception));
        int code;
        try
        {
            code = body(world);
        }
        catch (AgreedExitException e)
        {
            // Every rank agreed to end here (bad input reported once by Agree): a clean end, no abort.
            world.Dispose();
            return e.ExitCode;
        }
#pragma warning disable CA1031 // Any failure of a rank must end the whole job, whatever its type.
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (classify?.Invoke(e) is { } known)
            {
                if (world.Rank != 0)
                {
                    // Rank 0 may have met the same input: its abort, if it comes, ends this process first.
                    Thread.Sleep(OtherRanksDelay);
                }

                world.Abort(known.ExitCode, known.Line);
            }

            world.Abort(failureExitCode, Describe(world, e));
            throw; // not reached: Abort does not return
        }

        world.Dispose();
        return code;
    }

    private static readonly TimeSpan OtherRanksDelay = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs <paramref name="prepare"/> (reading the input, before the ranks work together) on every rank, then agrees
    /// on its outcome in one collective. When it throws, on any rank, an exception <paramref name="classify"/> knows
    /// (bad input: a file missing on one machine, a checkpoint one rank cannot read), the lowest such rank writes its
    /// line to <paramref name="error"/>, once for the job, and every rank throws <see cref="AgreedExitException"/>
    /// with that rank's exit code, which <see cref="Run"/> returns on every rank without aborting. Any other exception
    /// propagates (under <see cref="Run"/>, the job ends naming the rank).
    /// </summary>
    /// <typeparam name="T">What the preparation gives.</typeparam>
    /// <param name="communicator">The ranks; every one calls this.</param>
    /// <param name="prepare">The preparation of this rank.</param>
    /// <param name="classify">For an exception reported in the program's words, the exit code and the line to print; null for others.</param>
    /// <param name="error">Where the failing rank writes its line (stderr).</param>
    /// <returns>This rank's result, when every rank succeeded.</returns>
    public static T Agree<T>(ICommunicator communicator, Func<T> prepare, Func<Exception, (int ExitCode, string Line)?> classify, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(prepare);
        ArgumentNullException.ThrowIfNull(classify);
        ArgumentNullException.ThrowIfNull(error);
        T result = default!;
        (int ExitCode, string Line)? failure = null;
        try
        {
            result = prepare();
        }
        catch (Exception e) when ((failure = classify(e)) is not null)
        {
            // Reported below, once, after the ranks have agreed.
        }

        // K - r for a failing rank r, 0 for a rank that succeeded: the maximum names the lowest failing rank.
        Span<int> lowest = [failure is null ? 0 : communicator.Size - communicator.Rank];
        communicator.AllReduce(lowest, ReduceOperation.Max);
        if (lowest[0] == 0)
        {
            return result;
        }

        int failing = communicator.Size - lowest[0];
        Span<int> code = [failure?.ExitCode ?? 0];
        communicator.Broadcast(code, failing);
        if (communicator.Rank == failing)
        {
            error.WriteLine(failure!.Value.Line);
            error.Flush();
        }

        throw new AgreedExitException(code[0], failing);
    }

    /// <summary>"rank R of K failed: Type: message", the line a failing rank prints.</summary>
    /// <param name="communicator">The failing rank's communicator.</param>
    /// <param name="error">The cause.</param>
    public static string Describe(ICommunicator communicator, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        string cause = error == null ? "unknown error" : $"{error.GetType().Name}: {error.Message}";
        return $"rank {communicator.Rank} of {communicator.Size} failed: {cause}";
    }
}
