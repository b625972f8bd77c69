using System.Runtime.Intrinsics;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Fused;

/// <summary>
/// The fused projection + cross-entropy: z = h W^T (+ b) is only ever held one tile (252 classes x 128 tokens) at a
/// time. Per token block: a forward sweep over the vocabulary folds each tile into per-token online (max, sum exp),
/// the target logit and the smoothing sum; for gradients, a second sweep takes each tile from the cache (or
/// recomputes it), turns it into the logits gradient G and accumulates dW_tile (+)= G h_block and
/// dh_block^T += W_tile^T G.
/// </summary>
/// <remarks>
/// The vocabulary is split into a fixed number of groups (a function of V only). Groups are the parallel tasks:
/// a group owns its rows of dW and dBias, keeps its own partial softmax state and its own partial dh, and the
/// partials are merged in group order. So the result is bitwise the same for any thread count. With fewer groups than
/// threads (a small V), token blocks are the tasks instead, dW still added in token order (<c>.Lanes.cs</c>).
/// The phases live in partial files: the call and its buffers (<c>FusedKernel.Runner.cs</c>), the forward sweep
/// and merge (<c>.Forward.cs</c>), the backward sweep (<c>.Backward.cs</c>), its filtered entries
/// (<c>.Sparse.cs</c>) and the reduction of dh (<c>.ReduceHidden.cs</c>). The formulas are the core kernel's:
/// <see cref="RowLoss"/>, <see cref="KeptRows"/>, <see cref="ClassIndexRowGradient"/>.
/// </remarks>
internal static unsafe partial class FusedKernel
{
    /// <summary>Tokens per block: a multiple of every Nr (32, 16, 8, 2).</summary>
    public const int TokenBlock = 128;

    /// <summary>Classes per tile: a multiple of the tile kernel's 6 rows (<see cref="PanelKernels.Mr"/>), the filter's strips.</summary>
    public const int VocabBlock = 252;

    /// <summary>
    /// Room for the other per-call buffers within the budget of the cache plus this: the cache shrinks when D makes
    /// them larger (with the default 32 MiB cache, all buffers together stay within 52 MiB up to D of about 2,000).
    /// </summary>
    public const long OtherBytes = 20L << 20;

    /// <summary>
    /// K steps per part of a sum block in the logits tiles' 6 x (4 vectors) tile (512 bits): its B micro-panel part
    /// (128 x 64 floats, 32 KB) stays in the 48 KB L1d of a Zen 5 while the strips pass it, where a whole sum block's
    /// (64 KB) did not (docs/benchmarks.md, "Kept"). Other widths have no parts (<see cref="PanelShape.PartKernel"/>).
    /// </summary>
    internal const int ForwardPart = 128;

    private const int MaxGroups = 16;
    private const int RowsPerGroup = 512;
    private const int GroupAlign = 12;

    // Tests shrink the cache to exercise the recomputing path.
    private static readonly AsyncOverride<long> CacheOverride = new();

    /// <summary>Runs the call; returns the reduced loss (the sum for Reduction.None).</summary>
    /// <param name="p">The call.</param>
    /// <param name="parts">The returned loss's cross-entropy and z-loss parts (Reduction as the call's).</param>
    public static double Run(in FusedProblem p, out LossParts parts)
    {
        var width = Simd.Width;
        var shape = PanelShape.For(width, wide: false);
        var forwardShape = PanelShape.For(width);
        return width switch
        {
            VectorWidth.V512 => Runner<Vector512Ops, Vector512<float>>.Run(p, shape, forwardShape, out parts),
            VectorWidth.V256 => Runner<Vector256Ops, Vector256<float>>.Run(p, shape, forwardShape, out parts),
            VectorWidth.V128 => Runner<Vector128Ops, Vector128<float>>.Run(p, shape, forwardShape, out parts),
            _ => Runner<ScalarOps, float>.Run(p, shape, forwardShape, out parts),
        };
    }

    /// <summary>Caps the logits cache for the calling async flow until disposed (tests).</summary>
    public static AsyncOverride<long>.Scope OverrideCache(long bytes) => CacheOverride.Set(bytes);

    /// <summary>Group g's first class: V split evenly, boundaries on multiples of 12.</summary>
    public static int GroupStart(int v, int groups, int g)
    {
        if (g >= groups)
        {
            return v;
        }

        long s = (long)v * g / groups / GroupAlign * GroupAlign;
        return (int)s;
    }

    public static int GroupCount(int v) => Math.Clamp((v + RowsPerGroup - 1) / RowsPerGroup, 1, MaxGroups);

    private static float* Offset(float* x, int c) => x == null ? null : x + c;

    /// <summary>How a strip of Mr classes of a gradient tile goes into dW and dh.</summary>
    private enum StripMode : byte
    {
        /// <summary>Every |G| below the filter threshold: nothing to add.</summary>
        Skip,

        /// <summary>The tile kernel's products (threshold 0: every strip).</summary>
        Dense,

        /// <summary>Rank-one updates of the few entries at or above the threshold.</summary>
        Sparse,
    }
}
