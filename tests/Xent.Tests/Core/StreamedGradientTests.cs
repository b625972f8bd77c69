using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Large out-of-place gradients (16 MB, beyond the caches of small machines), streamed as they are with
/// XENT_STREAM_GRADIENT=on, equal the in-place result bitwise, for every width and thread count, and match the reference. V = 50001 puts each row at a different 64-byte
/// alignment.
/// </summary>
public class StreamedGradientTests
{
    [Fact]
    public void OutOfPlaceEqualsInPlaceAndTheReference()
    {
        const int v = 50001;
        int rows = (int)((1L << 22) / v) + 1;
        var x = TestData.Logits(rows, v, 21);
        var y = TestData.Targets(rows, v, 21, ignoreEvery: 5);
        var o = new CrossEntropyOptions { ZLoss = 1e-3f }; // no weights: Mean is then Sum / kept rows
        double[]? expectedRows = null;
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var ot = o with { MaxDegreeOfParallelism = threads };
                var g = new float[x.Length];
                float loss;
                using (CrossEntropyKernel.OverrideStreamedBytes(CrossEntropyKernel.StreamedGradientBytes))
                {
                    loss = CrossEntropy.LossAndGradient(x, y, g, ot); // streamed, as with XENT_STREAM_GRADIENT=on
                }

                var inPlace = (float[])x.Clone();
                Assert.Equal(loss, CrossEntropy.LossAndGradient(inPlace, y, inPlace, ot));
                Assert.True(g.AsSpan().SequenceEqual(inPlace), $"{width} t{threads}: streamed differs from in place");

                // Two rows against the reference (the whole matrix in float64 would be slow).
                expectedRows ??= CrossEntropyReference.Gradient(x.AsSpan(0, 2 * v), y.AsSpan(0, 2), o with { Reduction = Reduction.Sum }, 1.0 / y.Count(t => t != -100));
                Close.Gradient(expectedRows, g.AsSpan(0, 2 * v), v, what: $"{width} t{threads}");
            }
        }
    }

    /// <summary>The default policy: from 16 MB, out of place, at 512 bits, where the write pass computes the gradient, and where it scales stored exponentials only on split 512-bit units.</summary>
    [Fact]
    public void DefaultStreamsLargeGradientsAt512Bits()
    {
        if (Environment.GetEnvironmentVariable(CrossEntropyKernel.StreamEnvironmentVariable) != null)
        {
            return; // the environment sets another policy
        }

        long large = CrossEntropyKernel.StreamedGradientBytes;
        const int v = 50257;
        Assert.True(CrossEntropyKernel.StreamsGradient(large, v, VectorWidth.V512, storesExponentials: false));
        Assert.False(CrossEntropyKernel.StreamsGradient(large - 1, v, VectorWidth.V512, storesExponentials: false));
        Assert.Equal(VectorUnits.SplitsVector512, CrossEntropyKernel.StreamsGradient(large, v, VectorWidth.V512, storesExponentials: true));
        Assert.False(CrossEntropyKernel.StreamsGradient(large, v, VectorWidth.V256, storesExponentials: true));
        Assert.False(CrossEntropyKernel.StreamsGradient(large, v, VectorWidth.V256, storesExponentials: false));
        using (CrossEntropyKernel.OverrideStreamedBytes(0))
        {
            Assert.True(CrossEntropyKernel.StreamsGradient(1, 10, VectorWidth.V128, storesExponentials: true));
        }
    }

    /// <summary>
    /// Rows short enough for the short-row blocks (a classifier's 10 classes, up to 1024) are not streamed by default
    /// however large the gradient: streamed, they left the blocks for the row loop and a store fence after every row,
    /// 1.3-5x the time of ordinary stores at 512 bits. Longer rows keep the policy above.
    /// </summary>
    [Fact]
    public void DefaultDoesNotStreamShortRows()
    {
        if (Environment.GetEnvironmentVariable(CrossEntropyKernel.StreamEnvironmentVariable) != null)
        {
            return; // the environment sets another policy
        }

        long huge = 64 * CrossEntropyKernel.StreamedGradientBytes;
        foreach (int v in new[] { 2, 10, 15, 16, 32, 128, CrossEntropyKernel.ShortRowClasses })
        {
            foreach (bool stores in new[] { false, true })
            {
                Assert.False(CrossEntropyKernel.StreamsGradient(huge, v, VectorWidth.V512, stores), $"{v} classes, stores {stores}");
            }
        }

        Assert.True(CrossEntropyKernel.StreamsGradient(huge, CrossEntropyKernel.ShortRowClasses + 1, VectorWidth.V512, storesExponentials: false));
    }
}

