namespace Xent.Tests.Cli;

/// <summary>Logits over 2^31 elements: memory-mapped and handed to the library's pointer overloads.</summary>
public sealed class LargeInputTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>
    /// An 8.6 GB float32 file of zeros, made sparse (SetLength) so it costs no disk or time to create: every row is
    /// uniform, so the loss is ln V. Slow (it reads 8.6 GB of mapped zero pages): XENT_SLOW_TESTS=1 dotnet test --filter Category=Slow.
    /// </summary>
    [SlowFact]
    [Trait("Category", "Slow")]
    public void OverTwoToThe31Elements()
    {
        const int v = 32768, n = 65537;
        var l = dir["big.npy"];
        var header = TestNpy.File(TestNpy.Dict("<f4", n, v), []);
        using (var f = File.Create(l))
        {
            f.Write(header);
            f.SetLength(header.Length + (long)n * v * 4);
        }

        var t = TestNpy.I32(dir["t.npy"], new int[n], n);
        var run = CliRun.Run("loss", "--logits", l, "--targets", t, "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        var json = System.Text.Json.JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal(Math.Log(v), json.GetProperty("loss").GetDouble(), 1e-5);
        Assert.Equal(n, json.GetProperty("rows").GetInt32());
    }
}
