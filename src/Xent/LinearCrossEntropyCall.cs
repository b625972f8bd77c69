using System.Runtime.CompilerServices;
using Xent.Fused;

namespace Xent;

/// <summary>
/// Validates a <see cref="LinearCrossEntropy"/> call completely (so that nothing is written on bad input), maps it
/// onto one <see cref="FusedProblem"/> and runs the fused kernel. Shared by the span and pointer overloads: the
/// weight arrives as an address and a 64-bit length.
/// </summary>
internal static unsafe class LinearCrossEntropyCall
{
    // The loss options converted for the entry points that take them (ForwardOptions), each kept as long as the caller
    // keeps its options and no longer (their class weights may be large).
    private static readonly ConditionalWeakTable<CrossEntropyOptions, LinearCrossEntropyOptions> Converted = new();
    private static readonly ConditionalWeakTable<CrossEntropyOptions, LinearCrossEntropyOptions>.CreateValueCallback ConvertOptions =
        LinearCrossEntropyOptions.FromCrossEntropyOptions;

    /// <summary>
    /// <paramref name="options"/> as the call's options (every other option at its default), converted once per
    /// options object: the implicit conversion made new options a call (40 bytes of garbage).
    /// </summary>
    public static LinearCrossEntropyOptions? ForwardOptions(CrossEntropyOptions? options) =>
        options is null ? null : Converted.GetValue(options, ConvertOptions);

    /// <summary>Runs one call; returns the reduced loss (for the per-row kinds, a value nobody reads).</summary>
    /// <param name="hidden">h [N, D].</param>
    /// <param name="weight">W [V, D] at an address.</param>
    /// <param name="weightLength">Floats at <paramref name="weight"/>.</param>
    /// <param name="hiddenSize">D, or -1 for D = hidden.Length / N (span overloads).</param>
    /// <param name="bias">b [V], or empty.</param>
    /// <param name="targets">y [N].</param>
    /// <param name="kind">Which entry point: what is required, written, and how the loss is reduced.</param>
    /// <param name="options">Options; for the forward kinds only <see cref="LinearCrossEntropyOptions.CrossEntropy"/> is read.</param>
    /// <param name="gradients">Gradient destinations (gradient kinds).</param>
    /// <param name="upstream">g of a reduced loss (<see cref="CallKind.LossAndGradient"/>).</param>
    /// <param name="rowUpstream">g [N] (<see cref="CallKind.Backward"/>).</param>
    /// <param name="losses">r [N], required for <see cref="CallKind.PerRow"/>, else optional.</param>
    /// <param name="logSumExp">lse [N], or empty.</param>
    /// <param name="logSumExpUpstream">The caller's dL/dlse [N] (gradient kinds), or empty.</param>
    /// <param name="entropy">Destination of each row's softmax entropy [N], or empty.</param>
    /// <param name="entropyUpstream">The caller's dL/dH [N] of the entropy (gradient kinds), or empty.</param>
    public static double Run(ReadOnlySpan<float> hidden, float* weight, long weightLength, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, CallKind kind, LinearCrossEntropyOptions? options, scoped in LinearCrossEntropyGradients gradients,
        float upstream, ReadOnlySpan<float> rowUpstream, Span<float> losses, Span<float> logSumExp, ReadOnlySpan<float> logSumExpUpstream = default,
        Span<float> entropy = default, ReadOnlySpan<float> entropyUpstream = default) =>
        Run(new LinearOperands(hidden, weight, weightLength, hiddenSize), bias, targets, kind, options, gradients, upstream, rowUpstream, losses,
            logSumExp, logSumExpUpstream, entropy, entropyUpstream, out _);

