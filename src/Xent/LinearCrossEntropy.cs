using Xent.Fused;

namespace Xent;

/// <summary>
/// Fused projection + cross-entropy: the loss of logits z = h W^T (+ b), and its gradients, without ever holding z.
/// Shapes: N tokens, D hidden size, V classes. hidden [N, D], weight [V, D] (row c is class c), bias [V],
/// targets [N]. Every option of <see cref="CrossEntropyOptions"/> means exactly what it means for
/// <see cref="CrossEntropy"/>, and the entry points have the same shapes: <c>Loss</c> reduces (Mean or Sum;
/// <see cref="Reduction.None"/> throws), <c>LossPerRow</c> writes the row losses, <c>LossAndGradients</c> takes the
/// upstream gradient of the reduced loss as an argument, <c>Gradients</c> the per-row upstream gradients.
/// Extra memory does not grow with N or V (nothing proportional to N x V): a few MB for the loss alone; with
/// gradients about 52 MB of buffers, 32 MB of which cache the current token block's logits tiles so that the
/// backward does not recompute them (<see cref="LinearCrossEntropyOptions.CacheBytes"/>; the cache shrinks when a
/// large D needs the room). The buffer is kept for the next call (see <see cref="ReleaseScratchMemory"/>).
/// </summary>
/// <remarks>
/// The logits are computed one tile (252 classes x 128 tokens) at a time by a register-blocked matrix kernel and
/// folded straight into per-token log-sum-exp state; gradients reuse the cached tiles and recompute the others.
/// Results are bitwise the same for any thread count (fixed vocabulary groups, partials merged in a fixed order),
/// and a token's loss, log-sum-exp and (with Sum) dh are bitwise the same alone or in any batch, at any position.
/// </remarks>
public static unsafe partial class LinearCrossEntropy
{
    /// <summary>
    /// Frees the buffers the fused kernel keeps between calls (one per call that ran at the same time as others, up
    /// to four; each sized by the largest call so far: about 52 MB, more when D is above about 5,700 at 9 KB per
    /// hidden unit; never more than 96 MB each): a training loop reuses them every step instead of paying for fresh pages.
    /// The next call allocates a new one. Buffers of calls still running are freed when those calls end.
    /// </summary>
    public static void ReleaseScratchMemory() => ScratchPool.Release();

    /// <summary>The reduced loss (Mean or Sum) of logits hidden * weight^T.</summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="targets">Targets [N]: classes in [0, V) or the ignore index.</param>
    /// <param name="options">Loss options; null for PyTorch's defaults. Reduction.None throws: use LossPerRow.</param>
    /// <returns>The loss; NaN for a mean over no kept rows.</returns>
    public static float Loss(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null) =>
        Loss(hidden, weight, [], targets, options);

    /// <summary>The reduced loss (Mean or Sum) of logits hidden * weight^T + bias.</summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="bias">Bias b [V], or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Loss options; null for PyTorch's defaults. Reduction.None throws: use LossPerRow.</param>
    /// <returns>The loss; NaN for a mean over no kept rows.</returns>
    public static float Loss(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        CrossEntropyOptions? options = null)
    {
        fixed (float* w = weight)
        {
            return (float)LinearCrossEntropyCall.Run(hidden, w, weight.Length, -1, bias, targets, CallKind.Loss,
                LinearCrossEntropyCall.ForwardOptions(options), default, 1f, [], [], []);
        }
    }

    /// <summary>Per-row losses r [N] (0 for ignored rows) and, on request, the log-sum-exp of logits hidden * weight^T + bias.</summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="bias">Bias b [V], or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="logSumExp">Destination lse [N] of the (capped) logits' log-sum-exp, every row, or empty.</param>
    /// <param name="options">Loss options; Reduction is not used.</param>
    public static void LossPerRow(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        Span<float> losses, Span<float> logSumExp = default, CrossEntropyOptions? options = null)
    {
        fixed (float* w = weight)
        {
            LinearCrossEntropyCall.Run(hidden, w, weight.Length, -1, bias, targets, CallKind.PerRow,
                LinearCrossEntropyCall.ForwardOptions(options), default, 1f, [], losses, logSumExp);
        }
    }

