using System.Text.Json;
using Xent.Cli.Commands;

namespace Xent.Tests.Cli;

/// <summary>xent bench on tiny shapes: the table and JSON have every case (the baselines: tests/Xent.Tests/Baselines).</summary>
public sealed class BenchCommandTests
{
    [Fact]
    public void Json_HasEveryCaseWithRatios()
    {
        var run = CliRun.Run("bench", "--rows", "8", "--vocab", "1000", "--iterations", "3", "--threads", "1", "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        var root = JsonDocument.Parse(run.Out).RootElement;
        Assert.True(root.GetProperty("read_gb_per_s").GetDouble() > 0);
        Assert.True(root.GetProperty("copy_gb_per_s").GetDouble() > 0);
        var cases = root.GetProperty("cases").EnumerateArray().ToDictionary(c => c.GetProperty("case").GetString()!);
        Assert.Equal(["memory read", "memory copy", "scalar Loss", "Xent Loss", "scalar Loss+Grad", "Xent Loss+Grad", "Xent Loss+Grad in place"], cases.Keys);
        foreach (var c in cases.Values)
        {
            Assert.Equal(3, c.GetProperty("runs").GetInt32());
            Assert.InRange(c.GetProperty("median_ms").GetDouble(), c.GetProperty("min_ms").GetDouble(), c.GetProperty("max_ms").GetDouble());
        }

        Assert.True(cases["Xent Loss"].GetProperty("x_vs_scalar").GetDouble() > 0);
        Assert.True(cases["Xent Loss+Grad"].GetProperty("fraction_of_memory_limit").GetDouble() > 0);
        Assert.True(cases["Xent Loss+Grad in place"].GetProperty("fraction_of_memory_limit").GetDouble() > 0);
        Assert.Equal("8 x 1000", cases["Xent Loss"].GetProperty("shape").GetString());
    }

    [Fact]
    public void Table_HasTheColumns()
    {
        var run = CliRun.Run("bench", "--rows", "4", "--vocab", "500", "--iterations", "2", "--threads", "1");
        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var text in new[] { "Median ms", "Min-max ms", "vs scalar", "of limit", "Xent Loss+Grad", "memory copy", "Memory limit measured" })
        {
            Assert.Contains(text, run.Out, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("warning", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--rows", "0")]
    [InlineData("--threads", "0")]
    [InlineData("--iterations", "0")]
    [InlineData("--vocab", "x")]
    public void BadOptions_AreExitCode2(string option, string value)
    {
        var run = CliRun.Run("bench", option, value);
        Assert.Equal(2, run.ExitCode);
        Assert.DoesNotContain(" at ", run.Error, StringComparison.Ordinal);
    }
}