    /// <summary>
    /// As the other overload, for h and W of either element type (<paramref name="x"/>); <paramref name="parts"/> are
    /// the cross-entropy and z-loss parts of the returned loss.
    /// </summary>
    public static double Run(scoped in LinearOperands x, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, CallKind kind, LinearCrossEntropyOptions? options, scoped in LinearCrossEntropyGradients gradients,
        float upstream, ReadOnlySpan<float> rowUpstream, Span<float> losses, Span<float> logSumExp, ReadOnlySpan<float> logSumExpUpstream,
        Span<float> entropy, ReadOnlySpan<float> entropyUpstream, out LossParts parts, string lossesName = "losses")
    {
        parts = default;
        var o = options ?? LinearCrossEntropyOptions.Default;
        var ce = o.CrossEntropy ?? throw new ArgumentException("CrossEntropy options must not be null.", nameof(options));
        bool reduce = kind is CallKind.Loss or CallKind.LossAndGradient;
        if (reduce && ce.Reduction == Reduction.None)
        {
            string instead = kind == CallKind.Loss ? "LossPerRow" : "Gradients with per-row upstream gradients";
            throw new ArgumentException($"Reduction.None has no single loss: call {instead}.", nameof(options));
        }

        bool backward = kind is CallKind.LossAndGradient or CallKind.Backward;
        int n = targets.Length;
        int d = Dimension(x.HiddenLength, n, x.HiddenSize);
        int v = d == 0 ? EmptyBatchClasses(bias, ce, gradients) : Classes(x.WeightLength, d);
        Check(v, n, bias, ce, o);
        CrossEntropyChecks.Targets(targets, v, ce.IgnoreIndex);
        if (backward)
        {
            CrossEntropyChecks.Destination(gradients.Hidden.Length, (long)n * d, "dHidden");
            if (d > 0)
            {
                CrossEntropyChecks.Destination(gradients.WeightLength, (long)v * d, "dWeight");
            }

            OptionalDestination(gradients.Bias.Length, v, "dBias");
        }

        if (kind == CallKind.Backward && rowUpstream.Length != n)
        {
            throw new ArgumentException($"upstream has {rowUpstream.Length} entries but there are N = {n} rows.", "upstream");
        }

        if (kind == CallKind.PerRow)
        {
            CrossEntropyChecks.Destination(losses.Length, n, lossesName);
        }

        if (!logSumExpUpstream.IsEmpty && (!backward || logSumExpUpstream.Length != n))
        {
            throw new ArgumentException(backward
                ? $"logSumExpGradient has {logSumExpUpstream.Length} entries but there are N = {n} rows."
                : "logSumExpGradient is only read by the gradient entry points.", "logSumExpGradient");
        }

        if (!entropyUpstream.IsEmpty && (!backward || entropyUpstream.Length != n || o.FilterThreshold > 0))
        {
            throw new ArgumentException(!backward ? "entropyGradient is only read by the gradient entry points."
                : o.FilterThreshold > 0 ? "entropyGradient needs the exact backward (FilterThreshold 0)."
                : $"entropyGradient has {entropyUpstream.Length} entries but there are N = {n} rows.", "entropyGradient");
        }

        OptionalDestination(losses.Length, n, lossesName);
        OptionalDestination(logSumExp.Length, n, nameof(logSumExp));
        OptionalDestination(entropy.Length, n, nameof(entropy));
        NoOverlaps(x, n, d, v, bias, targets, ce, gradients, backward, kind == CallKind.Backward ? rowUpstream : [], losses, logSumExp, logSumExpUpstream,
            entropy, entropyUpstream, lossesName);
        if (d == 0)
        {
            double empty = EmptyBatch(gradients, ce, o, backward);
            parts = new LossParts((float)empty, (float)empty, ce.ZLoss > 0 ? (float)empty : 0f);
            return empty;
        }

        fixed (float* h = x.Hidden, b = bias, dh = gradients.Hidden, dw = &gradients.Weight, db = gradients.Bias, rl = losses, ls = logSumExp, ent = entropy)
        fixed (BFloat16* hb = x.HiddenBFloat16)
        fixed (int* y = targets)
        fixed (float* cw = ce.ClassWeights.Span, up = rowUpstream, lseUp = logSumExpUpstream, entUp = entropyUpstream)
        {
            var problem = new FusedProblem
            {
                Hidden = x.IsBFloat16 ? null : h,
                Weight = x.IsBFloat16 ? null : (float*)x.Weight,
                HiddenBFloat16 = x.IsBFloat16 ? hb : null,
                WeightBFloat16 = x.IsBFloat16 ? (BFloat16*)x.Weight : null,
                Bias = bias.IsEmpty ? null : b,
                Targets = y,
                N = n,
                D = d,
                V = v,
                IgnoreIndex = ce.IgnoreIndex,
                LabelSmoothing = ce.LabelSmoothing,
                ZLoss = ce.ZLoss,
                SoftCap = ce.SoftCap,
                ClassWeights = ce.ClassWeights.IsEmpty ? null : cw,
                // Per-row calls are the kernel's Reduction.None, whatever the options say (their Reduction is not used).
                Reduction = reduce ? ce.Reduction : Reduction.None,
                Upstream = upstream,
                RowUpstream = kind == CallKind.Backward ? up : null,
                LogSumExpUpstream = logSumExpUpstream.IsEmpty ? null : lseUp,
                FilterThreshold = o.FilterThreshold,
                CacheBytes = o.CacheBytes,
                Accumulate = o.Accumulate,
                MaxDegreeOfParallelism = ce.MaxDegreeOfParallelism,
                Backward = backward,
                DHidden = backward ? dh : null,
                DWeight = backward ? dw : null,
                DBias = backward && !gradients.Bias.IsEmpty ? db : null,
                RowLosses = losses.IsEmpty ? null : rl,
                LogSumExp = logSumExp.IsEmpty ? null : ls,
                Entropy = entropy.IsEmpty ? null : ent,
                EntropyUpstream = entropyUpstream.IsEmpty ? null : entUp,
            };
            return FusedKernel.Run(problem, out parts);
        }
    }

