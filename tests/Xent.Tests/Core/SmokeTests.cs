using Xent.Reference;

namespace Xent.Tests.Core;

public class SmokeTests
{
    [Theory]
    [InlineData(VectorWidth.V512, 5, 50257)]
    [InlineData(VectorWidth.V256, 3, 17)]
    [InlineData(VectorWidth.Scalar, 3, 17)]
    [InlineData(VectorWidth.V128, 1, 70000)]
    public void MatchesReference(VectorWidth width, int rows, int classes)
    {
        var x = TestData.Logits(rows, classes, 1);
        var y = TestData.Targets(rows, classes, 1);
        using (Simd.Override(width))
        {
            var g = new float[x.Length];
            float loss = CrossEntropy.LossAndGradient(x, y, g);
            Close.Scalar(CrossEntropyReference.Loss(x, y), loss);
            Close.Gradient(CrossEntropyReference.Gradient(x, y), g, classes);
        }
    }
}
