using System.Diagnostics;
using Xent.Baselines;
using Xent.Layers;
using Xent.Optim;
using Xent.Training;
using Xent.Training.Model;

namespace Xent.Benchmarks;

/// <summary>
/// Where a whole training step's time goes, phase by phase, at 1 and 2 threads: the default model's step
/// (GptModel.ForwardBackward's layer calls, copied here in its order, on the model's own parameters, then the
/// Trainer's norm and AdamW update) replayed with a timestamp and the process CPU time (CLOCK_PROCESS_CPUTIME_ID,
/// every thread, spinning workers included) between phases, steps at 1 and at 2 threads in one process, in interleaved
/// blocks (so host noise hits both): each block of <see cref="Block"/> timed steps follows an untimed lead step at the
/// same thread count, so that a timed step finds the pool's worker and the caches as a training run's step finds them
/// after its previous step. Steps alternating one by one timed a cost back-to-back steps do not pay: the worker,
/// asleep through the 1-thread step, woke up inside the 2-thread step's first parallel call (the first LayerNorm), and
/// "ln forward" showed 2 threads slower than 1. The last line counts the worker's sleeps between 2-thread steps: a
/// run whose steps lie more than the worker's spin (50 us, less the encoder's forward) apart pays one per step.
/// The replay is checked bitwise against GptModel.ForwardBackward (loss and every gradient) before measuring.
/// Per phase (summed over the blocks): wall and CPU at 1 and 2 threads, median and 10th percentile over the steps (on
/// a shared machine the low percentile is the uncontended time), the 2-thread speed-up and the wall the phase loses
/// to imperfect scaling (2T - 1T / 2, at the 10th percentile).
/// With "trace", a second table at 2 threads in CPU terms, which other processes on the machine disturb far less
/// than wall time: per phase the parallel calls (and those run inline), the main thread's CPU outside parallel calls
/// (serial work), the items' CPU (thread CPU time of each item), the ideal 2-thread time of the phase (serial work
/// plus, per parallel call, the makespan of its items dealt in order to whichever of 2 threads is free first) and
/// the ideal speed-up (serial + items) / ideal. Timing every item costs wall time: trace wall times are not the step's.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- step-phases [default|gpt2-L1|...] [steps] [trace]
/// </summary>
internal static class StepPhases
{
    /// <summary>Timed steps per block of a thread count.</summary>
    private const int Block = 5;

