using Xent.Kernels;

namespace Xent;

/// <content>
/// Compiling the kernels ahead of the first call.
/// </content>
public static partial class CrossEntropy
{
    /// <summary>Logits a warm-up call takes at most, besides a one-row call (4 M floats, 16 MB).</summary>
    private const int WarmupElements = 1 << 22;

    /// <summary>
    /// Compiles, on a thread of its own, the kernels that calls with float logits of <paramref name="classes"/>
    /// classes and these options run, so that the first such call takes about what later ones do. The kernels are
    /// compiled fully optimised on first use, and the JIT takes several times a call's own time for that (docs/benchmarks.md,
    /// First call); this runs small calls of each kind (the reduced loss, the per-row losses, the gradient in place and
    /// out of place, written as a large one would be) with the caller's threads. Start it when the vocabulary is known,
    /// while the data is read, and await it before the first call that should be fast.
    /// </summary>
    /// <param name="classes">V of the calls to come.</param>
    /// <param name="options">The calls' options (their threads, soft cap, smoothing, weights); null for the defaults.
    /// <see cref="CrossEntropyOptions.ClassWeights"/>, if any, must have <paramref name="classes"/> entries.</param>
    /// <returns>A task that completes when the calls have run; it fails as such a call would (class weights of another length, say).</returns>
    /// <remarks>
    /// It computes nothing of the caller's, and later calls give the same bits with and without it. It allocates up to
    /// 32 MB while it runs (logits and a gradient of up to 4 M floats each; of one row where V is larger). A native AOT
    /// application has its kernels compiled already and needs none of this.
    /// </remarks>
    public static Task WarmupAsync(int classes, CrossEntropyOptions? options = null) => WarmupAsync<float>(classes, options);

    /// <summary>
    /// <see cref="WarmupAsync(int, CrossEntropyOptions?)"/> for logits of type <typeparamref name="TLogit"/>: float,
    /// <see cref="BFloat16"/> or <see cref="Half"/>, each of which runs kernels of its own. For 16-bit logits it warms
    /// the gradient in their own type (out of place and in place) and, for bfloat16, in float too.
    /// </summary>
    /// <typeparam name="TLogit">The logits' element type: <see cref="float"/>, <see cref="BFloat16"/> or <see cref="Half"/>.</typeparam>
    /// <param name="classes">V of the calls to come.</param>
    /// <param name="options">The calls' options; null for the defaults.</param>
    /// <returns>A task that completes when the calls have run; it fails as such a call would.</returns>
    /// <exception cref="NotSupportedException"><typeparamref name="TLogit"/> is another type.</exception>
    public static Task WarmupAsync<TLogit>(int classes, CrossEntropyOptions? options = null)
        where TLogit : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        Action<int, int, CrossEntropyOptions> warmupRows =
            typeof(TLogit) == typeof(float) ? WarmupRows<float, SingleWarmup> :
            typeof(TLogit) == typeof(BFloat16) ? WarmupRows<BFloat16, BFloat16Warmup> :
            typeof(TLogit) == typeof(Half) ? WarmupRows<Half, HalfWarmup> :
            throw new NotSupportedException($"CrossEntropy.WarmupAsync<{typeof(TLogit).Name}>: the logits are float, BFloat16 or Half.");
        CrossEntropyOptions o = options ?? CrossEntropyOptions.Default;
        return Task.Factory.StartNew(() => Warmup(classes, o, warmupRows), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static void Warmup(int classes, CrossEntropyOptions options, Action<int, int, CrossEntropyOptions> warmupRows)
    {
        // Enough rows for every thread to take items of its own, as a batch's call would; and one row alone, which a
        // vocabulary of 4 blocks or more splits across the threads instead.
        int threads = CrossEntropyKernel.ThreadCount(options.MaxDegreeOfParallelism);
        int rows = Math.Max(1, Math.Min(Math.Max(2 * threads, (1 << 20) / classes), WarmupElements / classes));
        warmupRows(rows, classes, options);
        if (rows > 1)
        {
            warmupRows(1, classes, options);
        }
    }

    private static void WarmupRows<T, TCalls>(int rows, int classes, CrossEntropyOptions options)
        where T : unmanaged
        where TCalls : IWarmupCalls<T>
    {
        var logits = new T[rows * classes];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = TCalls.From(((i % 61) - 30) * 0.05f);
        }

        var gradient = new T[logits.Length];
        var targets = new int[rows];
        var perRow = new float[rows];
        var lse = new float[rows];
        CrossEntropyOptions reduced = options.Reduction == Reduction.None ? options with { Reduction = Reduction.Mean } : options;
        TCalls.Loss(logits, targets, reduced);
        TCalls.LossPerRow(logits, targets, perRow, lse, options);
        TCalls.LossAndGradient(logits, targets, gradient, reduced);

        // A gradient of 16 MB or more may be written with streaming stores (the kernels' own choice): those too.
        if (Streams(options, classes, sixteenBit: typeof(T) != typeof(float), half: typeof(T) == typeof(Half)))
        {
            using (CrossEntropyKernel.OverrideStreamedBytes(0))
            {
                TCalls.LossAndGradient(logits, targets, gradient, reduced);
            }
        }

        perRow.AsSpan().Fill(1f);
        TCalls.Gradient(logits, targets, perRow, gradient, options);
        TCalls.FloatGradients(logits, targets, perRow, options, reduced);
        TCalls.LossAndGradient(logits, targets, logits, reduced);
    }

