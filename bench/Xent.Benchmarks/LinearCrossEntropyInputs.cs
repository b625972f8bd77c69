using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// Inputs of the fused-loss benchmarks. "random": untrained-like logits (standard deviation about 0.3, softmax near
/// uniform, random targets). "peaked": trained-like logits (hidden states scaled so the logits' standard deviation
/// is about 10, target = the argmax class), where almost every softmax probability is tiny.
/// </summary>
internal sealed class LinearCrossEntropyInputs
{
    public LinearCrossEntropyInputs(int n, int d, int v, string kind)
    {
        (N, D, V) = (n, d, v);
        var rng = new Random(42);
        float scale = kind == "peaked" ? 30f : 1f;
        Hidden = new float[n * d];
        Weight = new float[(long)v * d];
        float hs = scale / MathF.Sqrt(d);
        for (int i = 0; i < Hidden.Length; i++)
        {
            Hidden[i] = ((float)rng.NextDouble() * 2 - 1) * hs;
        }

        for (long i = 0; i < Weight.LongLength; i++)
        {
            Weight[i] = (float)rng.NextDouble() * 2 - 1;
        }

        Targets = new int[n];
        if (kind == "peaked")
        {
            // Argmax of each row, from logits computed 64 tokens at a time (never [N, V] at once).
            var logits = new float[64 * v];
            for (int t0 = 0; t0 < n; t0 += 64)
            {
                int rows = Math.Min(64, n - t0);
                MatMul.Gemm(false, true, rows, v, d, 1, Hidden.AsSpan(t0 * d), d, Weight, d, 0, logits, v);
                for (int t = 0; t < rows; t++)
                {
                    var row = logits.AsSpan(t * v, v);
                    int best = 0;
                    for (int c = 1; c < v; c++)
                    {
                        best = row[c] > row[best] ? c : best;
                    }

                    Targets[t0 + t] = best;
                }
            }
        }
        else
        {
            for (int t = 0; t < n; t++)
            {
                Targets[t] = rng.Next(v);
            }
        }
    }

    public int N { get; }

    public int D { get; }

    public int V { get; }

    public float[] Hidden { get; }

    public float[] Weight { get; }

    public int[] Targets { get; }

    /// <summary>h rounded to bfloat16 (made on first use).</summary>
    public BFloat16[] HiddenBFloat16 => field ??= [.. Hidden.Select(x => (BFloat16)x)];

    /// <summary>W rounded to bfloat16 (made on first use).</summary>
    public BFloat16[] WeightBFloat16 => field ??= [.. Weight.Select(x => (BFloat16)x)];

    /// <summary>
    /// The gradient filter used with filtering on: an entry of dL/dz = p / N (Mean) is dropped when p is below
    /// float32 epsilon / 32 (Cut Cross-Entropy's rule, with float32's epsilon instead of bfloat16's).
    /// </summary>
    public float FilterThreshold => (float)(Math.Pow(2, -23) / 32 / N);
}
