using Xent.Optim;
using Xent.Tests.BatchInvariance;
using Xent.Tests.Core;

namespace Xent.Tests.Optim;

public class AdamWTests
{
    // torch.optim.AdamW, written out in double from its documented algorithm (one parameter group):
    // p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    // p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    private static void ReferenceStep(double[] p, double[] g, double[] m, double[] v, int t, double lr, AdamWOptions o)
    {
        for (int i = 0; i < p.Length; i++)
        {
            p[i] *= 1 - (lr * o.WeightDecay);
            m[i] = (o.Beta1 * m[i]) + ((1 - o.Beta1) * g[i]);
            v[i] = (o.Beta2 * v[i]) + ((1 - o.Beta2) * g[i] * g[i]);
            double mHat = m[i] / (1 - Math.Pow(o.Beta1, t));
            double denominator = (Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(o.Beta2, t))) + o.Epsilon;
            p[i] -= lr * mHat / denominator;
        }
    }

    [Theory]
    [InlineData(1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f)]
    [InlineData(3e-2f, 0.8f, 0.95f, 1e-3f, 0.1f)]
    [InlineData(1e-1f, 0f, 0.5f, 1e-6f, 0f)]
    public void MatchesThePyTorchFormula_OverSeveralSteps(float lr, float beta1, float beta2, float eps, float wd)
    {
        var options = new AdamWOptions { LearningRate = lr, Beta1 = beta1, Beta2 = beta2, Epsilon = eps, WeightDecay = wd };
        var random = new Random(7);
        int[] lengths = [5, 13];
        var parameters = lengths.Select(n => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray()).ToArray();
        var refP = parameters.Select(p => p.Select(x => (double)x).ToArray()).ToArray();
        var refM = lengths.Select(n => new double[n]).ToArray();
        var refV = lengths.Select(n => new double[n]).ToArray();
        var optimizer = new AdamW(options, lengths);
        for (int t = 1; t <= 6; t++)
        {
            // Gradients over several scales, including tiny ones where eps matters and an exact zero.
            var grads = lengths.Select(n => Enumerable.Range(0, n)
                .Select(i => i == 0 ? 0f : (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-6, 2)))).ToArray()).ToArray();
            optimizer.Step(parameters, grads);
            for (int k = 0; k < lengths.Length; k++)
            {
                ReferenceStep(refP[k], [.. grads[k].Select(x => (double)x)], refM[k], refV[k], t, lr, options);
            }

            Assert.Equal(t, optimizer.StepCount);
            for (int k = 0; k < lengths.Length; k++)
            {
                for (int i = 0; i < lengths[k]; i++)
                {
                    Assert.Equal(refP[k][i], parameters[k][i], 1e-6 * Math.Max(1, Math.Abs(refP[k][i])));
                    // Moments are float32 running sums: a few roundings of 6e-8 per step, so 1e-5 relative after 6 steps.
                    Assert.Equal(refM[k][i], optimizer.FirstMoments[k][i], 1e-5 * Math.Max(1e-6, Math.Abs(refM[k][i])));
                    Assert.Equal(refV[k][i], optimizer.SecondMoments[k][i], 1e-5 * Math.Max(1e-12, Math.Abs(refV[k][i])));
                }
            }
        }
    }

    [Fact]
    public void FirstStep_MovesEachParameterByAboutLr_AgainstTheGradientSign()
    {
        // At t = 1, m_hat / sqrt(v_hat) = g / |g|: every element moves by lr (plus the decay), whatever |g|.
        var options = new AdamWOptions { LearningRate = 0.01f, WeightDecay = 0 };
        float[] p = [1f, 1f, 1f];
        float[] g = [1e-3f, -5f, 200f];
        new AdamW(options, [3]).Step([p], [g]);
        Assert.Equal(0.99f, p[0], 1e-5f);
        Assert.Equal(1.01f, p[1], 1e-5f);
        Assert.Equal(0.99f, p[2], 1e-5f);
    }

    [Fact]
    public void WeightDecay_IsDecoupled_AndCanBeMaskedPerTensor()
    {
        // Zero gradient: Adam's part is 0 / (0 + eps) = 0, so only the decay p *= 1 - lr*wd acts.
        var options = new AdamWOptions { LearningRate = 0.1f, WeightDecay = 0.5f };
        float[] a = [2f], b = [2f];
        var optimizer = new AdamW(options, [1, 1], [true, false]);
        optimizer.Step([a, b], [[0f], [0f]]);
        Assert.Equal(2f * 0.95f, a[0], 1e-6f);
        Assert.Equal(2f, b[0]);
        Assert.Equal([true, false], optimizer.AppliesWeightDecay);
    }

    [Fact]
    public void ResumingFromSavedState_GivesTheSameParameters()
    {
        var options = new AdamWOptions { LearningRate = 0.05f };
        float[] g1 = [0.3f, -0.2f], g2 = [-0.1f, 0.4f], g3 = [0.05f, 0.05f];
        float[] straight = [1f, -1f];
        var o1 = new AdamW(options, [2]);
        o1.Step([straight], [g1]);
        o1.Step([straight], [g2]);
        float[] saved = (float[])straight.Clone();
        float[] m = (float[])o1.FirstMoments[0].Clone(), v = (float[])o1.SecondMoments[0].Clone();
        o1.Step([straight], [g3]);

        var o2 = new AdamW(options, [2]) { StepCount = 2 };
        m.CopyTo(o2.FirstMoments[0], 0);
        v.CopyTo(o2.SecondMoments[0], 0);
        o2.Step([saved], [g3]);
        Assert.Equal(straight, saved);
    }

    [Fact]
    public void BadInput_Throws_BeforeAnyWrite()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(new AdamWOptions { Beta1 = 1f }, [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(new AdamWOptions { Epsilon = -1f }, [1]));
        var optimizer = new AdamW(new AdamWOptions(), [2, 3]);
        float[] p0 = [1, 2], p1 = [1, 2, 3];
        var ex = Assert.Throws<ArgumentException>(() => optimizer.Step([p0, p1], [[1, 1], [1, 1]]));
        Assert.Contains("Tensor 1", ex.Message, StringComparison.Ordinal);
        Assert.Equal([1f, 2f], p0);
        Assert.Equal(0, optimizer.StepCount);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            AdamW.Update(new float[1], new float[1], new float[1], new float[1], 0, 0.1f, new AdamWOptions()));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(-2, 1)]
    [InlineData(0, (1 << 16) + 1)]
    public void UpdateRefusesABadThreadCount_BeforeAnyWrite(int threads, int length)
    {
        // Refused for any length: only a large tensor's Parallel.For (ParallelOptions) once refused it.
        float[] p = [.. Enumerable.Repeat(1f, length)];
        var options = new AdamWOptions { MaxDegreeOfParallelism = threads };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => AdamW.Update(p, new float[length], new float[length], new float[length], 1, 0.1f, options));
        Assert.Contains("MaxDegreeOfParallelism", e.Message, StringComparison.Ordinal);
        Assert.All(p, x => Assert.Equal(1f, x));
    }

    [Fact]
    public void AMissingTensorIsNamed_NotANullReference()
    {
        var optimizer = new AdamW(new AdamWOptions(), [2, 1]);
        float[] p0 = [1, 2], g0 = [1, 1];
        var e = Assert.Throws<ArgumentNullException>(() => optimizer.Step([p0, null!], [g0, [1f]]));
        Assert.Equal("parameters", e.ParamName);
        Assert.Contains("Tensor 1", e.Message, StringComparison.Ordinal);
        Assert.Equal("gradients", Assert.Throws<ArgumentNullException>(() => optimizer.Step([p0, [1f]], [null!, [1f]])).ParamName);
        Assert.Equal([1f, 2f], p0);
        Assert.Equal(0, optimizer.StepCount);
        Assert.Equal("gradients", Assert.Throws<ArgumentNullException>(() => GradientClipping.GlobalNorm([g0, null!])).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentNullException>(() => GradientClipping.ClipByGlobalNorm([null!, g0], 0.1f)).ParamName);
        Assert.Equal([1f, 1f], g0);
    }

    [Fact]
    public void AStepPastTheLastStepCountThrowsBeforeAnyWrite()
    {
        // A restored count of int.MaxValue: the next t would wrap to int.MinValue, bias corrections of beta^-2147483648.
        var optimizer = new AdamW(new AdamWOptions(), [2]) { StepCount = int.MaxValue };
        float[] p = [1, 2];
        Assert.Throws<InvalidOperationException>(() => optimizer.Step([p], [[1, 1]]));
        Assert.Equal([1f, 2f], p);
        Assert.Equal([0f, 0f], optimizer.FirstMoments[0]);
        Assert.Equal(int.MaxValue, optimizer.StepCount);
    }

    // What torch.optim.AdamW refuses (lr, eps, weight_decay < 0; betas outside [0, 1)), and NaN and infinities, which it
    // lets through to NaN weights. Update took its options unchecked but for the thread count.
    [Theory]
    [InlineData("Beta1", 1f)]
    [InlineData("Beta1", -0.1f)]
    [InlineData("Beta1", float.NaN)]
    [InlineData("Beta2", 1f)]
    [InlineData("Beta2", 1.5f)]
    [InlineData("Beta2", float.NaN)]
    [InlineData("Epsilon", -1e-8f)]
    [InlineData("Epsilon", float.NaN)]
    [InlineData("Epsilon", float.PositiveInfinity)]
    [InlineData("WeightDecay", -0.01f)]
    [InlineData("WeightDecay", float.NaN)]
    [InlineData("WeightDecay", float.PositiveInfinity)]
    [InlineData("LearningRate", float.NaN)]
    public void UpdateRefusesBadOptions_NamingThem_BeforeAnyWrite(string option, float value)
    {
        var options = option switch
        {
            "Beta1" => new AdamWOptions { Beta1 = value },
            "Beta2" => new AdamWOptions { Beta2 = value },
            "Epsilon" => new AdamWOptions { Epsilon = value },
            "WeightDecay" => new AdamWOptions { WeightDecay = value },
            _ => new AdamWOptions { LearningRate = value },
        };
        float[] p = [1, -2, 3], g = [0.5f, 0.5f, -1], m = [0.1f, 0.2f, 0.3f], v = [0.4f, 0.5f, 0.6f];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => AdamW.Update(p, g, m, v, 2, 0.1f, options));
        Assert.Equal(option, e.ParamName);
        Assert.Equal(value, (float)e.ActualValue!);
        Assert.Equal([1f, -2f, 3f], p);
        Assert.Equal([0.1f, 0.2f, 0.3f], m);
        Assert.Equal([0.4f, 0.5f, 0.6f], v);
        Assert.Equal(option, Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(options, [3])).ParamName);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(-1e-3f)]
    [InlineData(float.PositiveInfinity)]
    public void ABadLearningRateOfAStepThrowsBeforeAnyWrite(float lr)
    {
        var optimizer = new AdamW(new AdamWOptions(), [2]);
        float[] p = [1, 2];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.Step([p], [[1, 1]], lr));
        Assert.Equal("learningRate", e.ParamName);
        Assert.Equal([1f, 2f], p);
        Assert.Equal(0, optimizer.StepCount);
        float[] q = [1];
        Assert.Throws<ArgumentOutOfRangeException>(() => AdamW.Update(q, [1f], new float[1], new float[1], 1, lr, new AdamWOptions()));
        Assert.Equal([1f], q);
    }
}

