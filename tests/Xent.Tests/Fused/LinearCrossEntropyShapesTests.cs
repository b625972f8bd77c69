namespace Xent.Tests.Fused;

/// <summary>
/// The entry points' shapes: what each reduction does, where the upstream gradient goes, and that the pointer
/// overloads are the span overloads (the kernel itself is checked against the reference elsewhere).
/// </summary>
public unsafe class LinearCrossEntropyShapesTests
{
    private const int N = 9, D = 5, V = 40;

    [Fact]
    public void ReductionNone_ThrowsForEveryReducedLoss_AsInCrossEntropy()
    {
        var (h, w, b, y) = Problem();
        var none = new CrossEntropyOptions { Reduction = Reduction.None };
        var logits = new float[N * V];
        var reduced = new Action[]
        {
            () => CrossEntropy.Loss(logits, y, none),
            () => CrossEntropy.LossAndGradient(logits, y, new float[N * V], none),
            () => LinearCrossEntropy.Loss(h, w, y, none),
            () => LinearCrossEntropy.Loss(h, w, b, y, none),
            () => LinearCrossEntropy.LossAndGradients(h, w, y, new(new float[N * D], new float[V * D]), none),
            () => LinearCrossEntropy.LossAndGradients(h, w, b, y, new(new float[N * D], new float[V * D]), 2f, [], none),
        };
        foreach (var call in reduced)
        {
            var e = Assert.Throws<ArgumentException>(call);
            Assert.Equal("options", e.ParamName);
            Assert.StartsWith("Reduction.None has no single loss", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Upstream_ScalesTheReducedGradients_AndPerRowUpstreamOfOnesIsTheSum()
    {
        var (h, w, b, y) = Problem();
        var sum = new CrossEntropyOptions { Reduction = Reduction.Sum };
        var plain = Gradients();
        var scaled = Gradients();
        var perRow = Gradients();
        float loss = LinearCrossEntropy.LossAndGradients(h, w, b, y, new(plain.H, plain.W, plain.B), options: sum);
        Assert.Equal(loss, LinearCrossEntropy.LossAndGradients(h, w, b, y, new(scaled.H, scaled.W, scaled.B), 0.5f, [], sum));
        var rows = new float[N];
        LinearCrossEntropy.Gradients(h, w, b, y, Enumerable.Repeat(1f, N).ToArray(), new(perRow.H, perRow.W, perRow.B), rows);

        // A power of two scales exactly; upstream 1 per row is the Sum's coefficient, so the same bits.
        Assert.Equal(plain.H.Select(x => x * 0.5f), scaled.H);
        Assert.Equal(plain.W.Select(x => x * 0.5f), scaled.W);
        Assert.Equal(plain.B.Select(x => x * 0.5f), scaled.B);
        Assert.Equal(plain.H, perRow.H);
        Assert.Equal(plain.W, perRow.W);
        Assert.Equal(plain.B, perRow.B);
        Assert.Equal(loss, rows.Sum(), 4);
    }

    [Fact]
    public void PointerOverloads_EqualTheSpanOverloads()
    {
        var (h, w, b, y) = Problem();
        var o = new CrossEntropyOptions { LabelSmoothing = 0.1f };
        var up = Enumerable.Range(0, N).Select(i => 0.25f * i).ToArray();
        var spans = (Rows: new float[N], Lse: new float[N], G: Gradients(), PerRow: Gradients());
        var pointers = (Rows: new float[N], Lse: new float[N], G: Gradients(), PerRow: Gradients());
        float loss = LinearCrossEntropy.Loss(h, w, b, y, o);
        LinearCrossEntropy.LossPerRow(h, w, b, y, spans.Rows, spans.Lse, o);
        float lossG = LinearCrossEntropy.LossAndGradients(h, w, b, y, new(spans.G.H, spans.G.W, spans.G.B), 1f, [], o);
        LinearCrossEntropy.Gradients(h, w, b, y, up, new(spans.PerRow.H, spans.PerRow.W, spans.PerRow.B), options: o);
        fixed (float* pw = w, pdw = pointers.G.W, pdw2 = pointers.PerRow.W)
        {
            Assert.Equal(loss, LinearCrossEntropy.Loss(h, pw, V, D, b, y, o));
            LinearCrossEntropy.LossPerRow(h, pw, V, D, b, y, pointers.Rows, pointers.Lse, o);
            Assert.Equal(lossG, LinearCrossEntropy.LossAndGradients(h, pw, V, D, b, y, new(pointers.G.H, pdw, V * D, pointers.G.B), options: o));
            LinearCrossEntropy.Gradients(h, pw, V, D, b, y, up, new(pointers.PerRow.H, pdw2, V * D, pointers.PerRow.B), options: o);
        }

        Assert.Equal(spans.Rows, pointers.Rows);
        Assert.Equal(spans.Lse, pointers.Lse);
        Assert.Equal(spans.G.H, pointers.G.H);
        Assert.Equal(spans.G.W, pointers.G.W);
        Assert.Equal(spans.G.B, pointers.G.B);
        Assert.Equal(spans.PerRow.H, pointers.PerRow.H);
        Assert.Equal(spans.PerRow.W, pointers.PerRow.W);
        Assert.Equal(spans.PerRow.B, pointers.PerRow.B);
    }

    [Fact]
    public void GradientDestinations_AreChecked_BeforeAnythingIsWritten()
    {
        var (h, w, _, y) = Problem();
        var dh = Enumerable.Repeat(7f, N * D).ToArray();
        Assert.Throws<ArgumentNullException>(() => new LinearCrossEntropyGradients(dh, null, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearCrossEntropyGradients(dh, null, -1));
        fixed (float* pw = w)
        {
            var dw = new float[V * D];
            fixed (float* pdw = dw)
            {
                // Fixed locals cannot enter a lambda: pass the addresses as integers.
                nint weight = (nint)pw, dWeight = (nint)pdw;
                var e = Assert.Throws<ArgumentException>(() =>
                    LinearCrossEntropy.LossAndGradients(h, (float*)weight, V, D, [], y, new(dh, (float*)dWeight, (V * D) - 1)));
                Assert.Equal("dWeight", e.ParamName);
            }
        }

        Assert.All(dh, x => Assert.Equal(7f, x));
    }

    [Fact]
    public void CrossEntropyOptions_ConvertToLinearCrossEntropyOptions()
    {
        var ce = new CrossEntropyOptions { LabelSmoothing = 0.2f };
        LinearCrossEntropyOptions converted = ce;
        Assert.Same(ce, converted.CrossEntropy);
        Assert.Equal(LinearCrossEntropyOptions.Default with { CrossEntropy = ce }, converted);
        Assert.Same(LinearCrossEntropyOptions.Default, LinearCrossEntropyOptions.FromCrossEntropyOptions(null));
    }

    private static (float[] H, float[] W, float[] B) Gradients() => (new float[N * D], new float[V * D], new float[V]);

    private static (float[] H, float[] W, float[] B, int[] Y) Problem()
    {
        var rng = new Random(11);
        float[] Random(int length) => Enumerable.Range(0, length).Select(_ => (2 * rng.NextSingle()) - 1).ToArray();
        var y = Enumerable.Range(0, N).Select(i => i == 4 ? -100 : rng.Next(V)).ToArray();
        return (Random(N * D), Random(V * D), Random(V), y);
    }
}
