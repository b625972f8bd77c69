using CsCheck;

namespace Xent.Tests.Core;

/// <summary>Properties over random shapes, values and options (CsCheck shrinks a failure to a small case).</summary>
public class PropertyTests
{
    private static readonly Gen<(int Rows, int V, int Seed, float Smoothing, bool Weights)> Inputs =
        Gen.Select(Gen.Int[1, 5], Gen.Int[1, 3000], Gen.Int[0, 1000], Gen.Int[0, 2].Select(i => i * 0.25f), Gen.Bool);

    private static CrossEntropyOptions Options(int v, int seed, float smoothing, bool weights) => new()
    {
        LabelSmoothing = smoothing,
        ClassWeights = weights ? TestData.Weights(v, seed) : default(ReadOnlyMemory<float>),
    };

    [Fact]
    public void ShiftingARowChangesNothing()
    {
        // Without z-loss and soft cap the loss depends on differences of logits only. Logits on a 2^-10 grid and
        // a shift of a multiple of 2^-10 keep every shifted value exact in float.
        Gen.Select(Inputs, Gen.Int[-64, 64]).Sample(t =>
        {
            var ((rows, v, seed, e, w), k) = t;
            var x = TestData.Logits(rows, v, seed).Select(value => MathF.Round(value * 1024f) / 1024f).ToArray();
            var y = TestData.Targets(rows, v, seed);
            var o = Options(v, seed, e, w);
            var shifted = (float[])x.Clone();
            for (int c = 0; c < v; c++)
            {
                shifted[c] += k * 0.25f; // row 0 only
            }

            var g = new float[x.Length];
            var gs = new float[x.Length];
            float loss = CrossEntropy.LossAndGradient(x, y, g, o);
            float lossShifted = CrossEntropy.LossAndGradient(shifted, y, gs, o);
            Close.Scalar(loss, lossShifted, relative: 1e-5, absolute: 1e-6, what: "loss");
            Close.Gradient(g.Select(value => (double)value).ToArray(), gs, v, relative: 1e-4, floor: 1e-5, what: "gradient");
        });
    }

    [Fact]
    public void GradientRowsSumToZero()
    {
        Inputs.Sample(t =>
        {
            var (rows, v, seed, e, w) = t;
            var x = TestData.Logits(rows, v, seed);
            var y = TestData.Targets(rows, v, seed);
            var g = new float[x.Length];
            CrossEntropy.LossAndGradient(x, y, g, Options(v, seed, e, w) with { Reduction = Reduction.Sum });
            for (int n = 0; n < rows; n++)
            {
                double sum = 0, magnitude = 0;
                for (int c = 0; c < v; c++)
                {
                    sum += g[(n * v) + c];
                    magnitude += Math.Abs(g[(n * v) + c]);
                }

                // Each element carries a few float roundings: the sum cancels to ~1e-6 of the magnitudes.
                Assert.True(Math.Abs(sum) <= 1e-5 * magnitude, $"row {n}: sum {sum}, magnitude {magnitude}");
            }
        });
    }

    [Fact]
    public void InPlaceEqualsOutOfPlace()
    {
        Gen.Select(Inputs, Gen.Float[0f, 5f], Gen.Float[0f, 0.01f]).Sample(t =>
        {
            var ((rows, v, seed, e, w), cap, z) = t;
            var x = TestData.Logits(rows, v, seed);
            var y = TestData.Targets(rows, v, seed, ignoreEvery: 3);
            var o = Options(v, seed, e, w) with { SoftCap = cap, ZLoss = z };
            var g = new float[x.Length];
            float loss = CrossEntropy.LossAndGradient(x, y, g, o);
            float lossInPlace = CrossEntropy.LossAndGradient(x, y, x, o);
            Assert.Equal(loss, lossInPlace);
            Assert.Equal(g, x);
        });
    }
}