    public static void Run(string[] args)
    {
        string shape = args.Length > 0 ? args[0] : "default";
        TrainingStepMeasurement.KeepAttentionProbabilitiesIfAsked();
        int steps = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 40;
        bool trace = args.Length > 2 && args[2] == "trace";
        var (config, batch, seq) = TrainingStepMeasurement.Shape(shape);
        var random = new Random(1);
        int[] tokens = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        int[] targets = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        Check(config, tokens, targets, batch, seq);

        int[] threadCounts = [1, 2];
        var rigs = threadCounts.Select(t => new Rig(config, batch, seq, t)).ToArray();
        // Warm-up past tiered compilation (40 steps per thread count, at most 3 s each, then a pause): with 6 steps the
        // once-per-step code (the norm, AdamW, the phases' drivers) ran at tier 0 and was compiled during the steps.
        // The traced steps' observer is warmed too.
        var observer = new Observer();
        TierUp.WarmCapped([.. rigs.Select(rig => (Action)(() =>
        {
            rig.Marks.Clear();
            if (trace && rig.Threads == 2)
            {
                observer.Reset();
                Xent.Kernels.ParallelWork.Observer = observer;
                rig.Step(tokens, targets);
                Xent.Kernels.ParallelWork.Observer = null;
                _ = observer.PerPhase(rig.Marks).ToList();
            }
            else
            {
                rig.Step(tokens, targets);
            }
        }))], capSeconds: 3);
        var jit = TierUp.Compiled();

        var wall = new Dictionary<(string, int), List<double>>();
        var cpu = new Dictionary<(string, int), List<double>>();
        var traced = new Dictionary<(string, string), List<double>>();
        var stepWall = threadCounts.ToDictionary(t => t, _ => new List<double>());
        var stepCpu = threadCounts.ToDictionary(t => t, _ => new List<double>());
        var sleeps = new List<double>();

        // The worker's sleeps from the end of the last 2-thread step to the start of the next: each costs that step's
        // first parallel call a wake-up.
        var sleepsBetween = new List<double>();
        long sleepsAfter = Xent.Kernels.WorkerPool.Sleeps;
        for (int k = 0; k < steps; k += Block)
        {
            foreach (var rig in rigs)
            {
                // The lead step, untimed: it finds the worker asleep and the caches holding the other rig's data.
                rig.Step(tokens, targets);
                if (rig.Threads == 2)
                {
                    sleepsAfter = Xent.Kernels.WorkerPool.Sleeps;
                }

                for (int b = k; b < Math.Min(k + Block, steps); b++)
                {
                    Timed(rig);
                }
            }
        }

        void Timed(Rig rig)
        {
            rig.Marks.Clear();
            bool observe = trace && rig.Threads == 2;
            if (observe)
            {
                observer.Reset();
                Xent.Kernels.ParallelWork.Observer = observer;
            }

            long sleeps0 = Xent.Kernels.WorkerPool.Sleeps;
            rig.Step(tokens, targets);
            Xent.Kernels.ParallelWork.Observer = null;
            if (rig.Threads == 2)
            {
                sleepsBetween.Add(sleeps0 - sleepsAfter);
                sleepsAfter = Xent.Kernels.WorkerPool.Sleeps;
                sleeps.Add(sleepsAfter - sleeps0);
            }

            var sums = new Dictionary<string, (double Wall, double Cpu)>();
            for (int i = 1; i < rig.Marks.Count; i++)
            {
                var (name, w, c, _) = rig.Marks[i];
                var (_, w0, c0, _) = rig.Marks[i - 1];
                var s = sums.GetValueOrDefault(name);
                sums[name] = (s.Wall + Stopwatch.GetElapsedTime(w0, w).TotalMicroseconds, s.Cpu + ((c - c0) / 1e3));
            }

            foreach (var (name, (w, c)) in sums)
            {
                Add(wall, (name, rig.Threads), w);
                Add(cpu, (name, rig.Threads), c);
            }

            stepWall[rig.Threads].Add(Stopwatch.GetElapsedTime(rig.Marks[0].Wall, rig.Marks[^1].Wall).TotalMicroseconds);
            stepCpu[rig.Threads].Add((rig.Marks[^1].Cpu - rig.Marks[0].Cpu) / 1e3);
            if (observe)
            {
                foreach (var (key, value) in observer.PerPhase(rig.Marks))
                {
                    Add(traced, key, value);
                }
            }
        }

        string jitLine = TierUp.CompiledSince(jit);
        Console.WriteLine($"{shape}: B {batch}, T {seq}, D {config.Dim}, L {config.Layers}; {steps} steps per thread count, in interleaved blocks of {Block} after a lead step; width {Simd.Width}" +
            (trace ? " (traced: wall times include the tracing)" : string.Empty));
        Console.WriteLine("wall and CPU (all threads) per step in us, median / 10th percentile; x2 = 1T / 2T wall; lost = 2T - 1T / 2 wall (p10)");
        Console.WriteLine($"{"phase",-20} {"1T wall",13} {"2T wall",13} {"x2 med/p10",11} {"1T cpu",13} {"2T cpu",13} {"lost",6}");
        var names = rigs[0].Order;
        double lostSum = 0;
        foreach (string name in names)
        {
            double l1 = Low(wall[(name, 1)]), l2 = Low(wall[(name, 2)]);
            lostSum += l2 - (l1 / 2);
            Console.WriteLine($"{name,-20} {Cell(wall[(name, 1)]),13} {Cell(wall[(name, 2)]),13} {$"{Median(wall[(name, 1)]) / Median(wall[(name, 2)]):F2} / {l1 / l2:F2}",11} " +
                $"{Cell(cpu[(name, 1)]),13} {Cell(cpu[(name, 2)]),13} {l2 - (l1 / 2),6:F0}");
        }

        var ratios = stepWall[1].Zip(stepWall[2], (a, b) => a / b).ToList();
        Console.WriteLine($"{"step",-20} {Cell(stepWall[1]),13} {Cell(stepWall[2]),13} {$"{Median(stepWall[1]) / Median(stepWall[2]):F2} / {Low(stepWall[1]) / Low(stepWall[2]):F2}",11} " +
            $"{Cell(stepCpu[1]),13} {Cell(stepCpu[2]),13} {lostSum,6:F0}");
        Console.WriteLine($"  2T / 1T speed-up of steps paired in order: median {Median(ratios):F2}, p10 {Low(ratios):F2}, p90 {ratios.Order().ElementAt(ratios.Count * 9 / 10):F2}; " +
            $"the worker fell asleep {Median(sleeps):F0} times per 2-thread step (median; max {sleeps.Max():F0}) and " +
            $"{Median(sleepsBetween):F0} times before it (median; max {sleepsBetween.Max():F0}), since the last 2-thread step");
        Console.WriteLine($"  {jitLine}");
        if (trace)
        {
            Console.WriteLine("2 threads in CPU terms (us per step, medians): calls = parallel / inline; serial = main-thread CPU outside parallel calls; " +
                "items = CPU of the parallel calls' items; ideal = serial + each call's 2-thread makespan; worker = the worker's share of the items");
            Console.WriteLine($"{"phase",-20} {"calls",7} {"serial",7} {"items",7} {"ideal",7} {"x2 ideal",8} {"worker",6}");
            double[] total = new double[3];
            foreach (string name in names)
            {
                double serial = Median(traced[(name, "serial")]), items = Median(traced[(name, "items")]), ideal = Median(traced[(name, "ideal")]);
                total[0] += serial;
                total[1] += items;
                total[2] += ideal;
                double worker = Median(traced[(name, "worker")]);
                Console.WriteLine($"{name,-20} {$"{Median(traced[(name, "parallel")]):F0}/{Median(traced[(name, "inline")]):F0}",7} {serial,7:F0} {items,7:F0} {ideal,7:F0} " +
                    $"{(serial + items) / ideal,8:F2} {(items > 0 ? worker / items : 0),6:P0}");
            }

            Console.WriteLine($"{"step",-20} {"",7} {total[0],7:F0} {total[1],7:F0} {total[2],7:F0} {(total[0] + total[1]) / total[2],8:F2}");
        }
    }

