using System.Runtime.CompilerServices;

namespace Xent.Layers;

/// <summary>
/// The argument checks of the layers' public entry points, done before anything is written: the loops read and
/// write through pointers without bounds checks, so every length is checked here.
/// </summary>
internal static class LayerChecks
{
    /// <summary>-1 (all cores) or a positive count, as <see cref="ParallelOptions"/> takes it.</summary>
    public static void Parallelism(int maxDegreeOfParallelism)
    {
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use -1 (all cores) or a positive count.");
        }
    }

    /// <summary>A source that must hold exactly <paramref name="expected"/> elements (its shape).</summary>
    public static void Exactly(int length, long expected, string name, string shape)
    {
        if (length != expected)
        {
            throw new ArgumentException($"{name} has {length} elements; its shape {shape} needs {expected}.", name);
        }
    }

    /// <summary>A destination that must hold at least <paramref name="expected"/> elements (only those are written).</summary>
    public static void AtLeast(int length, long expected, string name, string shape)
    {
        if (length < expected)
        {
            throw new ArgumentException($"{name} has {length} elements, too short for its shape {shape} of {expected}.", name);
        }
    }

    /// <summary>As <see cref="AtLeast(int, long, string, string)"/>, with a shape formatted only when it is too short.</summary>
    public static void AtLeast(int length, long expected, string name,
        [InterpolatedStringHandlerArgument(nameof(length), nameof(expected))] ref ShapeText shape)
    {
        if (length < expected)
        {
            AtLeast(length, expected, name, shape.ToStringAndClear());
        }
    }

    /// <summary>
    /// Returns N for a source of shape [N, <paramref name="dim"/>], or throws when its length is no multiple of dim
    /// or dim (the length of <paramref name="dimSource"/>, or derived from it) is 0.
    /// </summary>
    public static int Rows(int length, int dim, string name, string dimName, string dimSource)
    {
        if (dim <= 0)
        {
            throw new ArgumentException($"{dimName} = {dim} (from {dimSource}): the dimension must be at least 1.", dimSource);
        }

        if (length % dim != 0)
        {
            throw new ArgumentException($"{name} has {length} elements, not a multiple of {dimName} = {dim} (its shape is [N, {dimName}]).", name);
        }

        return length / dim;
    }

    /// <summary>One head's vector (a query or key [hs]), which must hold at least one element.</summary>
    public static void HeadSize(int length, string name)
    {
        if (length == 0)
        {
            throw new ArgumentException($"The {name} is empty: the head size hs must be at least 1.", name);
        }
    }

    /// <summary>A size argument that must be &gt;= 0 (or &gt;= 1 with <paramref name="positive"/>).</summary>
    public static void Size(int value, string name, bool positive = false)
    {
        if (value < (positive ? 1 : 0))
        {
            throw new ArgumentOutOfRangeException(name, value, positive ? "Must be at least 1." : "Must be at least 0.");
        }
    }

    /// <summary>
    /// Throws when <paramref name="output"/> (the elements the call writes) shares memory with
    /// <paramref name="other"/> (elements it reads or writes elsewhere): the call would read what it has already
    /// written, or one output would overwrite another (as <see cref="CrossEntropyChecks.Disjoint(void*, long, string, void*, long, string)"/>).
    /// </summary>
    public static void Disjoint(ReadOnlySpan<float> output, string outputName, ReadOnlySpan<float> other, string otherName)
    {
        if (output.Overlaps(other))
        {
            throw new ArgumentException($"{outputName} overlaps {otherName}: pass memory of its own.", outputName);
        }
    }

    /// <summary>
    /// The checks of an element-by-element call out = f(a, b) over [N]: <paramref name="b"/> as long as
    /// <paramref name="a"/>, <paramref name="output"/> at least as long, a valid thread count, and the output in place
    /// of either input or apart from both (<see cref="InPlaceOrDisjoint"/>).
    /// </summary>
    public static void Elementwise(ReadOnlySpan<float> a, string aName, ReadOnlySpan<float> b, string bName,
        ReadOnlySpan<float> output, string outputName, int maxDegreeOfParallelism)
    {
        Exactly(b.Length, a.Length, bName, "[N]");
        AtLeast(output.Length, a.Length, outputName, "[N]");
        Parallelism(maxDegreeOfParallelism);
        InPlaceOrDisjoint(output.Slice(0, a.Length), outputName, a, aName);
        InPlaceOrDisjoint(output.Slice(0, a.Length), outputName, b, bName);
    }

    /// <summary>
    /// Throws when an element-by-element <paramref name="output"/> partly overlaps <paramref name="input"/>: in
    /// place (the same first element) is allowed; anything in between would read elements already overwritten.
    /// </summary>
    public static void InPlaceOrDisjoint(ReadOnlySpan<float> output, string outputName, ReadOnlySpan<float> input, string inputName)
    {
        if (output.Overlaps(input, out int offset) && offset != 0)
        {
            throw new ArgumentException($"{outputName} overlaps {inputName} without being its memory: pass {inputName} itself (in place) or memory of its own.", outputName);
        }
    }
}
