using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Xent.Distributed.Vocabulary;

/// <summary>
/// What every rank of a vocabulary-parallel call must pass alike, the targets aside (they travel row by row): V, N,
/// D, which call, the loss options, the upstream gradient and the hidden states. A rank passing another value
/// computed another loss without a word. Their 53-bit hash travels as h and -h in an all-reduce Max of its own, so
/// every rank learns the largest and the smallest hash, equal only when all ranks agree. It goes first, of a length
/// that is the same on every rank: the row states' collectives have N's length, and under MPI collectives of
/// different lengths are erroneous (a truncation error or a hang), so a different N must be refused before them.
/// N travels beside it exactly, as N and -N, so that no hash collision lets a different N through to them. The
/// Reduction travels beside the hash as r and -r (48 bytes in all), and a call that reads none (LossPerRow,
/// MergedStates) passes -inf twice: forward calls make the same collectives of the same merged states, each rank
/// reading from them what it asked for, so Loss beside LossPerRow is no disagreement; Mean beside Sum is one.
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
        "VocabParallelCrossEntropy without gradients (Loss, LossPerRow, MergedStates)",
        "VocabParallelCrossEntropy with gradients (LossAndGradient, Gradient)",
        "VocabParallelLinearCrossEntropy without gradients (Loss, LossPerRow)",
        "VocabParallelLinearCrossEntropy with gradients (LossAndGradients, Gradients)",
        "VocabParallelLinearCrossEntropy.PartialGradients",
    ];

    private readonly long[] fields = new long[(int)Field.Count];

    private readonly Reduction? reduction;

    private CallFingerprint(VocabularyCall call, int classes, int rows, int hiddenSize, CrossEntropyOptions o, Reduction? reduction)
    {
        this.reduction = reduction;
        fields[(int)Field.Classes] = classes;
        fields[(int)Field.Rows] = rows;
        fields[(int)Field.HiddenSize] = hiddenSize;
        fields[(int)Field.Call] = (int)call;
        fields[(int)Field.IgnoreIndex] = o.IgnoreIndex;
        fields[(int)Field.LabelSmoothing] = Scalar(o.LabelSmoothing);
        fields[(int)Field.ZLoss] = Scalar(o.ZLoss);
        fields[(int)Field.SoftCap] = Scalar(o.SoftCap);
        fields[(int)Field.ClassWeights] = NoWeights(o.ClassWeights.Span) ? 0 : Hash(o.ClassWeights.Span);
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

    /// <summary>The fingerprint of a call; <paramref name="reduction"/> the reduction it applies, null when it reads none.</summary>
    public static CallFingerprint Of(VocabularyCall call, int classes, int rows, int hiddenSize, CrossEntropyOptions o, Reduction? reduction) =>
        new(call, classes, rows, hiddenSize, o, reduction);

    /// <summary>Adds the upstream gradient of a reduced loss.</summary>
    public CallFingerprint WithUpstream(float upstream)
    {
        fields[(int)Field.Upstream] = (long)SignlessZeros(BitConverter.SingleToUInt32Bits(upstream));
        return this;
    }

    /// <summary>Adds per-row upstream gradients [N].</summary>
    public CallFingerprint WithUpstream(ReadOnlySpan<float> upstream)
    {
        fields[(int)Field.Upstream] = Hash(upstream, signlessZeros: true);
        return this;
    }

    /// <summary>Adds the hidden states [N, D] of the linear head.</summary>
    public CallFingerprint WithHidden(ReadOnlySpan<float> hidden)
    {
        fields[(int)Field.Hidden] = Hash(hidden, signlessZeros: true);
        return this;
    }

    /// <summary>
    /// Returns when every rank passed the same arguments, else throws on every rank naming the first that differs:
    /// one all-reduce Max of 6 doubles, and one more of the fields only when they differ (every rank sees the same
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
        var reduced = new double[6];
        Extremes(fingerprint, reduced);
        Extremes(ReductionValue, reduced.AsSpan(2));
        Extremes(fields[(int)Field.Rows], reduced.AsSpan(4));
        communicator.AllReduce<double>(reduced, ReduceOperation.Max);
        if (Agrees(reduced) && Agrees(reduced.AsSpan(2)) && Agrees(reduced.AsSpan(4)))
        {
            return;
        }

        int count = (int)Field.Count;
        var extremes = new double[2 * count];
        for (int f = 0; f < count; f++)
        {
            // Every field is below 2^53 in magnitude: exact in a double.
            Extremes(f == (int)Field.Reduction ? ReductionValue : fields[f], extremes.AsSpan(2 * f));
        }

        communicator.AllReduce<double>(extremes, ReduceOperation.Max);
        for (int f = 0; f < count; f++)
        {
            if (!Agrees(extremes.AsSpan(2 * f)))
            {
                long largest = (long)extremes[2 * f], smallest = (long)-extremes[(2 * f) + 1];
                var (what, parameter) = Describe((Field)f, smallest, largest);
                throw new ArgumentException(
                    $"The ranks passed different {what}: every rank must pass the same V, N, D, options, upstream gradient, hidden states and targets, and make the same call.",
                    parameter);
            }
        }

        throw new ArgumentException("The ranks' arguments differ: every rank must pass the same V, N, D, options, upstream gradient, hidden states and targets, and make the same call.");
    }

    // -0 switches a term off as +0 does (the options are checked as numbers, never by their bits), so the sign of a
    // zero is no disagreement.
    private static long Scalar(float value) => (long)SignlessZeros(BitConverter.SingleToUInt32Bits(value));

    private double? ReductionValue => reduction is { } r ? (int)r : null;

    // Empty weights mean 1 for every class, so all ones beside none is no disagreement: the weights read by what every
    // rank shares (w[y], sum_c w[c], the kept rows' weight) are the same exact values, and the merged states are summed.
    private static bool NoWeights(ReadOnlySpan<float> weights) => weights.IndexOfAnyExcept(1f) < 0;

    // v and -v, whose maxima over the ranks are the largest and minus the smallest v; a rank with no v (null) adds
    // -inf twice, which leaves both as the other ranks make them.
    private static void Extremes(double? v, Span<double> destination)
    {
        destination[0] = v ?? double.NegativeInfinity;
        destination[1] = v is { } x ? -x : double.NegativeInfinity;
    }

    // After the all-reduce Max of Extremes: every rank that had a value had the same (or none had one).
    private static bool Agrees(ReadOnlySpan<double> extremes) => extremes[0] == -extremes[1] || double.IsNegativeInfinity(extremes[0]);

    // A 64-bit hash of the values' bits, order-sensitive; 53 bits of it are kept. With signlessZeros -0 hashes as +0:
    // a hidden state or an upstream gradient of either sign gives every rank the same loss, probabilities and dh
    // (only an exact 0 of the rank's own dW_r may take its sign). Not for class weights: w[y] = -0 makes a row's loss -0.
    private static long Hash(ReadOnlySpan<float> values, bool signlessZeros = false)
    {
        ulong h = Mix(Seed, (ulong)values.Length);
        foreach (ulong pair in MemoryMarshal.Cast<float, ulong>(values))
        {
            h = Mix(h, signlessZeros ? SignlessZeros(pair) : pair);
        }

        if ((values.Length & 1) != 0)
        {
            uint last = BitConverter.SingleToUInt32Bits(values[^1]);
            h = Mix(h, signlessZeros ? SignlessZeros(last) : last);
        }

        return Finish(h);
    }

    // Both floats of a pair with -0 (only the sign bit set) made +0.
    private static ulong SignlessZeros(ulong pair)
    {
        ulong low = (pair & 0x7FFFFFFFUL) == 0 ? 0x80000000UL : 0, high = (pair & 0x7FFFFFFF_00000000UL) == 0 ? 0x80000000_00000000UL : 0;
        return pair & ~(low | high);
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
        static string ReductionName(long v) => (Reduction)v == Reduction.None ? "None (per-row upstream gradients: Gradient, Gradients)" : ((Reduction)v).ToString();
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
