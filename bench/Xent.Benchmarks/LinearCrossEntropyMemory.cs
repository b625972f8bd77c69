using System.Diagnostics;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// Peak extra memory of one call, fused or unfused, measured in a process of its own:
/// peak RSS (VmHWM, reset through /proc/self/clear_refs after the inputs exist) minus the RSS before the call,
/// and the managed bytes allocated by the call. Everything is JIT-compiled first on a small problem.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- lce-memory fused|fused-filtered|fused-loss|fused-bf16|fused-bf16-loss|unfused|unfused-loss|filter-error [random|peaked] [N D V]
/// </summary>
internal static class LinearCrossEntropyMemory
{
    public static void Run(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "fused";
        string kind = args.Length > 1 ? args[1] : "random";
        int n = args.Length > 4 ? int.Parse(args[2]) : 2048;
        int d = args.Length > 4 ? int.Parse(args[3]) : 768;
        int v = args.Length > 4 ? int.Parse(args[4]) : 50257;
        if (mode == "filter-error")
        {
            FilterError(n, d, v, kind);
            return;
        }

        Call(mode, new LinearCrossEntropyInputs(64, 32, 1000, kind)); // JIT everything on a small problem first
        var x = new LinearCrossEntropyInputs(n, d, v, kind);
        var dh = new float[n * d];
        var dw = new float[(long)v * d];
        dh.AsSpan().Fill(1);
        dw.AsSpan().Fill(1);
        if (mode.Contains("bf16", StringComparison.Ordinal))
        {
            _ = (x.HiddenBFloat16, x.WeightBFloat16); // the bfloat16 inputs exist before the measurement starts
        }

        GC.Collect(2, GCCollectionMode.Forced, true, true);
        File.WriteAllText("/proc/self/clear_refs", "5");
        long rss0 = Status("VmRSS");
        long managed0 = GC.GetTotalAllocatedBytes(true);
        var sw = Stopwatch.StartNew();
        float loss = Call(mode, x, dh, dw);
        double seconds = sw.Elapsed.TotalSeconds;
        long peak = Status("VmHWM");
        long managed = GC.GetTotalAllocatedBytes(true) - managed0;
        Console.WriteLine($"{mode} {kind} N={n} D={d} V={v}: loss {loss}, {seconds:F2} s, peak RSS +{(peak - rss0) / 1024.0:F1} MB, managed allocations {managed / 1048576.0:F1} MB");
    }

    private static float Call(string mode, LinearCrossEntropyInputs x, float[]? dh = null, float[]? dw = null)
    {
        int n = x.N, d = x.D, v = x.V;
        dh ??= new float[n * d];
        dw ??= new float[v * d];
        switch (mode)
        {
            case "fused":
                return LinearCrossEntropy.LossAndGradients(x.Hidden, x.Weight, x.Targets, new(dh, dw));
            case "fused-filtered":
                return LinearCrossEntropy.LossAndGradients(x.Hidden, x.Weight, x.Targets, new(dh, dw),
                    new LinearCrossEntropyOptions { FilterThreshold = x.FilterThreshold });
            case "fused-loss":
                return LinearCrossEntropy.Loss(x.Hidden, x.Weight, x.Targets);
            case "fused-bf16":
                return LinearCrossEntropy.LossAndGradients(x.HiddenBFloat16, x.WeightBFloat16, x.Targets, new(dh, dw));
            case "fused-bf16-loss":
                return LinearCrossEntropy.Loss(x.HiddenBFloat16, x.WeightBFloat16, x.Targets);
            case "unfused-loss":
                {
                    var logits = GC.AllocateUninitializedArray<float>(n * v);
                    MatMul.Gemm(false, true, n, v, d, 1, x.Hidden, d, x.Weight, d, 0, logits, v);
                    return CrossEntropy.Loss(logits, x.Targets);
                }

            case "unfused":
                {
                    // What a framework does, minus its extra copies: logits, their gradient in place, two products.
                    var logits = GC.AllocateUninitializedArray<float>(n * v);
                    MatMul.Gemm(false, true, n, v, d, 1, x.Hidden, d, x.Weight, d, 0, logits, v);
                    float loss = CrossEntropy.LossAndGradient(logits, x.Targets, logits);
                    MatMul.Gemm(false, false, n, d, v, 1, logits, v, x.Weight, d, 0, dh, d);
                    MatMul.Gemm(true, false, v, d, n, 1, logits, v, x.Hidden, d, 0, dw, d);
                    return loss;
                }

            default:
                throw new ArgumentException($"Unknown mode '{mode}'.");
        }
    }

    // How far the filtered gradients are from the exact ones, relative to each gradient's largest entry.
    private static void FilterError(int n, int d, int v, string kind)
    {
        var x = new LinearCrossEntropyInputs(n, d, v, kind);
        var (dh, dw, fh, fw) = (new float[n * d], new float[v * d], new float[n * d], new float[v * d]);
        Call("fused", x, dh, dw);
        Call("fused-filtered", x, fh, fw);
        Console.WriteLine($"{kind} N={n} D={d} V={v} threshold {x.FilterThreshold:E2}: max |dh error| / max |dh| = {MaxError(dh, fh):E2}, max |dW error| / max |dW| = {MaxError(dw, fw):E2}");
    }

    private static double MaxError(float[] exact, float[] approx)
    {
        double err = 0, scale = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            err = Math.Max(err, Math.Abs(exact[i] - approx[i]));
            scale = Math.Max(scale, Math.Abs(exact[i]));
        }

        return err / scale;
    }

    internal static long Status(string field)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"{field} not in /proc/self/status.");
    }
}
