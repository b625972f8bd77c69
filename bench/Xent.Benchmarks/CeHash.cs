namespace Xent.Benchmarks;

/// <summary>
/// A hash of every output of <see cref="CrossEntropy"/>'s float calls (loss, gradient, per-row losses and log-sum-exp,
/// per-row upstream, probability targets) over vocabularies of 1 to 20,000 classes, 1 to 300 rows, with and without
/// each option, on 1 and 2 threads: to compare two builds bit for bit (run at each width with XENT_VECTOR_WIDTH, and
/// with DOTNET_EnableAVX512=0), as lce-hash does for the fused head.
/// Run: dotnet bench/Xent.Benchmarks/bin/Release/net10.0/Xent.Benchmarks.dll ce-hash
/// </summary>
internal static class CeHash
{
    public static void Run(string[] args)
    {
        _ = args;
        ulong h = 1469598103934665603;
        void Add(float f) { h = (h ^ BitConverter.SingleToUInt32Bits(f)) * 1099511628211; }
        foreach (int v in new[] { 1, 3, 10, 32, 100, 1000, 20000 })
        {
            foreach (int n in new[] { 1, 7, 300 })
            {
                var r = new Random(v + n);
                var z = new float[n * v];
                for (int i = 0; i < z.Length; i++) { z[i] = (float)(r.NextDouble() * 8 - 4); }
                if (v > 2) { z[1] = float.NegativeInfinity; }
                var y = new int[n];
                for (int i = 0; i < n; i++) { y[i] = i % 5 == 3 ? -100 : r.Next(v); }
                var w = new float[v];
                for (int i = 0; i < v; i++) { w[i] = (float)(0.5 + r.NextDouble()); }
                var options = new CrossEntropyOptions[]
                {
                    new(), new() { Reduction = Reduction.Sum }, new() { LabelSmoothing = 0.1f }, new() { ClassWeights = w },
                    new() { ZLoss = 1e-4f }, new() { SoftCap = 30 }, new() { Reduction = Reduction.None, LabelSmoothing = 0.05f, ClassWeights = w },
                };
                foreach (var o in options)
                {
                    foreach (int t in new[] { 1, 2 })
                    {
                        var ot = o with { MaxDegreeOfParallelism = t };
                        var g = new float[n * v];
                        var losses = new float[n];
                        if (o.Reduction == Reduction.None)
                        {
                            var lse = new float[n];
                            var ups = new float[n];
                            for (int i = 0; i < n; i++) { ups[i] = 0.5f + i; }
                            CrossEntropy.LossPerRow(z, y, losses, lse, ot);
                            CrossEntropy.Gradient(z, y, ups, g, ot);
                            foreach (float f in losses) { Add(f); }
                            foreach (float f in lse) { Add(f); }
                            foreach (float f in g) { Add(f); }
                        }
                        else
                        {
                            Add(CrossEntropy.Loss(z, y, ot));
                            Add(CrossEntropy.LossAndGradient(z, y, g, ot));
                            foreach (float f in g) { Add(f); }
                            var p = new float[n * v];
                            for (int i = 0; i < n; i++) { p[(i * v) + (i % v)] = 0.75f; p[(i * v) + ((i + 1) % v)] += 0.25f; }
                            Add(CrossEntropy.Loss(z, p, v, ot));
                            Add(CrossEntropy.LossAndGradient(z, p, v, g, ot));
                            foreach (float f in g) { Add(f); }
                        }
                    }
                }
            }
        }

        Console.WriteLine($"hash {h:X16}");
    }
}
