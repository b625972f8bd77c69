using Xent.Training;
using Xent.Training.Model;

namespace Xent.Tests.Model;

public class GptModelSmokeTests
{
    [Fact]
    public void LossAtInitialisation_IsAboutLnV()
    {
        var config = new GptConfig { VocabSize = 64, ContextLength = 16, Layers = 2, Heads = 4, Dim = 32 };
        var model = new GptModel(config, seed: 1);
        var random = new Random(2);
        int b = 4, t = 16;
        int[] tokens = [.. Enumerable.Range(0, b * t).Select(_ => random.Next(64))];
        int[] targets = [.. Enumerable.Range(0, b * t).Select(_ => random.Next(64))];
        float loss = model.Loss(tokens, targets, b, t);
        Assert.InRange(loss, Math.Log(64) * 0.98, Math.Log(64) * 1.03);
        float loss2 = model.ForwardBackward(tokens, targets, b, t);
        Assert.Equal(loss, loss2);
    }
}