    private static int Dimension(long hiddenLength, int n, int hiddenSize)
    {
        if (n == 0)
        {
            if (hiddenLength != 0)
            {
                throw new ArgumentException($"There are no targets but {hiddenLength} hidden values; with N = 0 the hidden states must be empty.", "hidden");
            }

            return 0;
        }

        if (hiddenSize > 0)
        {
            if (hiddenLength != (long)n * hiddenSize)
            {
                throw new ArgumentException($"hidden has {hiddenLength} values but N x D = {n} x {hiddenSize}.", "hidden");
            }

            return hiddenSize;
        }

        if (hiddenLength % n != 0 || hiddenLength == 0)
        {
            throw new ArgumentException($"The hidden states' length {hiddenLength} is not a positive multiple of N = {n} (hidden is [N, D]).", "hidden");
        }

        return (int)(hiddenLength / n);
    }

    private static int Classes(long weightLength, int d)
    {
        if (weightLength % d != 0 || weightLength == 0)
        {
            throw new ArgumentException($"The weight's length {weightLength} is not a positive multiple of D = {d} (weight is [V, D]).", "weight");
        }

        long v = weightLength / d;
        if (v > int.MaxValue)
        {
            throw new ArgumentException($"V = {v} classes exceeds int.MaxValue.", "weight");
        }

        return (int)v;
    }

    // N = 0 leaves D, and so V, unknown: take V from whatever has it, so that the options can still be checked.
    private static int EmptyBatchClasses(ReadOnlySpan<float> bias, CrossEntropyOptions ce, scoped in LinearCrossEntropyGradients gradients) =>
        !bias.IsEmpty ? bias.Length : !ce.ClassWeights.IsEmpty ? ce.ClassWeights.Length : !gradients.Bias.IsEmpty ? gradients.Bias.Length : 1;

    private static void Check(int v, int n, ReadOnlySpan<float> bias, CrossEntropyOptions ce, LinearCrossEntropyOptions o)
    {
        CrossEntropyChecks.Options(ce, v);
        if (!bias.IsEmpty && bias.Length != v)
        {
            throw new ArgumentException($"bias has {bias.Length} entries but there are V = {v} classes.", nameof(bias));
        }

        // Named "options", the public parameter that carries them, as every other option's check does.
        if (o.CacheBytes < 0)
        {
            throw new ArgumentOutOfRangeException("options", o.CacheBytes, "CacheBytes must be >= 0.");
        }

        if (!(o.FilterThreshold >= 0) || float.IsPositiveInfinity(o.FilterThreshold))
        {
            throw new ArgumentOutOfRangeException("options", o.FilterThreshold, "FilterThreshold must be a finite value >= 0 (0 = exact).");
        }
    }

