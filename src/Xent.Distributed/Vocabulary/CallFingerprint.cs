using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Xent.Distributed.Vocabulary;

/// <summary>
/// What every rank of a vocabulary-parallel call must pass alike, the targets aside (they travel row by row): V, N,
/// D, which call, the loss options, the upstream gradient and the hidden states. A rank passing another value
/// computed another loss without a word. Their 53-bit hash travels as h and -h in an all-reduce Max of its own (16
/// bytes), so every rank learns the largest and the smallest hash, equal only when all ranks agree. It goes first, of
/// a length that is the same on every rank: the row states' collectives have N's length, and under MPI collectives of
/// different lengths are erroneous (a truncation error or a hang), so a different N must be refused before them.
/// Only when they differ, one more all-reduce Max of the fields themselves (each as v and -v) names the first field
/// that differs, with the same message on every rank. MaxDegreeOfParallelism is left out (results do not depend on
/// it), and so are the linear options that touch only the rank's own buffers or nothing (Accumulate, CacheBytes,
/// FilterThreshold).
/// </summary>
internal sealed class CallFingerprint
{
    private const ulong Seed = 0x58656E74_56504345; // "XentVPCE"

    private static readonly string[] CallNames =
    [
        "VocabParallelCrossEntropy",
        "VocabParallelLinearCrossEntropy without gradients (Loss, LossPerRow)",
        "VocabParallelLinearCrossEntropy with gradients (LossAndGradients, Gradients)",
        "VocabParallelLinearCrossEntropy.PartialGradients",
    ];

    private readonly long[] fields = new long[(int)Field.Count];

    private CallFingerprint(VocabularyCall call, int classes, int rows, int hiddenSize, CrossEntropyOptions o, bool reduced)
    {
        fields[(int)Field.Classes] = classes;
        fields[(int)Field.Rows] = rows;
        fields[(int)Field.HiddenSize] = hiddenSize;
        fields[(int)Field.Call] = (int)call;
        fields[(int)Field.Reduction] = reduced ? (int)o.Reduction : -1;
        fields[(int)Field.IgnoreIndex] = o.IgnoreIndex;
        fields[(int)Field.LabelSmoothing] = BitConverter.SingleToUInt32Bits(o.LabelSmoothing);
        fields[(int)Field.ZLoss] = BitConverter.SingleToUInt32Bits(o.ZLoss);
        fields[(int)Field.SoftCap] = BitConverter.SingleToUInt32Bits(o.SoftCap);
        fields[(int)Field.ClassWeights] = o.ClassWeights.IsEmpty ? 0 : Hash(o.ClassWeights.Span);
    }

    // Fields in the order the message looks for the first that differs.
    private enum Field
    {
        Classes,
        Rows,
        HiddenSize,
        Call,
        Reduction,
        IgnoreIndex,
        LabelSmoothing,
        ZLoss,
        SoftCap,
        ClassWeights,
        Upstream,
        Hidden,
        Count,
    }

    /// <summary>The fingerprint of a call; <paramref name="reduced"/> when the call uses the options' Reduction.</summary>
    public static CallFingerprint Of(VocabularyCall call, int classes, int rows, int hiddenSize, CrossEntropyOptions o, bool reduced) =>
        new(call, classes, rows, hiddenSize, o, reduced);

    /// <summary>Adds the upstream gradient of a reduced loss.</summary>
    public CallFingerprint WithUpstream(float upstream)
    {
        fields[(int)Field.Upstream] = BitConverter.SingleToUInt32Bits(upstream);
        return this;
    }

    /// <summary>Adds per-row upstream gradients [N].</summary>
    public CallFingerprint WithUpstream(ReadOnlySpan<float> upstream)
    {
        fields[(int)Field.Upstream] = Hash(upstream);
        return this;
    }

    /// <summary>Adds the hidden states [N, D] of the linear head.</summary>
    public CallFingerprint WithHidden(ReadOnlySpan<float> hidden)
    {
        fields[(int)Field.Hidden] = Hash(hidden);
        return this;
    }

