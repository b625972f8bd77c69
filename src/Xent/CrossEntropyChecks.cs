using System.Numerics;

namespace Xent;

/// <summary>
/// Argument checks shared by every entry point, so that bad input throws the same exception, with the same text,
/// before any output is written.
/// </summary>
internal static class CrossEntropyChecks
{
    /// <summary>Returns V for logits [N, V] and targets [N], or throws when the lengths do not divide.</summary>
    public static int VocabularySize(long logitsLength, int rows, string logitsName = "logits")
    {
        if (rows == 0)
        {
            if (logitsLength != 0)
            {
                throw new ArgumentException($"There are no targets but {logitsLength} logits; with N = 0 rows the logits must be empty.", logitsName);
            }

            return 0;
        }

        if (logitsLength % rows != 0 || logitsLength == 0)
        {
            throw new ArgumentException($"The logits' length {logitsLength} is not a positive multiple of the row count N = {rows} (logits are [N, V] with V >= 1).", logitsName);
        }

        long v = logitsLength / rows;
        if (v > int.MaxValue)
        {
            throw new ArgumentException($"V = {v} classes exceeds int.MaxValue.", logitsName);
        }

        return (int)v;
    }

    /// <summary>Validates the options against V classes.</summary>
    public static void Options(CrossEntropyOptions options, int classes)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.LabelSmoothing >= 0f && options.LabelSmoothing <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.LabelSmoothing, "LabelSmoothing must be in [0, 1].");
        }

        if (!(options.ZLoss >= 0f) || float.IsPositiveInfinity(options.ZLoss))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ZLoss, "ZLoss must be a finite value >= 0.");
        }

        if (!(options.SoftCap >= 0f) || float.IsPositiveInfinity(options.SoftCap))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.SoftCap, "SoftCap must be a finite value >= 0 (0 = off).");
        }

        if (options.Reduction is not (Reduction.None or Reduction.Mean or Reduction.Sum))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Reduction, "Reduction must be None, Mean or Sum.");
        }

        // With N = 0 rows of class-index targets V is unknown (0 here), and no weight is ever read.
        if (!options.ClassWeights.IsEmpty && classes > 0 && options.ClassWeights.Length != classes)
        {
            throw new ArgumentException($"ClassWeights has {options.ClassWeights.Length} entries but there are V = {classes} classes.", nameof(options));
        }

        if (options.MaxDegreeOfParallelism == 0 || options.MaxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxDegreeOfParallelism, "MaxDegreeOfParallelism must be -1 (all cores) or positive.");
        }
    }

    /// <summary>Throws for the first target that is neither the ignore index nor in [0, V).</summary>
    public static void Targets(ReadOnlySpan<int> targets, int classes, int ignoreIndex, string targetsName = "targets")
    {
        // A vector of targets at a time until one is bad, then row by row from there for the first: the check runs before
        // the call's first parallel region, and row by row it was long enough at 262144 rows for the pool's worker to fall asleep.
        var limit = new Vector<uint>((uint)classes);
        var index = new Vector<int>(ignoreIndex);
        int start = 0;
        for (; start <= targets.Length - Vector<int>.Count; start += Vector<int>.Count)
        {
            var y = new Vector<int>(targets.Slice(start, Vector<int>.Count));
            if (!Vector.EqualsAll(Vector.AndNot(Vector.AsVectorInt32(Vector.GreaterThanOrEqual(Vector.AsVectorUInt32(y), limit)), Vector.Equals(y, index)), Vector<int>.Zero))
            {
                break;
            }
        }

        for (int n = start; n < targets.Length; n++)
        {
            int y = targets[n];
            if (y != ignoreIndex && (uint)y >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(targetsName, y, $"Target of row {n} is {y}, outside [0, {classes}) and not the ignore index {ignoreIndex}.");
            }
        }
    }

    /// <summary>Throws when a destination is shorter than needed.</summary>
    public static void Destination(long length, long needed, string name)
    {
        if (length < needed)
        {
            throw new ArgumentException($"Destination is too short: {length} elements, {needed} needed.", name);
        }
    }

    /// <summary>
    /// Throws when the gradient partly overlaps the logits: in place means the very same memory, element for
    /// element; anything in between would read logits already overwritten. Logits and gradient of different element
    /// sizes cannot share memory at all.
    /// </summary>
    public static unsafe void InPlaceOrDisjoint(void* logits, void* gradient, long length, int elementSize, int gradientElementSize = 0)
    {
        gradientElementSize = gradientElementSize == 0 ? elementSize : gradientElementSize;
        if ((logits == gradient && elementSize == gradientElementSize) || length == 0)
        {
            return;
        }

        byte* x = (byte*)logits, g = (byte*)gradient;
        long bytes = length * elementSize, gradientBytes = length * gradientElementSize;
        if (g < x + bytes && x < g + gradientBytes)
        {
            throw new ArgumentException("The gradient overlaps the logits without being exactly their memory: pass the logits' own memory (in place) or a separate buffer.", "gradient");
        }
    }

    /// <summary>
    /// Throws when an output overlaps another output or an input other than the one it may replace in place (the
    /// gradient over its logits, <see cref="InPlaceOrDisjoint"/>): the call would read what it has already written
    /// (lse over the logits of a later row, dL/dlse inside the gradient), or one output would overwrite another.
    /// </summary>
    public static unsafe void Disjoint(void* output, long outputBytes, string outputName, void* other, long otherBytes, string otherName)
    {
        byte* a = (byte*)output, b = (byte*)other;
        if (outputBytes > 0 && otherBytes > 0 && a < b + otherBytes && b < a + outputBytes)
        {
            throw new ArgumentException($"{outputName} overlaps {otherName}: pass memory of its own.", outputName);
        }
    }

    /// <summary>
    /// <see cref="Disjoint(void*, long, string, void*, long, string)"/> for every output against every input and every
    /// later output: the check of a call with many operands (the fused head, distillation).
    /// </summary>
    public static unsafe void Disjoint(ReadOnlySpan<Region> outputs, ReadOnlySpan<Region> inputs)
    {
        for (int i = 0; i < outputs.Length; i++)
        {
            var o = outputs[i];
            foreach (var input in inputs)
            {
                Disjoint(o.Start, o.Bytes, o.Name, input.Start, input.Bytes, input.Name);
            }

            for (int k = i + 1; k < outputs.Length; k++)
            {
                Disjoint(o.Start, o.Bytes, o.Name, outputs[k].Start, outputs[k].Bytes, outputs[k].Name);
            }
        }
    }
}

/// <summary>One input or output of a call: where it starts, how many bytes the call reads or writes there, its parameter name.</summary>
internal readonly unsafe struct Region(void* start, long bytes, string name)
{
    public void* Start { get; } = start;

    public long Bytes { get; } = bytes;

    public string Name { get; } = name;
}
