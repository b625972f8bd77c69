using System.Text.Json;
using Xent.Baselines;
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
        Assert.Equal(["memory read", "memory copy", "memory in place", "scalar Loss", "Xent Loss", "scalar Loss+Grad", "Xent Loss+Grad", "Xent Loss+Grad in place"], cases.Keys);
        foreach (var c in cases.Values)
        {
            Assert.Equal(3, c.GetProperty("runs").GetInt32());
            Assert.InRange(c.GetProperty("median_ms").GetDouble(), c.GetProperty("min_ms").GetDouble(), c.GetProperty("max_ms").GetDouble());
        }

        Assert.True(cases["Xent Loss"].GetProperty("x_vs_scalar").GetDouble() > 0);
        Assert.True(cases["Xent Loss+Grad"].GetProperty("fraction_of_memory_limit").GetDouble() > 0);
        Assert.True(cases["Xent Loss+Grad in place"].GetProperty("fraction_of_memory_limit").GetDouble() > 0);
        Assert.Equal("8 x 1000", cases["Xent Loss"].GetProperty("shape").GetString());

        // Each "of limit" is its limit row's time over the case's: out of place the copy, in place the fastest way to
        // read and write the bytes, a copy among them, so never slower than the copy.
        static double Median(JsonElement c) => c.GetProperty("median_ms").GetDouble();
        static double Fraction(JsonElement c) => c.GetProperty("fraction_of_memory_limit").GetDouble();
        Assert.Equal(Median(cases["memory copy"]) / Median(cases["Xent Loss+Grad"]), Fraction(cases["Xent Loss+Grad"]), 0.01);
        Assert.Equal(Median(cases["memory in place"]) / Median(cases["Xent Loss+Grad in place"]), Fraction(cases["Xent Loss+Grad in place"]), 0.01);
        Assert.True(root.GetProperty("in_place_gb_per_s").GetDouble() >= root.GetProperty("copy_gb_per_s").GetDouble());
        Assert.NotEqual("InPlace", root.GetProperty("copy_method").GetString()); // out of place cannot rewrite in place
    }

    [Fact]
    public void Table_HasTheColumns()
    {
        var run = CliRun.Run("bench", "--rows", "4", "--vocab", "500", "--iterations", "2", "--threads", "1");
        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var text in new[] { "Median ms", "Min-max ms", "vs scalar", "of limit", "Xent Loss+Grad", "memory copy", "Memory limits measured in this run for 4 x 500" })
        {
            Assert.Contains(text, run.Out, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("warning", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void LimitsFor_RanksTheShapesOwnBufferAndLargerOnes_NeverASmallerOne()
    {
        // Each limit its own method (prefetch distance as a tag): the same method measured on two buffers is one
        // candidate, at its faster bandwidth.
        static MemoryLimit Limit(string method, int tag, long bytes, double seconds) =>
            new(method, 2, new Timing([seconds, seconds, seconds]), bytes, MemoryMethod.Reading(ReadMethod.EightWideSums, tag));

        // A 51 MB buffer that the last-level cache partly holds reads faster than the 262 MB and 412 MB ones.
        List<(long Bytes, IReadOnlyList<MemoryLimit> Reads, IReadOnlyList<MemoryLimit> Copies)> limits =
        [
            (51_000_000, [Limit("cached", 1, 51_000_000, 0.001)], [Limit("cached copy", 2, 102_000_000, 0.002)]),
            (262_000_000, [Limit("own", 3, 262_000_000, 0.008), Limit("own slower", 4, 262_000_000, 0.010)], [Limit("own copy", 5, 524_000_000, 0.020)]),
            (412_000_000, [Limit("larger", 6, 412_000_000, 0.014), Limit("own", 3, 412_000_000, 0.020)], [Limit("larger copy", 7, 824_000_000, 0.030)]),
        ];
        var (reads, copies) = BenchCommand.LimitsFor(limits, 262_000_000);
        // 32.8 GB/s, then 29.4 on the larger buffer, then 26.2; "own" once, at its faster bandwidth; not the cached 51.
        Assert.Equal(["own", "larger", "own slower"], reads.Select(l => l.Method));
        Assert.Equal(0.008, reads[0].Timing.Median);
        Assert.Equal(["larger copy", "own copy"], copies.Select(l => l.Method)); // 27.5 GB/s, against 26.2 on its own
        Assert.Equal("cached", BenchCommand.LimitsFor(limits, 51_000_000).Reads[0].Method);
        Assert.Equal(["larger copy"], BenchCommand.LimitsFor(limits, 300_000_000).Copies.Select(l => l.Method));
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
