using System.Globalization;
using Xent.Reference;

namespace Xent.Tests.Cli;

/// <summary>
/// xent explain's "why subtract the max" section compares -ln p[y] = lse - x[y], naive and stable, whatever the
/// options: never the smoothed, weighted or z-loss loss under that name.
/// </summary>
public sealed class ExplainOverflowTests
{
    public static TheoryData<string[], string> Options => new()
    {
        { ["--label-smoothing", "0.1"], "label smoothing" },
        { ["--weights=-1,1,1"], "weight w[y]" },
        { ["--weights", "2,1,1"], "weight w[y]" },
        { ["--z-loss", "1e30"], "z-loss" },
        { ["--z-loss", "0.1", "--label-smoothing", "0.2", "--weights", "3,1,1"], "weight w[y], label smoothing and z-loss" },
    };

    [Theory]
    [MemberData(nameof(Options))]
    public void TheComparisonIsMinusLnPOfTheTargetWithAnyOption(string[] options, string terms)
    {
        var run = CliRun.Run(["explain", "--logits", "2,1,0", "--target", "0", .. options]);
        Assert.True(run.ExitCode == 0, run.Error);

        // lse - x[y] of (2000, 1000, 0) is 0; of (2, 1, 0) it is -log softmax(2, 1, 0)[0], the same for every option.
        string plain = F4(CrossEntropyReference.Loss([2f, 1f, 0f], [0]));
        Assert.Equal("0.4076", plain);
        Assert.Contains($"naive -ln(exp(x[y]) / sum exp(x)) = NaN; stable lse - x[y] = 0.0000. (On the original logits the naive formula gives {plain}, the stable one {plain}.)",
            run.Out, StringComparison.Ordinal);
        Assert.Contains("│ -ln p[y] │           │          NaN │            0.0000 │", run.Out, StringComparison.Ordinal);
        Assert.Contains($"These are -ln p[y] alone, without the {terms} of the loss ", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutOptionsNothingIsAddedAfterTheComparison()
    {
        var run = CliRun.Run("explain", "--logits", "2,1,0", "--target", "0");
        Assert.EndsWith("the stable one 0.4076.)", run.Out.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public void ASoftCapIsComparedOnTheCappedLogits()
    {
        var run = CliRun.Run("explain", "--logits", "2,1", "--target", "0", "--soft-cap", "5");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("│ z = 5 tanh(x/5) │ naive exp(z) │ stable exp(z - m) │", run.Out, StringComparison.Ordinal);
        string capped = F4(CrossEntropyRowTrace.Of([2f, 1f], 0, new CrossEntropyOptions { SoftCap = 5 }).LogProbabilities[0] * -1);
        Assert.Contains($"naive -ln(exp(z[y]) / sum exp(z)) = 0.6931; stable lse - z[y] = 0.6931. (On the original logits the naive formula gives {capped}, the stable one {capped}.)",
            run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void AMinusZeroPrintsAsZero()
    {
        // -ln 1 = -0: the target holds all the probability once the other class is -inf.
        var run = CliRun.Run("explain", "--logits=-Infinity,1", "--target", "1");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.DoesNotContain("-0.0000", run.Out, StringComparison.Ordinal);
        Assert.Contains("the naive formula gives 0.0000, the stable one 0.0000.", run.Out, StringComparison.Ordinal);
    }

    private static string F4(double x) => x.ToString("F4", CultureInfo.InvariantCulture);
}
