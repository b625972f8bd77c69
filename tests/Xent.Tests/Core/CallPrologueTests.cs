using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// The serial work before a call's first parallel region, done a vector of targets at a time (the target check, the
/// kept rows), and the row terms that a thread's next call reuses without clearing: the same results as row by row.
/// </summary>
public class CallPrologueTests
{
    /// <summary>Row counts around the vector lengths (4, 8 and 16 ints) and their tails.</summary>
    public static TheoryData<int> Lengths => [1, 3, 7, 8, 15, 16, 17, 31, 33, 100];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void TheFirstBadTargetIsReported_WhereverItIs(int rows)
    {
        const int classes = 5;
        foreach (int bad in new[] { classes, -1, int.MinValue, int.MaxValue, -100 + 1 })
        {
            for (int at = 0; at < rows; at++)
            {
                var y = Enumerable.Range(0, rows).Select(n => n % 4 == 1 ? -100 : n % classes).ToArray();
                y[at] = bad;
                if (at + 1 < rows)
                {
                    y[rows - 1] = classes + 7; // a later bad target must not be the one reported
                }

                var e = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropyChecks.Targets(y, classes, -100));
                Assert.Contains($"Target of row {at} is {bad},", e.Message, StringComparison.Ordinal);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void GoodTargets_PassTheCheck(int rows)
    {
        var y = Enumerable.Range(0, rows).Select(n => n % 3 == 0 ? 7 : n % 5).ToArray();
        CrossEntropyChecks.Targets(y, 5, 7); // 7: the ignore index, above the classes
        CrossEntropyChecks.Targets(y.Select(v => v == 7 ? 4 : v).ToArray(), 5, -100);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void KeptRows_CountAndWeight_AsRowByRow(int rows)
    {
        var y = Enumerable.Range(0, rows).Select(n => n % 3 == 2 ? -100 : n % 4).ToArray();
        int count = y.Count(v => v != -100);
        double weight = 0;
        foreach (int v in y)
        {
            if (v != -100)
            {
                weight += 1.0;
            }
        }

        var kept = KeptRows.Of(y, -100, default);
        Assert.Equal(count, kept.Count);
        Assert.Equal(BitConverter.DoubleToInt64Bits(weight), BitConverter.DoubleToInt64Bits(kept.Weight));
        Assert.Equal(0, KeptRows.Of(Enumerable.Repeat(-100, rows).ToArray(), -100, default).Count);
    }

    /// <summary>
    /// A thread's next call reuses the last call's row terms without clearing them: an ignored row must store its zeros,
    /// or the reduction would add the last call's loss of that row.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void IgnoredRows_AfterACallThatKeptThem_AddNothing(int threads)
    {
        foreach (int classes in new[] { 10, 2000 })
        {
            const int rows = 300;
            var x = TestData.Logits(rows, classes, 3);
            var all = Enumerable.Range(0, rows).Select(n => n % classes).ToArray();
            var some = all.Select((v, n) => n % 3 == 0 ? -100 : v).ToArray();
            var sum = new CrossEntropyOptions { Reduction = Reduction.Sum, MaxDegreeOfParallelism = threads };
            var losses = new float[rows];
            CrossEntropy.LossPerRow(x, some, losses, sum);
            double expected = 0;
            foreach (float r in losses)
            {
                expected += r;
            }

            CrossEntropy.Loss(x, all, sum); // leaves every row's terms in the thread's spare
            float loss = CrossEntropy.Loss(x, some, sum);
            Assert.Equal(expected, loss, 1e-3 * Math.Abs(expected));
            // Within the same bound, not bitwise: LossAndGradient takes its exponentials in an order of its own, and its
            // loss may differ from Loss's in the last bit (it does on Arm64). The last call's terms would add about half.
            CrossEntropy.Loss(x, all, sum);
            var g = new float[x.Length];
            Assert.Equal(expected, CrossEntropy.LossAndGradient(x, some, g, sum), 1e-3 * Math.Abs(expected));
        }
    }
}
