using System.Diagnostics;
using System.Globalization;

namespace Xent.Benchmarks;

/// <summary>
/// What the cross-entropy kernels cost in arithmetic alone: one thread, a batch small enough to stay in L2
/// (default 2 x 32000: 256 KB of float logits), the fastest of many calls in ns per element, for float, bfloat16
/// and Half Loss, float LossAndGradient (also with a soft cap of 30, and in place, beside the copy that each in-place case
/// takes to restore its logits) and bfloat16 LossAndGradient, out of place and in place (bfloat16 and Half also with a
/// soft cap of 30 and label smoothing of 0.1, a 16-bit gradient that keeps no exponentials). Memory plays no part, and the
/// minimum leaves out most of what other programs on a shared machine take, so two builds compare by these numbers
/// even on a busy machine. XENT_VECTOR_WIDTH=256 runs the 256-bit paths.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- kernel-compute [rows] [classes] [rounds]
/// </summary>
internal static class KernelCompute
{
    public static void Run(string[] args)
    {
        int rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2;
        int classes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 32000;
        int rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 40;
        var random = new Random(42);
        var bf16 = new BFloat16[rows * classes];
        for (int i = 0; i < bf16.Length; i++)
        {
            bf16[i] = (BFloat16)((random.NextDouble() * 8) - 4);
        }

        var logits = new float[bf16.Length];
        BFloat16.ConvertToSingle(bf16, logits);
        var half = new Half[logits.Length];
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(logits, half);
        var gradient = new float[logits.Length];
        var bf16Gradient = new BFloat16[bf16.Length];
        var bf16Work = (BFloat16[])bf16.Clone();
        var floatWork = (float[])logits.Clone();
        var halfWork = (Half[])half.Clone();
        var halfGradient = new Half[half.Length];
        var targets = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
        var options = new CrossEntropyOptions { MaxDegreeOfParallelism = 1 };
        var capped = options with { SoftCap = 30f };
        var smoothed = options with { LabelSmoothing = 0.1f };
        var cappedSmoothed = capped with { LabelSmoothing = 0.1f };
        var cases = new (string Name, Action Call)[]
        {
            ("float Loss", () => CrossEntropy.Loss(logits, targets, options)),
            ("bf16 Loss", () => CrossEntropy.Loss(bf16, targets, options)),
            ("Half Loss", () => CrossEntropy.Loss(half, targets, options)),
            ("float LossAndGradient", () => CrossEntropy.LossAndGradient(logits, targets, gradient, options)),
            ("float Loss, soft cap 30", () => CrossEntropy.Loss(logits, targets, capped)),
            ("float LossAndGradient, soft cap 30", () => CrossEntropy.LossAndGradient(logits, targets, gradient, capped)),
            ("float copy (what each in-place case adds)", () => logits.AsSpan().CopyTo(floatWork)),
            ("float LossAndGradient in place", () =>
            {
                logits.AsSpan().CopyTo(floatWork);
                CrossEntropy.LossAndGradient(floatWork, targets, floatWork, options);
            }),
            ("bf16 LossAndGradient", () => CrossEntropy.LossAndGradient(bf16, targets, bf16Gradient, options)),
            ("bf16 LossAndGradient in place", () =>
            {
                bf16.AsSpan().CopyTo(bf16Work);
                CrossEntropy.LossAndGradient(bf16Work, targets, bf16Work, options);
            }),
            ("Half LossAndGradient in place", () =>
            {
                half.AsSpan().CopyTo(halfWork);
                CrossEntropy.LossAndGradient(halfWork, targets, halfWork, options);
            }),
            ("bf16 LossAndGradient in place, soft cap 30", () =>
            {
                bf16.AsSpan().CopyTo(bf16Work);
                CrossEntropy.LossAndGradient(bf16Work, targets, bf16Work, capped);
            }),
            ("float LossAndGradient, label smoothing 0.1", () => CrossEntropy.LossAndGradient(logits, targets, gradient, smoothed)),
            ("bf16 LossAndGradient, soft cap 30, label smoothing 0.1", () => CrossEntropy.LossAndGradient(bf16, targets, bf16Gradient, cappedSmoothed)),
            ("bf16 LossAndGradient in place, soft cap 30, label smoothing 0.1", () =>
            {
                bf16.AsSpan().CopyTo(bf16Work);
                CrossEntropy.LossAndGradient(bf16Work, targets, bf16Work, cappedSmoothed);
            }),
            ("Half LossAndGradient, soft cap 30, label smoothing 0.1", () => CrossEntropy.LossAndGradient(half, targets, halfGradient, cappedSmoothed)),
            ("Half LossAndGradient in place, soft cap 30, label smoothing 0.1", () =>
            {
                half.AsSpan().CopyTo(halfWork);
                CrossEntropy.LossAndGradient(halfWork, targets, halfWork, cappedSmoothed);
            }),
        };

        TierUp.Warm([.. cases.Select(c => c.Call)]);

        const int calls = 10;
        var best = new double[cases.Length];
        Array.Fill(best, double.MaxValue);
        for (int r = 0; r < rounds; r++)
        {
            for (int c = 0; c < cases.Length; c++)
            {
                var clock = Stopwatch.StartNew();
                for (int k = 0; k < calls; k++)
                {
                    cases[c].Call();
                }

                best[c] = Math.Min(best[c], clock.Elapsed.TotalSeconds * 1e9 / calls / logits.Length);
            }
        }

        Console.WriteLine($"{rows} x {classes}, one thread, width {Environment.GetEnvironmentVariable("XENT_VECTOR_WIDTH") ?? "default"}, best of {rounds} rounds of {calls} calls, ns per element:");
        for (int c = 0; c < cases.Length; c++)
        {
            Console.WriteLine($"| {cases[c].Name} | {best[c]:F3} |");
        }
    }
}
