using Xent.Distributed;
using Xent.Distributed.InProcess;
using Xent.Distributed.Vocabulary;

namespace Xent.Tests.Distributed;

/// <summary>
/// Vocabulary-parallel calls whose ranks pass different V, N, D, options, upstream gradients, hidden states or calls:
/// each was a silently different loss on each rank; now every rank throws the same ArgumentException naming it.
/// </summary>
public class VocabParallelArgumentsTests
{
    private const int V = 10, N = 3, D = 3;

    private static readonly float[] Logits = [.. Enumerable.Range(0, N * 13).Select(i => MathF.Sin(i))];
    private static readonly float[] Hidden = [.. Enumerable.Range(0, N * 4).Select(i => MathF.Cos(i))];
    private static readonly float[] Weight = [.. Enumerable.Range(0, 13 * 4).Select(i => MathF.Sin(0.3f * i))];
    private static readonly int[] Targets = [3, 8, 1];

    // Each case: what rank `last` (the last rank) passes differently, the expected message and parameter name.
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in Calls.Keys)
        {
            data.Add(name, 2);
            data.Add(name, 3);
        }

        return data;
    }

    private static Dictionary<string, (Action<ICommunicator, bool> Call, string Message, string? Parameter)> Calls { get; } = new()
    {
        ["classes"] = ((c, odd) => Loss(c, odd ? 11 : V), "class counts V (one rank 10, another 11)", "classes"),
        ["reduction"] = ((c, odd) => Loss(c, V, new() { Reduction = odd ? Reduction.Sum : Reduction.Mean }), "options.Reduction (one rank Mean, another Sum)", "options"),
        ["ignore index"] = ((c, odd) => Loss(c, V, new() { IgnoreIndex = odd ? 8 : -100 }), "options.IgnoreIndex (one rank -100, another 8)", "options"),
        ["label smoothing"] = ((c, odd) => Loss(c, V, new() { LabelSmoothing = odd ? 0.1f : 0f }), "options.LabelSmoothing (one rank 0, another 0.1)", "options"),
        ["z-loss"] = ((c, odd) => Loss(c, V, new() { ZLoss = odd ? 1e-4f : 0f }), "options.ZLoss (one rank 0, another 0.0001)", "options"),
        ["soft cap"] = ((c, odd) => Loss(c, V, new() { SoftCap = odd ? 30f : 0f }), "options.SoftCap (one rank 0, another 30)", "options"),
        ["class weights"] = ((c, odd) => Loss(c, V, new() { ClassWeights = Weights(odd) }), "options.ClassWeights", "options"),
        ["class weights beside none"] = ((c, odd) => Loss(c, V, new() { ClassWeights = odd ? Weights(true) : default }), "options.ClassWeights", "options"),
        ["per-row losses' options"] = ((c, odd) => VocabParallelCrossEntropy.LossPerRow(c, Shard(c, V), V, Targets, new float[N], options: new() { ZLoss = odd ? 1e-4f : 0f }),
            "options.ZLoss", "options"),
        ["upstream"] = ((c, odd) => VocabParallelCrossEntropy.LossAndGradient(c, Shard(c, V), V, Targets, new float[N * VocabularySlice.For(V, c).Width], odd ? 2f : 1f),
            "upstream gradients", "upstream"),
        ["per-row upstream"] = ((c, odd) => VocabParallelCrossEntropy.Gradient(c, Shard(c, V), V, Targets, [1f, odd ? 2f : 1f, 1f], new float[N * VocabularySlice.For(V, c).Width]),
            "upstream gradients", "upstream"),
        ["hidden size"] = ((c, odd) => Linear(c, odd ? 4 : D), "hidden sizes D (one rank 3, another 4)", "hidden"),
        ["hidden states"] = ((c, odd) => Linear(c, D, hidden: odd ? 1 : 0), "hidden states", "hidden"),
        ["linear options"] = ((c, odd) => Linear(c, D, options: new() { LabelSmoothing = odd ? 0.1f : 0f, ClassWeights = Weights(false) }), "options.LabelSmoothing (one rank 0, another 0.1)", "options"),
        ["linear upstream"] = ((c, odd) => Linear(c, D, upstream: odd ? 0.5f : 1f), "upstream gradients", "upstream"),
        ["reduced beside per-row gradients"] = ((c, odd) =>
        {
            var g = new float[N * VocabularySlice.For(V, c).Width];
            if (odd)
            {
                VocabParallelCrossEntropy.Gradient(c, Shard(c, V), V, Targets, [1f, 1f, 1f], g);
            }
            else
            {
                VocabParallelCrossEntropy.LossAndGradient(c, Shard(c, V), V, Targets, g);
            }
        }, "options.Reduction (one rank Mean, another None (per-row upstream gradients: Gradient, Gradients))", "options"),
        ["loss beside its gradient"] = ((c, odd) =>
        {
            if (odd)
            {
                VocabParallelCrossEntropy.LossAndGradient(c, Shard(c, V), V, Targets, new float[N * VocabularySlice.For(V, c).Width]);
            }
            else
            {
                Loss(c, V);
            }
        }, "calls (one rank VocabParallelCrossEntropy without gradients (Loss, LossPerRow, MergedStates), another VocabParallelCrossEntropy with gradients", null),
        ["linear calls"] = ((c, odd) => Linear(c, D, gradients: odd), "calls (one rank VocabParallelLinearCrossEntropy without gradients", null),
        ["partial gradients"] = ((c, odd) => LinearRows(c, partial: odd), "calls (one rank VocabParallelLinearCrossEntropy with gradients", null),
        ["no rows"] = ((c, odd) => VocabParallelLinearCrossEntropy.Loss(c, [], new float[VocabularySlice.For(odd ? 11 : V, c).Width * D], [], odd ? 11 : V, []),
            "class counts V (one rank 10, another 11)", "classes"),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ADifferingArgument_ThrowsOnEveryRank_NamingIt(string name, int ranks)
    {
        var (call, message, parameter) = Calls[name];
        var errors = RunOnRanks(ranks, c => call(c, c.Rank == c.Size - 1));
        var first = Assert.IsType<ArgumentException>(errors[0]);
        Assert.Contains($"The ranks passed different {message}", first.Message, StringComparison.Ordinal);
        Assert.Equal(parameter, first.ParamName);
        Assert.All(errors, e => Assert.Equal(first.Message, Assert.IsType<ArgumentException>(e).Message));

        // The same call with the same arguments on every rank still runs.
        Assert.All(RunOnRanks(ranks, c => call(c, false)), e => Assert.Null(e));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ADifferentN_ThrowsOnEveryRank_NamingIt_BeforeAnyCollectiveOfItsLength(int ranks)
    {
        // The collectives of the row states have N's length: under MPI, lengths that differ are erroneous (a hang or
        // garbage), so N must be refused before them, with the same message on every rank.
        static int Rows(ICommunicator c) => c.Rank == c.Size - 1 ? 2 : N;
        var calls = new Action<ICommunicator>[]
        {
            c => VocabParallelCrossEntropy.Loss(c, Shard(c, V, Rows(c)), V, Targets.AsSpan(0, Rows(c))),
            c =>
            {
                var s = VocabularySlice.For(V, c);
                VocabParallelLinearCrossEntropy.Loss(c, Hidden.AsSpan(0, Rows(c) * D), Weight.AsSpan(s.Offset * D, s.Width * D), [], V, Targets.AsSpan(0, Rows(c)));
            },
            c =>
            {
                // No rows beside some: the rank with none makes no collective of the row states at all.
                int rows = c.Rank == c.Size - 1 ? 0 : N;
                var s = VocabularySlice.For(V, c);
                VocabParallelLinearCrossEntropy.Loss(c, Hidden.AsSpan(0, rows * D), Weight.AsSpan(s.Offset * D, s.Width * D), [], V, Targets.AsSpan(0, rows));
            },
        };
        foreach (var call in calls)
        {
            var errors = RunOnRanks(ranks, call);
            var first = Assert.IsType<ArgumentException>(errors[0]);
            Assert.StartsWith("The ranks passed different row counts N (one rank ", first.Message, StringComparison.Ordinal);
            Assert.Equal("targets", first.ParamName);
            Assert.All(errors, e => Assert.Equal(first.Message, Assert.IsType<ArgumentException>(e).Message));
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ADifferingArgument_IsRefusedBeforeAnyLogitTile(int ranks)
    {
        // Target -1 is the last rank's ignore index and out of range on the others, which see it when they fold their
        // first tile: the check came after the tiles (the whole forward GEMM), so those ranks threw that and the last
        // a RankFailedException (under MPI: hung), where every rank must refuse the differing ignore index alike.
        int[] targets = [3, -1, 1];
        static CrossEntropyOptions Options(ICommunicator c) => new() { IgnoreIndex = c.Rank == c.Size - 1 ? -1 : -100 };
        var calls = new Action<ICommunicator>[]
        {
            c => VocabParallelCrossEntropy.Loss(c, Shard(c, V), V, targets, Options(c)),
            c =>
            {
                var s = VocabularySlice.For(V, c);
                VocabParallelLinearCrossEntropy.Loss(c, Hidden.AsSpan(0, N * D), Weight.AsSpan(s.Offset * D, s.Width * D), [], V, targets, Options(c));
            },
            c =>
            {
                var s = VocabularySlice.For(V, c);
                var gradients = new LinearCrossEntropyGradients(new float[N * D], new float[s.Width * D]);
                VocabParallelLinearCrossEntropy.Gradients(c, Hidden.AsSpan(0, N * D), Weight.AsSpan(s.Offset * D, s.Width * D), [], V, targets, [1f, 1f, 1f],
                    gradients, options: Options(c));
            },
        };
        foreach (var call in calls)
        {
            var errors = RunOnRanks(ranks, call);
            Assert.All(errors, e =>
            {
                var error = Assert.IsType<ArgumentException>(e);
                Assert.StartsWith("The ranks passed different options.IgnoreIndex (one rank -100, another -1)", error.Message, StringComparison.Ordinal);
                Assert.Equal("options", error.ParamName);
            });
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ForwardCallsOfTheSameArguments_MixOnTheRanks_EachGettingWhatItAskedFor(int ranks)
    {
        // Loss, LossPerRow and MergedStates make the same collectives of the same merged states and differ only in
        // what each rank reads from them; LossPerRow reads no Reduction, so Mean or Sum beside it was refused.
        var loss = new CrossEntropyOptions { Reduction = Reduction.Sum, LabelSmoothing = 0.1f };
        float[] alone = new float[2], rows = new float[N], linearRows = new float[N];
        Assert.All(RunOnRanks(ranks, c =>
        {
            var s = VocabularySlice.For(V, c);
            var w = Weight.AsSpan(s.Offset * D, s.Width * D);
            alone[0] = VocabParallelCrossEntropy.Loss(c, Shard(c, V), V, Targets, loss);
            alone[1] = VocabParallelLinearCrossEntropy.Loss(c, Hidden.AsSpan(0, N * D), w, [], V, Targets, loss);
            VocabParallelCrossEntropy.LossPerRow(c, Shard(c, V), V, Targets, rows, options: loss);
            VocabParallelLinearCrossEntropy.LossPerRow(c, Hidden.AsSpan(0, N * D), w, [], V, Targets, linearRows, options: loss);
        }), e => Assert.Null(e));

        var got = new float[ranks][];
        Assert.All(RunOnRanks(ranks, c =>
        {
            var s = VocabularySlice.For(V, c);
            var w = Weight.AsSpan(s.Offset * D, s.Width * D);
            var h = Hidden.AsSpan(0, N * D);
            float[] mine = new float[2 + (2 * N)];
            var states = new CrossEntropyShardState[N];
            switch (c.Rank % 3)
            {
                case 0:
                    mine[0] = VocabParallelCrossEntropy.Loss(c, Shard(c, V), V, Targets, loss);
                    mine[1] = VocabParallelLinearCrossEntropy.Loss(c, h, w, [], V, Targets, loss);
                    break;
                case 1:
                    VocabParallelCrossEntropy.LossPerRow(c, Shard(c, V), V, Targets, mine.AsSpan(2, N), options: loss);
                    VocabParallelLinearCrossEntropy.LossPerRow(c, h, w, [], V, Targets, mine.AsSpan(2 + N, N), options: loss);
                    break;
                default:
                    VocabParallelCrossEntropy.MergedStates(c, Shard(c, V), V, Targets, states, loss with { Reduction = Reduction.Mean });
                    VocabParallelLinearCrossEntropy.LossPerRow(c, h, w, [], V, Targets, mine.AsSpan(2 + N, N), options: loss with { Reduction = Reduction.None });
                    break;
            }

            got[c.Rank] = mine;
        }), e => Assert.Null(e));

        // Bitwise what every rank gets when all make the same call.
        Assert.Equal(BitConverter.SingleToInt32Bits(alone[0]), BitConverter.SingleToInt32Bits(got[0][0]));
        Assert.Equal(BitConverter.SingleToInt32Bits(alone[1]), BitConverter.SingleToInt32Bits(got[0][1]));
        Assert.Equal(rows, got[1].AsSpan(2, N).ToArray());
        Assert.Equal(linearRows, got[1].AsSpan(2 + N, N).ToArray());
        if (ranks > 2)
        {
            Assert.Equal(linearRows, got[2].AsSpan(2 + N, N).ToArray());
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void NoClassWeightsBesideAllOnes_AreComputed_TheSameLossAndDhOnEveryRank(int ranks)
    {
        // Empty weights mean 1 for every class: the same loss, so not a disagreement. With label smoothing the weighted
        // kernels round otherwise than the unweighted ones (ulps of a gradient), so the results are compared with
        // those of every rank passing empty weights to a tolerance, and with each other bitwise where they are shared.
        float[] ones = [.. Enumerable.Repeat(1f, V)];
        var results = new float[2][][];
        for (int mixed = 0; mixed < 2; mixed++)
        {
            var got = results[mixed] = new float[ranks][];
            Assert.All(RunOnRanks(ranks, c =>
            {
                var o = new CrossEntropyOptions { LabelSmoothing = 0.1f, ClassWeights = mixed == 1 && c.Rank == c.Size - 1 ? ones : default };
                var s = VocabularySlice.For(V, c);
                var w = Weight.AsSpan(s.Offset * D, s.Width * D);
                var dh = new float[N * D];
                float loss = VocabParallelCrossEntropy.LossAndGradient(c, Shard(c, V), V, Targets, new float[N * s.Width], options: o);
                float linear = VocabParallelLinearCrossEntropy.LossAndGradients(c, Hidden.AsSpan(0, N * D), w, [], V, Targets, new(dh, new float[s.Width * D]), options: o);
                got[c.Rank] = [loss, linear, .. dh];
            }), e => Assert.Null(e));
        }

        var mix = results[1];
        Assert.All(mix, r => Assert.Equal(mix[0].Select(BitConverter.SingleToInt32Bits), r.Select(BitConverter.SingleToInt32Bits)));
        for (int i = 0; i < mix[0].Length; i++)
        {
            Assert.Equal(results[0][0][i], mix[0][i], 1e-6f);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void HiddenStatesOrUpstreamGradientsDifferingOnlyInTheSignOfZeros_AreComputed_AsWhenAllAgree(int ranks)
    {
        // -0 and +0 are the same number: a logit or an upstream gradient of either sign gives the same probabilities,
        // so loss and dh are bitwise those of every rank passing +0; only an entry of dW_r that is exactly 0 may
        // carry the rank's sign.
        var results = new float[2][][];
        for (int mixed = 0; mixed < 2; mixed++)
        {
            var got = results[mixed] = new float[ranks][];
            Assert.All(RunOnRanks(ranks, c =>
            {
                float zero = mixed == 1 && c.Rank == c.Size - 1 ? -0f : 0f;
                var h = Hidden.AsSpan(0, N * D).ToArray();
                h[1] = h[5] = zero;
                var s = VocabularySlice.For(V, c);
                var w = Weight.AsSpan(s.Offset * D, s.Width * D);
                float[] dh = new float[N * D], dw = new float[s.Width * D], rows = new float[N];
                float loss = VocabParallelLinearCrossEntropy.LossAndGradients(c, h, w, [], V, Targets, new(dh, dw));
                VocabParallelLinearCrossEntropy.Gradients(c, h, w, [], V, Targets, [1f, zero, 0.5f], new(dh.AsSpan(), dw.AsSpan()), rows);
                VocabParallelCrossEntropy.LossAndGradient(c, Shard(c, V), V, Targets, new float[N * s.Width], zero);
                got[c.Rank] = [loss, .. rows, .. dh, .. dw];
            }), e => Assert.Null(e));
        }

        for (int r = 0; r < ranks; r++)
        {
            int shared = 1 + N + (N * D);
            Assert.Equal(results[0][r].Take(shared).Select(BitConverter.SingleToInt32Bits), results[1][r].Take(shared).Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(results[0][r], results[1][r]);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ScalarOptionsDifferingOnlyInTheSignOfZero_AreComputed_AsWhenAllAgree(int ranks)
    {
        // LabelSmoothing, ZLoss and SoftCap of -0 switch their term off as +0 does, so the results are those of every
        // rank passing +0, bit for bit.
        var results = new float[2][][];
        for (int mixed = 0; mixed < 2; mixed++)
        {
            var got = results[mixed] = new float[ranks][];
            Assert.All(RunOnRanks(ranks, c =>
            {
                float zero = mixed == 1 && c.Rank == c.Size - 1 ? -0f : 0f;
                var o = new CrossEntropyOptions { LabelSmoothing = zero, ZLoss = zero, SoftCap = zero };
                var s = VocabularySlice.For(V, c);
                var w = Weight.AsSpan(s.Offset * D, s.Width * D);
                float[] dh = new float[N * D], dw = new float[s.Width * D], dx = new float[N * s.Width];
                float loss = VocabParallelCrossEntropy.LossAndGradient(c, Shard(c, V), V, Targets, dx, options: o);
                float linear = VocabParallelLinearCrossEntropy.LossAndGradients(c, Hidden.AsSpan(0, N * D), w, [], V, Targets, new(dh, dw), options: o);
                got[c.Rank] = [loss, linear, .. dh, .. dw, .. dx];
            }), e => Assert.Null(e));
        }

        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(results[0][r].Select(BitConverter.SingleToInt32Bits), results[1][r].Select(BitConverter.SingleToInt32Bits));
        }
    }

    // Runs body on every rank, each rank's exception (or null) out; a hang fails the test rather than the run.
    private static Exception?[] RunOnRanks(int ranks, Action<ICommunicator> body)
    {
        var errors = new Exception?[ranks];
        var run = Task.Run(() =>
        {
            try
            {
                InProcessGroup.Run(ranks, c =>
                {
                    try
                    {
                        body(c);
                    }
                    catch (Exception e)
                    {
                        errors[c.Rank] = e;
                        throw;
                    }
                });
            }
            catch (ArgumentException)
            {
            }
        });
        Assert.True(run.Wait(TimeSpan.FromSeconds(60)), "a rank hung");
        return errors;
    }

    private static float[] Weights(bool odd) => [.. Enumerable.Range(0, V).Select(i => odd && i == 7 ? 2f : 1f + (0.1f * i))];

    private static float[] Shard(ICommunicator c, int classes, int rows = N)
    {
        var s = VocabularySlice.For(classes, c);
        var shard = new float[rows * s.Width];
        for (int n = 0; n < rows; n++)
        {
            Logits.AsSpan((n * classes) + s.Offset, s.Width).CopyTo(shard.AsSpan(n * s.Width));
        }

        return shard;
    }

    private static void Loss(ICommunicator c, int classes, CrossEntropyOptions? options = null) =>
        VocabParallelCrossEntropy.Loss(c, Shard(c, classes), classes, Targets, options);

    private static void Linear(ICommunicator c, int d, int hidden = 0, CrossEntropyOptions? options = null, float upstream = 1f, bool gradients = true)
    {
        var s = VocabularySlice.For(V, c);
        var h = Hidden.AsSpan(hidden, N * d);
        var w = Weight.AsSpan(s.Offset * d, s.Width * d);
        if (gradients)
        {
            VocabParallelLinearCrossEntropy.LossAndGradients(c, h, w, [], V, Targets, new(new float[N * d], new float[s.Width * d]), upstream, options: options);
        }
        else
        {
            VocabParallelLinearCrossEntropy.Loss(c, h, w, [], V, Targets, options);
        }
    }

    private static void LinearRows(ICommunicator c, bool partial)
    {
        var s = VocabularySlice.For(V, c);
        var w = Weight.AsSpan(s.Offset * D, s.Width * D);
        var gradients = new LinearCrossEntropyGradients(new float[N * D], new float[s.Width * D]);
        if (partial)
        {
            VocabParallelLinearCrossEntropy.PartialGradients(c, Hidden.AsSpan(0, N * D), w, [], V, Targets, [1f, 1f, 1f], gradients);
        }
        else
        {
            VocabParallelLinearCrossEntropy.Gradients(c, Hidden.AsSpan(0, N * D), w, [], V, Targets, [1f, 1f, 1f], gradients);
        }
    }
}
