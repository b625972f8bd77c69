using System.Runtime.CompilerServices;

namespace Xent.Kernels;

/// <summary>
/// The one cross-entropy kernel behind every public overload (float, Half or bfloat16 logits, spans or pointers,
/// class-index or probability targets, loss, per-row losses, log-sum-exp, gradient).
/// </summary>
/// <remarks>
/// Each row is read as blocks of <see cref="BlockColumns"/> columns; a block's statistics come from one pass
/// (plain loss) or two passes over the cache-resident block, and the row's state is the left-to-right fold of its blocks' statistics.
/// Work is split over rows, or over fixed block ranges within rows when rows are few; either way every row
/// folds the same blocks in the same order and the reduction runs sequentially over rows in double, so results
/// are bitwise the same for any thread count. With a gradient each row is written right after its forward,
/// while it is still in L2: one read of the logits from memory and one write of the gradient.
/// </remarks>
internal sealed unsafe partial class CrossEntropyKernel
{
    /// <summary>
    /// Columns per block: 64 KB of floats. Each block costs a fixed ~75-120 ns beyond its arithmetic (its lanes'
    /// start and merge, its statistics, the fold's exp), which at 16 KB blocks was a quarter of the one-pass loss at
    /// 512 bits (one Zen 5 core, 2 x 50257 in L2, ns per logit: Loss 0.106 -> 0.084, LossAndGradient 0.194 ->
    /// 0.162, bf16 in place 0.339 -> 0.305). The two-pass paths then read their block's second pass from L2 instead of
    /// L1, which those figures include.
    /// </summary>
    public const int BlockColumns = 16384;

    // The calling thread's kernel, reused by its next call (Run): a kernel and its request per call were all of a warm
    // call's garbage (280 bytes, every training step). The fields below are the call's, set by Start.
    [ThreadStatic]
    private static CrossEntropyKernel? spareKernel;

    private KernelRequest request;
    private int rows;
    private int classes;
    private float smoothing;
    private float cap;
    private int ignoreIndex;
    private LossConstants constants;
    private KeptRows kept;

    // The rows' gradient scales (a, b) unless each row has its own upstream (GradientScaling.PerRow): the same two
    // divisions for every row, done once.
    private (double A, double B) callScales;
    private bool scratchNeeded;
    private bool storeExps;
    private bool capInGradient;

    // Out of place and larger than the caches would hold: the gradient is written with streaming stores (no read of
    // its lines before they are written), the same values. See StreamedGradientBytes.
    private bool streamGradient;

    // A streamed float gradient whose forward would store the exponentials (storeExps): the forward stores none and
    // the write pass recomputes them bitwise (GradientKernel.WriteShifted), so that no line of the gradient is read
    // for ownership and no scratch is written, and in place and out of place stay the same bits.
    private bool recomputeStored;

    // The reduction's per-row terms: main [N], then z-loss [N]. A managed array: through a native pointer, 2048 rows of
    // 32 classes took 7-12% longer (likely the JIT then assumes the row loops' stores may change the kernel's fields);
    // the calling thread's spare (RentTerms), as an array per call was a gen0 collection every few ms of short calls and
    // ArrayPool<double> cost a process's first reduced call ~1.7 ms of JIT compilation.
    private double[]? rowTerms;

    // The split rows' arrays (RunSplit), kept with the thread's kernel for its next call: rows are few there (fewer than
    // twice the threads), so they are small; a call's own were its garbage.
    private BlockStatistics[]? splitStatistics;
    private float[]? splitTargetLogits;
    private RowGradient[]? splitFinished;
    private DominantColumn[]? splitDominants;

    // The calling thread's spare row terms, taken by a call and given back when it ends.
    [ThreadStatic]
    private static double[]? spareTerms;

    // Row terms up to this many are kept as the thread's spare (8 MB); longer ones are the call's alone.
    private const int SpareTermsMax = 1 << 20;

