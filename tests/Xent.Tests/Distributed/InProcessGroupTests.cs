using Xent.Distributed;
using Xent.Distributed.InProcess;

namespace Xent.Tests.Distributed;

/// <summary>The in-process communicator: each collective's result, its fixed reduction order, and failures.</summary>
public class InProcessGroupTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Collectives_GiveEveryRankTheResult(int size)
    {
        var results = new float[size][];
        InProcessGroup.Run(size, c =>
        {
            float[] sum = [c.Rank, 10 * c.Rank, 1];
            c.AllReduce<float>(sum, ReduceOperation.Sum);
            double[] max = [c.Rank, -c.Rank, double.NegativeInfinity];
            c.AllReduce<double>(max, ReduceOperation.Max);
            int[] gathered = new int[2 * size];
            c.AllGather<int>([c.Rank, 100 + c.Rank], gathered);
            var scatter = new long[size];
            var send = Enumerable.Range(0, size).Select(i => (long)((i * 1000) + c.Rank)).ToArray();
            c.ReduceScatter<long>(send, scatter.AsSpan(0, 1));
            int[] toRoot = new int[c.Rank == size - 1 ? 2 * size : 0];
            c.Gather<int>([c.Rank, 200 + c.Rank], toRoot, size - 1);
            var broadcast = new byte[] { (byte)c.Rank, (byte)(c.Rank + 1) };
            c.Broadcast<byte>(broadcast, size - 1);
            c.Barrier();

            int triangle = size * (size - 1) / 2;
            Assert.Equal(new float[] { triangle, 10 * triangle, size }, sum);
            Assert.Equal(new double[] { size - 1, 0, double.NegativeInfinity }, max);
            Assert.Equal(Enumerable.Range(0, size).SelectMany(r => new[] { r, 100 + r }), gathered);
            Assert.Equal((c.Rank * 1000L * size) + triangle, scatter[0]);
            Assert.Equal(new[] { (byte)(size - 1), (byte)size }, broadcast);
            Assert.Equal(c.Rank == size - 1 ? Enumerable.Range(0, size).SelectMany(r => new[] { r, 200 + r }) : [], toRoot);
            results[c.Rank] = sum;
        });
        Assert.All(results, r => Assert.NotNull(r));
    }

    [Fact]
    public void Sum_FoldsRanksInOrder_SameBitsOnEveryRank()
    {
        // (1e8 + 1) - 1e8 = 0 in float, but 1e8 - 1e8 + 1 = 1: the order shows in the result.
        float[] values = [1e8f, 1f, -1e8f];
        var seen = new float[3];
        InProcessGroup.Run(3, c =>
        {
            float[] x = [values[c.Rank]];
            c.AllReduce<float>(x, ReduceOperation.Sum);
            seen[c.Rank] = x[0];
        });
        float expected = (values[0] + values[1]) + values[2];
        Assert.All(seen, s => Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(s)));
        Assert.Equal(0f, expected);
    }

    [Fact]
    public void Max_PropagatesNaN()
    {
        InProcessGroup.Run(2, c =>
        {
            float[] x = [c.Rank == 0 ? float.NaN : 1f];
            c.AllReduce<float>(x, ReduceOperation.Max);
            Assert.True(float.IsNaN(x[0]));
        });
    }

    [Fact]
    public void FailingRank_EndsTheOthersCollectives_AndItsExceptionComesOut()
    {
        var others = new Exception?[3];
        var error = Assert.Throws<InvalidOperationException>(() => InProcessGroup.Run(3, c =>
        {
            if (c.Rank == 1)
            {
                throw new InvalidOperationException("injected");
            }

            try
            {
                c.AllReduce<float>(new float[4], ReduceOperation.Sum);
            }
            catch (RankFailedException e)
            {
                others[c.Rank] = e;
                throw;
            }
        }));
        Assert.Equal("injected", error.Message);
        foreach (int r in new[] { 0, 2 })
        {
            var e = Assert.IsType<RankFailedException>(others[r]);
            Assert.Equal(1, e.Rank);
            Assert.Contains("rank 1 of 3 failed: InvalidOperationException: injected", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Abort_EndsTheGroup_NamingTheRank()
    {
        var error = Assert.Throws<RankFailedException>(() => InProcessGroup.Run(2, c =>
        {
            if (c.Rank == 0)
            {
                c.Abort(3, "bad input in batch 7");
            }

            c.Barrier();
        }));
        Assert.Equal(0, error.Rank);
        Assert.Contains("rank 0 of 2 aborted (exit code 3): bad input in batch 7", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARankThatEndsWhileAnotherWaits_FailsTheWaitingRank_NotAHang()
    {
        var error = Assert.Throws<RankFailedException>(() => InProcessGroup.Run(2, c =>
        {
            if (c.Rank == 1)
            {
                c.Barrier();
            }
        }));
        Assert.Equal(0, error.Rank);
        Assert.Contains("rank 0 of 2 ended its program while another rank waited in a collective", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MismatchedLengths_Throw()
    {
        Assert.Throws<ArgumentException>(() => InProcessGroup.Run(2, c => c.AllGather<float>(new float[2], new float[3])));
        Assert.Throws<ArgumentException>(() => InProcessGroup.Run(2, c => c.ReduceScatter<float>(new float[3], new float[2])));
        Assert.Throws<ArgumentOutOfRangeException>(() => InProcessGroup.Run(2, c => c.Broadcast<float>(new float[1], 2)));
        Assert.Throws<ArgumentException>(() => InProcessGroup.Run(2, c => c.Gather<float>(new float[2], new float[3], 0)));
    }

    [Fact]
    public void MismatchedCollectives_ThrowSayingSo()
    {
        // An all-reduce beside a barrier was a NullReferenceException, float beside double an InvalidCastException,
        // and an all-reduce beside a barrier after an earlier all-reduce read that one's values; all-gather, gather
        // and broadcast of different lengths said 'Destination array was not long enough' or gave zeros.
        const string Message = "the ranks did not make the same collective calls";
        var e = Assert.ThrowsAny<Exception>(() => InProcessGroup.Run(2, c =>
        {
            if (c.Rank == 0)
            {
                c.AllReduce<float>(new float[3], ReduceOperation.Sum);
            }
            else
            {
                c.Barrier();
            }
        }));
        Assert.Contains(Message, e.Message, StringComparison.Ordinal);
        e = Assert.ThrowsAny<Exception>(() => InProcessGroup.Run(2, c =>
        {
            if (c.Rank == 0)
            {
                c.AllReduce<float>(new float[3], ReduceOperation.Sum);
            }
            else
            {
                c.AllReduce<double>(new double[3], ReduceOperation.Sum);
            }
        }));
        Assert.Contains(Message, e.Message, StringComparison.Ordinal);
        float[]? second = null;
        e = Assert.ThrowsAny<Exception>(() => InProcessGroup.Run(2, c =>
        {
            c.AllReduce<float>(new float[] { 1 }, ReduceOperation.Sum);
            if (c.Rank == 0)
            {
                second = [1];
                c.AllReduce<float>(second, ReduceOperation.Sum);
            }
            else
            {
                c.Barrier();
                c.Barrier();
            }
        }));
        Assert.Contains(Message, e.Message, StringComparison.Ordinal);
        Assert.Equal(1f, Assert.Single(second!));
        foreach (var collective in new Action<ICommunicator>[]
        {
            c => c.AllGather<float>(new float[c.Rank + 1], new float[2 * (c.Rank + 1)]),
            c => c.Gather<float>(new float[c.Rank + 1], new float[2 * (c.Rank + 1)], 0),
            c => c.Broadcast<float>(new float[c.Rank + 1], 0),
        })
        {
            e = Assert.Throws<ArgumentException>(() => InProcessGroup.Run(2, collective));
            Assert.Contains("The ranks passed buffers of different lengths (1 and 2)", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DifferentRootsOperationsOrLengths_ThrowOnEveryRank()
    {
        // A broadcast or gather with different roots gave each rank another rank's buffer, an all-reduce with Sum on
        // one rank and Max on the other gave each rank its own operation's result, and an all-reduce of different
        // lengths threw on the longer ranks only (the shorter one went on with a prefix of the others' values).
        var cases = new (Action<ICommunicator> Collective, string Message)[]
        {
            (c => c.Broadcast<float>(new float[2], c.Rank), "rank 0 called Broadcast (root 0), rank 1 Broadcast (root 1)"),
            (c => c.Gather<float>(new float[1], new float[2], c.Rank), "rank 0 called Gather (root 0), rank 1 Gather (root 1)"),
            (c => c.AllReduce<float>(new float[2], c.Rank == 0 ? ReduceOperation.Sum : ReduceOperation.Max), "rank 0 called AllReduce (Sum), rank 1 AllReduce (Max)"),
            (c => c.AllReduce<float>(new float[2 - c.Rank], ReduceOperation.Sum), "The ranks passed buffers of different lengths (2 and 1)"),
            (c => c.ReduceScatter<float>(new float[2 * (2 - c.Rank)], new float[2 - c.Rank]), "The ranks passed buffers of different lengths (4 and 2)"),
        };
        foreach (var (collective, message) in cases)
        {
            var errors = new Exception?[2];
            void Body(ICommunicator c)
            {
                try
                {
                    collective(c);
                }
                catch (Exception e)
                {
                    errors[c.Rank] = e;
                    throw;
                }
            }

            Assert.Throws<ArgumentException>(() => InProcessGroup.Run(2, Body));
            Assert.All(errors, e => Assert.Contains(message, Assert.IsType<ArgumentException>(e).Message, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void World_WithoutMpirun_IsRankZeroOfOne()
    {
        Assert.False(Communicator.UnderMpirun, "the test process itself was started by mpirun");
        using var world = Communicator.World();
        Assert.Equal((0, 1), (world.Rank, world.Size));
        float[] x = [2.5f];
        world.AllReduce<float>(x, ReduceOperation.Sum);
        Assert.Equal(2.5f, x[0]);
    }
}