    // Whether a large out-of-place gradient of this kind may be streamed (CrossEntropyKernel.StreamsGradient): not a
    // float one whose soft cap writes the capped logits into it, nor one whose stored exponentials are smoothed, and a
    // 16-bit one where its forward does not store them (which a soft cap with label smoothing never does). The forward's
    // choice is the call's, at the width its rows of this many classes run at.
    private static bool Streams(CrossEntropyOptions options, int classes, bool sixteenBit, bool half)
    {
        bool capped = options.SoftCap > 0f, smoothed = options.LabelSmoothing > 0f;
        bool stores = CrossEntropyKernel.StoresExponentials(Simd.Width, classes, capped, sixteenBit, smoothed, half) && (!smoothed || !capped);
        if (!sixteenBit && (capped || (stores && smoothed)))
        {
            return false;
        }

        return CrossEntropyKernel.StreamsGradient(long.MaxValue, classes, Simd.Width, sixteenBit && stores);
    }

    /// <summary>The calls a warm-up makes for logits of type <typeparamref name="T"/>: the public entry points of that type.</summary>
    private interface IWarmupCalls<T>
        where T : unmanaged
    {
        static abstract T From(float value);

        static abstract void Loss(T[] logits, int[] targets, CrossEntropyOptions options);

        static abstract void LossPerRow(T[] logits, int[] targets, float[] losses, float[] logSumExp, CrossEntropyOptions options);

        static abstract void LossAndGradient(T[] logits, int[] targets, T[] gradient, CrossEntropyOptions options);

        static abstract void Gradient(T[] logits, int[] targets, float[] upstream, T[] gradient, CrossEntropyOptions options);

        /// <summary>The gradient in float of logits of another type, where the type has such entry points.</summary>
        static abstract void FloatGradients(T[] logits, int[] targets, float[] upstream, CrossEntropyOptions options, CrossEntropyOptions reduced);
    }

    private readonly struct SingleWarmup : IWarmupCalls<float>
    {
        public static float From(float value) => value;

        public static void Loss(float[] logits, int[] targets, CrossEntropyOptions options) => CrossEntropy.Loss(logits, targets, options);

        public static void LossPerRow(float[] logits, int[] targets, float[] losses, float[] logSumExp, CrossEntropyOptions options) =>
            CrossEntropy.LossPerRow(logits, targets, losses, logSumExp, options);

        public static void LossAndGradient(float[] logits, int[] targets, float[] gradient, CrossEntropyOptions options) =>
            CrossEntropy.LossAndGradient(logits, targets, gradient, options);

        public static void Gradient(float[] logits, int[] targets, float[] upstream, float[] gradient, CrossEntropyOptions options) =>
            CrossEntropy.Gradient(logits, targets, upstream, gradient, options);

        public static void FloatGradients(float[] logits, int[] targets, float[] upstream, CrossEntropyOptions options, CrossEntropyOptions reduced)
        {
        }
    }

    private readonly struct BFloat16Warmup : IWarmupCalls<BFloat16>
    {
        public static BFloat16 From(float value) => (BFloat16)value;

        public static void Loss(BFloat16[] logits, int[] targets, CrossEntropyOptions options) => CrossEntropy.Loss(logits, targets, options);

        public static void LossPerRow(BFloat16[] logits, int[] targets, float[] losses, float[] logSumExp, CrossEntropyOptions options) =>
            CrossEntropy.LossPerRow(logits, targets, losses, logSumExp, options);

        public static void LossAndGradient(BFloat16[] logits, int[] targets, BFloat16[] gradient, CrossEntropyOptions options) =>
            CrossEntropy.LossAndGradient(logits, targets, gradient, options);

        public static void Gradient(BFloat16[] logits, int[] targets, float[] upstream, BFloat16[] gradient, CrossEntropyOptions options) =>
            CrossEntropy.Gradient(logits, targets, upstream, gradient, options);

        public static void FloatGradients(BFloat16[] logits, int[] targets, float[] upstream, CrossEntropyOptions options, CrossEntropyOptions reduced)
        {
            var gradient = new float[logits.Length];
            CrossEntropy.LossAndGradient(logits, targets, gradient, options: reduced);
            if (Streams(options, logits.Length / targets.Length, sixteenBit: false, half: false))
            {
                using (CrossEntropyKernel.OverrideStreamedBytes(0))
                {
                    CrossEntropy.LossAndGradient(logits, targets, gradient, options: reduced);
                }
            }

            CrossEntropy.Gradient(logits, targets, upstream, gradient, options);
        }
    }

    private readonly struct HalfWarmup : IWarmupCalls<Half>
    {
        public static Half From(float value) => (Half)value;

        public static void Loss(Half[] logits, int[] targets, CrossEntropyOptions options) => CrossEntropy.Loss(logits, targets, options);

        public static void LossPerRow(Half[] logits, int[] targets, float[] losses, float[] logSumExp, CrossEntropyOptions options) =>
            CrossEntropy.LossPerRow(logits, targets, losses, logSumExp, options);

        public static void LossAndGradient(Half[] logits, int[] targets, Half[] gradient, CrossEntropyOptions options) =>
            CrossEntropy.LossAndGradient(logits, targets, gradient, options);

        public static void Gradient(Half[] logits, int[] targets, float[] upstream, Half[] gradient, CrossEntropyOptions options) =>
            CrossEntropy.Gradient(logits, targets, upstream, gradient, options);

        public static void FloatGradients(Half[] logits, int[] targets, float[] upstream, CrossEntropyOptions options, CrossEntropyOptions reduced)
        {
        }
    }
}
