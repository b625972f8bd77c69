using Xent.Fused;
using Xent.Tests.Core;

namespace Xent.Tests.Fused;

/// <summary>
/// Small vocabularies (fewer groups than threads) split their token blocks across threads (FusedKernel.Lanes.cs):
/// every output must be bitwise the one-thread sweep's, over several blocks and waves, and within the float64
/// reference's tolerance.
/// </summary>
public class LinearCrossEntropyTokenLanesTests
{
    private const double Relative = 1e-5;

    // 5 full blocks and a partial one: waves of 2 and 3 lanes, the last wave partly empty.
    private const int N = (5 * FusedKernel.TokenBlock) + 61;
    private const int D = 40;

    // Option sets of the fused tests, by name: the plain mean, no reduction, an ignore index in range, and all of them.
    private static readonly Dictionary<string, Func<int, CrossEntropyOptions>> Configs =
        new[] { "mean", "none", "ignore-in-range", "everything" }.ToDictionary(name => name, name => LinearCrossEntropyTests.Configs[name]);

    public static TheoryData<VectorWidth, string, int> Cases()
    {
        var data = new TheoryData<VectorWidth, string, int>();
        foreach (var w in Simd.Supported())
        {
            foreach (string name in Configs.Keys)
            {
                // One tile; two tiles in one group (the strips split across tiles).
                data.Add(w, name, 32);
                data.Add(w, name, 301);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryThreadCount_GivesTheOneThreadBits_AndTheReference(VectorWidth width, string config, int v)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(v + config.Length);
        var o = Configs[config](v);
        var h = RandomArray(rng, N * D, 1 / MathF.Sqrt(D));
        var w = RandomArray(rng, v * D, 1);
        var b = RandomArray(rng, v, 1);

        // The first two blocks' targets all ignored (a whole wave of 2 lanes, part of a wave of 3): the third block is
        // the one that overwrites dW.
        var y = Enumerable.Range(0, N).Select(i => i < 2 * FusedKernel.TokenBlock || i % 5 == 3 ? o.IgnoreIndex : rng.Next(v)).ToArray();
        var up = RandomArray(rng, N, 1);
        var one = Run(h, w, b, y, up, o with { MaxDegreeOfParallelism = 1 });
        foreach (int threads in new[] { 2, 3 })
        {
            var many = Run(h, w, b, y, up, o with { MaxDegreeOfParallelism = threads });
            AssertBitwise(one, many, $"{config} V={v} threads={threads}");
        }

        var reference = new LinearReference(h, w, b, y, o, o.Reduction == Reduction.None ? up : null, upstream: 0.75f);
        string what = $"{config} V={v}";
        LinearReference.AssertClose(reference.Loss, one.Loss, Relative, "loss " + what);
        LinearReference.AssertGradient(reference.DHidden, reference.DHiddenBound, one.Dh, Relative, "dHidden " + what);
        LinearReference.AssertGradient(reference.DWeight, reference.DWeightBound, one.Dw, Relative, "dWeight " + what);
        LinearReference.AssertGradient(reference.DBias, reference.DBiasBound, one.Db, Relative, "dBias " + what);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EntropyAndItsGradient_AnyThreadCount_SameBits(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(3);
        int v = 45;
        var (h, w, b) = (RandomArray(rng, N * D, 0.3f), RandomArray(rng, v * D, 1), RandomArray(rng, v, 1));
        var y = Enumerable.Range(0, N).Select(i => i % 9 == 0 ? -100 : rng.Next(v)).ToArray();
        var (g, gH) = (RandomArray(rng, N, 1), RandomArray(rng, N, 1));
        float[][]? first = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var o = new LinearCrossEntropyOptions { CrossEntropy = new() { SoftCap = 5f, MaxDegreeOfParallelism = threads } };
            float[][] outputs = [new float[N * D], new float[v * D], new float[v], new float[N], new float[N], new float[N]];
            LinearCrossEntropy.LogProbabilityGradients(h, w, b, y, g, new(outputs[0], outputs[1], outputs[2]), outputs[3], outputs[4], outputs[5], o, gH);
            first ??= outputs;
            for (int i = 0; i < outputs.Length; i++)
            {
                Assert.Equal(first[i], outputs[i]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void BFloat16AndAccumulate_AnyThreadCount_SameBits(VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var rng = new Random(11);
        int v = 50;
        var h = RandomArray(rng, N * D, 0.3f).Select(x => (BFloat16)x).ToArray();
        var w = RandomArray(rng, v * D, 1).Select(x => (BFloat16)x).ToArray();
        var y = Enumerable.Range(0, N).Select(_ => rng.Next(v)).ToArray();
        var start = RandomArray(rng, (N * D) + (v * D), 1);
        (float Loss, float[] Dh, float[] Dw)? first = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var o = new LinearCrossEntropyOptions { Accumulate = true, CrossEntropy = new() { MaxDegreeOfParallelism = threads } };
            var (dh, dw) = (start[..(N * D)], start[(N * D)..]);
            float loss = LinearCrossEntropy.LossAndGradients(h, w, y, new(dh, dw), o);
            first ??= (loss, dh, dw);
            Assert.Equal(BitConverter.SingleToInt32Bits(first.Value.Loss), BitConverter.SingleToInt32Bits(loss));
            Assert.Equal(first.Value.Dh, dh);
            Assert.Equal(first.Value.Dw, dw);
        }
    }

    private static Outputs Run(float[] h, float[] w, float[] b, int[] y, float[] up, CrossEntropyOptions o)
    {
        int v = w.Length / D;

        // NaN destinations: whatever they held must not show.
        var r = new Outputs(Filled(N * D), Filled(v * D), new float[v], new float[N], new float[N]);
        var lo = new LinearCrossEntropyOptions { CrossEntropy = o };
        if (o.Reduction == Reduction.None)
        {
            LinearCrossEntropy.Gradients(h, w, b, y, up, new(r.Dh, r.Dw, r.Db), r.Rows, r.Lse, lo);
            r.Loss = r.Rows.Sum(x => (double)x);
        }
        else
        {
            r.Loss = LinearCrossEntropy.LossAndGradients(h, w, b, y, new(r.Dh, r.Dw, r.Db), 0.75f, r.Lse, lo);
            LinearCrossEntropy.LossPerRow(h, w, b, y, r.Rows, default, o);
            Assert.Equal(BitConverter.SingleToInt32Bits((float)r.Loss), BitConverter.SingleToInt32Bits(LinearCrossEntropy.Loss(h, w, b, y, o)));
        }

        return r;
    }

    private static void AssertBitwise(Outputs expected, Outputs actual, string what)
    {
        Assert.True(BitConverter.DoubleToInt64Bits(expected.Loss) == BitConverter.DoubleToInt64Bits(actual.Loss), "loss " + what);
        Assert.Equal(expected.Dh, actual.Dh);
        Assert.Equal(expected.Dw, actual.Dw);
        Assert.Equal(expected.Db, actual.Db);
        Assert.Equal(expected.Rows, actual.Rows);
        Assert.Equal(expected.Lse, actual.Lse);
    }

    private static float[] Filled(int length) => Enumerable.Repeat(float.NaN, length).ToArray();

    private static float[] RandomArray(Random rng, int length, float scale) =>
        Enumerable.Range(0, length).Select(_ => (float)((rng.NextDouble() * 2) - 1) * scale).ToArray();

    private sealed record Outputs(float[] Dh, float[] Dw, float[] Db, float[] Rows, float[] Lse)
    {
        public double Loss { get; set; }
    }
}