    /// <summary>
    /// Throws when an output overlaps an input or another output, as <see cref="CrossEntropy"/>'s calls do: the kernel
    /// reads h and W block by block after writing earlier blocks' dh and dW, so dh over h, dW over W, dBias over the
    /// bias, an output over the upstream gradients, or two outputs in the same memory gave wrong numbers silently.
    /// Extents are what the call reads and writes.
    /// </summary>
    private static void NoOverlaps(scoped in LinearOperands x, int n, int d, int v, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        CrossEntropyOptions ce, scoped in LinearCrossEntropyGradients gradients, bool backward, ReadOnlySpan<float> rowUpstream, Span<float> losses,
        Span<float> logSumExp, ReadOnlySpan<float> logSumExpUpstream, Span<float> entropy, ReadOnlySpan<float> entropyUpstream, string lossesName)
    {
        using var weights = ce.ClassWeights.Pin();
        fixed (float* h = x.Hidden, b = bias, dh = gradients.Hidden, dw = &gradients.Weight, db = gradients.Bias, rl = losses, ls = logSumExp, ent = entropy)
        fixed (BFloat16* hb = x.HiddenBFloat16)
        fixed (int* y = targets)
        fixed (float* up = rowUpstream, lseUp = logSumExpUpstream, entUp = entropyUpstream)
        {
            int element = x.IsBFloat16 ? sizeof(ushort) : sizeof(float);
            long rowBytes = (long)n * sizeof(float), weightElements = d == 0 ? x.WeightLength : (long)v * d;
            ReadOnlySpan<Region> inputs =
            [
                new(x.IsBFloat16 ? hb : h, x.HiddenLength * element, "hidden"),
                new(x.Weight, weightElements * element, "weight"),
                new(b, (long)bias.Length * sizeof(float), nameof(bias)),
                new(y, (long)n * sizeof(int), nameof(targets)),
                new((float*)weights.Pointer, (long)ce.ClassWeights.Length * sizeof(float), "options.ClassWeights"),
                new(up, (long)rowUpstream.Length * sizeof(float), "upstream"),
                new(lseUp, (long)logSumExpUpstream.Length * sizeof(float), "logSumExpGradient"),
                new(entUp, (long)entropyUpstream.Length * sizeof(float), "entropyGradient"),
            ];
            ReadOnlySpan<Region> outputs =
            [
                new(dh, backward ? (long)n * d * sizeof(float) : 0, "dHidden"),
                new(dw, backward ? (d == 0 ? gradients.WeightLength : (long)v * d) * sizeof(float) : 0, "dWeight"),
                new(db, backward ? (long)(d == 0 ? gradients.Bias.Length : Math.Min(v, gradients.Bias.Length)) * sizeof(float) : 0, "dBias"),
                new(rl, losses.IsEmpty ? 0 : rowBytes, lossesName),
                new(ls, logSumExp.IsEmpty ? 0 : rowBytes, nameof(logSumExp)),
                new(ent, entropy.IsEmpty ? 0 : rowBytes, nameof(entropy)),
            ];
            CrossEntropyChecks.Disjoint(outputs, inputs);
        }
    }

    private static void OptionalDestination(int length, long needed, string name)
    {
        if (length != 0)
        {
            CrossEntropyChecks.Destination(length, needed, name);
        }
    }

    // N = 0: nothing to compute, but overwritten gradients are zeroed.
    private static double EmptyBatch(scoped in LinearCrossEntropyGradients gradients, CrossEntropyOptions ce, LinearCrossEntropyOptions o, bool backward)
    {
        if (backward && !o.Accumulate)
        {
            fixed (float* dWeight = &gradients.Weight)
            {
                for (long i = 0; i < gradients.WeightLength; i += int.MaxValue)
                {
                    new Span<float>(dWeight + i, (int)Math.Min(int.MaxValue, gradients.WeightLength - i)).Clear();
                }
            }

            gradients.Bias.Clear();
        }

        return ce.Reduction == Reduction.Mean ? double.NaN : 0;
    }
}

/// <summary>
/// The h [N, D] and W [V, D] of one call, float or bfloat16 (both the same): h as a span, W at an address with its
/// length (V x D may exceed 2^31), D given or -1 for hidden.Length / N.
/// </summary>
internal readonly unsafe ref struct LinearOperands
{
    public LinearOperands(ReadOnlySpan<float> hidden, float* weight, long weightLength, int hiddenSize)
    {
        Hidden = hidden;
        Weight = weight;
        WeightLength = weightLength;
        HiddenSize = hiddenSize;
    }

    public LinearOperands(ReadOnlySpan<BFloat16> hidden, BFloat16* weight, long weightLength, int hiddenSize)
    {
        HiddenBFloat16 = hidden;
        Weight = weight;
        WeightLength = weightLength;
        HiddenSize = hiddenSize;
        IsBFloat16 = true;
    }

    public ReadOnlySpan<float> Hidden { get; }

    public ReadOnlySpan<BFloat16> HiddenBFloat16 { get; }

    public void* Weight { get; }

    public long WeightLength { get; }

    public int HiddenSize { get; }

    public bool IsBFloat16 { get; }

    public long HiddenLength => IsBFloat16 ? HiddenBFloat16.Length : Hidden.Length;
}