    /// <summary>
    /// Returns when every rank passed the same arguments, else throws on every rank naming the first that differs:
    /// one all-reduce Max of 2 doubles, and one more of the fields only when they differ (every rank sees the same
    /// verdict, so all make it).
    /// </summary>
    public void Agree(ICommunicator communicator)
    {
        ulong h = Seed;
        foreach (long v in fields)
        {
            h = Mix(h, (ulong)v);
        }

        double fingerprint = Finish(h);
        var reduced = new[] { fingerprint, -fingerprint };
        communicator.AllReduce<double>(reduced, ReduceOperation.Max);
        if (reduced[0] == -reduced[1])
        {
            return;
        }

        int count = (int)Field.Count;
        var extremes = new double[2 * count];
        for (int f = 0; f < count; f++)
        {
            // Every field is below 2^53 in magnitude: exact in a double.
            extremes[2 * f] = fields[f];
            extremes[(2 * f) + 1] = -fields[f];
        }

        communicator.AllReduce<double>(extremes, ReduceOperation.Max);
        for (int f = 0; f < count; f++)
        {
            long largest = (long)extremes[2 * f], smallest = (long)-extremes[(2 * f) + 1];
            if (largest != smallest)
            {
                var (what, parameter) = Describe((Field)f, smallest, largest);
                throw new ArgumentException(
                    $"The ranks passed different {what}: every rank must pass the same V, N, D, options, upstream gradient, hidden states and targets, and make the same call.",
                    parameter);
            }
        }

        throw new ArgumentException("The ranks' arguments differ: every rank must pass the same V, N, D, options, upstream gradient, hidden states and targets, and make the same call.");
    }

    // A 64-bit hash of the values' bits, order-sensitive; 53 bits of it are kept.
    private static long Hash(ReadOnlySpan<float> values)
    {
        ulong h = Mix(Seed, (ulong)values.Length);
        foreach (ulong pair in MemoryMarshal.Cast<float, ulong>(values))
        {
            h = Mix(h, pair);
        }

        if ((values.Length & 1) != 0)
        {
            h = Mix(h, BitConverter.SingleToUInt32Bits(values[^1]));
        }

        return Finish(h);
    }

    // Each step is a bijection of h, so one differing word always changes the hash; the rotation brings the
    // product's high bits down into the low ones.
    private static ulong Mix(ulong h, ulong word) => BitOperations.RotateLeft((h ^ word) * 0x9E3779B97F4A7C15UL, 31);

    // MurmurHash3's finaliser, then the top 53 bits.
    private static long Finish(ulong h)
    {
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        return (long)(h >> 11);
    }

    private static (string What, string? Parameter) Describe(Field field, long smallest, long largest)
    {
        string Pair(Func<long, string> name) => $" (one rank {name(smallest)}, another {name(largest)})";
        static string Number(long v) => v.ToString(CultureInfo.InvariantCulture);
        static string Single(long v) => BitConverter.UInt32BitsToSingle((uint)v).ToString(CultureInfo.InvariantCulture);
        static string ReductionName(long v) => v < 0 ? "none (LossPerRow or Gradient)" : ((Reduction)v).ToString();
        return field switch
        {
            Field.Classes => ("class counts V" + Pair(Number), "classes"),
            Field.Rows => ("row counts N" + Pair(Number), "targets"),
            Field.HiddenSize => ("hidden sizes D" + Pair(Number), "hidden"),
            Field.Call => ("calls" + Pair(v => CallNames[v]), null),
            Field.Reduction => ("options.Reduction" + Pair(ReductionName), "options"),
            Field.IgnoreIndex => ("options.IgnoreIndex" + Pair(Number), "options"),
            Field.LabelSmoothing => ("options.LabelSmoothing" + Pair(Single), "options"),
            Field.ZLoss => ("options.ZLoss" + Pair(Single), "options"),
            Field.SoftCap => ("options.SoftCap" + Pair(Single), "options"),
            Field.ClassWeights => ("options.ClassWeights", "options"),
            Field.Upstream => ("upstream gradients", "upstream"),
            _ => ("hidden states", "hidden"),
        };
    }
}
