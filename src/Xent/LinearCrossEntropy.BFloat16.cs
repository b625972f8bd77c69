namespace Xent;

/// <summary>
/// bfloat16 hidden states and unembedding, with every entry point and option of the float overloads: the fused kernel
/// widens h one token block and W one tile of class rows at a time (exactly) as it reaches them, so products
/// accumulate in float, dh, dW and dBias come out in float (never accumulated in bfloat16), and the results are bitwise
/// those of the float call on the widened values. The extra memory is the float call's plus one [128, D] token block
/// and one [252, D] tile of W per thread: nothing grows with N or V. The bias, class weights and gradients are float.
/// </summary>
public static unsafe partial class LinearCrossEntropy
{
    /// <summary>The reduced loss (Mean or Sum) of logits hidden * weight^T, from bfloat16 inputs.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16; V = weight.Length / D.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Loss options; Reduction.None throws.</param>
    /// <returns>The loss of the bfloat16 values, computed in float.</returns>
    public static float Loss(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null) =>
        Loss(hidden, weight, [], targets, options);

    /// <summary>The reduced loss (Mean or Sum) of logits hidden * weight^T + bias, from bfloat16 inputs.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="bias">Bias b [V] in float, or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Loss options; Reduction.None throws.</param>
    /// <returns>The loss.</returns>
    public static float Loss(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        CrossEntropyOptions? options = null)
    {
        fixed (BFloat16* w = weight)
        {
            return (float)LinearCrossEntropyCall.Run(new LinearOperands(hidden, w, weight.Length, -1), bias, targets, CallKind.Loss,
                LinearCrossEntropyCall.ForwardOptions(options), default, 1f, [], [], [], [], [], [], out _);
        }
    }

    /// <summary>The reduced loss with its cross-entropy and z-loss parts, from bfloat16 inputs.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="bias">Bias b [V] in float, or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Loss options; Reduction.None throws.</param>
    /// <returns>The loss (bitwise as <c>Loss</c>) and its parts.</returns>
    public static LossParts LossWithParts(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        CrossEntropyOptions? options = null)
    {
        fixed (BFloat16* w = weight)
        {
            return LossWithPartsOf(new LinearOperands(hidden, w, weight.Length, -1), bias, targets, options);
        }
    }

    /// <summary>Per-row losses r [N] and, on request, lse [N], from bfloat16 inputs.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="bias">Bias b [V] in float, or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N] (0 for ignored rows).</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Loss options; Reduction is not used.</param>
    public static void LossPerRow(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        Span<float> losses, Span<float> logSumExp = default, CrossEntropyOptions? options = null)
    {
        fixed (BFloat16* w = weight)
        {
            LinearCrossEntropyCall.Run(new LinearOperands(hidden, w, weight.Length, -1), bias, targets, CallKind.PerRow,
                LinearCrossEntropyCall.ForwardOptions(options), default, 1f, [], losses, logSumExp, [], [], [], out _);
        }
    }

    /// <summary>The loss and its float gradients (dL/dh [N, D], dL/dW [V, D], dL/db [V] when asked), from bfloat16 inputs.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradients">Where the float gradients go.</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    /// <returns>The loss.</returns>
    public static float LossAndGradients(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<int> targets,
        LinearCrossEntropyGradients gradients, LinearCrossEntropyOptions? options = null) =>
        LossAndGradients(hidden, weight, [], targets, gradients, 1f, [], options);

    /// <summary>The reduced loss and upstream x its float gradients, from bfloat16 inputs; lse and the caller's dL/dlse as the float overload.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="bias">Bias b [V] in float, or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradients">Destinations dL/dh [N, D], dL/dW [V, D], and dL/db [V] if given, in float.</param>
    /// <param name="upstream">Upstream gradient g of the loss; the returned loss is not scaled.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options; Reduction.None throws.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as the float overload.</param>
    /// <returns>The loss.</returns>
    public static float LossAndGradients(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        LinearCrossEntropyGradients gradients, float upstream = 1f, Span<float> logSumExp = default, LinearCrossEntropyOptions? options = null,
        ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (BFloat16* w = weight)
        {
            return (float)LinearCrossEntropyCall.Run(new LinearOperands(hidden, w, weight.Length, -1), bias, targets, CallKind.LossAndGradient, options,
                gradients, upstream, [], [], logSumExp, logSumExpGradient, [], [], out _);
        }
    }

