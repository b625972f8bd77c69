namespace Xent;

/// <summary>
/// A weight of any size (V x D may exceed 2^31 elements: 262144 x 8192 is a real case), read through a pointer; its
/// gradient goes through <see cref="LinearCrossEntropyGradients(Span{float}, float*, long, Span{float})"/>. The same
/// calls as the span overloads, with D and V given because a pointer has no length.
/// </summary>
public static unsafe partial class LinearCrossEntropy
{
    /// <summary>The reduced loss (Mean or Sum) of logits hidden * weight^T + bias, W at an address.</summary>
    /// <param name="hidden">Hidden states h [N, D], D = <paramref name="hiddenSize"/>.</param>
    /// <param name="weight">Unembedding W [V, D], row-major, at least V x D floats; must stay valid during the call.</param>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    /// <param name="bias">Bias b [V], or empty.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Loss options; Reduction.None throws.</param>
    /// <returns>The loss, as the span overload.</returns>
    public static float Loss(ReadOnlySpan<float> hidden, float* weight, int classes, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        CheckWeight(weight, classes, hiddenSize);
        return (float)LinearCrossEntropyCall.Run(hidden, weight, (long)classes * hiddenSize, hiddenSize, bias, targets, CallKind.Loss,
            LinearCrossEntropyCall.ForwardOptions(options), default, 1f, [], [], []);
    }

    /// <summary>Per-row losses r [N] and, on request, lse [N], W at an address.</summary>
    /// <param name="hidden">Hidden states h [N, D], D = <paramref name="hiddenSize"/>.</param>
    /// <param name="weight">Unembedding W [V, D], at least V x D floats.</param>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    /// <param name="bias">Bias b [V], or empty.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Loss options; Reduction is not used.</param>
    public static void LossPerRow(ReadOnlySpan<float> hidden, float* weight, int classes, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, Span<float> losses, Span<float> logSumExp = default, CrossEntropyOptions? options = null)
    {
        CheckWeight(weight, classes, hiddenSize);
        LinearCrossEntropyCall.Run(hidden, weight, (long)classes * hiddenSize, hiddenSize, bias, targets, CallKind.PerRow,
            LinearCrossEntropyCall.ForwardOptions(options), default, 1f, [], losses, logSumExp);
    }

    /// <summary>The reduced loss and upstream x its gradients, W at an address (dW through the gradients' pointer constructor).</summary>
    /// <param name="hidden">Hidden states h [N, D], D = <paramref name="hiddenSize"/>.</param>
    /// <param name="weight">Unembedding W [V, D], at least V x D floats.</param>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    /// <param name="bias">Bias b [V], or empty.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradients">Destinations dL/dh [N, D], dL/dW [V, D], and dL/db [V] if given.</param>
    /// <param name="upstream">Upstream gradient g of the loss; the returned loss is not scaled.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as the span overload.</param>
    /// <returns>The loss, as the span overload.</returns>
    public static float LossAndGradients(ReadOnlySpan<float> hidden, float* weight, int classes, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, LinearCrossEntropyGradients gradients, float upstream = 1f, Span<float> logSumExp = default,
        LinearCrossEntropyOptions? options = null, ReadOnlySpan<float> logSumExpGradient = default)
    {
        CheckWeight(weight, classes, hiddenSize);
        return (float)LinearCrossEntropyCall.Run(hidden, weight, (long)classes * hiddenSize, hiddenSize, bias, targets, CallKind.LossAndGradient,
            options, gradients, upstream, [], [], logSumExp, logSumExpGradient);
    }

    /// <summary>Gradients of sum_n g[n] r[n] (and r, lse on request), W at an address.</summary>
    /// <param name="hidden">Hidden states h [N, D], D = <paramref name="hiddenSize"/>.</param>
    /// <param name="weight">Unembedding W [V, D], at least V x D floats.</param>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    /// <param name="bias">Bias b [V], or empty.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N].</param>
    /// <param name="gradients">Destinations dL/dh [N, D], dL/dW [V, D], and dL/db [V] if given.</param>
    /// <param name="losses">Destination r [N], or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as the span overload.</param>
    public static void Gradients(ReadOnlySpan<float> hidden, float* weight, int classes, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, ReadOnlySpan<float> upstream, LinearCrossEntropyGradients gradients, Span<float> losses = default,
        Span<float> logSumExp = default, LinearCrossEntropyOptions? options = null, ReadOnlySpan<float> logSumExpGradient = default)
    {
        CheckWeight(weight, classes, hiddenSize);
        LinearCrossEntropyCall.Run(hidden, weight, (long)classes * hiddenSize, hiddenSize, bias, targets, CallKind.Backward, options,
            gradients, 1f, upstream, losses, logSumExp, logSumExpGradient);
    }