/// <summary>
/// Every out-of-place gradient path with streaming stores forced on (<see cref="CrossEntropyKernel.OverrideStreamedBytes"/>
/// 0) writes bitwise what it writes with ordinary stores: float logits (where the forward stores exponentials, streamed
/// it stores none and the write pass recomputes them: GradientKernel.WriteShifted), bfloat16 to bfloat16
/// (pipelined), bfloat16 logits to a float gradient (pipelined through the converted blocks), Half to Half, label smoothing
/// with weights and probability targets (the general write), few long rows (split), at destinations 1, 3 and 7
/// floats past an array's start (every head length), odd row lengths, ignored rows, every width and thread count.
/// </summary>
public class StreamingStoreTests
{
    private const int IgnoreIndex = -100;

    private const float Sentinel = -12345f;

    public static TheoryData<int, int> Shapes => new() { { 5, 4099 }, { 3, 9001 }, { 2, 17001 }, { 9, 37 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void StreamedEqualsOrdinaryStores(int rows, int classes)
    {
        var x = TestData.Logits(rows, classes, 31);
        var y = TestData.Targets(rows, classes, 31, ignoreEvery: 4, ignoreIndex: IgnoreIndex);
        var w = TestData.Weights(classes, 31);
        var t = TestData.Probabilities(rows, classes, 31);
        var bf16 = new BFloat16[x.Length];
        BFloat16.ConvertToBFloat16(x, bf16);
        var half = new Half[x.Length];
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(x, half);
        var lse = new float[rows];
        var cases = new (string Name, Func<CrossEntropyOptions, Span<float>, float> Call)[]
        {
            ("float", (o, g) => CrossEntropy.LossAndGradient(x, y, g, 1f, lse, o)),
            ("float smoothing weights", (o, g) => CrossEntropy.LossAndGradient(x, y, g, o with { LabelSmoothing = 0.1f, ClassWeights = w })),
            ("float z-loss", (o, g) => CrossEntropy.LossAndGradient(x, y, g, o with { ZLoss = 1e-3f })),
            ("probabilities", (o, g) => CrossEntropy.LossAndGradient(x, t, classes, g, o)),
            ("bf16 to float", (o, g) => CrossEntropy.LossAndGradient(bf16, y, g, 1f, default, o)),
            ("half to half", (o, g) =>
            {
                var h = new Half[g.Length];
                float loss = CrossEntropy.LossAndGradient(half, y, h, o);
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(h, g);
                return loss;
            }),
            ("bf16 to bf16", (o, g) =>
            {
                // The bfloat16 gradient at the same offset in 16-bit elements, widened for the comparison.
                var b = new BFloat16[g.Length];
                float loss = CrossEntropy.LossAndGradient(bf16, y, b, o);
                BFloat16.ConvertToSingle(b, g);
                return loss;
            }),
            ("bf16 to bf16 at an odd offset", (o, g) =>
            {
                var b = new BFloat16[g.Length + 3];
                float loss = CrossEntropy.LossAndGradient(bf16, y, b.AsSpan(3, g.Length), o);
                BFloat16.ConvertToSingle(b.AsSpan(3, g.Length), g);
                return loss;
            }),
        };

        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var o = new CrossEntropyOptions { MaxDegreeOfParallelism = threads, IgnoreIndex = IgnoreIndex };
                foreach (var (name, call) in cases)
                {
                    var ordinary = new float[x.Length];
                    float expected;
                    using (CrossEntropyKernel.OverrideStreamedBytes(long.MaxValue))
                    {
                        expected = call(o, ordinary);
                    }

                    foreach (int offset in new[] { 0, 1, 3, 7 })
                    {
                        var streamed = new float[x.Length + offset + 16];
                        streamed.AsSpan().Fill(Sentinel);
                        float loss;
                        using (CrossEntropyKernel.OverrideStreamedBytes(0))
                        {
                            loss = call(o, streamed.AsSpan(offset, x.Length));
                        }

                        string what = $"{name} {rows}x{classes} {width} t{threads} offset {offset}";
                        Assert.True(expected.Equals(loss), what + ": loss");
                        Assert.True(ordinary.AsSpan().SequenceEqual(streamed.AsSpan(offset, x.Length)), what + ": gradient differs");
                        Assert.False(streamed.AsSpan(0, offset).ContainsAnyExcept(Sentinel), what + ": wrote before the gradient");
                        Assert.False(streamed.AsSpan(offset + x.Length).ContainsAnyExcept(Sentinel), what + ": wrote past the gradient");
                    }
                }
            }
        }
    }

