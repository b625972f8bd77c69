using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Xent.Baselines;
using Xent.LinearAlgebra;
using Xent.Training;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.FirstCall;

/// <summary>
/// What a fresh process's first calls cost against later ones: times calls 1 .. 10 of <see cref="MatMul.Gemm"/> (a
/// block's forward, 512 x 3072 x 768, B stored [N, K]) and of <see cref="CrossEntropy.Loss(ReadOnlySpan{float}, ReadOnlySpan{int}, CrossEntropyOptions?)"/>
/// (256 x 50257), in that order, or of the cases named (gemm, loss, grad: LossAndGradient at the same shape, gemm-warm,
/// loss-warm and grad-warm: the same after <see cref="MatMul.WarmupAsync"/> or <see cref="CrossEntropy.WarmupAsync(int, CrossEntropyOptions?)"/>,
/// bf16 and bf16-warm: LossAndGradient of bfloat16 logits into a bfloat16 gradient, before and after
/// <see cref="CrossEntropy.WarmupAsync{TLogit}"/>, lce: <see cref="LinearCrossEntropy"/>'s LossAndGradients at 256 x 768 x 50257, train:
/// <see cref="Trainer.Step"/> on `xent train`'s default model and batch, 16 x 128 tokens; train-warm: the same after
/// <see cref="CompileWarmup"/>), and prints the methods the first call JIT-compiled and the time that took, each call's
/// milliseconds (wall, then the process's CPU time, all threads), the ratio of the first to the median of the last five,
/// and a line of the results' bits (the same in every build on the same vector width). With --jit it also lists the
/// first call's longest compilations (the runtime's JIT events, see <see cref="JitEvents"/>; --list N shows N of them,
/// 15 by default). --calls N times N calls instead of 10. Run it in its own process: the point is the code's state on
/// the first call. The same program three ways (docs/benchmarks.md, First call):
/// <code>
/// dotnet run -c Release --project bench/Xent.FirstCall -- [gemm] [loss] [grad] [gemm-warm] [loss-warm] [grad-warm] [bf16] [bf16-warm] [lce] [train] [train-warm] [--jit [--list N]] [--calls N]
/// dotnet publish bench/Xent.FirstCall -c Release -r linux-x64 -p:PublishReadyToRun=true -o /tmp/fc-r2r   # ReadyToRun
/// dotnet publish bench/Xent.FirstCall -c Release -r linux-x64 -p:PublishAot=true -o /tmp/fc-aot          # native AOT
/// </code>
/// The CLI's runtime settings are DOTNET_TC_QuickJitForLoops=0 DOTNET_TieredPGO=0 (src/Xent.Cli/Xent.Cli.csproj); set
/// them to see its first step.
/// </summary>
internal static class Program
{
    public static void Main(string[] args)
    {
        bool aot = !RuntimeFeature.IsDynamicCodeSupported;
        if (aot && args.Contains("--jit"))
        {
            throw new ArgumentException("first-call: --jit lists JIT compilations, and a native AOT process has none");
        }

        using JitEvents? events = args.Contains("--jit") ? new JitEvents() : null;
        int callsAt = Array.IndexOf(args, "--calls");
        int calls = callsAt >= 0 ? int.Parse(args[callsAt + 1], CultureInfo.InvariantCulture) : 10;
        if (calls < 6)
        {
            // The first call is held against the median of the last five.
            throw new ArgumentException($"first-call: --calls {calls}: at least 6");
        }

        int listAt = Array.IndexOf(args, "--list");
        int list = listAt >= 0 ? int.Parse(args[listAt + 1], CultureInfo.InvariantCulture) : 15;
        string[] cases = [.. args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (callsAt < 0 || i != callsAt + 1) && (listAt < 0 || i != listAt + 1))];
        if (cases.Length == 0)
        {
            cases = ["gemm", "loss"];
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(aot ? "native AOT" : "JIT")}, {RuntimeInformation.ProcessArchitecture}, 512-bit vectors {Vector512.IsHardwareAccelerated}, 256-bit {Vector256.IsHardwareAccelerated}, {Environment.ProcessorCount} cores"));
        var random = new Random(1);
        foreach (string name in cases)
        {
            Action<Random, JitEvents?, int, int> measure = name switch
            {
                "gemm" => Gemm,
                "gemm-warm" => GemmWarm,
                "loss" => Loss,
                "grad" => Gradient,
                "loss-warm" => LossWarm,
                "grad-warm" => GradientWarm,
                "bf16" => BFloat16Gradient,
                "bf16-warm" => BFloat16GradientWarm,
                "lce" => LinearGradients,
                "train" => Train,
                "train-warm" => TrainWarm,
                _ => throw new ArgumentException($"first-call: unknown case '{name}' (gemm, gemm-warm, loss, grad, loss-warm, grad-warm, bf16, bf16-warm, lce, train, train-warm, --jit, --list N, --calls N)"),
            };
            measure(random, events, calls, list);
        }
    }

    private static float[] Values(Random random, int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5))];

    private static void Gemm(Random random, JitEvents? events, int calls, int list)
    {
        int m = 512, n = 3072, k = 768;
        float[] a = Values(random, m * k), b = Values(random, n * k), c = new float[m * n];
        c.AsSpan().Fill(1); // the output's pages touched before, as an application's would be
        Report("Gemm 512 x 3072 x 768 nt", events, calls, list, () => MatMul.Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n));
        Bits("Gemm", $"C {Hash(c)}");
    }

    private static void GemmWarm(Random random, JitEvents? events, int calls, int list)
    {
        Awaited("MatMul.WarmupAsync()", () => MatMul.WarmupAsync());
        Gemm(random, events, calls, list);
    }

    private static void LossWarm(Random random, JitEvents? events, int calls, int list)
    {
        Awaited("CrossEntropy.WarmupAsync(50257)", () => CrossEntropy.WarmupAsync(50257));
        Loss(random, events, calls, list);
    }

    private static void GradientWarm(Random random, JitEvents? events, int calls, int list)
    {
        Awaited("CrossEntropy.WarmupAsync(50257)", () => CrossEntropy.WarmupAsync(50257));
        Gradient(random, events, calls, list);
    }

    // A warm-up started and awaited, with its wall and CPU time.
    private static void Awaited(string name, Func<Task> warmup)
    {
        long start = Stopwatch.GetTimestamp();
        double cpu0 = CpuTime.ProcessMilliseconds();
        warmup().GetAwaiter().GetResult();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {Stopwatch.GetElapsedTime(start).TotalMilliseconds:F1} ms wall, {CpuTime.ProcessMilliseconds() - cpu0:F1} ms CPU"));
    }

    private static void Loss(Random random, JitEvents? events, int calls, int list)
    {
        int rows = 256, vocab = 50257;
        float[] logits = Values(random, rows * vocab);
        int[] targets = [.. Enumerable.Range(0, rows).Select(_ => random.Next(vocab))];
        float loss = 0;
        Report("Loss 256 x 50257", events, calls, list, () => loss = CrossEntropy.Loss(logits, targets));
        Bits("Loss", $"loss {BitConverter.SingleToUInt32Bits(loss):x8}");
    }

    private static void Gradient(Random random, JitEvents? events, int calls, int list)
    {
        int rows = 256, vocab = 50257;
        float[] logits = Values(random, rows * vocab), gradient = new float[rows * vocab];
        int[] targets = [.. Enumerable.Range(0, rows).Select(_ => random.Next(vocab))];
        gradient.AsSpan().Fill(1); // the output's pages touched before, as an application's would be
        float loss = 0;
        Report("LossAndGradient 256 x 50257", events, calls, list, () => loss = CrossEntropy.LossAndGradient(logits, targets, gradient));
        Bits("LossAndGradient", $"loss {BitConverter.SingleToUInt32Bits(loss):x8} gradient {Hash(gradient)}");
    }

    private static void BFloat16Gradient(Random random, JitEvents? events, int calls, int list)
    {
        int rows = 256, vocab = 50257;
        BFloat16[] logits = [.. Values(random, rows * vocab).Select(v => (BFloat16)v)];
        var gradient = new BFloat16[rows * vocab];
        int[] targets = [.. Enumerable.Range(0, rows).Select(_ => random.Next(vocab))];
        gradient.AsSpan().Fill((BFloat16)1f); // the output's pages touched before, as an application's would be
        float loss = 0;
        Report("LossAndGradient bfloat16 256 x 50257", events, calls, list, () => loss = CrossEntropy.LossAndGradient(logits, targets, gradient));
        Bits("LossAndGradient bfloat16", $"loss {BitConverter.SingleToUInt32Bits(loss):x8} gradient {Hash([.. gradient.Select(g => (float)g)])}");
    }

    private static void BFloat16GradientWarm(Random random, JitEvents? events, int calls, int list)
    {
        Awaited("CrossEntropy.WarmupAsync<BFloat16>(50257)", () => CrossEntropy.WarmupAsync<BFloat16>(50257));
        BFloat16Gradient(random, events, calls, list);
    }

    private static void LinearGradients(Random random, JitEvents? events, int calls, int list)
    {
        int rows = 256, hidden = 768, vocab = 50257;
        float[] h = Values(random, rows * hidden), w = Values(random, vocab * hidden), dh = new float[h.Length], dw = new float[w.Length];
        int[] targets = [.. Enumerable.Range(0, rows).Select(_ => random.Next(vocab))];
        dw.AsSpan().Fill(1);
        float loss = 0;
        Report("LinearCrossEntropy.LossAndGradients 256 x 768 x 50257", events, calls, list,
            () => loss = LinearCrossEntropy.LossAndGradients(h, w, targets, new(dh, dw)));
        Bits("LinearCrossEntropy", $"loss {BitConverter.SingleToUInt32Bits(loss):x8} dh {Hash(dh)} dw {Hash(dw)}");
    }

    private static void Train(Random random, JitEvents? events, int calls, int list) => Train(random, events, calls, list, warm: false);

    private static void TrainWarm(Random random, JitEvents? events, int calls, int list) => Train(random, events, calls, list, warm: true);

    private static void Train(Random random, JitEvents? events, int calls, int list, bool warm)
    {
        // The `xent train` defaults (its Markov corpus has 32 symbols).
        var config = new GptConfig
        {
            VocabSize = 32,
            ContextLength = TrainingDefaults.Seq,
            Layers = TrainingDefaults.Layers,
            Dim = TrainingDefaults.Dim,
            Heads = TrainingDefaults.Heads,
        };
        int batch = TrainingDefaults.Batch, seq = config.ContextLength;
        var options = new TrainerOptions();
        if (warm)
        {
            Awaited("CompileWarmup of xent train's model", () => CompileWarmup.Start(config, batch, seq, options));
        }

        int[] tokens = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        int[] targets = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        var trainer = new Trainer(new GptModel(config, seed: 1), options);
        var losses = new List<float>();
        Report(warm ? "Training step after CompileWarmup" : "Training step (xent train's model, 16 x 128 tokens)", events, calls, list,
            () => losses.Add(trainer.Step(tokens, targets, batch, seq).Loss));
        Bits("Training", $"losses {Hash([.. losses])} last {BitConverter.SingleToUInt32Bits(losses[^1]):x8}");
    }

    private static void Report(string name, JitEvents? events, int calls, int list, Action call)
    {
        CpuTime.ProcessMilliseconds();
        events?.Start();
        var ms = new double[calls];
        var cpu = new double[calls];
        TimeSpan jitBefore = JitInfo.GetCompilationTime();
        long methodsBefore = JitInfo.GetCompiledMethodCount();
        for (int i = 0; i < ms.Length; i++)
        {
            double cpu0 = CpuTime.ProcessMilliseconds();
            long start = Stopwatch.GetTimestamp();
            call();
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            cpu[i] = CpuTime.ProcessMilliseconds() - cpu0;
            if (i == 0)
            {
                // The JIT's share of the first call (all threads): what a warm-up can and cannot remove.
                double jitMs = (JitInfo.GetCompilationTime() - jitBefore).TotalMilliseconds;
                long methods = JitInfo.GetCompiledMethodCount() - methodsBefore;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: first call JIT-compiled {methods} methods in {jitMs:F1} ms"));
                if (events is not null)
                {
                    PrintCompilations(events.Stop(), list);
                }
            }
        }

        static string Show(double[] t) => string.Join(" ", t.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)));
        static double Late(double[] t) => t[^5..].Order().ElementAt(2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: calls 1-{calls} {Show(ms)} ms; first / median of {calls - 4}-{calls} = {ms[0] / Late(ms):F2}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: CPU of calls 1-{calls} {Show(cpu)} ms; first / median of {calls - 4}-{calls} = {cpu[0] / Late(cpu):F2}"));
    }

    // One line per case that tests/aot/run compares between builds: the results' bits, not their times.
    private static void Bits(string name, string bits) => Console.WriteLine($"bits {name}: {bits}");

    // FNV-1a over the floats' bits.
    private static string Hash(ReadOnlySpan<float> values)
    {
        ulong h = 14695981039346656037;
        foreach (float v in values)
        {
            h = (h ^ BitConverter.SingleToUInt32Bits(v)) * 1099511628211;
        }

        return h.ToString("x16", CultureInfo.InvariantCulture);
    }

    private static void PrintCompilations(List<(string Name, double Ms, int Tier, bool R2RRejected)> compiled, int list)
    {
        // The runtime's tier codes (MethodFlags bits 7-9): 2 fully optimised (AggressiveOptimization, loops with
        // QuickJitForLoops off, TieredCompilation off), 3 Tier0; the rest (Tier1, OSR, instrumented) counted apart.
        static string Tier(int t) => t switch { 2 => "optimised", 3 => "tier0", _ => $"tier code {t}" };
        var groups = compiled.GroupBy(c => c.Tier).OrderBy(g => g.Key)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Count()} {Tier(g.Key)} {g.Sum(c => c.Ms):F1} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  JIT events: {compiled.Count} methods, {compiled.Sum(c => c.Ms):F1} ms ({string.Join(", ", groups)}); ReadyToRun code rejected for {compiled.Count(c => c.R2RRejected)}; the longest:"));
        foreach (var (methodName, ms, tier, rejected) in compiled.OrderByDescending(c => c.Ms).Take(list))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {ms,7:F2} ms {Tier(tier),-9} {(rejected ? "(ReadyToRun code rejected) " : "")}{methodName}"));
        }
    }
}
