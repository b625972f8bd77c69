using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Xent.Optim;

/// <summary>
/// The AdamW optimizer (Loshchilov and Hutter), with the exact update of PyTorch's <c>torch.optim.AdamW</c>.
/// For step t = 1, 2, ... and every element:
/// <code>
/// p -= lr * weightDecay * p                 (decoupled weight decay, before the Adam update)
/// m  = beta1 * m + (1 - beta1) * g
/// v  = beta2 * v + (1 - beta2) * g * g
/// p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
/// </code>
/// The instance holds the state of a fixed list of tensors: the moments m and v (one array per tensor, same
/// length as the tensor) and the step count t. Both are public so that a checkpoint can save and restore them.
/// The element update is also available on its own, over spans, as <see cref="Update"/>.
/// </summary>
public sealed class AdamW
{
    private readonly float[][] m;
    private readonly float[][] v;
    private readonly bool[] decay;
    private readonly AdamWOptions withoutDecay;

    /// <summary>Creates the optimizer for tensors of the given lengths, with zero moments and step count 0.</summary>
    /// <param name="options">Hyper-parameters; validated here.</param>
    /// <param name="tensorLengths">Number of elements of each tensor, in the order <see cref="Step"/> receives them.</param>
    /// <param name="applyWeightDecay">Per tensor, whether weight decay applies to it (e.g. false for biases and
    /// LayerNorm parameters); null applies it to every tensor, as PyTorch does for a single parameter group.</param>
    public AdamW(AdamWOptions options, IReadOnlyList<int> tensorLengths, IReadOnlyList<bool>? applyWeightDecay = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tensorLengths);
        options.Validate();
        if (applyWeightDecay is not null && applyWeightDecay.Count != tensorLengths.Count)
        {
            throw new ArgumentException(
                $"applyWeightDecay has {applyWeightDecay.Count} entries but there are {tensorLengths.Count} tensors.",
                nameof(applyWeightDecay));
        }