    private static string Cell(List<double> x) => $"{Median(x):F0} / {Low(x):F0}";

    private static void Add<TKey>(Dictionary<TKey, List<double>> d, TKey key, double value)
        where TKey : notnull
    {
        if (!d.TryGetValue(key, out var list))
        {
            d[key] = list = [];
        }

        list.Add(value);
    }

    private static double Median(List<double> x) => x.Order().ElementAt(x.Count / 2);

    private static double Low(List<double> x) => x.Order().ElementAt(x.Count / 10);


    /// <summary>
    /// Records the main thread's parallel calls: the main thread's CPU at their start and end, and each item's thread
    /// CPU time and whether a worker ran it.
    /// </summary>
    private sealed class Observer : Xent.Kernels.ParallelWork.IObserver
    {
        private readonly List<Call> calls = [];
        private readonly int mainThread = Environment.CurrentManagedThreadId;
        private Call? current;

        public void Reset() => calls.Clear();

        public Action<int> Begin(int count, bool parallel, Action<int> body)
        {
            var call = new Call(count, parallel, Stopwatch.GetTimestamp(), CpuTime.ThreadNanoseconds());
            calls.Add(call);
            current = call;
            return i =>
            {
                long c0 = CpuTime.ThreadNanoseconds();
                body(i);
                call.Items[i] = (CpuTime.ThreadNanoseconds() - c0, Environment.CurrentManagedThreadId != mainThread);
            };
        }

        public void End() => current!.MainCpuEnd = CpuTime.ThreadNanoseconds();

        /// <summary>Per phase: parallel and inline calls, serial main-thread CPU, items' CPU, ideal 2-thread time, worker CPU.</summary>
        public IEnumerable<((string, string), double)> PerPhase(List<(string Name, long Wall, long Cpu, long MainCpu)> marks)
        {
            var acc = new Dictionary<string, double[]>();
            for (int m = 1; m < marks.Count; m++)
            {
                var a = acc.TryGetValue(marks[m].Name, out var x) ? x : acc[marks[m].Name] = new double[6];
                a[2] += (marks[m].MainCpu - marks[m - 1].MainCpu) / 1e3;
            }

            foreach (var call in calls)
            {
                int m = 1;
                while (m < marks.Count - 1 && call.Wall >= marks[m].Wall)
                {
                    m++;
                }

                var a = acc[marks[m].Name];
                if (!call.Parallel)
                {
                    a[1]++;
                    continue;
                }

                // Serial = the phase's main-thread CPU less what it spent in parallel calls (its items and waits).
                a[0]++;
                a[2] -= (call.MainCpuEnd - call.MainCpuStart) / 1e3;
                double[] free = new double[2];
                foreach (var (ns, worker) in call.Items)
                {
                    double us = ns / 1e3;
                    a[3] += us;
                    a[5] += worker ? us : 0;
                    free[free[0] <= free[1] ? 0 : 1] += us;
                }

                a[4] += Math.Max(free[0], free[1]);
            }

            foreach (var (name, a) in acc)
            {
                yield return ((name, "parallel"), a[0]);
                yield return ((name, "inline"), a[1]);
                yield return ((name, "serial"), a[2]);
                yield return ((name, "items"), a[3]);
                yield return ((name, "ideal"), a[2] + a[4]);
                yield return ((name, "worker"), a[5]);
            }
        }

