using System.Runtime.InteropServices;

namespace Xent.Distributed.Vocabulary;

/// <summary>The sizes of one rank's vocabulary-parallel linear head, checked: N tokens, D hidden, its slice of V.</summary>
internal readonly record struct LinearShardShape(int N, int D, VocabularySlice Slice)
{
    public static LinearShardShape Check(int hiddenLength, int weightLength, int biasLength, int n, VocabularySlice slice, LinearCrossEntropyOptions o)
    {
        int d;
        if (n > 0)
        {
            if (hiddenLength == 0 || hiddenLength % n != 0)
            {
                throw new ArgumentException($"The hidden states' length {hiddenLength} is not a positive multiple of N = {n} (hidden is [N, D]).", "hidden");
            }

            d = hiddenLength / n;
        }
        else if (hiddenLength != 0)
        {
            throw new ArgumentException($"There are no targets but {hiddenLength} hidden values; with N = 0 the hidden states must be empty.", "hidden");
        }
        else
        {
            d = slice.Width > 0 ? weightLength / slice.Width : 0;
        }

        if ((long)slice.Width * d != weightLength)
        {
            throw new ArgumentException(
                $"weightShard has {weightLength} values but this rank holds V_r x D = {slice.Width} x {d} (classes [{slice.Offset}, {slice.Offset + slice.Width}) of {slice.Classes}).",
                "weightShard");
        }

        if (biasLength != 0 && biasLength != slice.Width)
        {
            throw new ArgumentException($"biasShard has {biasLength} entries but this rank holds V_r = {slice.Width} classes.", "biasShard");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(o.CacheBytes, "options.CacheBytes");
        if (!(o.FilterThreshold >= 0) || float.IsPositiveInfinity(o.FilterThreshold))
        {
            throw new ArgumentOutOfRangeException("options", o.FilterThreshold, "FilterThreshold must be a finite value >= 0 (0 = exact).");
        }

        return new LinearShardShape(n, d, slice);
    }

    // The destinations' sizes, checked; returns dW_r [V_r, D] as a span (a shard never needs 2^31 floats).
    public Span<float> CheckGradients(LinearCrossEntropyGradients gradients)
    {
        Exact(gradients.Hidden.Length, (long)N * D, "gradients.Hidden");
        Exact(gradients.WeightLength, (long)Slice.Width * D, "gradients.Weight");
        if (!gradients.Bias.IsEmpty)
        {
            Exact(gradients.Bias.Length, Slice.Width, "gradients.Bias");
        }

        return gradients.WeightLength == 0 ? default : MemoryMarshal.CreateSpan(ref gradients.Weight, (int)gradients.WeightLength);
    }

    public void CheckOptional(int length, string name)
    {
        if (length != 0)
        {
            Exact(length, N, name);
        }
    }

    private static void Exact(long length, long needed, string name)
    {
        if (length != needed)
        {
            throw new ArgumentException($"{name} has {length} entries but {needed} are needed.", name);
        }
    }
}
