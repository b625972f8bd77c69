using Xent.Reference;

namespace Xent.Tests;

public class ReferenceTests
{
    [Fact]
    public void WorkedExample_FromTheSpec()
    {
        // softmax = [0.231, 0.628, 0.141]: logits are the log-probabilities themselves.
        float[] logits = [MathF.Log(0.231f), MathF.Log(0.628f), MathF.Log(0.141f)];
        double loss = CrossEntropyReference.Loss(logits, [1]);
        Assert.Equal(-Math.Log(0.628 / (0.231 + 0.628 + 0.141)), loss, 6);
        Assert.Equal(0.4652, loss, 3);
    }
}
