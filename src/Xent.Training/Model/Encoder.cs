using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Xent.Kernels;

namespace Xent.Training.Model;

/// <summary>
/// Token + position embedding: x[b, t, :] = wte[tokens[b, t], :] + wpe[t, :]. Both passes run on the kernels'
/// worker pool in items fixed by the shapes; every element sees the same additions in the same order as a serial
/// loop, so results are bitwise the same for any thread count.
/// </summary>
internal static class Encoder
{
    // Items of the backward per table: each owns a range of rows (tokens or positions) of its table.
    private const int BackwardChunks = 8;

    /// <summary>output [B*T, D] from tokens [B*T], wte [V, D], wpe [Tmax, D].</summary>
    public static void Forward(float[] output, int[] tokens, float[] wte, float[] wpe, int batch, int seq, int dim, int maxDegreeOfParallelism)
    {
        int n = batch * seq;
        ParallelWork.ForRanges(n, ParallelWork.Grain(n, 8), maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                Row(output.AsSpan(i * dim, dim), tokens[i], i % seq, wte, wpe, dim);
            }
        });
    }

    /// <summary>output [D] = wte[token, :] + wpe[position, :] (one row: the forward's and the KV-cache step's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Row(Span<float> output, int token, int position, float[] wte, float[] wpe, int dim)
    {
        TensorPrimitives.Add(wte.AsSpan(token * dim, dim), wpe.AsSpan(position * dim, dim), output);
    }

    /// <summary>
    /// dwte [V, D] += scatter of dout [B*T, D] by token (cleared first when <paramref name="clearWte"/>);
    /// dwpe [Tmax, D] = sum over b of dout (overwritten; rows t &gt;= T zero). One parallel call: items owning a
    /// range of tokens (each scans the tokens in order and adds the rows of its own, so a token's rows add in
    /// position order) and items owning a range of positions (adding over b in order).
    /// </summary>
    public static void Backward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int batch, int seq, int dim,
        bool clearWte, int maxDegreeOfParallelism)
    {
        int n = batch * seq, vocab = dwte.Length / dim, positions = dwpe.Length / dim;
        int tokenRange = (vocab + BackwardChunks - 1) / BackwardChunks, positionRange = (positions + BackwardChunks - 1) / BackwardChunks;
        int tokenItems = (vocab + tokenRange - 1) / tokenRange, positionItems = (positions + positionRange - 1) / positionRange;
        ParallelWork.For(tokenItems + positionItems, maxDegreeOfParallelism, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (item) =>
        {
            if (item < tokenItems)
            {
                int v0 = item * tokenRange, v1 = Math.Min(vocab, v0 + tokenRange);
                if (clearWte)
                {
                    dwte.AsSpan(v0 * dim, (v1 - v0) * dim).Clear();
                }

                for (int i = 0; i < n; i++)
                {
                    int token = tokens[i];
                    if (token >= v0 && token < v1)
                    {
                        var e = dwte.AsSpan(token * dim, dim);
                        TensorPrimitives.Add(e, dout.AsSpan(i * dim, dim), e);
                    }
                }
            }
            else
            {
                int t0 = (item - tokenItems) * positionRange, t1 = Math.Min(positions, t0 + positionRange);
                dwpe.AsSpan(t0 * dim, (t1 - t0) * dim).Clear();
                for (int t = t0; t < Math.Min(t1, seq); t++)
                {
                    var p = dwpe.AsSpan(t * dim, dim);
                    for (int b = 0; b < batch; b++)
                    {
                        TensorPrimitives.Add(p, dout.AsSpan(((b * seq) + t) * dim, dim), p);
                    }
                }
            }
        });
    }
}
