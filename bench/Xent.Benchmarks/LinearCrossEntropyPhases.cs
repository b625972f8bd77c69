using System.Diagnostics;
using System.Globalization;
using Xent.Baselines;

namespace Xent.Benchmarks;

/// <summary>
/// Where the fused LossAndGradients' time goes, in one process: each call's parallel calls seen through
/// <see cref="Xent.Kernels.ParallelWork.Observer"/> (a benchmark-only hook, a static read when off), each work item's
/// thread CPU time. The calls of one call come in a fixed order: the dBias clear, then per token block the forward
/// (logits tiles, softmax states), the backward (gradient tiles, dW and dh products) and the dh reduction. Per phase,
/// per call: wall, the items' CPU, the thread time the phase's threads spent outside its items (fork/join, imbalance:
/// threads x wall - items), and the serial rest of the call on the main thread (packing h, merging the groups' states,
/// the coefficients, clearing dh; the workers spin or sleep meanwhile). Shares are of the call's thread time (threads x
/// wall; other processes on the machine inflate the wall-based rows), then the same in process CPU time, which they
/// disturb far less. Timing every item costs a little time. The products inside the items: `fused-products`, or a
/// profiler on this process (perf with DOTNET_PerfMapEnabled=1, docs/benchmarks.md).
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- lce-phases [calls] [N D V]
/// </summary>
internal static class LinearCrossEntropyPhases
{
    public static void Run(string[] args)
    {
        int calls = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        int n = args.Length > 3 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2048;
        int d = args.Length > 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 768;
        int v = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 50257;
        int threads = Environment.ProcessorCount;
        var x = new LinearCrossEntropyInputs(n, d, v, "random");
        var dh = new float[n * d];
        var dw = new float[(long)v * d];
        var observer = new Observer();
        void Call(int t)
        {
            observer.Calls.Clear();
            Xent.Kernels.ParallelWork.Observer = observer;
            try
            {
                LinearCrossEntropy.LossAndGradients(x.Hidden.AsSpan(0, t * d), x.Weight, x.Targets.AsSpan(0, t), new(dh.AsSpan(0, t * d), dw));
            }
            finally
            {
                Xent.Kernels.ParallelWork.Observer = null;
            }
        }

        TierUp.Warm([() => Call(Math.Min(n, 256))]);
        Call(n);
        string[] names = ["dBias clear", "forward items", "backward items", "dh reduction items"];
        var sums = new double[names.Length, 3]; // wall, items CPU, parallel calls
        double wallSum = 0, cpuSum = 0, serialSum = 0;
        for (int c = 0; c < calls; c++)
        {
            var cpu0 = Environment.CpuUsage.TotalTime;
            long start = Stopwatch.GetTimestamp();
            Call(n);
            double wall = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            cpuSum += (Environment.CpuUsage.TotalTime - cpu0).TotalMicroseconds;
            wallSum += wall;
            double parallelWall = 0;
            for (int i = 0; i < observer.Calls.Count; i++)
            {
                var call = observer.Calls[i];
                int phase = i == 0 ? 0 : 1 + ((i - 1) % 3);
                double w = (call.End - call.Start) * 1e6 / Stopwatch.Frequency;
                parallelWall += w;
                sums[phase, 0] += w;
                sums[phase, 1] += call.Items.Sum() / 1e3;
                sums[phase, 2]++;
            }

            serialSum += wall - parallelWall;
        }

        double capacity = threads * wallSum / calls;
        Console.WriteLine($"N={n} D={d} V={v}, width {Simd.Width}, {threads} threads, {calls} calls; per call: wall {wallSum / calls:F0} us, process CPU {cpuSum / calls:F0} us, thread time (threads x wall) {capacity:F0} us");
        Console.WriteLine("phase                                  | us per call | share of the thread time");
        void Row(string name, double us) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-38} | {us,11:F0} | {us / capacity,6:P1}"));
        for (int p = 0; p < names.Length; p++)
        {
            Row($"{names[p]} ({sums[p, 2] / calls:F0} parallel calls)", sums[p, 1] / calls);
        }

        for (int p = 0; p < names.Length; p++)
        {
            Row($"{names[p]}: outside items", ((threads * sums[p, 0]) - sums[p, 1]) / calls);
        }

        Row("serial (main thread; x threads)", threads * serialSum / calls);
        double items = Enumerable.Range(0, names.Length).Sum(p => sums[p, 1]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"In CPU time: items {items / calls:F0} us per call ({items / cpuSum:P1} of the process CPU), outside them (spinning at the joins, the serial parts) {(cpuSum - items) / calls:F0} us ({(cpuSum - items) / cpuSum:P1})"));
    }

    private sealed class Observer : Xent.Kernels.ParallelWork.IObserver
    {
        public List<ObservedCall> Calls { get; } = [];

        public Action<int> Begin(int count, bool parallel, Action<int> body)
        {
            var call = new ObservedCall(count, Stopwatch.GetTimestamp());
            Calls.Add(call);
            return i =>
            {
                long c0 = CpuTime.ThreadNanoseconds();
                body(i);
                call.Items[i] = CpuTime.ThreadNanoseconds() - c0;
            };
        }

        public void End() => Calls[^1].End = Stopwatch.GetTimestamp();
    }

    private sealed class ObservedCall(int count, long start)
    {
        public long Start { get; } = start;

        public long End { get; set; }

        public long[] Items { get; } = new long[count];
    }
}
