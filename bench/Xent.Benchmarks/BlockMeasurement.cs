using System.Diagnostics;
using Xent.Layers;

namespace Xent.Benchmarks;

/// <summary>
/// Where a training step's block time goes: each layer call of one transformer block (the model's own Xent.Layers
/// calls, at a training-step shape of <see cref="TrainingStepMeasurement"/>) timed alone, 1 and 2 threads interleaved
/// round by round in one process, each thread count's calls after an untimed one (so that the first finds the pool's
/// worker awake, as the others do). Per call: the 10th percentile and the median of its wall time over the rounds (on
/// a shared machine the low percentile is the time of rounds no other process interrupted), its matrix FLOPs (dense
/// products 2 M N K; attention's scores and mixing counted dense, 4 N T D forward, 8 N T D backward, as the
/// training-step line does, though only the causal half is computed, and the backward's recomputation of the
/// probabilities is not counted) and, at the 10th percentile, that rate as a share of the FMA limit (<see cref="FlopLimit"/>,
/// the best of short measurements between the rounds, same process and threads); then one block's sum (LayerNorm
/// twice) and the 2-thread speed-up at both statistics.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- blocks [default|gpt2-L1|...] [rounds] [calls per round]
/// </summary>
internal static class BlockMeasurement
{
    private sealed record Op(string Name, int PerBlock, double Flop, Action<int> Run);