        Options = options;
        withoutDecay = options with { WeightDecay = 0 };
        m = new float[tensorLengths.Count][];
        v = new float[tensorLengths.Count][];
        decay = new bool[tensorLengths.Count];
        for (int i = 0; i < tensorLengths.Count; i++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(tensorLengths[i], nameof(tensorLengths));
            m[i] = new float[tensorLengths[i]];
            v[i] = new float[tensorLengths[i]];
            decay[i] = applyWeightDecay?[i] ?? true;
        }
    }

    /// <summary>The hyper-parameters.</summary>
    public AdamWOptions Options { get; }

    /// <summary>
    /// Steps taken so far (t of the last step; 0 before the first). Settable to restore a checkpoint.
    /// </summary>
    public int StepCount
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            field = value;
        }
    }

    /// <summary>First moments m, one array per tensor (mutable, for checkpoint save and restore).</summary>
    public IReadOnlyList<float[]> FirstMoments => m;

    /// <summary>Second moments v, one array per tensor (mutable, for checkpoint save and restore).</summary>
    public IReadOnlyList<float[]> SecondMoments => v;

    /// <summary>Whether weight decay applies to each tensor.</summary>
    public IReadOnlyList<bool> AppliesWeightDecay => decay;

    /// <summary>
    /// One optimizer step over every tensor: increments <see cref="StepCount"/>, then updates each parameter in
    /// place from its gradient. Lengths are checked for all tensors before anything is written.
    /// </summary>
    /// <param name="parameters">Parameter tensors, same order and lengths as given to the constructor.</param>
    /// <param name="gradients">Gradients, same shapes as <paramref name="parameters"/>.</param>
    /// <param name="learningRate">Learning rate of this step (from a schedule); null uses <see cref="AdamWOptions.LearningRate"/>.</param>
    /// <param name="gradientScale">Factor applied to every gradient element as it is read (e.g. the clipping
    /// factor of <see cref="GradientClipping.ClipFactor"/>): the same as scaling the gradients first, without
    /// writing them. Default 1.</param>
    public void Step(IReadOnlyList<float[]> parameters, IReadOnlyList<float[]> gradients, float? learningRate = null,
        float gradientScale = 1f)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        if (parameters.Count != m.Length || gradients.Count != m.Length)
        {
            throw new ArgumentException(
                $"Expected {m.Length} parameter and gradient tensors, got {parameters.Count} and {gradients.Count}.");
        }

        for (int i = 0; i < m.Length; i++)
        {
            if (parameters[i].Length != m[i].Length || gradients[i].Length != m[i].Length)
            {
                throw new ArgumentException(
                    $"Tensor {i}: expected {m[i].Length} elements, got parameter {parameters[i].Length} and gradient {gradients[i].Length}.");
            }
        }

        float lr = learningRate ?? Options.LearningRate;
        int t = StepCount + 1;
        for (int i = 0; i < m.Length; i++)
        {
            var options = decay[i] ? Options : withoutDecay;
            Update(parameters[i], gradients[i], m[i], v[i], t, lr, options, gradientScale);
        }

        StepCount = t;
    }

    /// <summary>
    /// The AdamW update of one tensor at step <paramref name="step"/> (1 for the first step), in place.
    /// Shapes: parameter, gradient, m and v all [P].
    /// </summary>
    /// <param name="parameter">Parameter p [P], updated in place.</param>
    /// <param name="gradient">Gradient g [P].</param>
    /// <param name="firstMoment">First moment m [P], updated in place (zero before step 1).</param>
    /// <param name="secondMoment">Second moment v [P], updated in place (zero before step 1).</param>
    /// <param name="step">Step number t &gt;= 1, used for the bias corrections 1 - beta^t.</param>
    /// <param name="learningRate">Learning rate lr.</param>
    /// <param name="options">Betas, epsilon and weight decay (its LearningRate is not used).</param>
    /// <param name="gradientScale">Factor applied to each gradient element as it is read (g = scale * gradient[i];
    /// multiplying by 1 is exact). Must be finite. Default 1.</param>
    public static void Update(Span<float> parameter, ReadOnlySpan<float> gradient, Span<float> firstMoment,
        Span<float> secondMoment, int step, float learningRate, AdamWOptions options, float gradientScale = 1f)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        if (!float.IsFinite(gradientScale))
        {
            throw new ArgumentOutOfRangeException(nameof(gradientScale), gradientScale, "The gradient scale must be finite.");
        }

        int n = parameter.Length;
        if (gradient.Length != n || firstMoment.Length != n || secondMoment.Length != n)
        {
            throw new ArgumentException(
                $"Lengths differ: parameter {n}, gradient {gradient.Length}, m {firstMoment.Length}, v {secondMoment.Length}.");
        }

        var c = new Coefficients(options, step, learningRate, gradientScale);
        var width = Simd.Width;
        if (n < ParallelChunk || options.MaxDegreeOfParallelism == 1)
        {
            UpdateRange(parameter, gradient, firstMoment, secondMoment, c, width);
            return;
        }

        // Element-wise and chunked at fixed multiples of 16: the result is the same for any thread count.
        unsafe
        {
            fixed (float* pp = parameter, pg = gradient, pm = firstMoment, pv = secondMoment)
            {
                nint ap = (nint)pp, ag = (nint)pg, am = (nint)pm, av = (nint)pv;
                int chunks = (n + ParallelChunk - 1) / ParallelChunk;
                Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism }, k =>
                {
                    int start = k * ParallelChunk, length = Math.Min(ParallelChunk, n - start);
                    UpdateRange(new Span<float>((float*)ap + start, length), new ReadOnlySpan<float>((float*)ag + start, length),
                        new Span<float>((float*)am + start, length), new Span<float>((float*)av + start, length), c, width);
                });
            }
        }
    }

    private const int ParallelChunk = 1 << 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateRange(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, Coefficients c,
        VectorWidth width)
    {
        // The vector and scalar paths do the same IEEE operations in the same order (no fused multiply-add), so
        // every element gets bitwise the same value whichever path handles it.
        int i = 0, n = p.Length;
        if (width == VectorWidth.V512)
        {
            for (; i + 16 <= n; i += 16)
            {
                var gi = Vector512.Create(g.Slice(i, 16)) * Vector512.Create(c.GradientScale);
                var mi = (Vector512.Create(c.Beta1) * Vector512.Create(m.Slice(i, 16))) + (Vector512.Create(c.OneMinusBeta1) * gi);
                var vi = (Vector512.Create(c.Beta2) * Vector512.Create(v.Slice(i, 16))) + (Vector512.Create(c.OneMinusBeta2) * gi * gi);
                mi.CopyTo(m.Slice(i, 16));
                vi.CopyTo(v.Slice(i, 16));
                var denominator = (Vector512.Sqrt(vi) / Vector512.Create(c.Correction2Sqrt)) + Vector512.Create(c.Epsilon);
                var pi = (Vector512.Create(p.Slice(i, 16)) * Vector512.Create(c.DecayFactor)) - (Vector512.Create(c.StepSize) * mi / denominator);
                pi.CopyTo(p.Slice(i, 16));
            }
        }
        else if (width == VectorWidth.V256)
        {
            for (; i + 8 <= n; i += 8)
            {
                var gi = Vector256.Create(g.Slice(i, 8)) * Vector256.Create(c.GradientScale);
                var mi = (Vector256.Create(c.Beta1) * Vector256.Create(m.Slice(i, 8))) + (Vector256.Create(c.OneMinusBeta1) * gi);
                var vi = (Vector256.Create(c.Beta2) * Vector256.Create(v.Slice(i, 8))) + (Vector256.Create(c.OneMinusBeta2) * gi * gi);
                mi.CopyTo(m.Slice(i, 8));
                vi.CopyTo(v.Slice(i, 8));
                var denominator = (Vector256.Sqrt(vi) / Vector256.Create(c.Correction2Sqrt)) + Vector256.Create(c.Epsilon);
                var pi = (Vector256.Create(p.Slice(i, 8)) * Vector256.Create(c.DecayFactor)) - (Vector256.Create(c.StepSize) * mi / denominator);
                pi.CopyTo(p.Slice(i, 8));
            }
        }
        else if (width == VectorWidth.V128)
        {
            for (; i + 4 <= n; i += 4)
            {
                var gi = Vector128.Create(g.Slice(i, 4)) * Vector128.Create(c.GradientScale);
                var mi = (Vector128.Create(c.Beta1) * Vector128.Create(m.Slice(i, 4))) + (Vector128.Create(c.OneMinusBeta1) * gi);
                var vi = (Vector128.Create(c.Beta2) * Vector128.Create(v.Slice(i, 4))) + (Vector128.Create(c.OneMinusBeta2) * gi * gi);
                mi.CopyTo(m.Slice(i, 4));
                vi.CopyTo(v.Slice(i, 4));
                var denominator = (Vector128.Sqrt(vi) / Vector128.Create(c.Correction2Sqrt)) + Vector128.Create(c.Epsilon);
                var pi = (Vector128.Create(p.Slice(i, 4)) * Vector128.Create(c.DecayFactor)) - (Vector128.Create(c.StepSize) * mi / denominator);
                pi.CopyTo(p.Slice(i, 4));
            }
        }

        for (; i < n; i++)
        {
            float gi = g[i] * c.GradientScale;
            float mi = (c.Beta1 * m[i]) + (c.OneMinusBeta1 * gi);
            float vi = (c.Beta2 * v[i]) + (c.OneMinusBeta2 * gi * gi);
            m[i] = mi;
            v[i] = vi;
            float denominator = (MathF.Sqrt(vi) / c.Correction2Sqrt) + c.Epsilon;
            p[i] = (p[i] * c.DecayFactor) - (c.StepSize * mi / denominator);
        }
    }

    /// <summary>Per-step scalars of the update.</summary>
    private readonly struct Coefficients
    {
        public Coefficients(AdamWOptions options, int step, float learningRate, float gradientScale)
        {
            GradientScale = gradientScale;
            Beta1 = options.Beta1;
            Beta2 = options.Beta2;
            OneMinusBeta1 = 1 - Beta1;
            OneMinusBeta2 = 1 - Beta2;
            Epsilon = options.Epsilon;

            // Bias corrections in double: 1 - beta2^t is small for early steps.
            StepSize = (float)(learningRate / (1 - Math.Pow(Beta1, step)));
            Correction2Sqrt = (float)Math.Sqrt(1 - Math.Pow(Beta2, step));
            DecayFactor = 1 - (learningRate * options.WeightDecay);
        }

        public float GradientScale { get; }

        public float Beta1 { get; }

        public float Beta2 { get; }

        public float OneMinusBeta1 { get; }

        public float OneMinusBeta2 { get; }

        public float Epsilon { get; }

        public float StepSize { get; }

        public float Correction2Sqrt { get; }

        public float DecayFactor { get; }
    }
}
