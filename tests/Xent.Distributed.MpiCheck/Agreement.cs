using Xent.Distributed.Vocabulary;

namespace Xent.Distributed.MpiCheck;

/// <summary>
/// Checks that the vocabulary-parallel CrossEntropy and LinearCrossEntropy agree, on this rank, with the one-process
/// call on the whole vocabulary (loss within 1e-6 relative, gradients within 1e-5), and that a second sharded call
/// gives bitwise the same results as the first.
/// </summary>
public static class Agreement
{
    /// <summary>Loss tolerance, relative.</summary>
    public const double LossTolerance = 1e-6;

    /// <summary>Gradient tolerance, relative to the entry plus 1% of the array's largest entry.</summary>
    public const double GradientTolerance = 1e-5;

    /// <summary>Runs every check of <paramref name="problem"/>; returns this rank's failures (empty when all agree).</summary>
    /// <param name="communicator">The group (every rank runs the same problems in the same order).</param>
    /// <param name="problem">The inputs and options.</param>
    public static List<string> Check(ICommunicator communicator, Problem problem)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(problem);
        var failures = new List<string>();
        var first = Logits(communicator, problem, failures);
        var second = Logits(communicator, problem, failures: null);
        Identical(first, second, $"{problem.Name}: CrossEntropy run to run", failures);
        first = Linear(communicator, problem, failures);
        second = Linear(communicator, problem, failures: null);
        Identical(first, second, $"{problem.Name}: LinearCrossEntropy run to run", failures);
        return failures;
    }

    /// <summary>Columns [from, from + width) of a row-major [rows, columns] matrix.</summary>
    public static float[] Columns(float[] x, int rows, int columns, int from, int width)
    {
        var shard = new float[rows * width];
        for (int n = 0; n < rows; n++)
        {
            Array.Copy(x, (n * columns) + from, shard, n * width, width);
        }

        return shard;
    }

    // The sharded CrossEntropy's outputs (loss, per-row losses or gradient), checked against one process when failures is given.
    private static float[][] Logits(ICommunicator communicator, Problem p, List<string>? failures)
    {
        var slice = VocabularySlice.For(p.V, communicator);
        var shard = Columns(p.Logits, p.N, p.V, slice.Offset, slice.Width);
        var o = p.Loss;
        var gradient = new float[shard.Length];
        var full = new float[p.Logits.Length];
        if (o.Reduction == Reduction.None)
        {
            var losses = new float[p.N];
            var lse = new float[p.N];
            VocabParallelCrossEntropy.LossPerRow(communicator, shard, p.V, p.Targets, losses, lse, o);
            VocabParallelCrossEntropy.Gradient(communicator, shard, p.V, p.Targets, p.RowUpstream, gradient, o);
            if (failures != null)
            {
                var expectedLosses = new float[p.N];
                var expectedLse = new float[p.N];
                CrossEntropy.LossPerRow(p.Logits, p.Targets, expectedLosses, expectedLse, o);
                CrossEntropy.Gradient(p.Logits, p.Targets, p.RowUpstream, full, o);
                Close(expectedLosses, losses, LossTolerance, $"{p.Name}: CrossEntropy row losses", failures);
                Close(expectedLse, lse, LossTolerance, $"{p.Name}: CrossEntropy lse", failures);
                Close(Columns(full, p.N, p.V, slice.Offset, slice.Width), gradient, GradientTolerance, $"{p.Name}: CrossEntropy gradient", failures);
            }

            return [losses, lse, gradient];
        }

        float loss = VocabParallelCrossEntropy.LossAndGradient(communicator, shard, p.V, p.Targets, gradient, p.Upstream, o);
        float lossOnly = VocabParallelCrossEntropy.Loss(communicator, shard, p.V, p.Targets, o);
        if (failures != null)
        {
            float expected = CrossEntropy.LossAndGradient(p.Logits, p.Targets, full, p.Upstream, default, o);
            Close([expected, expected], [loss, lossOnly], LossTolerance, $"{p.Name}: CrossEntropy loss", failures);
            Close(Columns(full, p.N, p.V, slice.Offset, slice.Width), gradient, GradientTolerance, $"{p.Name}: CrossEntropy gradient", failures);
        }

        return [[loss, lossOnly], gradient];
    }

    // The sharded LinearCrossEntropy's outputs, checked against one process when failures is given.
    private static float[][] Linear(ICommunicator communicator, Problem p, List<string>? failures)
    {
        var slice = VocabularySlice.For(p.V, communicator);
        var weightShard = p.Weight.AsSpan(slice.Offset * p.D, slice.Width * p.D).ToArray();
        var biasShard = p.Bias.Length == 0 ? [] : p.Bias.AsSpan(slice.Offset, slice.Width).ToArray();
        var prior = p.Options.Accumulate ? 0.25f : 0f; // what accumulated gradients are added to
        var dh = Filled(p.N * p.D, prior);
        var dw = Filled(weightShard.Length, prior);
        var db = Filled(biasShard.Length, prior);
        var losses = new float[p.N];
        var lse = new float[p.N];
        float loss, lossOnly;
        if (p.Loss.Reduction == Reduction.None)
        {
            VocabParallelLinearCrossEntropy.Gradients(communicator, p.Hidden, weightShard, biasShard, p.V, p.Targets, p.RowUpstream, new(dh, dw, db), losses, lse, p.Options);
            var rowsOnly = new float[p.N];
            VocabParallelLinearCrossEntropy.LossPerRow(communicator, p.Hidden, weightShard, biasShard, p.V, p.Targets, rowsOnly, options: p.Loss);
            (loss, lossOnly) = (losses.Sum(), rowsOnly.Sum());
        }
        else
        {
            loss = VocabParallelLinearCrossEntropy.LossAndGradients(communicator, p.Hidden, weightShard, biasShard, p.V, p.Targets, new(dh, dw, db), p.Upstream, lse, p.Options);
            lossOnly = VocabParallelLinearCrossEntropy.Loss(communicator, p.Hidden, weightShard, biasShard, p.V, p.Targets, p.Loss);
            VocabParallelLinearCrossEntropy.LossPerRow(communicator, p.Hidden, weightShard, biasShard, p.V, p.Targets, losses, options: p.Loss);
        }

        if (failures != null)
        {
            var edh = Filled(p.N * p.D, prior);
            var edw = Filled(p.Weight.Length, prior);
            var edb = Filled(p.Bias.Length, prior);
            var elosses = new float[p.N];
            var elogSumExp = new float[p.N];
            float expected;
            if (p.Loss.Reduction == Reduction.None)
            {
                LinearCrossEntropy.Gradients(p.Hidden, p.Weight, p.Bias, p.Targets, p.RowUpstream, new(edh, edw, edb), elosses, elogSumExp, p.Options);
                expected = elosses.Sum();
            }
            else
            {
                expected = LinearCrossEntropy.LossAndGradients(p.Hidden, p.Weight, p.Bias, p.Targets, new(edh, edw, edb), p.Upstream, elogSumExp, p.Options);
                LinearCrossEntropy.LossPerRow(p.Hidden, p.Weight, p.Bias, p.Targets, elosses, options: p.Loss);
            }

            string what = $"{p.Name}: LinearCrossEntropy";
            Close([expected, expected], [loss, lossOnly], LossTolerance, $"{what} loss", failures);
            Close(elosses, losses, LossTolerance, $"{what} row losses", failures);
            Close(elogSumExp, lse, LossTolerance, $"{what} lse", failures);
            Close(edh, dh, GradientTolerance, $"{what} dHidden", failures);
            Close(edw.AsSpan(slice.Offset * p.D, slice.Width * p.D).ToArray(), dw, GradientTolerance, $"{what} dWeight", failures);
            Close(edb.Length == 0 ? [] : edb.AsSpan(slice.Offset, slice.Width).ToArray(), db, GradientTolerance, $"{what} dBias", failures);
        }

        return [[loss, lossOnly], losses, lse, dh, dw, db];
    }

    private static float[] Filled(int length, float value)
    {
        var x = new float[length];
        Array.Fill(x, value);
        return x;
    }

    // |actual - expected| <= tolerance (|expected| + 1% of the largest |expected|), NaN only where NaN is expected.
    private static void Close(float[] expected, float[] actual, double tolerance, string what, List<string> failures)
    {
        double scale = expected.Length == 0 ? 0 : expected.Where(float.IsFinite).Select(x => Math.Abs((double)x)).DefaultIfEmpty(0).Max();
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            bool ok = double.IsNaN(e) || double.IsInfinity(e)
                ? e.Equals(a)
                : Math.Abs(a - e) <= tolerance * (Math.Abs(e) + (scale * 1e-2));
            if (!ok)
            {
                failures.Add($"{what}[{i}]: expected {e:R}, got {a:R}");
                return;
            }
        }
    }

    private static void Identical(float[][] first, float[][] second, string what, List<string> failures)
    {
        for (int k = 0; k < first.Length; k++)
        {
            for (int i = 0; i < first[k].Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(first[k][i]) != BitConverter.SingleToInt32Bits(second[k][i]))
                {
                    failures.Add($"{what}: output {k} [{i}] was {first[k][i]:R}, then {second[k][i]:R}");
                    return;
                }
            }
        }
    }
}
