using Xent.Distributed;
using Xent.Distributed.InProcess;

namespace Xent.Tests.Distributed;

/// <summary>DistributedJob without mpirun: the program runs as rank 0 of 1 and failures are ordinary exceptions.</summary>
public class DistributedJobTests
{
    [Fact]
    public void WithoutMpirun_RunsAsRankZeroOfOne_ReturnsTheExitCode()
    {
        Assert.False(Communicator.UnderMpirun, "the test process itself was started by mpirun");
        int seen = -1;
        int code = DistributedJob.Run(world =>
        {
            seen = (world.Rank * 10) + world.Size;
            return 4;
        });
        Assert.Equal(4, code);
        Assert.Equal(1, seen);
    }

    [Fact]
    public void WithoutMpirun_AFailurePropagates()
    {
        var e = Assert.Throws<InvalidOperationException>(() => DistributedJob.Run(_ => throw new InvalidOperationException("no data")));
        Assert.Equal("no data", e.Message);
    }

    [Fact]
    public void Agree_BadInputOnSomeRanks_IsReportedOnceByTheLowest_AndEveryRankGetsItsExitCode()
    {
        var outcomes = new object?[3];
        var lines = new StringWriter[3];
        InProcessGroup.Run(3, c =>
        {
            lines[c.Rank] = new StringWriter();
            try
            {
                // Ranks 1 and 2 cannot read their input (a file missing on their machines); rank 0 can.
                outcomes[c.Rank] = DistributedJob.Agree(c, () => c.Rank == 0 ? 7 : throw new FileNotFoundException($"rank {c.Rank}: corpus.txt is missing"),
                    Classify, lines[c.Rank]);
            }
            catch (AgreedExitException e)
            {
                outcomes[c.Rank] = e;
            }
        });

        Assert.All(outcomes, o => Assert.Equal((2, 1), (Assert.IsType<AgreedExitException>(o).ExitCode, ((AgreedExitException)o!).FailingRank)));
        Assert.Equal("xent: error: rank 1: corpus.txt is missing" + Environment.NewLine, lines[1].ToString());
        Assert.Equal("", lines[0].ToString());
        Assert.Equal("", lines[2].ToString());
    }

    [Fact]
    public void Agree_WhenEveryRankSucceeds_ReturnsEachRanksResult_AndOtherFailuresPropagate()
    {
        var results = new int[2];
        InProcessGroup.Run(2, c => results[c.Rank] = DistributedJob.Agree(c, () => 10 + c.Rank, Classify, TextWriter.Null));
        Assert.Equal([10, 11], results);

        // An error the program does not report in its own words is a failure of the rank, not an agreed exit.
        Assert.Throws<InvalidOperationException>(() => InProcessGroup.Run(2, c =>
            DistributedJob.Agree<int>(c, () => c.Rank == 1 ? throw new InvalidOperationException("bug") : 0, Classify, TextWriter.Null)));
    }

    [Fact]
    public void WithoutMpirun_AnAgreedExit_IsTheExitCode()
    {
        var error = new StringWriter();
        int code = DistributedJob.Run(world => DistributedJob.Agree<int>(world, () => throw new IOException("no corpus"), Classify, error));
        Assert.Equal(2, code);
        Assert.Equal("xent: error: no corpus" + Environment.NewLine, error.ToString());
    }

    private static (int ExitCode, string Line)? Classify(Exception e) => e is IOException ? (2, $"xent: error: {e.Message}") : null;

    [Fact]
    public void Describe_NamesTheRankAndTheCause()
    {
        string? line = null;
        InProcessGroup.Run(3, c =>
        {
            if (c.Rank == 2)
            {
                line = DistributedJob.Describe(c, new FileNotFoundException("tokens.bin is missing"));
            }
        });
        Assert.Equal("rank 2 of 3 failed: FileNotFoundException: tokens.bin is missing", line);
    }
}