    // A bfloat16 gradient of bfloat16 logits, or a Half gradient of Half logits (class-index targets): the forward
    // computes float exponentials exactly as the float path stores them in a float gradient (max pass, exp pass over
    // the widened block; under a cap, the block capped first and each exponential times the cap's derivative; under
    // label smoothing, sum w z gathered by the max pass), and the write pass scales them (less C1 w) and rounds them,
    // so each entry is the float path's with stored exponentials rounded once, for any thread count. Where
    // StoresExponentials stores them for a 16-bit gradient (at 512 bits a bfloat16 one, and a Half one in short rows,
    // where a float gradient recomputes them; on a CPU with split units also under label smoothing); elsewhere the
    // general write rounds the recomputed float values.
    private bool exps16;

    // Whether those exponentials are kept for the whole row in the thread's scratch (V floats; one exp per element),
    // rather than recomputed block by block as the gradient is written. Set by Run: split rows cannot keep a row in
    // one thread's scratch, and rows longer than RowExpsMaxClasses (an L2's worth) would not stay in L2.
    private bool rowExps;

    /// <summary>The longest row whose float exponentials a bfloat16 or Half gradient keeps in scratch (1 MB of floats).</summary>
    private const int RowExpsMaxClasses = 1 << 18;

    /// <summary>
    /// Out-of-place gradients from this size on may be streamed: half the 32 MB L3 of the Zen 5 measured, so a
    /// gradient this large would mostly leave the caches before the caller reads it anyway.
    /// </summary>
    public const long StreamedGradientBytes = 16L << 20;

    /// <summary>
    /// By default (<c>auto</c>) an out-of-place gradient from <see cref="StreamedGradientBytes"/> on is written with
    /// streaming stores at 512 bits, where the write pass computes it from the logits (a float gradient's stored
    /// exponentials recomputed: <see cref="GradientKernel.WriteShifted"/>): its lines are then written without first
    /// being read for ownership. On the Zen 5 (family 26) of docs/benchmarks.md, streamed / ordinary time at 512 bits
    /// measured 0.77-0.96 on two threads and 0.86-1.01 in one thread's CPU time (256 x 50257, 2048 x 50257, 8192 x
    /// 32000; <c>stream-compare</c>). Below 512 bits, where the exponentials cost more, a float gradient stored in place
    /// and scaled took 0.95-1.05x the time of the streamed one recomputing them with AVX2 only (Zen 4, 2026-12-05): not
    /// there. A 16-bit gradient whose exponentials are stored streams from a whole row of them in scratch: at 512 bits
    /// on split units (where they are stored) streamed / ordinary measured 0.79-0.96 on two threads and 0.96-0.99 in one
    /// thread's CPU (bfloat16, 2048 x 50257 and 8192 x 32000, Zen 4, 2026-12-05), so there it streams; with AVX2 only
    /// 0.90-1.00, and a float gradient from such a row 0.91-1.18 on two threads (Zen 5): not there. Nor rows of up to
    /// <see cref="ShortRowClasses"/> classes, which a streamed gradient takes out of <see cref="ShortRows"/> into the
    /// row loop, a store fence after every row: on the Zen 5 of docs/benchmarks.md (<c>stream-compare</c>, 512 bits,
    /// 2026-12-07) streamed / ordinary measured 2.24, 2.60, 1.82, 1.74, 5.25 and 1.28 in one thread's CPU at 10, 15, 16,
    /// 32, 128 and 1024 classes (16-32 MB), 2.21, 4.46 and 1.61 on two threads at 10, 128 and 1024. <c>on</c> streams
    /// every such gradient from <see cref="StreamedGradientBytes"/> on at any width,
    /// <c>always</c> every one at any size, <c>off</c> none. Never a float gradient whose soft cap writes the capped
    /// logits into it (that write is in place), nor one that scales stored smoothed exponentials.
    /// </summary>
    public const string StreamEnvironmentVariable = EnvironmentSettings.StreamGradientVariable;