    public static void Run(string[] args)
    {
        string shape = args.Length > 0 ? args[0] : "default";
        int rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 15;
        int calls = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10;
        var (config, batch, seq) = TrainingStepMeasurement.Shape(shape);
        int n = batch * seq, d = config.Dim, h = config.Heads;
        var random = new Random(1);
        float[] Fill(long length, float scale = 1)
        {
            var a = new float[length];
            for (long i = 0; i < length; i++)
            {
                a[i] = (float)((random.NextDouble() * 2) - 1) * scale;
            }

            return a;
        }

        float[] x = Fill(n * d), dx = new float[n * d], y = new float[n * d], dy = Fill(n * d);
        float[] lnW = Fill(d), lnB = Fill(d), mean = new float[n], rstd = new float[n], dW = new float[4 * d * d], dB = new float[4 * d];
        float[] qkvW = Fill(3 * d * d, 0.1f), qkvB = Fill(3 * d), qkv = Fill(n * 3 * d), dqkv = new float[n * 3 * d];
        float[] projW = Fill(d * d, 0.1f), projB = Fill(d), fcW = Fill(4 * d * d, 0.1f), fcB = Fill(4 * d), fcpW = Fill(4 * d * d, 0.1f), fcpB = Fill(d);
        float[] fch = Fill(n * 4 * d), fchG = new float[n * 4 * d], dfch = Fill(n * 4 * d);
        // As the model: the probabilities not kept (the backward recomputes them) unless XENT_AB=keepatt.
        TrainingStepMeasurement.KeepAttentionProbabilitiesIfAsked();
        float[] att = new float[Xent.Training.Model.GptModel.KeepAttentionProbabilities ? batch * h * seq * seq : 0];
        Attention.Forward(qkv, batch, seq, h, y, att, 1);
        double nd = n, dd = d;
        var ops = new List<Op>
        {
            new("layernorm forward", 2, 0, t => LayerNorm.Forward(x, lnW, lnB, y, mean, rstd, t)),
            new("layernorm backward", 2, 0, t => LayerNorm.Backward(dy, x, lnW, mean, rstd, dx, dW.AsSpan(0, d), dB.AsSpan(0, d), t)),
            new("qkv forward", 1, 2 * nd * dd * 3 * dd, t => Dense.Forward(x, qkvW, qkvB, default, qkv, t)),
            new("attention forward", 1, 4 * nd * seq * dd, t => Attention.Forward(qkv, batch, seq, h, y, att, t)),
            new("attn proj forward", 1, 2 * nd * dd * dd, t => Dense.Forward(x, projW, projB, x, y, t)),
            new("fc forward", 1, 2 * nd * dd * 4 * dd, t => Dense.Forward(x, fcW, fcB, default, fch, t)),
            new("gelu forward", 1, 0, t => Gelu.Forward(fch, fchG, t)),
            new("fc proj forward", 1, 2 * nd * 4 * dd * dd, t => Dense.Forward(fchG, fcpW, fcpB, x, y, t)),
            new("fc proj backward", 1, 4 * nd * 4 * dd * dd, t => Dense.Backward(dy, fchG, fcpW, false, dfch, dW, dB.AsSpan(0, d), t)),
            new("gelu backward", 1, 0, t => Gelu.Backward(fch, dfch, dfch, t)),
            new("fc backward", 1, 4 * nd * dd * 4 * dd, t => Dense.Backward(dfch, x, fcW, false, dx, dW, dB, t)),
            new("attn proj backward", 1, 4 * nd * dd * dd, t => Dense.Backward(dy, x, projW, false, dx, dW.AsSpan(0, d * d), dB.AsSpan(0, d), t)),
            new("attention backward", 1, 8 * nd * seq * dd, t => Attention.Backward(dy, qkv, att, batch, seq, h, dqkv, t)),
            new("qkv backward", 1, 4 * nd * dd * 3 * dd, t => Dense.Backward(dqkv, x, qkvW, false, dx, dW.AsSpan(0, 3 * d * d), dB.AsSpan(0, 3 * d), t)),
        };
        int[] threadCounts = [1, 2];
        var times = new Dictionary<(string, int), List<double>>();
        var limits = new Dictionary<int, List<double>>();
        foreach (int t in threadCounts)
        {
            limits[t] = [];
            foreach (var op in ops)
            {
                times[(op.Name, t)] = [];
            }
        }

        TierUp.Warm([.. threadCounts.SelectMany(t => ops.Select(op => (Action)(() => op.Run(t))))]);

        for (int round = 0; round < rounds; round++)
        {
            foreach (int t in threadCounts)
            {
                // An untimed call first: after the other thread count's calls and the FMA limit's threads the pool's worker
                // is asleep, and the first op's first 2-thread call paid its wake-up, which the other ops (and a training
                // step's calls, one after another) do not.
                ops[0].Run(t);
                foreach (var op in ops)
                {
                    long start = Stopwatch.GetTimestamp();
                    for (int c = 0; c < calls; c++)
                    {
                        op.Run(t);
                    }

                    double us = Stopwatch.GetElapsedTime(start).TotalMicroseconds / calls;
                    times[(op.Name, t)].Add(us);
                }

                limits[t].Add(FlopLimit.Measure(t, 0.02));
            }
        }

        double blockFlop = ops.Sum(o => o.PerBlock * o.Flop);
        Console.WriteLine($"{shape}: N {n}, D {d}, T {seq}, H {h}; {rounds} rounds of {calls} calls; width {Xent.Simd.Width}; " +
            $"FMA limit (best) 1 thread {limits[1].Max():F0}, 2 threads {limits[2].Max():F0} GFLOP/s");
        Console.WriteLine($"{"call",-22} {"1 thread us p10 / med",-22} {"FMA%",5}  {"2 threads us p10 / med",-22} {"FMA%",5}  {"x2 p10 / med",-12}");
        double[] sumLow = new double[3], sumMedian = new double[3];
        foreach (var op in ops)
        {
            var one = times[(op.Name, 1)];
            var two = times[(op.Name, 2)];
            Console.WriteLine($"{op.Name + (op.PerBlock > 1 ? " x" + op.PerBlock : string.Empty),-22} {Cell(one),-22} {Share(op.Flop, Low(one), limits[1]),5}  " +
                $"{Cell(two),-22} {Share(op.Flop, Low(two), limits[2]),5}  {Low(one) / Low(two):F2} / {Median(one) / Median(two):F2}");
            foreach (int t in threadCounts)
            {
                sumLow[t] += op.PerBlock * Low(times[(op.Name, t)]);
                sumMedian[t] += op.PerBlock * Median(times[(op.Name, t)]);
            }
        }

        Console.WriteLine($"{"block (sum)",-22} {$"{sumLow[1]:F1} / {sumMedian[1]:F1}",-22} {Share(blockFlop, sumLow[1], limits[1]),5}  " +
            $"{$"{sumLow[2]:F1} / {sumMedian[2]:F1}",-22} {Share(blockFlop, sumLow[2], limits[2]),5}  {sumLow[1] / sumLow[2]:F2} / {sumMedian[1] / sumMedian[2]:F2}");
        double matrixFlop = ops.Where(o => o.Flop > 0).Sum(o => o.PerBlock * o.Flop);
        foreach (int t in threadCounts)
        {
            double matrixTime = ops.Where(o => o.Flop > 0).Sum(o => o.PerBlock * Low(times[(o.Name, t)]));
            Console.WriteLine($"  {t} thread(s): matrix calls {Share(matrixFlop, matrixTime, limits[t])} of the FMA limit (p10); " +
                $"LayerNorm + GELU {(sumLow[t] - matrixTime) / sumLow[t]:P0} of the block time");
        }
    }

    private static string Cell(List<double> us) => $"{Low(us):F1} / {Median(us):F1}";

    private static double Low(List<double> us) => us.Order().ElementAt(us.Count / 10);

    private static string Share(double flop, double us, List<double> limit) =>
        flop == 0 ? "-" : $"{flop / us / 1e3 / limit.Max():P0}";

    private static double Median(List<double> x)
    {
        var s = x.Order().ToList();
        return s[s.Count / 2];
    }
}
