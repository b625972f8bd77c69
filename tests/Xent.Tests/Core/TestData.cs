namespace Xent.Tests.Core;

/// <summary>Deterministic inputs for the core tests.</summary>
internal static class TestData
{
    /// <summary>Every vector width this machine runs, for [MemberData] (tests then override Simd to each).</summary>
    public static TheoryData<VectorWidth> Widths() => new(Simd.Supported());

    /// <summary>Logits [rows, classes], roughly normal with the given scale (a model's logits look like this).</summary>
    public static float[] Logits(int rows, int classes, int seed, float scale = 3f)
    {
        var random = new Random(seed);
        var x = new float[rows * classes];
        for (int i = 0; i < x.Length; i++)
        {
            // Sum of uniforms: cheap, bounded, bell-shaped.
            x[i] = scale * (float)(random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5);
        }

        return x;
    }

    /// <summary>Targets [rows] in [0, classes), every <paramref name="ignoreEvery"/>-th row set to ignoreIndex (0 = none).</summary>
    public static int[] Targets(int rows, int classes, int seed, int ignoreEvery = 0, int ignoreIndex = -100)
    {
        var random = new Random(seed + 1);
        var y = new int[rows];
        for (int n = 0; n < rows; n++)
        {
            y[n] = ignoreEvery > 0 && n % ignoreEvery == ignoreEvery - 1 ? ignoreIndex : random.Next(classes);
        }

        return y;
    }

    /// <summary>Class weights [classes] in [0.25, 2).</summary>
    public static float[] Weights(int classes, int seed)
    {
        var random = new Random(seed + 2);
        var w = new float[classes];
        for (int c = 0; c < classes; c++)
        {
            w[c] = 0.25f + (1.75f * (float)random.NextDouble());
        }

        return w;
    }

    /// <summary>Probability targets [rows, classes]: each row a random distribution, some mass-concentrated.</summary>
    public static float[] Probabilities(int rows, int classes, int seed)
    {
        var random = new Random(seed + 3);
        var t = new float[rows * classes];
        for (int n = 0; n < rows; n++)
        {
            double sum = 0;
            for (int c = 0; c < classes; c++)
            {
                double u = random.NextDouble();
                t[(n * classes) + c] = (float)(u * u * u);
                sum += t[(n * classes) + c];
            }

            for (int c = 0; c < classes; c++)
            {
                t[(n * classes) + c] = (float)(t[(n * classes) + c] / sum);
            }
        }

        return t;
    }

    public static IEnumerable<int> ThreadCounts => [1, 2, 7];

    /// <summary>Every option that picks a case's arithmetic, for failure messages, so a failing case can be found among its option sets.</summary>
    public static string Describe(CrossEntropyOptions o) =>
        $"reduction {o.Reduction}, smoothing {o.LabelSmoothing}, z-loss {o.ZLoss}, soft cap {o.SoftCap}, "
        + $"{(o.ClassWeights.IsEmpty ? "no class weights" : "class weights")}, ignore index {o.IgnoreIndex}";
}