    /// <summary>The reduced loss with its cross-entropy and z-loss parts, W at an address.</summary>
    /// <param name="hidden">Hidden states h [N, D], D = <paramref name="hiddenSize"/>.</param>
    /// <param name="weight">Unembedding W [V, D], at least V x D floats.</param>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    /// <param name="bias">Bias b [V], or empty.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Loss options; Reduction.None throws.</param>
    /// <returns>The loss and its parts, as the span overload.</returns>
    public static LossParts LossWithParts(ReadOnlySpan<float> hidden, float* weight, int classes, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> targets, CrossEntropyOptions? options = null)
    {
        CheckWeight(weight, classes, hiddenSize);
        return LossWithPartsOf(new LinearOperands(hidden, weight, (long)classes * hiddenSize, hiddenSize), bias, targets, options);
    }

    /// <summary>log p(token) per row (and lse, entropy on request), W at an address, as the span overload.</summary>
    /// <param name="hidden">Hidden states h [N, D], D = <paramref name="hiddenSize"/>.</param>
    /// <param name="weight">Unembedding W [V, D], at least V x D floats.</param>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    /// <param name="bias">Bias b [V], or empty.</param>
    /// <param name="tokens">Tokens [N].</param>
    /// <param name="logProbabilities">Destination log p [N].</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="entropy">Destination H [N], or empty.</param>
    /// <param name="options">As the span overload.</param>
    public static void LogProbabilities(ReadOnlySpan<float> hidden, float* weight, int classes, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> tokens, Span<float> logProbabilities, Span<float> logSumExp = default, Span<float> entropy = default, CrossEntropyOptions? options = null)
    {
        CheckWeight(weight, classes, hiddenSize);
        LogProbabilitiesOf(new LinearOperands(hidden, weight, (long)classes * hiddenSize, hiddenSize), bias, tokens, logProbabilities, logSumExp, entropy, options);
    }

    /// <summary>The backward of log p (and of the entropy on request), W at an address, as the span overload.</summary>
    /// <param name="hidden">Hidden states h [N, D], D = <paramref name="hiddenSize"/>.</param>
    /// <param name="weight">Unembedding W [V, D], at least V x D floats.</param>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    /// <param name="bias">Bias b [V], or empty.</param>
    /// <param name="tokens">Tokens [N].</param>
    /// <param name="upstream">Upstream gradients g [N] = dL/dlog p.</param>
    /// <param name="gradients">Destinations dL/dh [N, D], dL/dW [V, D], and dL/db [V] if given.</param>
    /// <param name="logProbabilities">Destination log p [N], or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="entropy">Destination H [N], or empty.</param>
    /// <param name="options">As the span overload.</param>
    /// <param name="entropyGradient">dL/dH [N], or empty.</param>
    public static void LogProbabilityGradients(ReadOnlySpan<float> hidden, float* weight, int classes, int hiddenSize, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> tokens, ReadOnlySpan<float> upstream, LinearCrossEntropyGradients gradients, Span<float> logProbabilities = default,
        Span<float> logSumExp = default, Span<float> entropy = default, LinearCrossEntropyOptions? options = null, ReadOnlySpan<float> entropyGradient = default)
    {
        CheckWeight(weight, classes, hiddenSize);
        LogProbabilityGradientsOf(new LinearOperands(hidden, weight, (long)classes * hiddenSize, hiddenSize), bias, tokens, upstream, gradients,
            logProbabilities, logSumExp, entropy, options, entropyGradient);
    }

    private static void CheckWeight(float* weight, int classes, int hiddenSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentNullException.ThrowIfNull(weight);
    }
}
