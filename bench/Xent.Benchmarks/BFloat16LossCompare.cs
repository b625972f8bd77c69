using System.Diagnostics;
using System.Globalization;
using Xent.Baselines;

namespace Xent.Benchmarks;

/// <summary>
/// bfloat16 and Half logits against float at the same values, and each against the read limit of its own bytes (the
/// fastest few read methods, the fastest of them in each round: <see cref="LimitReruns"/>), interleaved round by round
/// (as <see cref="LinearCrossEntropyCompare"/>) so that a change in machine load hits every method alike. Values are uniform in [-4, 4) rounded to bfloat16, so every type holds the same numbers. Prints, per
/// method, the median and range of the wall time per call and the median (range) of its per-round ratio to float Loss.
/// Both cores (every thread the options allow); XENT_VECTOR_WIDTH=256 runs the 256-bit paths. Each loss's sample comes
/// right after an untimed <see cref="PoolLead"/>, the read limits' after none.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- bf16-compare [rounds] [NxV ...]
/// </summary>
internal static class BFloat16LossCompare
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 15;
        string[] shapes = args.Length > 1 ? args[1..] : ["256x50257", "2048x50257", "8192x32000"];
        Console.WriteLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, width {Environment.GetEnvironmentVariable("XENT_VECTOR_WIDTH") ?? "default"}, load {Load()}");
        foreach (string shape in shapes)
        {
            Measure(shape, rounds);
            GC.Collect();
        }

        Console.WriteLine($"{DateTime.UtcNow:HH:mm} UTC, load {Load()}");
    }

    private static void Measure(string shape, int rounds)
    {
        var parts = shape.Split('x');
        int rows = int.Parse(parts[0], CultureInfo.InvariantCulture), classes = int.Parse(parts[1], CultureInfo.InvariantCulture);
        var random = new Random(42);
        var bf16 = new BFloat16[rows * classes];
        for (int i = 0; i < bf16.Length; i++)
        {
            bf16[i] = (BFloat16)((random.NextDouble() * 8) - 4);
        }

        var logits = new float[bf16.Length];
        BFloat16.ConvertToSingle(bf16, logits);
        var half = new Half[bf16.Length];
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(logits, half);
        int reps = (int)Math.Max(1, (64L << 20) / bf16.Length);

        // An in-place case writes its gradient over its logits: each call of a turn gets a fresh copy, put back after
        // the turn (untimed). Run on their own gradients instead, the calls had read ever smaller values (Half ones
        // subnormal, then zeros), and a Half gradient's time had moved by up to 1.6x with them.
        var floatWork = new InPlaceCopies<float>(logits, reps);
        var bf16Work = new InPlaceCopies<BFloat16>(bf16, reps);
        var halfWork = new InPlaceCopies<Half>(half, reps);
        var floatCapWork = new InPlaceCopies<float>(logits, reps);
        var bf16CapWork = new InPlaceCopies<BFloat16>(bf16, reps);
        var capped = new CrossEntropyOptions { SoftCap = 30f };
        var gradient = MemoryLimits.Touched(logits.Length);
        var bf16Bytes = new float[(bf16.Length + 1) / 2]; // the bfloat16 logits' bytes, for their read limit
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(bf16.AsSpan()).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bf16Bytes.AsSpan()));
        var targets = new int[rows];
        for (int n = 0; n < rows; n++)
        {
            targets[n] = random.Next(classes);
        }

        int threads = Environment.ProcessorCount;
        // The fastest few read methods of each buffer (one thread or all), then timed beside the losses round by round;
        // each round's limit is the fastest of them (LimitReruns).
        var floatReads = LimitReruns.Leaders(MemoryLimits.QuickRanked(logits, gradient, [1, threads]).Reads);
        var bf16Reads = LimitReruns.Leaders(MemoryLimits.QuickRanked(bf16Bytes, gradient, [1, threads]).Reads);
        (string Name, Action<int> Call, Action? Restore)[] methods =
        [
            ("float Loss", _ => CrossEntropy.Loss(logits, targets), null),
            ("bf16 Loss", _ => CrossEntropy.Loss(bf16, targets), null),
            ("Half Loss", _ => CrossEntropy.Loss(half, targets), null),
            ("float LossAndGradient in place", k => CrossEntropy.LossAndGradient(floatWork[k], targets, floatWork[k]), floatWork.Restore),
            ("bf16 LossAndGradient in place", k => CrossEntropy.LossAndGradient(bf16Work[k], targets, bf16Work[k]), bf16Work.Restore),
            ("bf16 LossAndGradient, float gradient", _ => CrossEntropy.LossAndGradient(bf16, targets, gradient), null),
            ("Half LossAndGradient in place", k => CrossEntropy.LossAndGradient(halfWork[k], targets, halfWork[k]), halfWork.Restore),
            ("float LossAndGradient in place, soft cap 30", k => CrossEntropy.LossAndGradient(floatCapWork[k], targets, floatCapWork[k], capped), floatCapWork.Restore),
            ("bf16 LossAndGradient in place, soft cap 30", k => CrossEntropy.LossAndGradient(bf16CapWork[k], targets, bf16CapWork[k], capped), bf16CapWork.Restore),
            .. LimitReruns.Reads(floatReads, logits).Select(a => ("float read", (Action<int>)(_ => a()), (Action?)null)),
            .. LimitReruns.Reads(bf16Reads, bf16Bytes).Select(a => ("bf16 read", (Action<int>)(_ => a()), (Action?)null)),
        ];

        // A read limit on one thread outlasts the pool worker's spin: each loss (never a limit, which a spinning worker
        // would slow) comes after an untimed lead that leaves the worker awake.
        int kernels = methods.Length - floatReads.Count - bf16Reads.Count;
        var lead = PoolLead.Wake(threads);
        // One method's turn in a round: its lead, then its calls, timed (ms per call).
        double Turn(int i)
        {
            if (i < kernels)
            {
                lead();
            }

            var sw = Stopwatch.StartNew();
            for (int k = 0; k < reps; k++)
            {
                methods[i].Call(k);
            }

            double ms = sw.Elapsed.TotalMilliseconds / reps;
            methods[i].Restore?.Invoke();
            return ms;
        }

        // Each shape's turns warmed until steady (the timing code in them too): 40 rounds and 0.5 s left the first
        // shape's rounds compiling 37 methods.
        TierUp.UntilSteady([.. Enumerable.Range(0, methods.Length).Select(i => (Action)(() => Turn(i)))]);
        var times = methods.Select(_ => new List<double>()).ToArray();
        var jit = TierUp.Compiled();
        for (int r = -1; r < rounds; r++)
        {
            jit = r == 0 ? TierUp.Compiled() : jit;
            for (int i = 0; i < methods.Length; i++)
            {
                double ms = Turn(i);
                if (r >= 0)
                {
                    times[i].Add(ms);
                }
            }
        }

        string jitLine = TierUp.CompiledSince(jit);
        Console.WriteLine($"{rows} x {classes}, {rounds} interleaved rounds of {reps} call(s) each after warm-up past tier-up and one more round; ms per call, median (min-max), ratio to float Loss per round:");
        var lines = methods.Take(kernels).Select((m, i) => (m.Name, Times: times[i])).ToList();
        lines.Add(($"float read limit (fastest per round of {LimitReruns.Describe(floatReads)})", LimitReruns.PerRound(times[kernels..(kernels + floatReads.Count)])));
        lines.Add(($"bf16 read limit (fastest per round of {LimitReruns.Describe(bf16Reads)})", LimitReruns.PerRound(times[(kernels + floatReads.Count)..])));
        foreach (var (name, t) in lines)
        {
            var ratios = t.Select((x, r) => x / times[0][r]).ToList();
            Console.WriteLine($"| {name} | {Median(t):G3} ({t.Min():G3}-{t.Max():G3}) | {Median(ratios):F2} ({ratios.Min():F2}-{ratios.Max():F2}) |");
        }

        Console.WriteLine(jitLine);
    }

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "unknown";

    private static double Median(List<double> x)
    {
        var s = x.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }
}
