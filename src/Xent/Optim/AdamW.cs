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
    public void Step(IReadOnlyList<float[]> parameters, IReadOnlyList<float[]> gradients, float? learningRate = null)
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
            var options = decay[i] ? Options : Options with { WeightDecay = 0 };
            Update(parameters[i], gradients[i], m[i], v[i], t, lr, options);
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
    public static void Update(Span<float> parameter, ReadOnlySpan<float> gradient, Span<float> firstMoment,
        Span<float> secondMoment, int step, float learningRate, AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        int n = parameter.Length;
        if (gradient.Length != n || firstMoment.Length != n || secondMoment.Length != n)
        {
            throw new ArgumentException(
                $"Lengths differ: parameter {n}, gradient {gradient.Length}, m {firstMoment.Length}, v {secondMoment.Length}.");
        }

        float beta1 = options.Beta1, beta2 = options.Beta2, eps = options.Epsilon;

        // Bias corrections in double: beta^t underflows gracefully and 1 - beta2^t is small for early steps.
        float correction1 = (float)(1 - Math.Pow(beta1, step));
        float correction2Sqrt = (float)Math.Sqrt(1 - Math.Pow(beta2, step));
        float decayFactor = 1 - (learningRate * options.WeightDecay);
        float stepSize = learningRate / correction1;
        for (int i = 0; i < n; i++)
        {
            float g = gradient[i];
            float mi = (beta1 * firstMoment[i]) + ((1 - beta1) * g);
            float vi = (beta2 * secondMoment[i]) + ((1 - beta2) * g * g);
            firstMoment[i] = mi;
            secondMoment[i] = vi;
            float denominator = (MathF.Sqrt(vi) / correction2Sqrt) + eps;
            parameter[i] = (parameter[i] * decayFactor) - (stepSize * mi / denominator);
        }
    }
}
