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
    public static Task WarmupAsync(int classes, CrossEntropyOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        CrossEntropyOptions o = options ?? CrossEntropyOptions.Default;
        return Task.Factory.StartNew(() => Warmup(classes, o), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static void Warmup(int classes, CrossEntropyOptions options)
    {
        // Enough rows for every thread to take items of its own, as a batch's call would; and one row alone, which a
        // vocabulary of 4 blocks or more splits across the threads instead.
        int threads = CrossEntropyKernel.ThreadCount(options.MaxDegreeOfParallelism);
        int rows = Math.Max(1, Math.Min(Math.Max(2 * threads, (1 << 20) / classes), WarmupElements / classes));
        WarmupRows(rows, classes, options);
        if (rows > 1)
        {
            WarmupRows(1, classes, options);
        }
    }

    private static void WarmupRows(int rows, int classes, CrossEntropyOptions options)
    {
        var logits = new float[rows * classes];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = ((i % 61) - 30) * 0.05f;
        }

        var gradient = new float[logits.Length];
        var targets = new int[rows];
        var perRow = new float[rows];
        var lse = new float[rows];
        CrossEntropyOptions reduced = options.Reduction == Reduction.None ? options with { Reduction = Reduction.Mean } : options;
        Loss(logits, targets, reduced);
        LossPerRow(logits, targets, perRow, lse, options);
        LossAndGradient(logits, targets, gradient, reduced);

        // A gradient of 16 MB or more may be written with streaming stores (the kernels' own choice): those too.
        bool capped = options.SoftCap > 0f;
        if (CrossEntropyKernel.StreamsGradient(long.MaxValue, Simd.Width, CrossEntropyKernel.StoresExponentials(Simd.Width, capped, sixteenBit: false)))
        {
            using (CrossEntropyKernel.OverrideStreamedBytes(0))
            {
                LossAndGradient(logits, targets, gradient, reduced);
            }
        }

        perRow.AsSpan().Fill(1f);
        Gradient(logits, targets, perRow, gradient, options);
        LossAndGradient(logits, targets, logits, reduced);
    }
}
