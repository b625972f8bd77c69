using System.Runtime.CompilerServices;
using Xent.Kernels;

namespace Xent.Training.Model;

/// <summary>
/// Token + position embedding: x[b, t, :] = wte[tokens[b, t], :] + wpe[t, :]. The forward runs on the kernels'
/// worker pool in row ranges (element-wise: the same bits for any thread count).
/// </summary>
internal static class Encoder
{
    // Up to this many elements (2 MB) the forward runs on the calling thread: at the default model's 2048 x 64 one
    // thread wrote them in ~32 us and two took ~65 (the second's start and the rows' hand-over cost more than the copy).
    private const long InlineElements = 1 << 19;

    /// <summary>output [B*T, D] from tokens [B*T], wte [V, D], wpe [Tmax, D].</summary>
    public static void Forward(float[] output, int[] tokens, float[] wte, float[] wpe, int batch, int seq, int dim, int maxDegreeOfParallelism)
    {
        int n = batch * seq;
        ParallelWork.ForRanges(n, ParallelWork.Grain(n, 8), (long)n * dim <= InlineElements ? 1 : maxDegreeOfParallelism, new Rows(output, tokens, wte, wpe, seq, dim));
    }

    /// <summary>output [D] = wte[token, :] + wpe[position, :] (one row: the forward's and the KV-cache step's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Row(Span<float> output, int token, int position, float[] wte, float[] wpe, int dim)
    {
        Elementwise.Add(wte.AsSpan(token * dim, dim), wpe.AsSpan(position * dim, dim), output);
    }

    /// <summary>dwte [V, D] += scatter of dout [B*T, D] by token; dwpe [Tmax, D] += sum over b (rows t &lt; T only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int batch, int seq, int dim)
    {
        // Serial in token order: the same token may appear at many positions, and a fixed order keeps dwte
        // reproducible. The work is N x D additions (vectorised: element-wise, the same bits), small next to the
        // matrix products: one pass over dout here is faster than parallel items that each read their part of it
        // (measured at the default model's shape, about 21 us for N 2048, D 64).
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < seq; t++)
            {
                int n = (b * seq) + t;
                var d = dout.AsSpan(n * dim, dim);
                var e = dwte.AsSpan(tokens[n] * dim, dim);
                var p = dwpe.AsSpan(t * dim, dim);
                Elementwise.Add(e, d, e);
                Elementwise.Add(p, d, p);
            }
        }
    }

    private readonly struct Rows(float[] output, int[] tokens, float[] wte, float[] wpe, int seq, int dim) : IWorkRanges
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                Row(output.AsSpan(i * dim, dim), tokens[i], i % seq, wte, wpe, dim);
            }
        }
    }
}
