using System.Runtime.CompilerServices;
using Xent.Kernels;

namespace Xent.Training.Model;

/// <summary>
/// Inverted dropout as GPT-2 uses it on the embedding output and on each residual branch (the attention and MLP
/// projections): each element is kept with probability 1 - p and then scaled by 1 / (1 - p), so the expected value
/// is unchanged and evaluation needs no rescaling. Whether an element is kept is a pure function of (seed, step,
/// site, element index), a counter-based hash rather than a generator's sequence: the same step draws the same mask
/// for any thread count, and a resumed run draws the masks the uninterrupted one would have.
/// </summary>
internal static class Dropout
{
    /// <summary>The site of the embedding output.</summary>
    public const int EmbeddingSite = 0;

    /// <summary>The site of block l's attention projection output.</summary>
    public static int AttentionSite(int layer) => 1 + (2 * layer);

    /// <summary>The site of block l's MLP projection output.</summary>
    public static int MlpSite(int layer) => 2 + (2 * layer);

    /// <summary>
    /// mask [count] (its first count elements) = 1 / (1 - p) where the element is kept, 0 where it is dropped, for one (seed, step, site).
    /// Element i is element first + i of the step's whole batch, dropped when the top 24 bits of that index's hash, as
    /// a fraction of 2^24, are below p.
    /// </summary>
    public static void FillMask(float[] mask, int count, float p, long seed, long step, int site, int maxDegreeOfParallelism, long first = 0)
    {
        if (!(p >= 0 && p < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "The dropout probability must be in [0, 1).");
        }

        ulong key = Mix(Mix(Mix(unchecked((ulong)seed)) ^ unchecked((ulong)step)) ^ unchecked((ulong)site * 0x9E3779B97F4A7C15UL));
        ulong threshold = (ulong)Math.Round(p * (1 << 24));
        float scale = 1 / (1 - p);
        ParallelWork.ForRanges(count, ParallelWork.Grain(count, 1024), maxDegreeOfParallelism, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                mask[i] = (Mix(key + (unchecked((ulong)(first + i)) * 0xD1B54A32D192ED03UL)) >> 40) >= threshold ? scale : 0f;
            }
        });
    }

    /// <summary>output [count] = residual + mask * output, in place: a residual branch's output dropped and added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddMasked(float[] output, float[] residual, float[] mask, int count, int maxDegreeOfParallelism)
    {
        ParallelWork.ForRanges(count, ParallelWork.Grain(count, 1024), maxDegreeOfParallelism, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                output[i] = residual[i] + (mask[i] * output[i]);
            }
        });
    }

    /// <summary>destination [count] = mask * source (forward in place on the embedding, or a gradient backward).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(float[] destination, float[] source, float[] mask, int count, int maxDegreeOfParallelism)
    {
        ParallelWork.ForRanges(count, ParallelWork.Grain(count, 1024), maxDegreeOfParallelism, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                destination[i] = mask[i] * source[i];
            }
        });
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
}

/// <summary>The masks of one <see cref="GptModel.ForwardBackward"/> [B*T, D] each, reused across steps.</summary>
internal sealed class DropoutMasks
{
    public DropoutMasks(int rows, int dim, int layers)
    {
        Rows = rows;
        Embedding = new float[rows * dim];
        Attention = new float[layers][];
        Mlp = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            Attention[l] = new float[rows * dim];
            Mlp[l] = new float[rows * dim];
        }
    }

    /// <summary>Most rows B*T the masks hold.</summary>
    public int Rows { get; }

    /// <summary>Mask of the embedding output.</summary>
    public float[] Embedding { get; }

    /// <summary>Mask of each block's attention projection output.</summary>
    public float[][] Attention { get; }

    /// <summary>Mask of each block's MLP projection output.</summary>
    public float[][] Mlp { get; }

    /// <summary>Draws every mask of a step for <paramref name="count"/> = B*T*D elements from element <paramref name="first"/> of the step's whole batch on.</summary>
    public void Fill(float p, long seed, long step, int count, long first, int maxDegreeOfParallelism)
    {
        Dropout.FillMask(Embedding, count, p, seed, step, Dropout.EmbeddingSite, maxDegreeOfParallelism, first);
        for (int l = 0; l < Attention.Length; l++)
        {
            Dropout.FillMask(Attention[l], count, p, seed, step, Dropout.AttentionSite(l), maxDegreeOfParallelism, first);
            Dropout.FillMask(Mlp[l], count, p, seed, step, Dropout.MlpSite(l), maxDegreeOfParallelism, first);
        }
    }
}