        private sealed class Call(int count, bool parallel, long wall, long mainCpuStart)
        {
            public bool Parallel { get; } = parallel;

            public long Wall { get; } = wall;

            public long MainCpuStart { get; } = mainCpuStart;

            public long MainCpuEnd { get; set; }

            public (long Nanoseconds, bool Worker)[] Items { get; } = new (long, bool)[count];
        }
    }

    /// <summary>The replay's loss and gradients against GptModel.ForwardBackward's, bitwise.</summary>
    private static void Check(GptConfig config, int[] tokens, int[] targets, int batch, int seq)
    {
        var rig = new Rig(config, batch, seq, 2);
        var model = new GptModel(config, seed: 1) { MaxDegreeOfParallelism = 2 };
        float expected = model.ForwardBackward(tokens, targets, batch, seq);
        float loss = rig.ForwardBackward(tokens, targets);
        bool same = BitConverter.SingleToInt32Bits(loss) == BitConverter.SingleToInt32Bits(expected);
        for (int i = 0; i < model.Parameters.Count; i++)
        {
            same &= model.Parameters[i].Grad.AsSpan().SequenceEqual(rig.Model.Parameters[i].Grad);
        }

        if (!same)
        {
            throw new InvalidOperationException("The replayed step differs from GptModel.ForwardBackward: update StepPhases to the model's code.");
        }
    }

    private sealed class Rig
    {
        private readonly int batch, seq, n, d, h;
        private readonly float[] encoded, lnF, lnFMean, lnFRstd, gResidual, gLnInput, gQkv, gAttY, gFch;
        private readonly float[][] ln1, ln1Mean, ln1Rstd, qkv, att, attY, residual2, ln2, ln2Mean, ln2Rstd, fch, fchGelu, residual3;
        private readonly Parameter[][] blockParams;
        private readonly Parameter wte, wpe, lnFWeight, lnFBias;
        private readonly Trainer trainer;
        private readonly float[][] grads, data;
        private readonly LinearCrossEntropyOptions headOptions;

        public Rig(GptConfig config, int batch, int seq, int threads)
        {
            this.batch = batch;
            this.seq = seq;
            n = batch * seq;
            d = config.Dim;
            h = config.Heads;
            Threads = threads;
            Model = new GptModel(config, seed: 1) { MaxDegreeOfParallelism = threads };
            trainer = new Trainer(Model, new TrainerOptions { Optimizer = new AdamWOptions { MaxDegreeOfParallelism = threads } });
            var p = Model.Parameters;
            wte = p[0];
            wpe = p[1];
            int layers = config.Layers;
            blockParams = [.. Enumerable.Range(0, layers).Select(l => p.Skip(2 + (12 * l)).Take(12).ToArray())];
            lnFWeight = p[2 + (12 * layers)];
            lnFBias = p[3 + (12 * layers)];
            if (!config.TieEmbeddings || config.Dropout != 0)
            {
                throw new NotSupportedException("The replay covers a tied model without dropout (the default).");
            }

            grads = [.. p.Select(x => x.Grad)];
            data = [.. p.Select(x => x.Data)];
            float[][] Make(int length) => [.. Enumerable.Range(0, layers).Select(_ => new float[length])];
            encoded = new float[n * d];
            lnF = new float[n * d];
            lnFMean = new float[n];
            lnFRstd = new float[n];
            ln1 = Make(n * d);
            ln1Mean = Make(n);
            ln1Rstd = Make(n);
            qkv = Make(n * 3 * d);
            att = Make(Xent.Training.Model.GptModel.KeepAttentionProbabilities ? batch * h * seq * seq : 0);
            attY = Make(n * d);
            residual2 = Make(n * d);
            ln2 = Make(n * d);
            ln2Mean = Make(n);
            ln2Rstd = Make(n);
            fch = Make(n * 4 * d);
            fchGelu = Make(n * 4 * d);
            residual3 = Make(n * d);
            gResidual = new float[n * d];
            gLnInput = new float[n * d];
            gQkv = new float[n * 3 * d];
            gAttY = new float[n * d];
            gFch = new float[n * 4 * d];
            headOptions = new LinearCrossEntropyOptions { CrossEntropy = CrossEntropyOptions.Default with { MaxDegreeOfParallelism = threads } };
        }

        public int Threads { get; }

        public GptModel Model { get; }

        public List<(string Name, long Wall, long Cpu, long MainCpu)> Marks { get; } = [];

        public List<string> Order { get; } = [];

