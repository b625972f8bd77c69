using Xent.Layers;

namespace Xent.Tests.Layers;

/// <summary>Bad lengths throw an ArgumentException naming the parameter before anything is written.</summary>
public class LayerArgumentTests
{
    private static void Throws(string parameter, Action call)
    {
        var e = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Equal(parameter, e.ParamName);
    }

    [Fact]
    public void Gelu_and_dropout_check_their_lengths()
    {
        float[] x = new float[8], short7 = new float[7];
        Throws("destination", () => Gelu.Forward(x, short7));
        Throws("outputGradient", () => Gelu.Backward(x, short7, x));
        Throws("inputGradient", () => Gelu.Backward(x, x, short7));
        Throws("maxDegreeOfParallelism", () => Gelu.Forward(x, x, 0));
        Throws("mask", () => Dropout.Multiply(x, short7, x));
        Throws("destination", () => Dropout.Multiply(x, x, short7));
        Throws("branch", () => Dropout.AddMasked(x, x, short7));
        Throws("mask", () => Dropout.AddMasked(x, short7, x));
        Throws("maxDegreeOfParallelism", () => Gelu.Backward(x, x, x, -2));
        Throws("maxDegreeOfParallelism", () => Dropout.Multiply(x, x, x, 0));
        Throws("maxDegreeOfParallelism", () => Dropout.AddMasked(x, x, x, 0));
        Throws("p", () => Dropout.FillMask(-0.1f, 1, 2, 3, x));
    }

    [Fact]
    public void LayerNorm_checks_its_lengths()
    {
        int rows = 3, dim = 4;
        float[] x = new float[rows * dim], w = new float[dim], b = new float[dim], stats = new float[rows];
        Throws("input", () => LayerNorm.Forward(x.AsSpan(1), w, b, x, stats, stats));
        Throws("weight", () => LayerNorm.Forward(x, [], [], x, stats, stats));
        Throws("bias", () => LayerNorm.Forward(x, w, b.AsSpan(1), x, stats, stats));
        Throws("output", () => LayerNorm.Forward(x, w, b, x.AsSpan(1), stats, stats));
        Throws("rstd", () => LayerNorm.Forward(x, w, b, x, stats, stats.AsSpan(1)));
        Throws("outputGradient", () => LayerNorm.Backward(x.AsSpan(1), x, w, stats, stats, x, w, b));
        Throws("mean", () => LayerNorm.Backward(x, x, w, stats.AsSpan(1), stats, x, w, b));
        Throws("biasGradient", () => LayerNorm.Backward(x, x, w, stats, stats, x, w, b.AsSpan(1)));
    }

    [Fact]
    public void Dense_checks_its_lengths()
    {
        int rows = 3, inDim = 4, outDim = 5;
        float[] x = new float[rows * inDim], w = new float[outDim * inDim], b = new float[outDim], y = new float[rows * outDim];
        Throws("weight", () => Dense.Forward(x, w.AsSpan(1), b, default, y));
        Throws("input", () => Dense.Forward(x.AsSpan(1), w, b, default, y));
        Throws("residual", () => Dense.Forward(x, w, b, y.AsSpan(1), y));
        Throws("output", () => Dense.Forward(x, w, b, default, y.AsSpan(1)));
        Throws("outputGradient", () => Dense.Backward(y.AsSpan(1), x, w, false, x, w, b));
        Throws("inputGradient", () => Dense.Backward(y, x, w, false, x.AsSpan(1), w, b));
        Throws("weightGradient", () => Dense.Backward(y, x, w, false, x, w.AsSpan(1), b));
        Throws("biasGradient", () => Dense.Backward(y, x, w, false, x, w, []));
    }

    [Fact]
    public void Attention_checks_its_lengths()
    {
        int batch = 2, seq = 3, dim = 4, heads = 2;
        float[] qkv = new float[batch * seq * 3 * dim], y = new float[batch * seq * dim], att = new float[batch * heads * seq * seq];
        Throws("qkv", () => Attention.Forward(qkv.AsSpan(1), batch, seq, heads, y, att));
        Throws("qkv", () => Attention.Forward(qkv, batch, seq, 3, y, att)); // D = 4 is no multiple of 3 heads
        Throws("heads", () => Attention.Forward(qkv, batch, seq, 0, y, att));
        Throws("output", () => Attention.Forward(qkv, batch, seq, heads, y.AsSpan(1), att));
        Throws("probabilities", () => Attention.Forward(qkv, batch, seq, heads, y, att.AsSpan(1)));
        Throws("probabilities", () => Attention.Backward(y, qkv, att.AsSpan(1), batch, seq, heads, qkv));
        Throws("qkvGradient", () => Attention.Backward(y, qkv, att, batch, seq, heads, qkv.AsSpan(1)));

        // Probabilities not kept (empty) are allowed, but a head's [T, T] must still fit a span: T at most 46340.
        Throws("sequence", () => Attention.Forward([], 0, 46341, heads, y, []));
        Throws("sequence", () => Attention.Backward([], [], [], 0, 46341, heads, []));
        Attention.Forward([], 0, 46340, heads, y, []);

        int hs = 2, capacity = 4;
        float[] q = new float[hs], keys = new float[hs * capacity], values = new float[capacity * hs], p = new float[capacity];
        Throws("probabilities", () => Attention.Row(q, keys, capacity, values, hs, 4, p, q));
        Throws("keysTransposed", () => Attention.Row(q, keys.AsSpan(1), capacity, values, hs, 3, p, q));
        Throws("values", () => Attention.Row(q, keys, capacity, values.AsSpan(0, 3), hs, 1, p.AsSpan(0, 2), q));
        Throws("output", () => Attention.Row(q, keys, capacity, values, hs, 3, p, q.AsSpan(1)));
    }

    [Fact]
    public void Zero_rows_write_nothing()
    {
        float[] untouched = [7f];
        LayerNorm.Forward([], [1f], [0f], untouched, untouched, untouched);
        Dense.Forward([], [1f, 2f], [0f], default, untouched);
        Attention.Forward([], 0, 5, 2, untouched, untouched);
        Gelu.Forward([], untouched);
        Assert.Equal(7f, untouched[0]);
    }
}
