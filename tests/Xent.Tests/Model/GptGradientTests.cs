using Xent.Tests.BatchInvariance;
using Xent.Training;
using Xent.Training.Model;

namespace Xent.Tests.Model;

public class GptGradientTests
{
    internal static GptModel TinyModel(bool tied, int seed, float dropout = 0)
    {
        var config = new GptConfig { VocabSize = 11, ContextLength = 5, Layers = 2, Heads = 2, Dim = 8, TieEmbeddings = tied, Dropout = dropout };
        var model = new GptModel(config, seed);

        // Far from the init, so that every path (LayerNorm gains and biases, attention softmax, GELU curvature)
        // carries a gradient of its own size and a wrong term shows.
        var random = new Random(seed + 100);
        foreach (var p in model.Parameters)
        {
            bool gain = p.Name.EndsWith("ln_1.weight", StringComparison.Ordinal) || p.Name.EndsWith("ln_2.weight", StringComparison.Ordinal)
                || p.Name == "ln_f.weight";
            for (int i = 0; i < p.Length; i++)
            {
                p.Data[i] = (gain ? 1f : 0f) + (float)(Normal(random) * (p.Shape.Length == 1 ? 0.2 : 0.4));
            }
        }

        return model;
    }

    private static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    public static TheoryData<bool, bool, VectorWidth> Cases()
    {
        var data = new TheoryData<bool, bool, VectorWidth>();
        foreach (var width in Simd.Supported())
        {
            data.Add(true, false, width);
            data.Add(false, false, width);
            data.Add(true, true, width);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradients_MatchFloat64FiniteDifferences_ForEveryTensor(bool tied, bool withIgnored, VectorWidth width)
    {
        using var scope = Simd.Override(width);
        var model = TinyModel(tied, seed: tied ? 3 : 4);
        int batch = 2, seq = 5;
        var random = new Random(5);
        int[] tokens = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(11))];
        int[] targets = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(11))];
        if (withIgnored)
        {
            targets[1] = -100;
            targets[7] = -100;
        }

        float loss = model.ForwardBackward(tokens, targets, batch, seq);
        CheckAgainstReference(model, new ReferenceGpt(model), loss, tokens, targets, batch, seq, random);
    }

    /// <summary>
    /// The model's loss against the float64 reference's, and 9 entries of each parameter's gradient (8 at random and
    /// the largest) against central finite differences of the reference loss.
    /// </summary>
    internal static void CheckAgainstReference(GptModel model, ReferenceGpt reference, float loss, int[] tokens, int[] targets,
        int batch, int seq, Random random)
    {
        double refLoss = reference.Loss(tokens, targets, batch, seq);
        Assert.Equal(refLoss, loss, 2e-5 * refLoss);

        // Central differences of the float64 loss: truncation ~h^2 * L''' ~ 1e-10, rounding ~1e-16 / h ~ 1e-11,
        // so the difference to the float32 analytic gradient is the model's own float32 rounding: relative
        // ~1e-5 of the gradient's scale. Tolerance 1e-3 x |g| + 2e-5 x (largest |g| of the tensor).
        const double h = 1e-5;
        int checkedCount = 0;
        foreach (var p in model.Parameters)
        {
            var data = reference[p.Name];
            double scale = p.Grad.Max(Math.Abs);
            Assert.True(scale > 1e-4, $"{p.Name}: gradient is all (near) zero, the check would be empty");
            var indices = Enumerable.Range(0, 8).Select(_ => random.Next(p.Length)).Append(Array.IndexOf(p.Grad, p.Grad.MaxBy(Math.Abs)));
            foreach (int i in indices)
            {
                double original = data[i];
                data[i] = original + h;
                double plus = reference.Loss(tokens, targets, batch, seq);
                data[i] = original - h;
                double minus = reference.Loss(tokens, targets, batch, seq);
                data[i] = original;
                double numeric = (plus - minus) / (2 * h);
                double tolerance = (1e-3 * Math.Abs(numeric)) + (2e-5 * scale);
                Assert.True(Math.Abs(p.Grad[i] - numeric) <= tolerance,
                    $"{p.Name}[{i}]: analytic {p.Grad[i]:G9}, finite difference {numeric:G9}, tolerance {tolerance:G3}");
                checkedCount++;
            }
        }

        Assert.Equal(model.Parameters.Count * 9, checkedCount);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Gradients_AreBitwiseTheSame_ForAnyThreadCount(bool tied)
    {
        // V 37 and T 19: several token and position ranges in the embedding backward, rows and columns of every
        // LayerNorm backward in one parallel call; an untied head's wte gradient is the embedding's alone.
        var config = new GptConfig { VocabSize = 37, ContextLength = 19, Layers = 2, Heads = 2, Dim = 40, TieEmbeddings = tied };
        var random = new Random(17);
        int batch = 3, seq = 17;
        int[] tokens = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(37))];
        int[] targets = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(37))];
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            float[][]? expected = null;
            float expectedLoss = 0;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                var model = new GptModel(config, seed: 8) { MaxDegreeOfParallelism = threads };
                foreach (var p in model.Parameters)
                {
                    p.Grad.AsSpan().Fill(float.NaN); // overwritten
                }

                float loss = model.ForwardBackward(tokens, targets, batch, seq);
                var grads = model.Parameters.Select(p => (float[])p.Grad.Clone()).ToArray();
                if (expected is null)
                {
                    expected = grads;
                    expectedLoss = loss;
                    continue;
                }

                Assert.Equal(BitConverter.SingleToInt32Bits(expectedLoss), BitConverter.SingleToInt32Bits(loss));
                for (int k = 0; k < grads.Length; k++)
                {
                    BatchTrials.SameBits(expected[k], grads[k], $"{model.Parameters[k].Name}, {threads} threads, {width}");
                }
            }
        }
    }

    [Fact]
    public void Gradients_AreOverwritten_NotAccumulated()
    {
        var model = TinyModel(tied: true, seed: 9);
        int[] tokens = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        int[] targets = [2, 3, 4, 5, 6, 7, 8, 9, 10, 0];
        model.ForwardBackward(tokens, targets, 2, 5);
        var first = model.Parameters.Select(p => (float[])p.Grad.Clone()).ToArray();
        model.ForwardBackward(tokens, targets, 2, 5);
        for (int k = 0; k < first.Length; k++)
        {
            Assert.Equal(first[k], model.Parameters[k].Grad);
        }
    }
}
