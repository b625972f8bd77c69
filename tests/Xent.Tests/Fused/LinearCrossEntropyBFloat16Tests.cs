using Xent.Tests.Core;

namespace Xent.Tests.Fused;

/// <summary>bfloat16 hidden states and weight: the float64 reference of the same values, float gradients.</summary>
public class LinearCrossEntropyBFloat16Tests
{
    [Fact]
    public void MatchesTheReferenceOfTheSameValues()
    {
        const int n = 37, d = 24, v = 700;
        var random = new Random(4);
        var hidden = Enumerable.Range(0, n * d).Select(_ => (BFloat16)((2 * random.NextSingle()) - 1)).ToArray();
        var weight = Enumerable.Range(0, v * d).Select(_ => (BFloat16)((2 * random.NextSingle()) - 1)).ToArray();
        var targets = TestData.Targets(n, v, 4, ignoreEvery: 5);
        var h = hidden.Select(x => (float)x).ToArray();
        var w = weight.Select(x => (float)x).ToArray();
        foreach (var o in new CrossEntropyOptions[] { new(), new() { Reduction = Reduction.Sum, LabelSmoothing = 0.1f, ZLoss = 1e-3f } })
        {
            var reference = new LinearReference(h, w, null, targets, o);
            var dh = new float[n * d];
            var dw = new float[v * d];
            float loss = LinearCrossEntropy.LossAndGradients(hidden, weight, targets, new(dh, dw), o);
            Close.Scalar(reference.Loss, loss, relative: 1e-5);
            Assert.Equal(loss, LinearCrossEntropy.Loss(hidden, weight, targets, o));

            // The float kernel on the widened values, bitwise.
            var dhf = new float[n * d];
            var dwf = new float[v * d];
            Assert.Equal(LinearCrossEntropy.LossAndGradients(h, w, targets, new(dhf, dwf), o), loss);
            Assert.Equal(dhf, dh);
            Assert.Equal(dwf, dw);
            LinearReference.AssertGradient(reference.DHidden, reference.DHiddenBound, dh, 1e-4, "dh");
            LinearReference.AssertGradient(reference.DWeight, reference.DWeightBound, dw, 1e-4, "dW");
        }
    }
}
