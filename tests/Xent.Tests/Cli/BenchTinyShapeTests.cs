using System.Text.Json;

namespace Xent.Tests.Cli;

/// <summary>
/// xent bench on a shape so small that one read of it lasts a few ticks of the clock: every time and bandwidth is
/// a finite number, and --json is valid JSON (it once failed after the whole run on an infinite bandwidth).
/// </summary>
public sealed class BenchTinyShapeTests
{
    [Fact]
    public void A_tiny_shape_gives_finite_numbers_in_valid_json()
    {
        var run = CliRun.Run("bench", "--rows", "4", "--vocab", "8", "--iterations", "1", "--threads", "1", "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.DoesNotContain("Infinity", run.Out, StringComparison.Ordinal);
        var root = JsonDocument.Parse(run.Out).RootElement;
        Assert.True(root.GetProperty("read_gb_per_s").GetDouble() > 0);
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            string name = c.GetProperty("case").GetString()!;
            Assert.True(c.GetProperty("median_ms").GetDouble() > 0, name);
            Assert.True(c.GetProperty("gb_per_s").ValueKind == JsonValueKind.Number, name);
            if (c.TryGetProperty("fraction_of_memory_limit", out var f))
            {
                Assert.True(f.GetDouble() > 0, name);
            }
        }
    }
}