public class AdamWVectorTests
{

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EveryWidthAndThreadCount_GivesTheScalarResultBitwise(VectorWidth width)
    {
        // 2^16 + 37 elements: two parallel chunks and a scalar tail.
        int n = (1 << 16) + 37;
        var random = new Random(3);
        float[] p0 = [.. Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() - 0.5f)];
        float[] g = [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5) * 1e-2f)];
        float[] Run(VectorWidth w, int threads)
        {
            var p = (float[])p0.Clone();
            var m = new float[n];
            var v = new float[n];
            var options = new AdamWOptions { LearningRate = 0.01f, WeightDecay = 0.1f, MaxDegreeOfParallelism = threads };
            using (Simd.Override(w))
            {
                for (int t = 1; t <= 3; t++)
                {
                    AdamW.Update(p, g, m, v, t, 0.01f, options);
                }
            }

            return p;
        }

        var scalar = Run(VectorWidth.Scalar, 1);
        Assert.Equal(scalar, Run(width, 1));
        Assert.Equal(scalar, Run(width, 2));
        Assert.Equal(scalar, Run(width, 3));
        Assert.Equal(scalar, Run(width, -1));
        Assert.NotEqual(p0, scalar);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Step_SplitOverThreads_GivesEachTensorsOwnUpdateBitwise(VectorWidth width) =>
        // Step's items (the tensors end to end in 8 equal items of about 40,000 elements, a multiple of 16): the large
        // tensors split in several, at offsets that are multiples of 16 but not of their lengths, items that span tensors
        // of odd lengths.
        StepMatchesEachTensorsOwnUpdate(width, [150_000 + 5, 37, 100_003, 4_672, 65_536 + 11, 64], seed: 4, decay: null);

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Step_OverManySmallTensors_GivesEachTensorsOwnUpdateBitwise(VectorWidth width)
    {
        // The default GPT's tensors (V 32, T 128, D 64, two blocks, tied head), then a few odd lengths: items cut across
        // tensors at multiples of 16 that fall inside tensors of every size.
        int[] block = [64, 64, 64 * 192, 192, 64 * 64, 64, 64, 64, 64 * 256, 256, 256 * 64, 64];
        int[] lengths = [32 * 64, 128 * 64, .. block, .. block, 64, 64, 7, 1, 33, 0, 1_000];
        StepMatchesEachTensorsOwnUpdate(width, lengths, seed: 5, decay: [.. lengths.Select((_, i) => i % 3 != 1)]);
    }

    /// <summary>Two AdamW steps over all tensors at 1, 2 and 3 threads give, bit for bit, two AdamW.Update calls per tensor.</summary>
    private static void StepMatchesEachTensorsOwnUpdate(VectorWidth width, int[] lengths, int seed, bool[]? decay)
    {
        var random = new Random(seed);
        float[][] Fill(float scale) => [.. lengths.Select(n => Enumerable.Range(0, n).Select(_ => ((float)random.NextDouble() - 0.5f) * scale).ToArray())];
        var p0 = Fill(1);
        var g = Fill(1e-2f);
        var expected = p0.Select(p => (float[])p.Clone()).ToArray();
        using var scope = Simd.Override(width);
        var one = new AdamWOptions { LearningRate = 0.01f, WeightDecay = 0.1f, MaxDegreeOfParallelism = 1 };
        for (int i = 0; i < lengths.Length; i++)
        {
            float[] m = new float[lengths[i]], v = new float[lengths[i]];
            for (int t = 1; t <= 2; t++)
            {
                AdamW.Update(expected[i], g[i], m, v, t, 0.01f, decay == null || decay[i] ? one : one with { WeightDecay = 0 }, 0.5f);
            }
        }

        foreach (int threads in new[] { 1, 2, 3 })
        {
            var p = p0.Select(x => (float[])x.Clone()).ToArray();
            var adam = new AdamW(one with { MaxDegreeOfParallelism = threads }, lengths, decay);
            adam.Step(p, g, 0.01f, 0.5f);
            adam.Step(p, g, 0.01f, 0.5f);
            for (int i = 0; i < lengths.Length; i++)
            {
                BatchTrials.SameBits(expected[i], p[i], $"tensor {i}, {threads} threads");
            }
        }
    }
}

