using System.Runtime.CompilerServices;
using Xent.Kernels;

namespace Xent.Layers;

/// <summary>
/// Inverted dropout as GPT-2 uses it on the embedding output and on each residual branch (the attention and MLP
/// projections): each element is kept with probability 1 - p and then scaled by 1 / (1 - p), so the expected value
/// is unchanged and evaluation needs no rescaling. Whether an element is kept is a pure function of (seed, step,
/// site, element index), a counter-based hash rather than a generator's sequence: the same step draws the same mask
/// for any thread count, and a resumed run draws the masks the uninterrupted one would have. A site names one place
/// of the network that draws its own mask (the model numbers them).
/// </summary>
public static unsafe class Dropout
{
    /// <summary>
    /// mask [N] = 1 / (1 - p) where the element is kept, 0 where it is dropped, for one (seed, step, site).
    /// Element i (index first + i of the whole batch) is dropped when the top 24 bits of that index's hash, as a fraction of 2^24, are below p.
    /// </summary>
    /// <param name="p">The probability of dropping an element, in [0, 1).</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="step">The training step.</param>
    /// <param name="site">The place in the network.</param>
    /// <param name="mask">Destination [N]: every element is written.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <param name="first">The index of mask[0] in the step's whole batch: a process that holds a slice of the batch
    /// (data-parallel training) draws the elements the whole batch would, so its masks are the one-process run's.</param>
    /// <exception cref="ArgumentOutOfRangeException">p is outside [0, 1), or first is negative.</exception>
    public static void FillMask(float p, long seed, long step, int site, Span<float> mask, int maxDegreeOfParallelism = -1, long first = 0)
    {
        if (!(p >= 0 && p < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "The dropout probability must be in [0, 1).");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(first);
        LayerChecks.Parallelism(maxDegreeOfParallelism);
        ulong key = Mix(Mix(Mix(unchecked((ulong)seed)) ^ unchecked((ulong)step)) ^ unchecked((ulong)site * 0x9E3779B97F4A7C15UL));
        ulong threshold = (ulong)Math.Round(p * (1 << 24));
        float scale = 1 / (1 - p);
        fixed (float* pMask = mask)
        {
            float* m = pMask;
            int count = mask.Length;
            ParallelWork.ForRanges(count, ParallelWork.Grain(count, 1024), maxDegreeOfParallelism, new MaskRanges(m, key, first, threshold, scale));
        }
    }

    /// <summary>branch [N] = residual + mask * branch, in place: a residual branch's output dropped and added to the stream.</summary>
    /// <param name="residual">The residual stream [N].</param>
    /// <param name="mask">A mask from <see cref="FillMask"/> [N].</param>
    /// <param name="branch">The branch's output [N], overwritten with the sum.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">mask's length differs from residual's, or branch is shorter, or partly
    /// overlaps either.</exception>
    public static void AddMasked(ReadOnlySpan<float> residual, ReadOnlySpan<float> mask, Span<float> branch, int maxDegreeOfParallelism = -1)
    {
        LayerChecks.Elementwise(residual, nameof(residual), mask, nameof(mask), branch, nameof(branch), maxDegreeOfParallelism);
        fixed (float* pOutput = branch, pResidual = residual, pMask = mask)
        {
            AddMasked(pOutput, pResidual, pMask, residual.Length, maxDegreeOfParallelism);
        }
    }

    /// <summary>destination [N] = mask * x (the forward on the embedding, or a gradient backward).</summary>
    /// <param name="x">Input [N].</param>
    /// <param name="mask">A mask from <see cref="FillMask"/> [N].</param>
    /// <param name="destination">Output [N]; may be x itself.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">mask's length differs from x's, or destination is shorter, or partly
    /// overlaps either.</exception>
    public static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> mask, Span<float> destination, int maxDegreeOfParallelism = -1)
    {
        LayerChecks.Elementwise(x, nameof(x), mask, nameof(mask), destination, nameof(destination), maxDegreeOfParallelism);
        fixed (float* pDestination = destination, pSource = x, pMask = mask)
        {
            Multiply(pDestination, pSource, pMask, x.Length, maxDegreeOfParallelism);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void AddMasked(float* output, float* residual, float* mask, int count, int maxDegreeOfParallelism)
    {
        ParallelWork.ForRanges(count, ParallelWork.Grain(count, 1024), maxDegreeOfParallelism, new AddMaskedRanges(output, residual, mask));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Multiply(float* destination, float* source, float* mask, int count, int maxDegreeOfParallelism)
    {
        ParallelWork.ForRanges(count, ParallelWork.Grain(count, 1024), maxDegreeOfParallelism, new MultiplyRanges(destination, source, mask));
    }

    /// <summary>SplitMix64's finaliser: a bijection of 64-bit values whose output bits all depend on every input bit.</summary>
    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    private readonly struct MaskRanges(float* m, ulong key, long first, ulong threshold, float scale) : IWorkRanges
    {
        public void Run(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                m[i] = (Mix(key + (unchecked((ulong)(first + i)) * 0xD1B54A32D192ED03UL)) >> 40) >= threshold ? scale : 0f;
            }
        }
    }

    private readonly struct AddMaskedRanges(float* output, float* residual, float* mask) : IWorkRanges
    {
        public void Run(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                output[i] = residual[i] + (mask[i] * output[i]);
            }
        }
    }

    private readonly struct MultiplyRanges(float* destination, float* source, float* mask) : IWorkRanges
    {
        public void Run(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                destination[i] = mask[i] * source[i];
            }
        }
    }
}
