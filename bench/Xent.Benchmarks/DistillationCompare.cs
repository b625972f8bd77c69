using System.Diagnostics;
using System.Globalization;

namespace Xent.Benchmarks;

/// <summary>
/// LinearDistillation.LossAndGradients against twice the fused LinearCrossEntropy.LossAndGradients at the same N, D and
/// V (roughly the work it must do: a student and a teacher product per tile, the student's two gradient products),
/// interleaved round by round so that machine load hits both alike. Prints each one's median (range) and the median
/// (range) of the per-round ratio distillation / (2 x fused).
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- distill-compare [rounds] [N D V]
/// </summary>
internal static class DistillationCompare
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        int n = args.Length > 3 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2048;
        int d = args.Length > 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 768;
        int v = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 50257;
        var x = new LinearCrossEntropyInputs(n, d, v, "random");
        var teacher = new LinearCrossEntropyInputs(n, d, v, "random");
        var dh = new float[n * d];
        var dw = new float[(long)v * d];
        var options = new DistillationOptions { Beta = 0.5f, Temperature = 2f };
        var methods = new (string Name, Action Call)[]
        {
            ("distillation", () => LinearDistillation.LossAndGradients(x.Hidden, x.Weight, teacher.Hidden, teacher.Weight, x.Targets, dh, dw, options)),
            ("fused LinearCrossEntropy", () => LinearCrossEntropy.LossAndGradients(x.Hidden, x.Weight, x.Targets, new(dh, dw))),
        };
        var times = methods.Select(_ => new List<double>()).ToArray();
        Console.WriteLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load {File.ReadAllText("/proc/loadavg").Trim()}");
        for (int r = -1; r < rounds; r++)
        {
            for (int i = 0; i < methods.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                methods[i].Call();
                if (r >= 0)
                {
                    times[i].Add(sw.Elapsed.TotalSeconds);
                }
            }
        }

        var ratios = times[0].Select((t, r) => t / (2 * times[1][r])).ToList();
        Console.WriteLine($"N={n} D={d} V={v}, D_t={d}, {rounds} interleaved rounds after one warm-up round, seconds:");
        foreach (var (m, t) in methods.Zip(times))
        {
            Console.WriteLine($"| {m.Name} | {Median(t):F2} ({t.Min():F2}-{t.Max():F2}) |");
        }

        Console.WriteLine($"distillation / (2 x fused): {Median(ratios):F2} ({ratios.Min():F2}-{ratios.Max():F2}); load {File.ReadAllText("/proc/loadavg").Trim()}");
    }

    private static double Median(List<double> x)
    {
        var s = x.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }
}
