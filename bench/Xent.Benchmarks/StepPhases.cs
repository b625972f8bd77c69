using System.Diagnostics;
using System.Runtime.InteropServices;
using Xent.Layers;
using Xent.Optim;
using Xent.Training;
using Xent.Training.Model;

namespace Xent.Benchmarks;

/// <summary>
/// Where a whole training step's time goes, phase by phase, at 1 and 2 threads: the default model's step
/// (GptModel.ForwardBackward's layer calls, copied here in its order, on the model's own parameters, then the Trainer's norm and
/// AdamW update) replayed with a timestamp and the process CPU time (CLOCK_PROCESS_CPUTIME_ID, every thread,
/// spinning workers included) between phases, steps at 1 and at 2 threads alternating in one process. The replay is
/// checked bitwise against GptModel.ForwardBackward (loss and every gradient) before measuring.
/// Per phase (summed over the blocks): median wall at 1 and 2 threads, the 2-thread speed-up, the 2-thread CPU time,
/// and the phase's share of the 2-thread step's wall time lost to imperfect scaling (wall2 - wall1 / 2).
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- step-phases [default|gpt2-L1|...] [steps]
/// </summary>
internal static class StepPhases
{
    public static void Run(string[] args)
    {
        string shape = args.Length > 0 ? args[0] : "default";
        int steps = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 40;
        var (config, batch, seq) = TrainingStepMeasurement.Shape(shape);
        var random = new Random(1);
        int[] tokens = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        int[] targets = [.. Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize))];
        Check(config, tokens, targets, batch, seq);

        int[] threadCounts = [1, 2];
        var rigs = threadCounts.Select(t => new Rig(config, batch, seq, t)).ToArray();
        for (int k = 0; k < 6; k++)
        {
            foreach (var rig in rigs)
            {
                rig.Step(tokens, targets);
            }
        }

        var wall = new Dictionary<(string, int), List<double>>();
        var cpu = new Dictionary<(string, int), List<double>>();
        var stepWall = threadCounts.ToDictionary(t => t, _ => new List<double>());
        var stepCpu = threadCounts.ToDictionary(t => t, _ => new List<double>());
        for (int k = 0; k < steps; k++)
        {
            foreach (var rig in rigs)
            {
                rig.Marks.Clear();
                rig.Step(tokens, targets);
                var sums = new Dictionary<string, (double Wall, double Cpu)>();
                for (int i = 1; i < rig.Marks.Count; i++)
                {
                    var (name, w, c) = rig.Marks[i];
                    var (_, w0, c0) = rig.Marks[i - 1];
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
            }
        }

        Console.WriteLine($"{shape}: B {batch}, T {seq}, D {config.Dim}, L {config.Layers}; {steps} steps per thread count, alternating; width {Simd.Width}");
        Console.WriteLine("wall and CPU (all threads) per step in us, medians / 10th percentiles (on a shared machine the low percentile is the uncontended time); x2 = 1T / 2T wall; lost = 2T - 1T / 2 wall (p10)");
        Console.WriteLine($"{"phase",-20} {"1T wall",14} {"2T wall",14} {"x2 med/p10",11} {"1T cpu",14} {"2T cpu",14} {"lost",7}");
        var names = rigs[0].Order;
        double lostSum = 0;
        double[] lowSum = new double[3], lowCpuSum = new double[3];
        foreach (string name in names)
        {
            double w1 = Median(wall[(name, 1)]), w2 = Median(wall[(name, 2)]), l1 = Low(wall[(name, 1)]), l2 = Low(wall[(name, 2)]);
            double c1 = Median(cpu[(name, 1)]), c2 = Median(cpu[(name, 2)]), k1 = Low(cpu[(name, 1)]), k2 = Low(cpu[(name, 2)]);
            lostSum += l2 - (l1 / 2);
            lowSum[1] += l1;
            lowSum[2] += l2;
            lowCpuSum[1] += k1;
            lowCpuSum[2] += k2;
            Console.WriteLine($"{name,-20} {$"{w1:F0} / {l1:F0}",14} {$"{w2:F0} / {l2:F0}",14} {$"{w1 / w2:F2} / {l1 / l2:F2}",11} {$"{c1:F0} / {k1:F0}",14} {$"{c2:F0} / {k2:F0}",14} {l2 - (l1 / 2),7:F0}");
        }

        double s1 = Median(stepWall[1]), s2 = Median(stepWall[2]);
        var ratios = stepWall[1].Zip(stepWall[2], (a, b) => a / b).Order().ToList();
        Console.WriteLine($"{"step",-20} {$"{s1:F0} / {Low(stepWall[1]):F0}",14} {$"{s2:F0} / {Low(stepWall[2]):F0}",14} {$"{s1 / s2:F2} / {Low(stepWall[1]) / Low(stepWall[2]):F2}",11} " +
            $"{$"{Median(stepCpu[1]):F0} / {Low(stepCpu[1]):F0}",14} {$"{Median(stepCpu[2]):F0} / {Low(stepCpu[2]):F0}",14} {lostSum,7:F0}");
        Console.WriteLine($"  sum of the phases' p10: 1T {lowSum[1]:F0} us, 2T {lowSum[2]:F0} us, speed-up {lowSum[1] / lowSum[2]:F2}; CPU p10 sums 1T {lowCpuSum[1]:F0}, 2T {lowCpuSum[2]:F0} us");
        Console.WriteLine($"  step 2T/1T speed-up per alternating pair: median {Median(ratios):F2}, p10 {ratios[ratios.Count / 10]:F2}, p90 {ratios[ratios.Count * 9 / 10]:F2}");
    }

    private static void Add(Dictionary<(string, int), List<double>> d, (string, int) key, double value)
    {
        if (!d.TryGetValue(key, out var list))
        {
            d[key] = list = [];
        }

        list.Add(value);
    }

    private static double Median(List<double> x) => x.Order().ElementAt(x.Count / 2);

    private static double Low(List<double> x) => x.Order().ElementAt(x.Count / 10);

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
        private readonly float[][] grads;
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
            float[][] Make(int length) => [.. Enumerable.Range(0, layers).Select(_ => new float[length])];
            encoded = new float[n * d];
            lnF = new float[n * d];
            lnFMean = new float[n];
            lnFRstd = new float[n];
            ln1 = Make(n * d);
            ln1Mean = Make(n);
            ln1Rstd = Make(n);
            qkv = Make(n * 3 * d);
            att = Make(batch * h * seq * seq);
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

        public List<(string Name, long Wall, long Cpu)> Marks { get; } = [];

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
            trainer.Optimizer.Step(Model.Parameters.Select(x => x.Data).ToArray(), grads, lr, scale);
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
            Marks.Add((name, Stopwatch.GetTimestamp(), ProcessCpuNanoseconds()));
            if (name != "start" && !Order.Contains(name))
            {
                Order.Add(name);
            }
        }
    }

    private static long ProcessCpuNanoseconds()
    {
        _ = ClockGetTime(2, out var ts);
        return (ts.Seconds * 1_000_000_000L) + ts.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);
}
