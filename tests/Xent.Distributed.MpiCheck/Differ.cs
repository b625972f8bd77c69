using Xent.Distributed.Vocabulary;

namespace Xent.Distributed.MpiCheck;

/// <summary>
/// The last rank passes one argument unlike the others (an option, V, N, the hidden states, the call): every rank must
/// throw the same ArgumentException, and none may wait for the others. Exit 0 when every case was refused alike.
/// </summary>
public static class Differ
{
    /// <summary>Runs every case; rank 0 prints one line per case.</summary>
    /// <param name="world">The group.</param>
    /// <returns>0 when every rank refused every case with the same message, else 1.</returns>
    public static int Run(ICommunicator world)
    {
        ArgumentNullException.ThrowIfNull(world);
        const int V = 10, N = 3, D = 3;
        bool odd = world.Rank == world.Size - 1;
        int[] targets = [3, 8, 1];
        var hidden = Enumerable.Range(0, N * D).Select(i => MathF.Cos(i) + (odd && i == 4 ? 1f : 0f)).ToArray();
        var cases = new (string Name, Action<ICommunicator> Call)[]
        {
            ("label smoothing", c => VocabParallelCrossEntropy.Loss(c, Shard(c, V, N), V, targets, new() { LabelSmoothing = odd ? 0.1f : 0f })),
            ("classes", c => VocabParallelCrossEntropy.Loss(c, Shard(c, odd ? 11 : V, N), odd ? 11 : V, targets)),
            ("rows", c => VocabParallelCrossEntropy.Loss(c, Shard(c, V, odd ? N - 1 : N), V, targets.AsSpan(0, odd ? N - 1 : N))),
            ("hidden states", c =>
            {
                var s = VocabularySlice.For(V, c);
                VocabParallelLinearCrossEntropy.Loss(c, hidden, new float[s.Width * D], [], V, targets);
            }),
            ("calls", c =>
            {
                var s = VocabularySlice.For(V, c);
                var h = hidden.AsSpan().ToArray();
                h[4] = MathF.Cos(4);
                if (odd)
                {
                    VocabParallelLinearCrossEntropy.LossAndGradients(c, h, new float[s.Width * D], [], V, targets, new(new float[N * D], new float[s.Width * D]));
                }
                else
                {
                    VocabParallelLinearCrossEntropy.Loss(c, h, new float[s.Width * D], [], V, targets);
                }
            }),
        };
        int failures = 0;
        foreach (var (name, call) in cases)
        {
            string message = "";
            try
            {
                call(world);
            }
            catch (ArgumentException e)
            {
                message = e.Message;
            }

            // Every rank's message, gathered by length then bytes: all must be the same, and not empty.
            var bytes = System.Text.Encoding.UTF8.GetBytes(message);
            var lengths = new int[world.Size];
            world.AllGather<int>([bytes.Length], lengths);
            var all = new byte[lengths.Max() * world.Size];
            var mine = new byte[lengths.Max()];
            bytes.CopyTo(mine, 0);
            world.AllGather<byte>(mine, all);
            bool same = message.Length > 0 && lengths.All(l => l == bytes.Length) && Enumerable.Range(0, world.Size).All(r => all.AsSpan(r * mine.Length, mine.Length).SequenceEqual(mine));
            failures += same ? 0 : 1;
            if (world.Rank == 0)
            {
                Console.WriteLine($"differ: {name}: {(same ? "every rank threw" : "NOT refused alike")}: {message}");
            }
        }

        var total = new[] { failures };
        world.AllReduce<int>(total, ReduceOperation.Sum);
        return total[0] == 0 ? 0 : 1;
    }

    private static float[] Shard(ICommunicator c, int classes, int rows)
    {
        var s = VocabularySlice.For(classes, c);
        return [.. Enumerable.Range(0, rows * s.Width).Select(i => MathF.Sin(i))];
    }
}
