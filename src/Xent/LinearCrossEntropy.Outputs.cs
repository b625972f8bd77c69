using System.Buffers;

namespace Xent;

/// <summary>
/// What the plain loss gives besides the loss, from the fused head without logits: the loss in its parts, and the
/// log-probabilities of given tokens with their backward (what RL and preference trainers compute per rollout).
/// </summary>
public static unsafe partial class LinearCrossEntropy
{
    /// <summary>The reduced loss (Mean or Sum) of logits hidden * weight^T + bias, with its cross-entropy and z-loss parts.</summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="bias">Bias b [V], or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Loss options; null for PyTorch's defaults. Reduction.None throws: use LossPerRow and lse (the z-loss part of row n is ZLoss lse[n]^2).</param>
    /// <returns>The loss (bitwise as <c>Loss</c>) and its parts.</returns>
    public static LossParts LossWithParts(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        CrossEntropyOptions? options = null)
    {
        fixed (float* w = weight)
        {
            return LossWithPartsOf(new LinearOperands(hidden, w, weight.Length, -1), bias, targets, options);
        }
    }

    /// <summary>
    /// log p(token) = z[n, token] - lse[n] per row, of logits z = hidden * weight^T + bias (soft-capped if asked), never
    /// holding z: the negated per-row loss without smoothing, class weights or z-loss. Rows whose token is the ignore
    /// index get 0.
    /// </summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="bias">Bias b [V], or empty for none.</param>
    /// <param name="tokens">Tokens [N]: classes in [0, V) or the ignore index.</param>
    /// <param name="logProbabilities">Destination log p [N].</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="entropy">Destination of each row's softmax entropy H = lse - sum_c p[c] z[c] [N] (every row, ignored ones too), or empty. Its backward: the entropyGradient of <see cref="LogProbabilityGradients(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, LinearCrossEntropyGradients, Span{float}, Span{float}, Span{float}, LinearCrossEntropyOptions?, ReadOnlySpan{float})"/>.</param>
    /// <param name="options">IgnoreIndex, SoftCap and MaxDegreeOfParallelism are read; LabelSmoothing, ClassWeights and ZLoss must be unset.</param>
    public static void LogProbabilities(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> tokens,
        Span<float> logProbabilities, Span<float> logSumExp = default, Span<float> entropy = default, CrossEntropyOptions? options = null)
    {
        fixed (float* w = weight)
        {
            LogProbabilitiesOf(new LinearOperands(hidden, w, weight.Length, -1), bias, tokens, logProbabilities, logSumExp, entropy, options);
        }
    }

    /// <summary>
    /// The backward of <see cref="LogProbabilities(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, Span{float}, Span{float}, CrossEntropyOptions?)"/>: the gradients of sum_n g[n] log p[n] (+ g_H[n] H[n] with an
    /// entropy gradient), d log p[n] / dz[n, c] = 1[c = token] - p[n, c] and dH[n] / dz[n, c] = -p[n, c] (z[n, c] - sum_c' p z),
    /// times the soft cap's factor, written into dh, dW and dBias by the fused kernel's own backward (the per-row loss
    /// with upstream -g; the entropy term joins the same tile epilogue). The same pass writes log p, lse and H on request.
    /// </summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="bias">Bias b [V], or empty for none.</param>
    /// <param name="tokens">Tokens [N].</param>
    /// <param name="upstream">Upstream gradients g [N] = dL/dlog p (ignored rows get no gradient whatever g says).</param>
    /// <param name="gradients">Destinations dL/dh [N, D], dL/dW [V, D], and dL/db [V] if given.</param>
    /// <param name="logProbabilities">Destination log p [N], or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="entropy">Destination of each row's softmax entropy [N], or empty (as <see cref="LogProbabilities(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, Span{float}, Span{float}, CrossEntropyOptions?)"/>).</param>
    /// <param name="entropyGradient">dL/dH [N] of the rows' entropies (an entropy bonus), or empty; needs FilterThreshold 0. Rows whose token is the ignore index get no gradient.</param>
    /// <param name="options">Options: of the loss options, IgnoreIndex, SoftCap and MaxDegreeOfParallelism are read, and LabelSmoothing, ClassWeights and ZLoss must be unset.</param>
    public static void LogProbabilityGradients(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<int> tokens, ReadOnlySpan<float> upstream, LinearCrossEntropyGradients gradients, Span<float> logProbabilities = default,
        Span<float> logSumExp = default, Span<float> entropy = default, LinearCrossEntropyOptions? options = null,
        ReadOnlySpan<float> entropyGradient = default)
    {
        fixed (float* w = weight)
        {
            LogProbabilityGradientsOf(new LinearOperands(hidden, w, weight.Length, -1), bias, tokens, upstream, gradients, logProbabilities, logSumExp, entropy,
                options, entropyGradient);
        }
    }

    private static LossParts LossWithPartsOf(scoped in LinearOperands x, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets, CrossEntropyOptions? options)
    {
        LinearCrossEntropyCall.Run(x, bias, targets, CallKind.Loss, LinearCrossEntropyCall.ForwardOptions(options), default, 1f, [], [], [], [], [], [],
            out var parts);
        return parts;
    }

    private static void LogProbabilitiesOf(scoped in LinearOperands x, ReadOnlySpan<float> bias, ReadOnlySpan<int> tokens, Span<float> logProbabilities,
        Span<float> logSumExp, Span<float> entropy, CrossEntropyOptions? options)
    {
        CheckLogProbabilityOptions(options ?? CrossEntropyOptions.Default);
        LinearCrossEntropyCall.Run(x, bias, tokens, CallKind.PerRow, LinearCrossEntropyCall.ForwardOptions(options),
            default, 1f, [], logProbabilities, logSumExp, [], entropy, [], out _, nameof(logProbabilities));
        Negate(logProbabilities);
    }

    private static void LogProbabilityGradientsOf(scoped in LinearOperands x, ReadOnlySpan<float> bias, ReadOnlySpan<int> tokens, ReadOnlySpan<float> upstream,
        LinearCrossEntropyGradients gradients, Span<float> logProbabilities, Span<float> logSumExp, Span<float> entropy, LinearCrossEntropyOptions? options,
        ReadOnlySpan<float> entropyGradient)
    {
        var o = options ?? LinearCrossEntropyOptions.Default;
        CheckLogProbabilityOptions(o.CrossEntropy ?? throw new ArgumentException("CrossEntropy options must not be null.", nameof(options)));
        float[] rented = ArrayPool<float>.Shared.Rent(upstream.Length);
        try
        {
            // d log p / dz = -(d r / dz) for the plain row loss r = lse - z[token]: the kernel's backward with -g.
            var negated = rented.AsSpan(0, upstream.Length);
            for (int i = 0; i < upstream.Length; i++)
            {
                negated[i] = -upstream[i];
            }

            LinearCrossEntropyCall.Run(x, bias, tokens, CallKind.Backward, o, gradients, 1f, negated, logProbabilities, logSumExp, [], entropy,
                entropyGradient, out _, nameof(logProbabilities));
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }

        Negate(logProbabilities);
    }

    private static void CheckLogProbabilityOptions(CrossEntropyOptions options)
    {
        if (options.LabelSmoothing != 0 || options.ZLoss != 0 || !options.ClassWeights.IsEmpty)
        {
            throw new ArgumentException("Log-probabilities take no LabelSmoothing, ClassWeights or ZLoss: they are log p(token) of the plain softmax.",
                nameof(options));
        }
    }

    // 0 - r, not -r: an ignored row's 0 stays +0.
    private static void Negate(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = 0f - values[i];
        }
    }
}
