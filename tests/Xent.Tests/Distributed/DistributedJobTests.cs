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
