using Xent.Kernels;
using Xent.Reference;

namespace Xent.Tests.Core;

/// <summary>
/// Logits in the thousands keep the 1e-5 of <see cref="Close"/> in the loss and in every gradient element. The
/// kernels compute exp(z - float(lse)); the rounding of lse to float (up to |lse| 2^-24, 1.5e-4 at lse = 2500)
/// would be a relative error of every p, as it is in PyTorch, whose lse is a float tensor. The kernels fold
/// exp(float(lse) - lse) into p's multiplier, so it is not.
/// </summary>
public class LargeLogitPrecisionTests
{
    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void RampToTwoThousandFiveHundredKeepsTheGradientsRelativeAccuracy(float smoothing)
    {
        const int v = 5000;
        var x = new float[v];
        for (int c = 0; c < v; c++)
        {
            x[c] = (0.5f * c) + (0.25f * MathF.Sin(c));
        }

        const int target = 4990;
        var o = new CrossEntropyOptions { LabelSmoothing = smoothing };
        double lse = CrossEntropyReference.LogSumExp(x, 1, 0f)[0];
        Assert.True(Math.Abs((float)lse - lse) > 1e-5, "the case is only a test if the rounding is large");

        // Mean over one row: dL/dz[c] = p[c] - e/V - (1 - e)[c == y].
        var expected = new double[v];
        for (int c = 0; c < v; c++)
        {
            double p = Math.Exp(x[c] - lse);
            expected[c] = p - (smoothing / (double)v) - (c == target ? 1 - smoothing : 0);
        }

        double expectedLoss = CrossEntropyReference.Loss(x, [target], o);
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var g = new float[v];
                float loss = CrossEntropy.LossAndGradient(x, [target], g, o with { MaxDegreeOfParallelism = threads });
                Close.Scalar(expectedLoss, loss, what: $"{width} t{threads} loss");
                Close.Gradient(expected, g, v, what: $"{width} t{threads}");
            }
        }
    }

    [Fact]
    public void SoftTargetsAtTwoThousandFiveHundredKeepTheGradientsRelativeAccuracy()
    {
        const int v = 5000;
        var x = new float[v];
        var t = new float[v];
        for (int c = 0; c < v; c++)
        {
            x[c] = (0.5f * c) + (0.25f * MathF.Cos(c));
        }

        t[4990] = 0.75f;
        t[4999] = 0.25f;
        var o = new CrossEntropyOptions { LabelSmoothing = 0.05f };
        double lse = CrossEntropyReference.LogSumExp(x, 1, 0f)[0];
        Assert.True(Math.Abs((float)lse - lse) > 1e-5, "the case is only a test if the rounding is large");
        var expected = CrossEntropyReference.Gradient(x, t, v, o);
        double expectedLoss = CrossEntropyReference.Loss(x, t, v, o);
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            var g = new float[v];
            Close.Scalar(expectedLoss, CrossEntropy.LossAndGradient(x, t, v, g, o), what: $"{width} soft loss");
            Close.Gradient(expected, g, v, what: $"{width} soft");
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void FusedHeadAtTwoThousandFiveHundredKeepsTheGradientsRelativeAccuracy(float smoothing)
    {
        // D = 1 and h = 1: the logits are W exactly, and dW is the logits gradient.
        const int v = 5000;
        var w = new float[v];
        for (int c = 0; c < v; c++)
        {
            w[c] = (0.5f * c) + (0.25f * MathF.Sin(c));
        }

        const int target = 4990;
        double lse = CrossEntropyReference.LogSumExp(w, 1, 0f)[0];
        var expected = new double[v];
        for (int c = 0; c < v; c++)
        {
            expected[c] = Math.Exp(w[c] - lse) - (smoothing / (double)v) - (c == target ? 1 - smoothing : 0);
        }

        var o = new CrossEntropyOptions { LabelSmoothing = smoothing };
        double expectedLoss = CrossEntropyReference.Loss(w, [target], o);
        foreach (var width in Simd.Supported())
        {
            using var scope = Simd.Override(width);
            foreach (int threads in TestData.ThreadCounts)
            {
                var dh = new float[1];
                var dw = new float[v];
                float loss = LinearCrossEntropy.LossAndGradients([1f], w, [target], new(dh, dw), o with { MaxDegreeOfParallelism = threads });
                Close.Scalar(expectedLoss, loss, what: $"{width} t{threads} fused loss");
                Close.Gradient(expected, dw, v, what: $"{width} t{threads} fused");
            }
        }
    }
}