    private static readonly AsyncOverride<long> StreamedBytesOverride = new();

    /// <summary>Whether an out-of-place gradient of this many bytes is written with streaming stores.</summary>
    /// <param name="bytes">The gradient's size.</param>
    /// <param name="classes">The rows' length.</param>
    /// <param name="width">The width the call runs at.</param>
    /// <param name="storesExponentials">Whether the write pass scales exponentials the forward stored (a 16-bit gradient's; a streamed float one recomputes them).</param>
    public static bool StreamsGradient(long bytes, int classes, VectorWidth width, bool storesExponentials)
    {
        if (StreamedBytesOverride.Value is long from)
        {
            return bytes >= from;
        }

        return EnvironmentSettings.StreamGradient switch
        {
            StreamPolicy.Always => true,
            StreamPolicy.On => bytes >= StreamedGradientBytes,
            StreamPolicy.Auto => bytes >= StreamedGradientBytes && classes > ShortRowClasses && width == VectorWidth.V512 && (!storesExponentials || VectorUnits.SplitsVector512),
            _ => false,
        };
    }

    /// <summary>For tests: stream out-of-place gradients from <paramref name="bytes"/> on, for the calling flow (values do not change, only the stores).</summary>
    public static AsyncOverride<long>.Scope OverrideStreamedBytes(long bytes) => StreamedBytesOverride.Set(bytes);

    private static readonly AsyncOverride<bool> StoredExponentialsOverride = new();

    /// <summary>
    /// Whether a gradient with class-index targets (float; bfloat16 or Half of logits of its own type; soft-capped or
    /// smoothed, not both) takes the exponentials the forward stores and only scales them in the write pass, or recomputes
    /// exp(z - lse) there (one pass forward, nothing stored). A streamed float gradient that takes them has its write pass
    /// recompute them instead, bitwise (<see cref="GradientKernel.WriteShifted"/>). Without a soft cap, stored below 512
    /// bits: on the Zen 5 (family 26) of docs/benchmarks.md, one thread's CPU time per call, side by side, recomputing
    /// measured 8-18% less at 512 bits out of place and 1-6% less in place, but 0-12% more at 256 bits out of place,
    /// 27-31% more in place, and 35-39% more at 128 bits (there each exp costs the same instructions for fewer lanes). At
    /// 512 bits, stored where the 512-bit units are split in halves (<see cref="VectorUnits.SplitsVector512"/>), but for a
    /// smoothed float gradient: on the Zen 4 (`recompute-compare`, 2 threads unless said), a bfloat16 gradient took
    /// 1.07-1.18x the time recomputing out of place and 1.15-1.31x in place (2026-12-04); a float one 1.08-1.18x in place
    /// (1.13-1.17x on one thread's CPU) and 0.95-1.06x out of place (streamed both ways; 2026-12-05); a smoothed float
    /// one 0.93-0.99x in place and 0.77-0.90x out of place. Under a soft cap, stored at every width: there the write pass
    /// recomputed the exponential and the cap's derivative (Zen 4, LossAndGradient with a cap of 30, 2 threads, both in one
    /// process alternating, median of 21 ratios: 2048 x 32000 and 256 x 50257 took 0.74-0.82x the time with AVX2 only,
    /// 0.81-0.86x at 256 bits, 0.85-0.94x at 512). One choice per width and gradient type for in place and out of place
    /// alike, so the two stay bitwise the same.
    /// </summary>
    /// <param name="width">The call's vector width.</param>
    /// <param name="capped">Whether a soft cap is on.</param>
    /// <param name="sixteenBit">Whether the gradient is bfloat16 or Half (of logits of its own type).</param>
    /// <param name="smoothed">Whether label smoothing is on.</param>
    internal static bool StoresExponentials(VectorWidth width, bool capped, bool sixteenBit, bool smoothed) =>
        StoredExponentialsOverride.Value ?? StoresAtWidth(width, capped, sixteenBit, smoothed);

