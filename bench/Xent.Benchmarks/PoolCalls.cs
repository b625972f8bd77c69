using System.Diagnostics;
using Xent.Kernels;

namespace Xent.Benchmarks;

/// <summary>
/// The cost of one parallel call of <see cref="ParallelWork.For"/> on 2 threads, apart from its work: calls of
/// `count` items back to back, each item either empty or summing its own 4 KB (about 0.3 us, in L1), per call the
/// wall time at 2 threads against 1 thread's (inline), and the share of the items the worker ran. Medians and the
/// spread over rounds, interleaved.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- pool-calls [rounds]
/// </summary>
internal static class PoolCalls
{
    private static int byWorker;

    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 15;
        const int calls = 20000;
        float[][] data = [.. Enumerable.Range(0, 64).Select(i => Enumerable.Range(0, 1024).Select(j => (float)(i + j)).ToArray())];
        float[] sink = new float[64 * 16];
        int main = Environment.CurrentManagedThreadId;
        Action<int> empty = _ => { };
        Action<int> work = i =>
        {
            float s = 0;
            foreach (float x in data[i])
            {
                s += x;
            }

            sink[i * 16] = s;
            if (Environment.CurrentManagedThreadId != main)
            {
                Interlocked.Increment(ref byWorker);
            }
        };

        Console.WriteLine($"pool-calls: {calls} calls per round, {rounds} rounds; us per call, median [min-max] over rounds");
        Console.WriteLine($"{"items",6} {"body",6} {"1T",20} {"2T",20} {"2T/1T med",10}");
        foreach (int count in new[] { 2, 4, 16, 20, 64 })
        {
            foreach (var (name, body) in new[] { ("empty", empty), ("4KB", work) })
            {
                var one = new List<double>();
                var two = new List<double>();
                for (int r = 0; r < rounds + 1; r++)
                {
                    foreach (int threads in new[] { 1, 2 })
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        for (int c = 0; c < calls; c++)
                        {
                            ParallelWork.For(count, threads, body);
                        }

                        double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / calls;
                        if (r > 0)
                        {
                            (threads == 1 ? one : two).Add(us);
                        }
                    }
                }

                Console.Write($"worker share {byWorker / (double)(count * calls * (rounds + 1)):P0} ");
                byWorker = 0;
                Console.WriteLine($"{count,6} {name,6} {Cell(one),20} {Cell(two),20} {Median(two) / Median(one),10:F2}");
            }
        }
    }

    private static double Median(List<double> x) => x.Order().ElementAt(x.Count / 2);

    private static string Cell(List<double> x) => $"{Median(x):F3} [{x.Min():F3}-{x.Max():F3}]";
}
