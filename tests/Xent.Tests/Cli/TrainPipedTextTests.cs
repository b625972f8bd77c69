using System.Diagnostics;
using Xent.Cli.Commands;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train --text` from a pipe (a named FIFO, as `--text &lt;(cat FILE)` or /dev/stdin give it), whose size on
/// disk is 0: the text read picks the text defaults, so a pipe and the file give the same run.
/// </summary>
public sealed class TrainPipedTextTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    // Words enough for the learned encoding (the default from BpeMinBytes), the short text's dropouts.
    private string LongText()
    {
        string[] syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "pa"];
        var random = new Random(5);
        var sb = new System.Text.StringBuilder();
        while (sb.Length < TextTrainingDefaults.BpeMinBytes)
        {
            sb.Append(syllables[random.Next(syllables.Length)]).Append(random.Next(8) == 0 ? ".\n" : " ");
        }

        string path = temp["long.txt"];
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    /// <summary>A FIFO at <paramref name="fifo"/> that a shell fills with <paramref name="file"/> once it is opened.</summary>
    private static Process Pipe(string file, string fifo)
    {
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        return Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "cat \"$0\" > \"$1\"", file, fifo]))!;
    }

    [Fact]
    public void A_text_from_a_pipe_gets_the_defaults_of_its_size_as_the_file_does()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string file = LongText(), fifo = temp["fifo"];
        TrainingPlan fromFile = TrainPlanning.From(new TrainSettings { Text = file, Steps = 10, Out = temp["a"] });
        Assert.IsType<BpeTokenizer>(fromFile.Data.Tokenizer);

        using var writer = Pipe(file, fifo);
        TrainingPlan fromPipe = TrainPlanning.From(new TrainSettings { Text = fifo, Steps = 10, Out = temp["b"] });
        writer.WaitForExit();
        Assert.Equal(fromFile.Model, fromPipe.Model);
        Assert.Equal(fromFile.Data.Tokenizer.Kind, fromPipe.Data.Tokenizer.Kind);
        Assert.Equal(fromFile.Data.BpeDropout, fromPipe.Data.BpeDropout);
        Assert.Equal(fromFile.Data.Train, fromPipe.Data.Train);
        Assert.Equal(fromFile.Data.Validation, fromPipe.Data.Validation);
        Assert.Equal(fromFile.Data.TrainSamples, fromPipe.Data.TrainSamples);
        Assert.Equal(fromFile.Baseline, fromPipe.Baseline);
    }

    [Fact]
    public void A_run_on_a_pipe_resumes_from_the_same_text_given_again_and_refuses_another()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string file = temp["t.txt"], other = temp["other.txt"], fifo = temp["fifo"], run = temp["run"];
        File.WriteAllText(file, string.Concat(Enumerable.Range(0, 40).Select(i => $"the quick brown fox {i % 5} jumps over the lazy dog. ")));
        File.WriteAllText(other, File.ReadAllText(file).Replace("fox", "cat", StringComparison.Ordinal));
        using (var writer = Pipe(file, fifo))
        {
            var first = TrainCommandTests.Train(run, "--text", fifo, "--steps", "2", "--eval-every", "1");
            Assert.True(first.ExitCode == 0, first.Error + first.Out);
            writer.WaitForExit();
        }

        // The pipe is not read again by its path (another text may come through it, or none, and the run wait for it).
        using (var again = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "cat \"$0\" > \"$1\"", other, fifo]))!)
        {
            try
            {
                CliRun.Run("train", "--resume", run, "--steps", "3").AssertBadInput("--text", "read from a pipe");
            }
            finally
            {
                again.Kill();
                again.WaitForExit();
            }
        }

        // The same text from another path (the file itself, or a pipe again) continues the run; another text is refused.
        CliRun.Run("train", "--resume", run, "--steps", "3", "--text", other).AssertBadInput(other, "not the text");
        var resumed = CliRun.Run("train", "--resume", run, "--steps", "3", "--text", file);
        Assert.True(resumed.ExitCode == 0, resumed.Error + resumed.Out);
        Assert.Equal(3, Xent.Training.Checkpoints.CheckpointStore.LoadConfig(run).Step);
        Assert.Equal(Path.GetFullPath(file), Xent.Training.Checkpoints.CheckpointStore.LoadConfig(run).Data.Source);

        // A regular file changed since: refused by its content, not only by its path.
        File.WriteAllText(file, File.ReadAllText(other));
        CliRun.Run("train", "--resume", run, "--steps", "4").AssertBadInput(file, "not the text");
    }
}
