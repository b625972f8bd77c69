using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Optim;

/// <summary>Gradient-norm clipping over many tensors, like <c>torch.nn.utils.clip_grad_norm_</c>.</summary>
public static class GradientClipping
{
    // Fixed chunk size: the partial sums and their order depend on the tensor lengths only, never on threads.
    private const int Chunk = 1 << 16;

    /// <summary>
    /// The global L2 norm sqrt(sum of g^2 over every element of every tensor), the squares accumulated in double,
    /// in fixed chunks summed in a fixed order: the same for any thread count.
    /// </summary>
    /// <param name="gradients">Gradient tensors.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    public static float GlobalNorm(IReadOnlyList<float[]> gradients, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        for (int i = 0; i < gradients.Count; i++)
        {
            if (gradients[i] is null)
            {
                throw new ArgumentNullException(nameof(gradients), $"Tensor {i} is null.");
            }
        }

        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use -1 (all cores) or a positive count.");
        }

        var items = Chunks(gradients);
        return GlobalNorm(gradients, items, new double[items.Length], maxDegreeOfParallelism);
    }

    /// <summary>The work items of <see cref="GlobalNorm(IReadOnlyList{float[]}, int)"/> over tensors of these gradients' lengths.</summary>
    internal static (int Tensor, int Start, int Length)[] Chunks(IReadOnlyList<float[]> gradients) =>
        TensorChunks.Of([.. gradients.Select(g => g.Length)], Chunk);

    /// <summary>
    /// <see cref="GlobalNorm(IReadOnlyList{float[]}, int)"/> with its items (<see cref="Chunks"/> of the same lengths)
    /// and a [items] buffer for their sums given: a trainer keeps both for all its steps.
    /// </summary>
    internal static float GlobalNorm(IReadOnlyList<float[]> gradients, (int Tensor, int Start, int Length)[] items, double[] partial,
        int maxDegreeOfParallelism)
    {
        // Every chunk of every tensor is a work item; their sums are added in tensor and chunk order.
        ParallelWork.For(items.Length, maxDegreeOfParallelism, new NormItems(gradients, items, partial, Simd.Width), ends: ParallelWork.Ends);
        double sum = 0;
        foreach (double p in partial)
        {
            sum += p;
        }

        return (float)Math.Sqrt(sum);
    }

    /// <summary>
    /// The factor that brings a global norm down to <paramref name="maxNorm"/>: min(1, maxNorm / (norm + 1e-6)), as
    /// PyTorch's <c>clip_grad_norm_</c> (so a norm just under maxNorm, within 1e-6, is scaled a little too); 1 for a
    /// non-finite norm (the caller should skip the step).
    /// </summary>
    /// <param name="norm">Global norm, from <see cref="GlobalNorm(IReadOnlyList{float[]}, int)"/>.</param>
    /// <param name="maxNorm">Largest allowed global norm, &gt; 0.</param>
    public static float ClipFactor(float norm, float maxNorm)
    {
        if (!(maxNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be > 0.");
        }

        return float.IsFinite(norm) ? (float)Math.Min(1.0, maxNorm / (norm + 1e-6)) : 1f;
    }

    /// <summary>
    /// Scales every gradient by <see cref="ClipFactor"/> when it is under 1 (the global norm above
    /// maxNorm - 1e-6); otherwise leaves them unchanged. A non-finite norm leaves them unchanged too, so the caller can detect it and
    /// skip the step. (<see cref="AdamW.Step"/> can apply the factor itself and save this pass over the gradients.)
    /// </summary>
    /// <param name="gradients">Gradient tensors, scaled in place.</param>
    /// <param name="maxNorm">Largest allowed global norm, &gt; 0.</param>
    /// <returns>The global norm before clipping.</returns>
    public static float ClipByGlobalNorm(IReadOnlyList<float[]> gradients, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        float norm = GlobalNorm(gradients);
        float scale = ClipFactor(norm, maxNorm);
        if (scale != 1)
        {
            foreach (var g in gradients)
            {
                for (int i = 0; i < g.Length; i++)
                {
                    g[i] *= scale;
                }
            }
        }

        return norm;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static double SumOfSquares(ReadOnlySpan<float> g, VectorWidth width)
    {
        int i = 0;
        double sum = 0;
        if (width == VectorWidth.V512)
        {
            Vector512<double> a0 = default, a1 = default;
            for (; i + 16 <= g.Length; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Create(g.Slice(i, 16)));
                a0 += lo * lo;
                a1 += hi * hi;
            }

            sum = Vector512.Sum(a0 + a1);
        }
        else if (width == VectorWidth.V256)
        {
            Vector256<double> a0 = default, a1 = default;
            for (; i + 8 <= g.Length; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Create(g.Slice(i, 8)));
                a0 += lo * lo;
                a1 += hi * hi;
            }

            sum = Vector256.Sum(a0 + a1);
        }
        else if (width == VectorWidth.V128)
        {
            Vector128<double> a0 = default, a1 = default;
            for (; i + 4 <= g.Length; i += 4)
            {
                var (lo, hi) = Vector128.Widen(Vector128.Create(g.Slice(i, 4)));
                a0 += lo * lo;
                a1 += hi * hi;
            }

            sum = Vector128.Sum(a0 + a1);
        }

        for (; i < g.Length; i++)
        {
            sum += (double)g[i] * g[i];
        }

        return sum;
    }

    private readonly struct NormItems(IReadOnlyList<float[]> gradients, (int Tensor, int Start, int Length)[] items, double[] partial, VectorWidth width)
        : IWorkItems
    {
        public void Run(int item)
        {
            var (i, start, length) = items[item];
            partial[item] = SumOfSquares(gradients[i].AsSpan(start, length), width);
        }
    }
}
