using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Xent;

/// <summary>
/// Where <see cref="LinearCrossEntropy"/> writes its gradients: dL/dh [N, D], dL/dW [V, D] and, when wanted,
/// dL/db [V]. Overwritten, or added to with <see cref="LinearCrossEntropyOptions.Accumulate"/>.
/// </summary>
/// <remarks>
/// A destination type rather than three more arguments, so that a call names what it wants and leaves out what it
/// does not: <c>LossAndGradients(h, w, y, new(dHidden, dWeight))</c>.
/// </remarks>
public readonly unsafe ref struct LinearCrossEntropyGradients
{
    // The weight gradient by reference and 64-bit length, so that one type covers a span and a pointer to more
    // than 2^31 floats (a span cannot hold those).
    private readonly ref float weight;

    /// <summary>Destinations given as spans.</summary>
    /// <param name="hidden">dL/dh [N, D].</param>
    /// <param name="weight">dL/dW [V, D].</param>
    /// <param name="bias">dL/db [V], or empty when not wanted (it may be asked for without a bias).</param>
    public LinearCrossEntropyGradients(Span<float> hidden, Span<float> weight, Span<float> bias = default)
    {
        Hidden = hidden;
        this.weight = ref MemoryMarshal.GetReference(weight);
        WeightLength = weight.Length;
        Bias = bias;
    }

    /// <summary>Destinations with dL/dW at an address, for a weight of more than 2^31 elements.</summary>
    /// <param name="hidden">dL/dh [N, D].</param>
    /// <param name="weight">dL/dW [V, D]: <paramref name="weightLength"/> floats, row-major; must stay valid during the call.</param>
    /// <param name="weightLength">Floats available at <paramref name="weight"/> (at least V x D).</param>
    /// <param name="bias">dL/db [V], or empty when not wanted.</param>
    public LinearCrossEntropyGradients(Span<float> hidden, float* weight, long weightLength, Span<float> bias = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(weightLength);
        if (weight == null && weightLength > 0)
        {
            throw new ArgumentNullException(nameof(weight), $"A null address with {weightLength} elements.");
        }

        Hidden = hidden;
        this.weight = ref Unsafe.AsRef<float>(weight);
        WeightLength = weightLength;
        Bias = bias;
    }

    /// <summary>dL/dh [N, D].</summary>
    public Span<float> Hidden { get; }

    /// <summary>dL/db [V], or empty when not wanted.</summary>
    public Span<float> Bias { get; }

    /// <summary>Floats available for dL/dW [V, D].</summary>
    public long WeightLength { get; }

    /// <summary>The first element of dL/dW [V, D], <see cref="WeightLength"/> floats; a null reference when empty.</summary>
    public ref float Weight => ref weight;
}
