using Xent.Cli.Commands;

namespace Xent.Tests.Cli;

/// <summary>`--threads -1` is every core for every verb that has the option, as for `xent loss`; 0 and below -1 are refused.</summary>
public sealed class ThreadsOptionTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Minus_one_is_every_core_for_train_eval_and_bench()
    {
        string dir = temp["run"];
        var trained = TrainCommandTests.Train(dir, "--steps", "1", "--threads", "-1");
        Assert.True(trained.ExitCode == 0, trained.Error + trained.Out);

        File.WriteAllText(temp["t.txt"], new string('a', 200));
        var eval = CliRun.Run("eval", "--checkpoint", dir, "--text", temp["t.txt"], "--threads", "-1");
        Assert.True(eval.ExitCode == 0, eval.Error + eval.Out);

        var bench = new BenchSettings { Threads = -1 };
        Assert.True(bench.Validate().Successful);
        Assert.Equal(Environment.ProcessorCount, bench.ThreadCount);
    }

    [Fact]
    public void Bench_caps_threads_at_the_core_count_as_the_library_does()
    {
        var bench = new BenchSettings { Threads = 99_999_999 };
        Assert.True(bench.Validate().Successful);
        Assert.Equal(Environment.ProcessorCount, bench.ThreadCount);
        Assert.Equal(1, new BenchSettings { Threads = 1 }.ThreadCount);
    }

    [Fact]
    public void Train_summary_records_the_threads_the_run_had_not_more_than_the_cores()
    {
        string dir = temp["run"];
        var trained = TrainCommandTests.Train(dir, "--steps", "1", "--threads", "99999999");
        Assert.True(trained.ExitCode == 0, trained.Error + trained.Out);
        var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement;
        Assert.Equal(Environment.ProcessorCount, summary.GetProperty("threads").GetInt32());
    }

    [Theory]
    [InlineData("train")]
    [InlineData("eval", "--checkpoint", "c", "--text", "t.txt")]
    [InlineData("bench")]
    [InlineData("loss", "--logits", "l.npy", "--targets", "t.npy")]
    public void Zero_and_below_minus_one_are_refused(string verb, params string[] required)
    {
        foreach (string threads in new[] { "0", "-2" })
        {
            var run = CliRun.Run([verb, .. required, "--threads", threads]);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("--threads must be -1 (every core)", run.Error, StringComparison.Ordinal);
        }
    }
}
