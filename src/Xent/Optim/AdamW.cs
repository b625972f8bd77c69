using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

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
    private readonly (int Tensor, int Start, int Length)[][] items;

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

        items = TensorChunks.Balanced(tensorLengths, StepItems, 16, ParallelChunk);
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
    /// place from its gradient. Lengths, the learning rate, the gradient scale and the step count (below
    /// <see cref="int.MaxValue"/>) are checked before anything is written.
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
            if (parameters[i] is null || gradients[i] is null)
            {
                throw new ArgumentNullException(parameters[i] is null ? nameof(parameters) : nameof(gradients), $"Tensor {i} is null.");
            }

            if (parameters[i].Length != m[i].Length || gradients[i].Length != m[i].Length)
            {
                throw new ArgumentException(
                    $"Tensor {i}: expected {m[i].Length} elements, got parameter {parameters[i].Length} and gradient {gradients[i].Length}.");
            }
        }

        if (!float.IsFinite(gradientScale))
        {
            throw new ArgumentOutOfRangeException(nameof(gradientScale), gradientScale, "The gradient scale must be finite.");
        }

        float lr = learningRate ?? Options.LearningRate;
        CheckLearningRate(lr);
        if (StepCount == int.MaxValue)
        {
            // The next t would wrap to int.MinValue: bias corrections of beta^-2147483648, then the count refused, after the writes.
            throw new InvalidOperationException($"The optimizer has taken {int.MaxValue} steps, the most its step count holds.");
        }

        int t = StepCount + 1;
        var withDecay = new Coefficients(Options, t, lr, gradientScale);
        var noDecay = new Coefficients(withoutDecay, t, lr, gradientScale);
        var width = Simd.Width;

        // The whole model in one parallel call, laid end to end and cut into items of equal size (element-wise: the same
        // bits for any split and thread count), dealt from both ends: with 2 threads each keeps the same moments in its
        // caches step after step.
        ParallelWork.For(items.Length, Options.MaxDegreeOfParallelism, new Items(items, parameters, gradients, m, v, decay, withDecay, noDecay, width), ends: ParallelWork.Ends);
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
    /// <param name="options">Betas, epsilon, weight decay and thread count; all validated, as by
    /// <see cref="AdamWOptions.Validate"/>, before anything is written (its LearningRate is not used, but must be valid too).</param>
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

        CheckLearningRate(learningRate);

        // The options are an init-only record that nothing checked on the way here: a beta of 1 or a NaN epsilon would
        // write NaN into every element, a bad thread count was once refused only for large tensors.
        options.Validate();

        var c = new Coefficients(options, step, learningRate, gradientScale);
        var width = Simd.Width;
        if (n < ParallelChunk || options.MaxDegreeOfParallelism == 1)
        {
            UpdateRange(parameter, gradient, firstMoment, secondMoment, c, width);
            return;
        }

        // Element-wise and chunked at fixed multiples of 16: the result is the same for any thread count. On the worker
        // pool with a struct body: a Parallel.For with a lambda was garbage on every call.
        unsafe
        {
            fixed (float* pp = parameter, pg = gradient, pm = firstMoment, pv = secondMoment)
            {
                ParallelWork.For((n + ParallelChunk - 1) / ParallelChunk, options.MaxDegreeOfParallelism, new Chunks(pp, pg, pm, pv, n, c, width));
            }
        }
    }

    private const int ParallelChunk = 1 << 16;

    // Step's items for a small model: the parameters in this many equal items (each at most ParallelChunk). One item per
    // tensor gave the default GPT's 28 tensors, 64 to 16,384 elements, as 28 items of very unequal sizes.
    private const int StepItems = 8;

    // As AdamWOptions.Validate holds the options' own rate: a NaN or negative rate from a schedule would otherwise
    // write NaN into every parameter, or climb the loss.
    private static void CheckLearningRate(float learningRate)
    {
        if (!(learningRate >= 0) || float.IsInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be finite and >= 0.");
        }
    }

    private static void UpdateRange(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, Coefficients c,
        VectorWidth width)
    {
        int i = width switch
        {
            VectorWidth.V512 => UpdateVectors<Vector512Ops, Vector512<float>>(p, g, m, v, c, 0),
            VectorWidth.V256 => UpdateVectors<Vector256Ops, Vector256<float>>(p, g, m, v, c, 0),
            VectorWidth.V128 => UpdateVectors<Vector128Ops, Vector128<float>>(p, g, m, v, c, 0),
            _ => 0,
        };
        UpdateVectors<ScalarOps, float>(p, g, m, v, c, i);
    }

    // Whole vectors from start on; returns where they stopped. Every width does the same IEEE operations in the same
    // order (no fused multiply-add; square root and division are correctly rounded), so every element gets bitwise
    // the same value whichever width handles it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static int UpdateVectors<TOps, TV>(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, Coefficients c, int start)
        where TOps : IVectorOps<TV>
        where TV : struct
    {
        ref float p0 = ref MemoryMarshal.GetReference(p);
        ref float g0 = ref MemoryMarshal.GetReference(g);
        ref float m0 = ref MemoryMarshal.GetReference(m);
        ref float v0 = ref MemoryMarshal.GetReference(v);
        TV scale = TOps.Create(c.GradientScale), beta1 = TOps.Create(c.Beta1), beta2 = TOps.Create(c.Beta2);
        TV oneMinusBeta1 = TOps.Create(c.OneMinusBeta1), oneMinusBeta2 = TOps.Create(c.OneMinusBeta2);
        TV correction2Sqrt = TOps.Create(c.Correction2Sqrt), epsilon = TOps.Create(c.Epsilon);
        TV decay = TOps.Create(c.DecayFactor), stepSize = TOps.Create(c.StepSize);
        int i = start, n = p.Length;
        for (; i + TOps.Count <= n; i += TOps.Count)
        {
            TV gi = TOps.Multiply(TOps.Load(ref g0, i), scale);
            TV mi = TOps.Add(TOps.Multiply(beta1, TOps.Load(ref m0, i)), TOps.Multiply(oneMinusBeta1, gi));
            TV vi = TOps.Add(TOps.Multiply(beta2, TOps.Load(ref v0, i)), TOps.Multiply(TOps.Multiply(oneMinusBeta2, gi), gi));
            TOps.Store(mi, ref m0, i);
            TOps.Store(vi, ref v0, i);
            TV denominator = TOps.Add(TOps.Divide(TOps.Sqrt(vi), correction2Sqrt), epsilon);
            TV pi = TOps.Subtract(TOps.Multiply(TOps.Load(ref p0, i), decay), TOps.Divide(TOps.Multiply(stepSize, mi), denominator));
            TOps.Store(pi, ref p0, i);
        }

        return i;
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

    private readonly struct Items((int Tensor, int Start, int Length)[][] items, IReadOnlyList<float[]> parameters, IReadOnlyList<float[]> gradients,
        float[][] m, float[][] v, bool[] decay, Coefficients withDecay, Coefficients noDecay, VectorWidth width) : IWorkItems
    {
        public void Run(int k)
        {
            foreach (var (i, start, length) in items[k])
            {
                UpdateRange(parameters[i].AsSpan(start, length), gradients[i].AsSpan(start, length), m[i].AsSpan(start, length),
                    v[i].AsSpan(start, length), decay[i] ? withDecay : noDecay, width);
            }
        }
    }

    /// <summary>Update's chunks of ParallelChunk elements (the last shorter) over the four arrays, fixed by the caller.</summary>
    private readonly unsafe struct Chunks(float* p, float* g, float* m, float* v, int n, Coefficients c, VectorWidth width) : IWorkItems
    {
        public void Run(int k)
        {
            int start = k * ParallelChunk, length = Math.Min(ParallelChunk, n - start);
            UpdateRange(new Span<float>(p + start, length), new ReadOnlySpan<float>(g + start, length), new Span<float>(m + start, length),
                new Span<float>(v + start, length), c, width);
        }
    }
}