    // The choice above without the override.
    private static bool StoresAtWidth(VectorWidth width, bool capped, bool sixteenBit, bool smoothed) =>
        capped || width != VectorWidth.V512 || (VectorUnits.SplitsVector512 && (sixteenBit || !smoothed));

    /// <summary>
    /// <see cref="StoresExponentials(VectorWidth, bool, bool, bool)"/> at the width a call's rows run at: the call's,
    /// narrowed to fit rows shorter than one vector (<see cref="Widths.Fit"/>), as their statistics and write run. At 512
    /// bits rows of fewer than 16 classes run in 256-bit lanes (or narrower), and there the stored exponentials pay as
    /// they do in a 256-bit call: on the Zen 5 of docs/benchmarks.md (one thread's CPU time, <c>recompute-compare</c>,
    /// 2048 x 10, 2026-12-07) a bfloat16 gradient took 1.40x the time recomputing them, a float one 1.01-1.02x. At 512
    /// bits a 16-bit gradient without label smoothing stores them too: a bfloat16 one at every length, a Half one in rows
    /// of fewer than 8 vectors (under 128 classes: short rows whose statistics are taken two rows at a time,
    /// <see cref="StatisticsKernel.Pairs{TOps, TV}"/>). On the same Zen 5 (<c>recompute-compare</c>, 2026-12-07)
    /// recomputing took, against storing, 1.17-1.37x the time for bfloat16 at 32-120 classes and 1.38-1.88x at 2048 x
    /// 8192 and 256 x 50257 (one thread's CPU), 1.50-2.25x at 2048 x 50257 and 8192 x 32000 (2 threads; stored, it is not
    /// streamed); for Half 1.16-1.23x at 32-120 classes but 0.75-0.95x from 128 classes on; for float 0.76-1.01x at
    /// 16-120 classes and 1.01-1.03x at 2048 x 50257, so float keeps recomputing. One choice per call (every row has the
    /// same length), so a row's bits do not depend on the batch or the threads.
    /// </summary>
    /// <param name="width">The call's vector width.</param>
    /// <param name="classes">The rows' length.</param>
    /// <param name="capped">Whether a soft cap is on.</param>
    /// <param name="sixteenBit">Whether the gradient is bfloat16 or Half (of logits of its own type).</param>
    /// <param name="smoothed">Whether label smoothing is on.</param>
    /// <param name="half">Whether that 16-bit gradient is Half.</param>
    internal static bool StoresExponentials(VectorWidth width, int classes, bool capped, bool sixteenBit, bool smoothed, bool half)
    {
        var rowWidth = Widths.Fit(width, classes);
        return StoredExponentialsOverride.Value ?? (StoresAtWidth(rowWidth, capped, sixteenBit, smoothed)
            || (sixteenBit && !smoothed && rowWidth == VectorWidth.V512 && (!half || classes < ShortStoredVectors * 16)));
    }

    /// <summary>Rows shorter than this many 512-bit vectors store a Half gradient's exponentials (see above).</summary>
    internal const int ShortStoredVectors = 8;

    /// <summary>For tests and benchmarks: store (or recompute) the gradient's exponentials at every width wherever <see cref="StoresExponentials(VectorWidth, bool, bool, bool)"/> decides, for the calling flow.</summary>
    public static AsyncOverride<bool>.Scope OverrideStoredExponentials(bool store) => StoredExponentialsOverride.Set(store);

    private CrossEntropyKernel()
    {
    }