        public void Step(int[] tokens, int[] targets)
        {
            Mark("start");
            float loss = ForwardBackward(tokens, targets);
            var options = trainer.Options;
            float lr = options.Schedule.LearningRate(trainer.Optimizer.StepCount);
            float norm = GradientClipping.GlobalNorm(grads, Threads);
            Mark("gradient norm");
            float scale = float.IsFinite(loss) ? GradientClipping.ClipFactor(norm, options.MaxGradientNorm) : 1;
            trainer.Optimizer.Step(data, grads, lr, scale);
            Mark("adamw");
        }

        public float ForwardBackward(int[] tokens, int[] targets)
        {
            int t = Threads;
            Encoder.Forward(encoded, tokens, wte.Data, wpe.Data, batch, seq, d, t);
            Mark("encoder forward");
            float[] x = encoded;
            for (int l = 0; l < blockParams.Length; l++)
            {
                var p = blockParams[l];
                LayerNorm.Forward(x, p[0].Data, p[1].Data, ln1[l], ln1Mean[l], ln1Rstd[l], t);
                Mark("ln forward");
                Dense.Forward(ln1[l], p[2].Data, p[3].Data, default, qkv[l], t);
                Mark("qkv forward");
                Attention.Forward(qkv[l], batch, seq, h, attY[l], att[l], t);
                Mark("attention forward");
                Dense.Forward(attY[l], p[4].Data, p[5].Data, x, residual2[l], t);
                Mark("attn proj forward");
                LayerNorm.Forward(residual2[l], p[6].Data, p[7].Data, ln2[l], ln2Mean[l], ln2Rstd[l], t);
                Mark("ln forward");
                Dense.Forward(ln2[l], p[8].Data, p[9].Data, default, fch[l], t);
                Mark("fc forward");
                Gelu.Forward(fch[l], fchGelu[l], t);
                Mark("gelu forward");
                Dense.Forward(fchGelu[l], p[10].Data, p[11].Data, residual2[l], residual3[l], t);
                Mark("fc proj forward");
                x = residual3[l];
            }

            LayerNorm.Forward(x, lnFWeight.Data, lnFBias.Data, lnF, lnFMean, lnFRstd, t);
            Mark("ln forward");
            float loss = LinearCrossEntropy.LossAndGradients(lnF, wte.Data, targets, new LinearCrossEntropyGradients(gLnInput, wte.Grad), headOptions);
            Mark("loss head");
            LayerNorm.Backward(gLnInput, x, lnFWeight.Data, lnFMean, lnFRstd, gResidual, lnFWeight.Grad, lnFBias.Grad, t, clearInputGradient: true);
            Mark("ln backward");
            for (int l = blockParams.Length - 1; l >= 0; l--)
            {
                var p = blockParams[l];
                float[] input = l == 0 ? encoded : residual3[l - 1];
                Dense.Backward(gResidual, fchGelu[l], p[10].Data, false, gFch, p[10].Grad, p[11].Grad, t);
                Mark("fc proj backward");
                Gelu.Backward(fch[l], gFch, gFch, t);
                Mark("gelu backward");
                Dense.Backward(gFch, ln2[l], p[8].Data, false, gLnInput, p[8].Grad, p[9].Grad, t);
                Mark("fc backward");
                LayerNorm.Backward(gLnInput, residual2[l], p[6].Data, ln2Mean[l], ln2Rstd[l], gResidual, p[6].Grad, p[7].Grad, t);
                Mark("ln backward");
                Dense.Backward(gResidual, attY[l], p[4].Data, false, gAttY, p[4].Grad, p[5].Grad, t);
                Mark("attn proj backward");
                Attention.Backward(gAttY, qkv[l], att[l], batch, seq, h, gQkv, t);
                Mark("attention backward");
                Dense.Backward(gQkv, ln1[l], p[2].Data, false, gLnInput, p[2].Grad, p[3].Grad, t);
                Mark("qkv backward");
                LayerNorm.Backward(gLnInput, input, p[0].Data, ln1Mean[l], ln1Rstd[l], gResidual, p[0].Grad, p[1].Grad, t);
                Mark("ln backward");
            }

            Array.Clear(wpe.Grad);
            Mark("clears");
            Encoder.Backward(wte.Grad, wpe.Grad, gResidual, tokens, batch, seq, d);
            Mark("encoder backward");
            return loss;
        }

        private void Mark(string name)
        {
            Marks.Add((name, Stopwatch.GetTimestamp(), CpuTime.ProcessNanoseconds(), CpuTime.ThreadNanoseconds()));
            if (name != "start" && !Order.Contains(name))
            {
                Order.Add(name);
            }
        }
    }
}