    /// <summary>The backward of the per-row losses (and r, lse on request), from bfloat16 inputs, into float gradients.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="bias">Bias b [V] in float, or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N].</param>
    /// <param name="gradients">Destinations dL/dh [N, D], dL/dW [V, D], and dL/db [V] if given, in float.</param>
    /// <param name="losses">Destination r [N], or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options; Reduction is not used.</param>
    /// <param name="logSumExpGradient">The caller's dL/dlse [N], or empty, as the float overload.</param>
    public static void Gradients(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        ReadOnlySpan<float> upstream, LinearCrossEntropyGradients gradients, Span<float> losses = default, Span<float> logSumExp = default,
        LinearCrossEntropyOptions? options = null, ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (BFloat16* w = weight)
        {
            LinearCrossEntropyCall.Run(new LinearOperands(hidden, w, weight.Length, -1), bias, targets, CallKind.Backward, options, gradients, 1f, upstream,
                losses, logSumExp, logSumExpGradient, [], [], out _);
        }
    }

    /// <summary>log p(token) per row (and lse, entropy on request), from bfloat16 inputs, as the float overload.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="bias">Bias b [V] in float, or empty for none.</param>
    /// <param name="tokens">Tokens [N].</param>
    /// <param name="logProbabilities">Destination log p [N].</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="entropy">Destination H [N], or empty.</param>
    /// <param name="options">IgnoreIndex, SoftCap and MaxDegreeOfParallelism are read; LabelSmoothing, ClassWeights and ZLoss must be unset.</param>
    public static void LogProbabilities(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> tokens,
        Span<float> logProbabilities, Span<float> logSumExp = default, Span<float> entropy = default, CrossEntropyOptions? options = null)
    {
        fixed (BFloat16* w = weight)
        {
            LogProbabilitiesOf(new LinearOperands(hidden, w, weight.Length, -1), bias, tokens, logProbabilities, logSumExp, entropy, options);
        }
    }

    /// <summary>The backward of log p (and of the entropy on request), from bfloat16 inputs, into float gradients, as the float overload.</summary>
    /// <param name="hidden">Hidden states h [N, D] in bfloat16.</param>
    /// <param name="weight">Unembedding W [V, D] in bfloat16.</param>
    /// <param name="bias">Bias b [V] in float, or empty for none.</param>
    /// <param name="tokens">Tokens [N].</param>
    /// <param name="upstream">Upstream gradients g [N] = dL/dlog p.</param>
    /// <param name="gradients">Destinations dL/dh [N, D], dL/dW [V, D], and dL/db [V] if given, in float.</param>
    /// <param name="logProbabilities">Destination log p [N], or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="entropy">Destination H [N], or empty.</param>
    /// <param name="options">Options, as the float overload.</param>
    /// <param name="entropyGradient">dL/dH [N], or empty.</param>
    public static void LogProbabilityGradients(ReadOnlySpan<BFloat16> hidden, ReadOnlySpan<BFloat16> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> tokens, ReadOnlySpan<float> upstream, LinearCrossEntropyGradients gradients, Span<float> logProbabilities = default,
        Span<float> logSumExp = default, Span<float> entropy = default, LinearCrossEntropyOptions? options = null,
        ReadOnlySpan<float> entropyGradient = default)
    {
        fixed (BFloat16* w = weight)
        {
            LogProbabilityGradientsOf(new LinearOperands(hidden, w, weight.Length, -1), bias, tokens, upstream, gradients, logProbabilities, logSumExp, entropy,
                options, entropyGradient);
        }
    }
}
