using Xent.Layers;
using Xent.Training;
using Xent.Training.Model;

namespace Xent.Tests.Model;

public class DropoutTests
{
    private const int Batch = 2;
    private const int Seq = 5;

    private static (int[] Tokens, int[] Targets) Data(int seed)
    {
        var random = new Random(seed);
        return ([.. Enumerable.Range(0, Batch * Seq).Select(_ => random.Next(11))],
            [.. Enumerable.Range(0, Batch * Seq).Select(_ => random.Next(11))]);
    }

    /// <summary>The masks of one step, drawn the way the model draws them (embedding, then per block attention, MLP).</summary>
    private static float[][] Masks(GptModel model, int seed, long step)
    {
        int count = Batch * Seq * model.Config.Dim, sites = 1 + (2 * model.Config.Layers);
        var masks = new float[sites][];
        for (int site = 0; site < sites; site++)
        {
            masks[site] = new float[count];
            Dropout.FillMask(model.Config.Dropout, seed, step, site, masks[site], 1);
        }

        return masks;
    }

    public static TheoryData<bool, VectorWidth> Cases()
    {
        var data = new TheoryData<bool, VectorWidth>();
        foreach (var width in Simd.Supported())
        {
            data.Add(true, width);
            data.Add(false, width);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradients_with_a_fixed_mask_match_float64_finite_differences(bool tied, VectorWidth width)
    {
        using var scope = Simd.Override(width);
        int seed = tied ? 13 : 14;
        var model = GptGradientTests.TinyModel(tied, seed, dropout: 0.3f);
        var (tokens, targets) = Data(6);
        float loss = model.ForwardBackward(tokens, targets, Batch, Seq, step: 7);
        var masks = Masks(model, seed, 7);
        Assert.All(masks, m => Assert.Contains(0f, m));
        var reference = new ReferenceGpt(model) { DropoutMasks = masks };
        GptGradientTests.CheckAgainstReference(model, reference, loss, tokens, targets, Batch, Seq, new Random(8));

        // Without the masks the reference is a different function: the check above is not vacuous.
        double undropped = new ReferenceGpt(model).Loss(tokens, targets, Batch, Seq);
        Assert.True(Math.Abs(undropped - loss) > 1e-3, $"dropout changed the loss only from {undropped} to {loss}");
    }

    [Fact]
    public void Evaluation_and_sampling_never_drop()
    {
        var dropped = GptGradientTests.TinyModel(true, 21, dropout: 0.5f);
        var plain = GptGradientTests.TinyModel(true, 21);
        var (tokens, targets) = Data(3);
        Assert.Equal(plain.Loss(tokens, targets, Batch, Seq), dropped.Loss(tokens, targets, Batch, Seq));
        float[] a = new float[11], b = new float[11];
        plain.NextTokenLogits(tokens.AsSpan(0, Seq), a);
        dropped.NextTokenLogits(tokens.AsSpan(0, Seq), b);
        Assert.Equal(a, b);

        // A training step in between leaves evaluation as it was.
        dropped.ForwardBackward(tokens, targets, Batch, Seq, 3);
        Assert.Equal(plain.Loss(tokens, targets, Batch, Seq), dropped.Loss(tokens, targets, Batch, Seq));
    }

    [Fact]
    public void Masks_depend_on_the_step_only_and_not_on_the_thread_count()
    {
        var (tokens, targets) = Data(4);
        var serial = GptGradientTests.TinyModel(false, 22, dropout: 0.2f);
        serial.MaxDegreeOfParallelism = 1;
        var parallel = GptGradientTests.TinyModel(false, 22, dropout: 0.2f);
        parallel.MaxDegreeOfParallelism = 4;
        float a = serial.ForwardBackward(tokens, targets, Batch, Seq, 5);
        float b = parallel.ForwardBackward(tokens, targets, Batch, Seq, 5);
        Assert.Equal(a, b);
        for (int k = 0; k < serial.Parameters.Count; k++)
        {
            Assert.Equal(serial.Parameters[k].Grad, parallel.Parameters[k].Grad);
        }

        Assert.NotEqual(a, serial.ForwardBackward(tokens, targets, Batch, Seq, 6));
        Assert.Equal(a, serial.ForwardBackward(tokens, targets, Batch, Seq, 5));
    }

    [Fact]
    public void Config_rejects_a_probability_outside_0_to_1()
    {
        Assert.Throws<ArgumentException>(() => new GptModel(new GptConfig { Dropout = 1 }, 1));
        Assert.Throws<ArgumentException>(() => new GptModel(new GptConfig { Dropout = -0.1f }, 1));
        Assert.Throws<ArgumentException>(() => new GptModel(new GptConfig { Dropout = float.NaN }, 1));
    }
}