    /// <summary>A shard's gradient (CrossEntropyShards.Gradient) streamed equals it stored, at every head length.</summary>
    [Fact]
    public void ShardGradientStreamedEqualsOrdinaryStores()
    {
        const int rows = 3, classes = 9001, from = 1000, to = 6001;
        var x = TestData.Logits(rows, classes, 41);
        var y = TestData.Targets(rows, classes, 41, ignoreEvery: 3, ignoreIndex: IgnoreIndex);
        var w = TestData.Weights(classes, 41);
        int width = to - from;
        var shard = new float[rows * width];
        for (int n = 0; n < rows; n++)
        {
            Array.Copy(x, (n * classes) + from, shard, n * width, width);
        }

        foreach (var width0 in Simd.Supported())
        {
            using var scope = Simd.Override(width0);
            foreach (var o in new[]
            {
                new CrossEntropyOptions { IgnoreIndex = IgnoreIndex },
                new CrossEntropyOptions { IgnoreIndex = IgnoreIndex, LabelSmoothing = 0.1f, ClassWeights = w, ZLoss = 1e-3f },
            })
            {
                var states = new CrossEntropyShardState[rows];
                CrossEntropyShards.Compute(x, 0, classes, y, states, o);
                var ordinary = new float[shard.Length];
                using (CrossEntropyKernel.OverrideStreamedBytes(long.MaxValue))
                {
                    CrossEntropyShards.Gradient(shard, from, classes, y, states, ordinary, options: o);
                }

                foreach (int offset in new[] { 0, 1, 3, 7 })
                {
                    var streamed = new float[shard.Length + offset + 16];
                    streamed.AsSpan().Fill(Sentinel);
                    using (CrossEntropyKernel.OverrideStreamedBytes(0))
                    {
                        CrossEntropyShards.Gradient(shard, from, classes, y, states, streamed.AsSpan(offset, shard.Length), options: o);
                    }

                    string what = $"shard {width0} offset {offset} smoothing {o.LabelSmoothing}";
                    Assert.True(ordinary.AsSpan().SequenceEqual(streamed.AsSpan(offset, shard.Length)), what + ": gradient differs");
                    Assert.False(streamed.AsSpan(0, offset).ContainsAnyExcept(Sentinel), what + ": wrote before the gradient");
                    Assert.False(streamed.AsSpan(offset + shard.Length).ContainsAnyExcept(Sentinel), what + ": wrote past the gradient");
                }
            }
        }
    }
}
