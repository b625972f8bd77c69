namespace Xent.Tests.Cli;

/// <summary>
/// `--accumulate N` splits a process's share of each batch into N micro-batches of at least one sequence: more than
/// that share would only add empty ones, the same step under another name, so it is refused.
/// </summary>
public sealed class TrainAccumulateTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void More_micro_batches_than_sequences_are_refused()
    {
        var run = CliRun.Run("train", "--out", temp["run"], "--steps", "1", "--accumulate", "100");
        run.AssertBadInput("--accumulate 100", "give at most --accumulate 16");
        Assert.False(Directory.Exists(temp["run"]));

        TrainCommandTests.Train(temp["three"], "--steps", "1", "--accumulate", "3").AssertBadInput("--accumulate 3", "the batch's 2 sequence(s)");
    }

    [Fact]
    public void One_sequence_per_micro_batch_trains()
    {
        var run = TrainCommandTests.Train(temp["run"], "--steps", "1", "--accumulate", "2");
        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Contains("2 micro-batch(es) per process", run.Out, StringComparison.Ordinal);
    }
}