    private void Start(in KernelRequest request)
    {
        this.request = request;
        var o = request.Options;
        rows = request.Rows;
        classes = request.Classes;
        smoothing = o.LabelSmoothing;
        cap = o.SoftCap;
        ignoreIndex = o.IgnoreIndex;
        scratchNeeded = request.Element != ElementKind.Single || cap > 0f;

        // A float gradient with class-index targets is scale x exp(z - block max), times 1 - (z / s)^2 under a soft cap s
        // (z the capped logit), less C1 w under label smoothing (not both): below 512 bits, and at every width under a
        // cap, the forward writes those exponentials (or products) into the gradient and the write pass only scales
        // them, one exp per element instead of two (see StoresExponentials). Label smoothing's forward gathers its sum
        // w z in the same pass (smoothed LossAndGradient, one Zen 4 core, 2 x 50257: AVX2 only 0.55-0.56 -> 0.34-0.35 ns
        // per logit, 256 bits 0.38 -> 0.30, with w z summed by a max pass then; see docs/benchmarks.md for the single pass).
        storeExps = StoresExponentials(request.Width, classes, cap > 0f, sixteenBit: false, smoothing > 0f, half: false) && request.Gradient != null && request.GradientElement == ElementKind.Single && (smoothing == 0f || cap == 0f) && request.Probabilities == null;
        exps16 = StoresExponentials(request.Width, classes, cap > 0f, sixteenBit: true, smoothing > 0f, half: request.Element == ElementKind.Half) && request.Gradient != null && request.Element != ElementKind.Single && request.GradientElement == request.Element
            && (smoothing == 0f || cap == 0f) && request.Probabilities == null;

        // With a soft cap and a float gradient the forward writes the capped logits into the gradient's block (not a
        // scratch copy), one tanh per element, not two (2048 x 32000, 2 threads, side by side: LossAndGradient 29 -> 22
        // ms); its exp pass then writes each exponential times the cap's derivative over them (storeExps), and the write
        // pass scales them there.
        capInGradient = request.Gradient != null && request.GradientElement == ElementKind.Single && cap > 0f;

        // Out of place and large, the gradient may be written with streaming stores (StreamsGradient). A float gradient
        // with stored exponentials then recomputes them in the write pass (recomputeStored). Storing them in a row of L2
        // scratch and scaling them from there was slower than plain stores (2048 x 32000, 2 threads, Zen 5, 2026-11-29: 21
        // against 16 ms; with the scaling interleaved with the next row's pass, 2048 x 50257 and 8192 x 32000, Zen 4,
        // 2026-12-05: 1.05-1.26x with AVX2 only). Not with the capped logits in the gradient (that write is in place), nor for stored
        // smoothed exponentials (the two-pass loop's, which the write pass does not recompute).
        streamGradient = request.Gradient != null && request.Gradient != request.Logits && !capInGradient && !(storeExps && smoothing > 0f)
            && StreamsGradient((long)request.Rows * request.Classes * (request.GradientElement == ElementKind.Single ? sizeof(float) : sizeof(ushort)), classes, request.Width, exps16);
        recomputeStored = storeExps && streamGradient;
        constants = LossConstants.Of(smoothing, classes, WeightsAt(0, classes), o.ZLoss, cap);
        kept = CountKept();
        callScales = kept.Scales(o.Reduction, request.Upstream);
        rowTerms = request.Reduce ? RentTerms(2 * rows) : null;
        rowExps = false;
    }

    private bool HasGradient => request.Gradient != null;

    /// <summary>Row n's main loss term, for the reduction.</summary>
    private ref double MainTerm(int n) => ref rowTerms![n];

    /// <summary>Row n's z-loss term.</summary>
    private ref double ZTerm(int n) => ref rowTerms![request.Rows + n];

    /// <summary>
    /// Room for count row terms: the thread's spare when it is long enough. Not cleared: every row stores its terms, an
    /// ignored one its zeros (<see cref="FinishIgnored"/>). Clearing them was 4 MB written before the first parallel
    /// region at 262144 rows, long enough for the pool's worker to fall asleep.
    /// </summary>
    private static double[] RentTerms(int count)
    {
        var terms = spareTerms;
        if (terms == null || terms.Length < count)
        {
            return new double[count];
        }

        spareTerms = null;
        return terms;
    }