public class TensorChunksTests
{
    [Theory]
    [InlineData(new[] { 2048, 8192, 64, 12288, 192, 0, 7, 16384, 33 }, 8, 16, 1 << 16)]
    [InlineData(new[] { 150_005, 37, 100_003, 4_672, 65_547, 64 }, 8, 16, 1 << 16)]
    [InlineData(new[] { 5, 3 }, 8, 16, 1 << 16)]
    [InlineData(new[] { 1000, 1000, 1000 }, 4, 16, 512)]
    [InlineData(new int[0], 8, 16, 1 << 16)]
    public void Balanced_CoversEveryElementOnce_InOrder_InEqualAlignedItems(int[] lengths, int items, int align, int chunk)
    {
        var cut = Xent.Optim.TensorChunks.Balanced(lengths, items, align, chunk);
        long total = lengths.Sum(x => (long)x);
        long size = cut.Length == 0 ? 0 : cut[0].Sum(x => (long)x.Length);
        Assert.True(cut.Length <= Math.Max(items, (total + chunk - 1) / chunk), $"{cut.Length} items");
        Assert.True(size <= chunk);
        int tensor = 0, next = 0;
        for (int k = 0; k < cut.Length; k++)
        {
            long itemSize = cut[k].Sum(x => (long)x.Length);
            if (k < cut.Length - 1)
            {
                Assert.Equal(size, itemSize);
                Assert.Equal(0, itemSize % align);
            }
            else
            {
                Assert.InRange(itemSize, 1, size);
            }

            foreach (var (i, start, length) in cut[k])
            {
                // The next piece starts where the last one ended, skipping empty tensors only.
                while (tensor < lengths.Length && next == lengths[tensor])
                {
                    (tensor, next) = (tensor + 1, 0);
                }

                Assert.Equal((tensor, next), (i, start));
                Assert.True(length > 0);
                next += length;
                Assert.True(next <= lengths[i]);
            }
        }

        while (tensor < lengths.Length && next == lengths[tensor])
        {
            (tensor, next) = (tensor + 1, 0);
        }

        Assert.Equal(lengths.Length, tensor);
    }
}
