using System.Globalization;
using Xent.Reference;

namespace Xent.Tests.Cli;

/// <summary>xent explain: the steps printed are the reference's numbers; the overflow demonstration; bad input exits 2.</summary>
public sealed class ExplainCommandTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void TheTextbookExamplePrintsTheReferenceProbabilitiesAndLoss()
    {
        var run = CliRun.Run("explain", "--logits", "2.0,1.0,0.1", "--target", "0");
        Assert.True(run.ExitCode == 0, run.Error);

        // The values the issue names, and that they are the reference's (not only close to a remembered number).
        var trace = CrossEntropyRowTrace.Of([2.0f, 1.0f, 0.1f], 0);
        Assert.Equal(["0.6590", "0.2424", "0.0986"], trace.Probabilities.Select(F4));
        Assert.Equal("0.4170", F4(CrossEntropyReference.Loss([2.0f, 1.0f, 0.1f], [0])));
        foreach (string p in new[] { "0.6590", "0.2424", "0.0986", "-0.3410" })
        {
            Assert.Contains(p, run.Out, StringComparison.Ordinal);
        }

        Assert.Contains("loss = 0.4170", run.Out, StringComparison.Ordinal);
        Assert.Contains("lse = m + ln s", run.Out, StringComparison.Ordinal);
        Assert.Contains(F4(trace.LogSumExp), run.Out, StringComparison.Ordinal);
        Assert.Contains(F4(trace.SumExp), run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void LogitsTimesAThousandShowTheNaiveOverflowNextToTheStableResult()
    {
        var run = CliRun.Run("explain", "--logits", "2.0,1.0,0.1", "--target", "0");
        Assert.Contains("naive -ln(exp(x[y]) / sum exp(x)) = NaN; stable lse - x[y] = 0.0000.", run.Out, StringComparison.Ordinal);
        Assert.Contains("2000.0000", run.Out, StringComparison.Ordinal);

        var scaled = CrossEntropyRowTrace.Of([2000f, 1000f, 100f], 0);
        Assert.True(double.IsPositiveInfinity(scaled.NaiveSumExp));
        Assert.True(double.IsNaN(scaled.NaiveLoss));
        Assert.Equal(0.0, scaled.Loss, 12);
    }

    [Fact]
    public void EveryOptionIsShownAndTheLossIsTheReferenceRowLoss()
    {
        float[] logits = [-1f, 2f, 3f, 0.5f];
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLoss = 0.01f, SoftCap = 30f, ClassWeights = new float[] { 1f, 2f, 3f, 0.5f } };
        var run = CliRun.Run("explain", "--logits", "-1,2,3,0.5", "--target", "1", "--label-smoothing", "0.1", "--z-loss", "0.01",
            "--soft-cap", "30", "--weights", "1,2,3,0.5");
        Assert.True(run.ExitCode == 0, run.Error);
        double expected = CrossEntropyReference.RowLosses(logits, [1], options)[0];
        Assert.Contains($"loss = {F4(expected)}", run.Out, StringComparison.Ordinal);
        Assert.Contains($"mean over this one row = (log-likelihood + smoothing) / w[y] + z-loss = {F4(CrossEntropyReference.Loss(logits, [1], options))}",
            run.Out, StringComparison.Ordinal);
        foreach (string step in new[] { "label smoothing e = 0.1", "z-loss l = 0.01", "tanh(x/30)", "weight w", "gradient dloss/dx" })
        {
            Assert.Contains(step, run.Out, StringComparison.Ordinal);
        }

        var gradient = CrossEntropyReference.Gradient(logits, [1], options with { Reduction = Reduction.Sum });
        Assert.All(gradient, g => Assert.Contains(F4(g), run.Out, StringComparison.Ordinal));
    }

    [Fact]
    public void AnIgnoredRowSaysSoAndHasZeroLoss()
    {
        var run = CliRun.Run("explain", "--logits", "1,2,3", "--target", "2", "--ignore-index", "2");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("is the ignore index", run.Out, StringComparison.Ordinal);
        Assert.Contains("there is no loss to compare", run.Out, StringComparison.Ordinal);
        Assert.Contains("loss = 0.0000", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void ARowOfAFileIsTheReferenceLossOfThatRow()
    {
        const int V = 50;
        var random = new Random(5);
        var logits = new float[3 * V];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (4 * random.NextSingle()) - 2;
        }

        var l = TestNpy.F32(dir["l.npy"], logits, 3, V);
        var t = TestNpy.I64(dir["t.npy"], [4L, 17, 33], 3);
        var run = CliRun.Run("explain", "--logits", l, "--targets", t, "--row", "1", "--top", "5", "--plot", dir["p.png"]);
        Assert.True(run.ExitCode == 0, run.Error);
        double expected = CrossEntropyReference.RowLosses(logits.AsSpan(V, V), [17])[0];
        Assert.Contains($"loss = {F4(expected)}", run.Out, StringComparison.Ordinal);
        Assert.Contains("target y = 17", run.Out, StringComparison.Ordinal);
        Assert.Contains("less probable classes not shown", run.Out, StringComparison.Ordinal);
        Assert.Equal(TestPng, File.ReadAllBytes(dir["p.png"])[..4]);
    }

    [Fact]
    public void IntuitionTabulatesMinusLnPAndLnV()
    {
        var run = CliRun.Run("explain", "--intuition");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains(F4(-Math.Log(0.01)), run.Out, StringComparison.Ordinal);
        Assert.StartsWith("4.60", F4(-Math.Log(0.01)), StringComparison.Ordinal);
        foreach (int v in new[] { 32_000, 50_257, 128_256, 151_936, 262_144 })
        {
            Assert.Contains(F4(Math.Log(v)), run.Out, StringComparison.Ordinal);
        }
    }

    public static TheoryData<string[], string> BadInput => new()
    {
        { ["explain", "--logits", "2,abc", "--target", "0"], "--logits: 'abc' is not a number" },
        { ["explain", "--logits", "nofile.npy", "--target", "0"], "--logits: 'nofile.npy' is not a number and is not an existing file" },
        { ["explain", "--logits", "2,1"], "--target Y is required" },
        { ["explain", "--logits", "2,1", "--target", "2"], "--target: target 2 is outside [0, 2)" },
        { ["explain", "--logits", "2,1", "--target", "0", "--weights", "1,2,3"], "--weights has 3 values" },
        { ["explain", "--logits", "2,1", "--target", "0", "--label-smoothing", "2"], "--label-smoothing must be in [0, 1]" },
        { ["explain", "--logits", "2,1", "--target", "0", "--soft-cap", "-1"], "--soft-cap must be" },
        { ["explain", "--target", "0"], "--logits is required" },
        { ["explain", "--intuition", "--logits", "1,2"], "--intuition prints its own tables" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public void BadInputExitsTwoNamingTheFlag(string[] args, string problem)
    {
        var run = CliRun.Run(args);
        run.AssertBadInput(problem.Split(' ')[0].TrimEnd(':'), problem);
    }

    [Fact]
    public void ARowOutsideTheFileExitsTwo()
    {
        var l = TestNpy.F32(dir["l.npy"], new float[6], 2, 3);
        var t = TestNpy.I64(dir["t.npy"], [0L, 1], 2);
        CliRun.Run("explain", "--logits", l, "--targets", t, "--row", "2").AssertBadInput("--row 2", "outside the 2 rows");
    }

    private static readonly byte[] TestPng = [0x89, (byte)'P', (byte)'N', (byte)'G'];

    private static string F4(double x) => x.ToString("F4", CultureInfo.InvariantCulture);
}
