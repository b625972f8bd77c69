using System.Globalization;
using Xent.Reference;

namespace Xent.Tests.Cli;

/// <summary>
/// xent explain checks its files as xent loss does (the same code, so the same message for the same file), and
/// refuses options it would otherwise ignore.
/// </summary>
public sealed class ExplainInputChecksTests : IDisposable
{
    private const int V = 10;
    private readonly TempFolder dir = new();
    private readonly string logits;

    public ExplainInputChecksTests()
    {
        var values = new float[2 * 3 * V];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (i % 7) - 3;
        }

        logits = TestNpy.F32(dir["logits.npy"], values, 2, 3, V);
    }

    public void Dispose() => dir.Dispose();

    [Fact]
    public void TargetsOfAnotherShapeAreRefusedAsLossRefusesThem()
    {
        string flat = TestNpy.I64(dir["targets_flat.npy"], [1L, 2, 3, 4, 5, 6], 6);
        var explain = CliRun.Run("explain", "--logits", logits, "--targets", flat);
        explain.AssertBadInput(flat, "targets of shape (6,) do not match the logits (2, 3, 10)");
        Assert.Equal(CliRun.Run("loss", "--logits", logits, "--targets", flat).Error, explain.Error);
    }

    [Fact]
    public void WeightsOfAnotherShapeAreRefusedAsLossRefusesThem()
    {
        string targets = TestNpy.I64(dir["targets.npy"], [1L, 2, 3, 4, 5, 6], 2, 3);
        string weights = TestNpy.F32(dir["weights_2d.npy"], new float[10], 2, 5);
        var explain = CliRun.Run("explain", "--logits", logits, "--targets", targets, "--weights", weights);
        explain.AssertBadInput(weights, "class weights of shape (2, 5) do not match the vocabulary: expected (10,)");
        Assert.Equal(CliRun.Run("loss", "--logits", logits, "--targets", targets, "--weights", weights).Error, explain.Error);

        // A weights file beside typed-in logits: the same check against their V.
        CliRun.Run("explain", "--logits", "1,2,3", "--target", "0", "--weights", weights)
            .AssertBadInput(weights, "class weights of shape (2, 5) do not match the vocabulary: expected (3,)");
    }

    [Fact]
    public void ATargetOutOfRangeAnywhereInTheFileIsRefusedAsLossRefusesIt()
    {
        string targets = TestNpy.I64(dir["targets.npy"], [1L, 2, 3, 4, 5, 99], 2, 3);
        var explain = CliRun.Run("explain", "--logits", logits, "--targets", targets, "--row", "0");
        explain.AssertBadInput(targets, "target 99 at index [1, 2] is outside [0, 10)");
        Assert.Equal(CliRun.Run("loss", "--logits", logits, "--targets", targets).Error, explain.Error);
    }

    [Fact]
    public void IntegerLogitsAreRefusedAsLossRefusesThem()
    {
        string ints = TestNpy.I32(dir["ints.npy"], [1, 2, 3], 3);
        string targets = TestNpy.I64(dir["t.npy"], [0L], 1);
        var explain = CliRun.Run("explain", "--logits", ints, "--targets", targets);
        explain.AssertBadInput(ints, "logits must be floating-point");
        Assert.Equal(CliRun.Run("loss", "--logits", ints, "--targets", targets).Error, explain.Error);
    }

    [Fact]
    public void ARowOfAFileWithTargetsOfTheLeadingShapeIsExplained()
    {
        string targets = TestNpy.I64(dir["targets.npy"], [1L, 2, 3, 4, 5, 6], 2, 3);
        var run = CliRun.Run("explain", "--logits", logits, "--targets", targets, "--row", "4");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("row 4 (index [1, 1]), V = 10, target y = 5.", run.Out, StringComparison.Ordinal);
        var row = new float[V];
        for (int c = 0; c < V; c++)
        {
            row[c] = (((4 * V) + c) % 7) - 3;
        }

        string expected = CrossEntropyReference.Loss(row, [5]).ToString("F4", CultureInfo.InvariantCulture);
        Assert.Contains($"loss = {expected}", run.Out, StringComparison.Ordinal);
    }

    public static TheoryData<string[], string> Ignored => new()
    {
        { ["explain", "--logits", "2.0,1.0,0.1", "--target", "0", "--row", "5"], "--row picks a row of a logits file" },
        { ["explain", "--logits", "2.0,1.0,0.1", "--target", "0", "--row", "0"], "--row picks a row of a logits file" },
        { ["explain", "--intuition", "--row", "3"], "--intuition prints its own tables" },
        { ["explain", "--intuition", "--weights", "1,2"], "--intuition prints its own tables" },
        { ["explain", "--intuition", "--label-smoothing", "0.1"], "--intuition prints its own tables" },
        { ["explain", "--intuition", "--ignore-index", "3"], "--intuition prints its own tables" },
        { ["explain", "--intuition", "--top", "3"], "--intuition prints its own tables" },
    };

    [Theory]
    [MemberData(nameof(Ignored))]
    public void AnOptionThatWouldBeIgnoredIsRefused(string[] args, string problem)
    {
        CliRun.Run(args).AssertBadInput(problem.Split(' ')[0], problem);
    }
}
