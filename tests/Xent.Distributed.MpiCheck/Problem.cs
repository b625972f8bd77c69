namespace Xent.Distributed.MpiCheck;

/// <summary>
/// One vocabulary-parallel check: deterministic inputs (the same on every rank, from the seed) and the options.
/// Shapes: N tokens, V classes, D hidden; logits [N, V], hidden [N, D], weight [V, D], bias [V], targets [N].
/// </summary>
public sealed class Problem
{
    public Problem(string name, int n, int v, int d, int seed, LinearCrossEntropyOptions options, bool bias = false, int ignoreEvery = 4, int ignoredTarget = -100,
        float upstream = 1f)
    {
        Name = name;
        N = n;
        V = v;
        D = d;
        var random = new Random(seed);
        Logits = Values(random, n * v, 4f);
        Hidden = Values(random, n * d, 1f);
        Weight = Values(random, v * d, 0.5f);
        Bias = bias ? Values(random, v, 1f) : [];
        Targets = new int[n];
        for (int t = 0; t < n; t++)
        {
            Targets[t] = ignoreEvery > 0 && t % ignoreEvery == ignoreEvery - 1 ? ignoredTarget : random.Next(v);
        }

        RowUpstream = Values(random, n, 1f);
        Options = options;
        Upstream = upstream;
    }

    public string Name { get; }

    public int N { get; }

    public int V { get; }

    public int D { get; }

    public LinearCrossEntropyOptions Options { get; }

    public CrossEntropyOptions Loss => Options.CrossEntropy;

    public float[] Logits { get; }

    public float[] Hidden { get; }

    public float[] Weight { get; }

    public float[] Bias { get; }

    public int[] Targets { get; }

    /// <summary>Upstream gradient g of a Mean or Sum loss.</summary>
    public float Upstream { get; }

    /// <summary>Upstream gradients g [N] for the backward of Reduction.None.</summary>
    public float[] RowUpstream { get; }

    /// <summary>
    /// Every option of the single-process API, alone and together, for N tokens (N above 128 spans several token
    /// blocks of the linear head), V classes (odd, so that slices differ in width), D hidden.
    /// </summary>
    public static IReadOnlyList<Problem> All(int n = 300, int v = 1001, int d = 40)
    {
        var weights = Values(new Random(7), v, 0.8f).Select(x => 1.1f + x).ToArray();
        LinearCrossEntropyOptions With(CrossEntropyOptions ce) => new() { CrossEntropy = ce };
        return
        [
            new("mean", n, v, d, 1, With(new())),
            new("sum, upstream 0.5", n, v, d, 2, With(new() { Reduction = Reduction.Sum }), upstream: 0.5f),
            new("none, row upstream", n, v, d, 3, With(new() { Reduction = Reduction.None })),
            new("ignore index 5 (a class)", n, v, d, 4, With(new() { IgnoreIndex = 5 }), ignoredTarget: 5),
            new("label smoothing", n, v, d, 5, With(new() { LabelSmoothing = 0.1f })),
            new("class weights", n, v, d, 6, With(new() { ClassWeights = weights })),
            new("z-loss", n, v, d, 7, With(new() { ZLoss = 1e-3f })),
            new("soft cap", n, v, d, 8, With(new() { SoftCap = 3f })),
            new("everything, mean, bias", n, v, d, 9, With(new() { LabelSmoothing = 0.2f, ClassWeights = weights, ZLoss = 1e-2f, SoftCap = 5f }), bias: true),
            new("everything, sum, accumulate", n, v, d, 10, With(new() { Reduction = Reduction.Sum, LabelSmoothing = 0.1f, ClassWeights = weights, ZLoss = 1e-3f, SoftCap = 4f }) with { Accumulate = true }, upstream: 2f),
            new("everything, none, bias", n, v, d, 11, With(new() { Reduction = Reduction.None, LabelSmoothing = 0.1f, ClassWeights = weights, ZLoss = 1e-3f, SoftCap = 4f }), bias: true),
            new("every row ignored", n, v, d, 12, With(new() { ZLoss = 1e-3f }), ignoreEvery: 1),
        ];
    }

    private static float[] Values(Random random, int count, float scale)
    {
        var x = new float[count];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = scale * (float)(random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5);
        }

        return x;
    }
}
