namespace Xent.Kernels;

/// <summary>
/// The handful of lane-wise operations the kernels need, over one vector type. Each width is a readonly struct
/// implementing this, so a kernel is written once as a generic method and the JIT specialises it per width
/// (struct type arguments are never shared), inlining every call. The scalar implementation is a vector of one
/// lane, which keeps the scalar fallback the same algorithm as the vector paths.
/// </summary>
/// <typeparam name="TV">The vector type (Vector512&lt;float&gt;, ..., or float itself).</typeparam>
internal interface IVectorOps<TV>
    where TV : struct
{
    static abstract int Count { get; }

    static abstract TV Create(float value);

    static abstract TV Load(ref float source, nint index);

    static abstract void Store(TV value, ref float destination, nint index);

    /// <summary>
    /// A non-temporal (streaming) store: the line is written without being read first and bypasses the caches.
    /// The address must be aligned to the vector's size and pinned; weakly ordered, so a writer fences
    /// (<see cref="StreamingStores.Fence"/>) before other threads or the caller read the data.
    /// </summary>
    static abstract void StoreNonTemporal(TV value, ref float destination, nint index);

    static abstract TV Add(TV a, TV b);

    static abstract TV Subtract(TV a, TV b);

    static abstract TV Multiply(TV a, TV b);

    /// <summary>a * b + c, fused where the hardware has it.</summary>
    static abstract TV MultiplyAdd(TV a, TV b, TV c);

    static abstract TV Divide(TV a, TV b);

    /// <summary>Correctly rounded square root, as IEEE 754 requires of every width.</summary>
    static abstract TV Sqrt(TV a);

    /// <summary>Lane-wise max with the hardware's NaN rule; callers never rely on it to propagate NaN.</summary>
    static abstract TV Max(TV a, TV b);

    static abstract TV Abs(TV a);

    /// <summary>|value| with the sign of <paramref name="sign"/>.</summary>
    static abstract TV CopySign(TV value, TV sign);

    /// <summary>e^x for x &lt;= 88, to about 1.5 (2 + |x|) ulp (a few ulp near 0, where a softmax has its mass); a denormal down to -87.7 (-104 with AVX-512), 0 below and for -inf, NaN for NaN (the kernels' NaN propagation depends on it).</summary>
    static abstract TV Exp(TV x);

    /// <summary>2^t for t &lt;= 127, the core of <see cref="Exp"/> (which is Exp2(x log2 e)): 1.75-1.9 ulp (2.1 where FMA is not hardware; 1.16 at 256 bits without AVX-512, <see cref="TableExp"/>, 1.45 below 2^-122) plus nothing for t's own rounding, since t is taken as given; 0 for -inf, NaN for NaN.</summary>
    static abstract TV Exp2(TV t);

    /// <summary><see cref="Exp"/> of four vectors in place: the same bits lane for lane, its steps interleaved across the four (see <see cref="PolynomialExp.Exp4"/>).</summary>
    static abstract void Exp4(ref TV a, ref TV b, ref TV c, ref TV d);

    /// <summary>All-ones lanes where a &lt; b.</summary>
    static abstract TV LessThan(TV a, TV b);

    /// <summary>Whether a &lt; b in every lane (false where a lane holds NaN).</summary>
    static abstract bool AllLessThan(TV a, TV b);

    /// <summary>mask ? a : b, lane-wise.</summary>
    static abstract TV Select(TV mask, TV a, TV b);

    /// <summary>Zeroes the lanes below <paramref name="firstLane"/> (the overlap of a last, shifted-back vector).</summary>
    static abstract TV KeepFrom(TV value, int firstLane);

    static abstract float Sum(TV value);

    /// <summary>The lanes' sum in double, each lane widened first: for sums whose lanes differ by more than float's 24 bits.</summary>
    static abstract double SumWide(TV value);

    /// <summary>
    /// The lanes of both vectors summed in double, in one reduction across lanes: where a block ends in two sums (the
    /// terms and the max's terms kept apart), a short row's second reduction was a part of its time worth measuring.
    /// </summary>
    static abstract double SumWide(TV a, TV b);

    static abstract float MaxAcross(TV value);
}