    /// <summary>The reduced loss (Mean or Sum) of logits hidden * weight^T, and its gradients dL/dh and dL/dW.</summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradients">Destinations dL/dh [N, D] and dL/dW [V, D] (and dL/db [V] if given): overwritten, or added to with <see cref="LinearCrossEntropyOptions.Accumulate"/>.</param>
    /// <param name="options">Options (a <see cref="CrossEntropyOptions"/> converts); Reduction.None throws: use Gradients.</param>
    /// <returns>The loss.</returns>
    public static float LossAndGradients(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets,
        LinearCrossEntropyGradients gradients, LinearCrossEntropyOptions? options = null) =>
        LossAndGradients(hidden, weight, [], targets, gradients, 1f, [], options);

    /// <summary>
    /// The reduced loss (Mean or Sum) of logits hidden * weight^T + bias, and upstream x its gradients; the per-row
    /// log-sum-exp on request.
    /// </summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="bias">Bias b [V], or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="gradients">Destinations dL/dh [N, D], dL/dW [V, D], and dL/db [V] if given.</param>
    /// <param name="upstream">Upstream gradient g of the loss (a loss scale, or dL'/dL of an enclosing graph); 1 for a plain loss. The returned loss is not scaled.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options (a <see cref="CrossEntropyOptions"/> converts); Reduction.None throws: use Gradients.</param>
    /// <param name="logSumExpGradient">The caller's own dL/dlse [N] (of a function of lse computed outside, such as a z-loss variant), or empty: each kept row's logits gradient gains g_lse[n] p[n, c] (times the soft cap's factor), not scaled by the reduction or upstream; ignored rows get none.</param>
    /// <returns>The loss (not multiplied by <paramref name="upstream"/>).</returns>
    public static float LossAndGradients(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        LinearCrossEntropyGradients gradients, float upstream = 1f, Span<float> logSumExp = default, LinearCrossEntropyOptions? options = null,
        ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (float* w = weight)
        {
            return (float)LinearCrossEntropyCall.Run(hidden, w, weight.Length, -1, bias, targets, CallKind.LossAndGradient, options, gradients,
                upstream, [], [], logSumExp, logSumExpGradient);
        }
    }

    /// <summary>
    /// The backward of the per-row losses (Reduction.None inside a caller's graph): gradients of sum_n g[n] r[n],
    /// with r as <see cref="LossPerRow(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, Span{float}, CrossEntropyOptions?)"/>.
    /// The same pass also writes r and lse on request, which saves calling LossPerRow first.
    /// </summary>
    /// <param name="hidden">Hidden states h [N, D]; D = hidden.Length / N.</param>
    /// <param name="weight">Unembedding W [V, D]; V = weight.Length / D.</param>
    /// <param name="bias">Bias b [V], or empty for none.</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="upstream">Upstream gradients g [N], one per row (ignored rows get no gradient whatever g says).</param>
    /// <param name="gradients">Destinations dL/dh [N, D], dL/dW [V, D], and dL/db [V] if given.</param>
    /// <param name="losses">Destination r [N] (0 for ignored rows), or empty.</param>
    /// <param name="logSumExp">Destination lse [N], or empty.</param>
    /// <param name="options">Options (a <see cref="CrossEntropyOptions"/> converts); Reduction is not used.</param>
    /// <param name="logSumExpGradient">The caller's own dL/dlse [N] (of a function of lse computed outside, such as a z-loss variant), or empty: each kept row's logits gradient gains g_lse[n] p[n, c] (times the soft cap's factor), not scaled by the reduction or upstream; ignored rows get none.</param>
    public static void Gradients(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<int> targets,
        ReadOnlySpan<float> upstream, LinearCrossEntropyGradients gradients, Span<float> losses = default, Span<float> logSumExp = default,
        LinearCrossEntropyOptions? options = null, ReadOnlySpan<float> logSumExpGradient = default)
    {
        fixed (float* w = weight)
        {
            LinearCrossEntropyCall.Run(hidden, w, weight.Length, -1, bias, targets, CallKind.Backward, options, gradients, 1f, upstream, losses, logSumExp,
                logSumExpGradient);
        }
    }
}