    private bool SoftTargets => request.Probabilities != null;

    /// <summary>Runs the request; returns the reduced loss when <see cref="KernelRequest.Reduce"/>, else NaN.</summary>
    /// <param name="request">The call.</param>
    /// <param name="parts">The returned loss's cross-entropy and z-loss parts (default when it does not reduce).</param>
    public static double Run(in KernelRequest request, out LossParts parts)
    {
        // A call nested in one of this thread's (none today) would find the spare taken and make its own.
        var kernel = spareKernel ?? new CrossEntropyKernel();
        spareKernel = null;
        kernel.Start(request);
        try
        {
            if (request.Rows > 0)
            {
                int threads = ThreadCount(request.Options.MaxDegreeOfParallelism);
                bool split = SplitRows(request.Rows, request.Classes, threads);
                kernel.rowExps = kernel.exps16 && !split && request.Classes <= RowExpsMaxClasses;
                if (split)
                {
                    kernel.RunSplit(threads);
                }
                else
                {
                    kernel.RunRows(threads);
                }
            }

            parts = default;
            return request.Reduce ? kernel.Reduce(out parts) : double.NaN;
        }
        finally
        {
            if (kernel.rowTerms is { Length: <= SpareTermsMax } terms && (spareTerms == null || spareTerms.Length < terms.Length))
            {
                spareTerms = terms;
            }

            kernel.Clear();
            spareKernel = kernel;
        }
    }

    /// <summary>
    /// Every field as a new kernel's but the split rows' arrays (the thread's scratch, cleared by the split call that
    /// takes them), so that the spare keeps nothing of the call alive (its options, its arrays, their addresses) and
    /// starts its next call as a new kernel would (a field added to the kernel is cleared here too).
    /// </summary>
    private void Clear()
    {
        request = default;
        rows = classes = ignoreIndex = 0;
        smoothing = cap = 0f;
        constants = default;
        kept = default;
        callScales = default;
        rowTerms = null;
        scratchNeeded = storeExps = capInGradient = streamGradient = recomputeStored = exps16 = rowExps = false;
    }

    /// <summary>The threads a call with this MaxDegreeOfParallelism runs on.</summary>
    internal static int ThreadCount(int maxDegree) =>
        maxDegree == -1 ? Environment.ProcessorCount : Math.Min(maxDegree, Environment.ProcessorCount);

    private KeptRows CountKept()
    {
        if (SoftTargets)
        {
            return KeptRows.All(rows);
        }

        if (request.Targets == null)
        {
            return default; // log-sum-exp only: no row has a target
        }

        return KeptRows.Of(new ReadOnlySpan<int>(request.Targets, rows), ignoreIndex, WeightsAt(0, classes));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Kept(int n) => SoftTargets || (request.Targets != null && request.Targets[n] != ignoreIndex);

    /// <summary>Whether row n needs its forward at all: kept, or its log-sum-exp is asked for.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool NeedsForward(int n) => Kept(n) || request.LogSumExp != null;

    private double Reduce(out LossParts parts)
    {
        // Without z-loss the z terms are never read: their sum is not taken.
        bool zLoss = constants.ZLoss > 0;
        double main = 0, z = 0;
        if (zLoss)
        {
            for (int n = 0; n < rows; n++)
            {
                main += MainTerm(n);
                z += ZTerm(n);
            }
        }
        else
        {
            for (int n = 0; n < rows; n++)
            {
                main += MainTerm(n);
            }
        }

        var reduction = request.Options.Reduction;
        double loss = kept.Reduce(reduction, main, z, zLoss);
        parts = new LossParts((float)loss, (float)kept.ReduceCrossEntropy(reduction, main),
            zLoss ? (float)kept.ReduceZLoss(reduction, z) : 0f);
        return loss;
    }
}
