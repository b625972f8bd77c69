using System.Diagnostics;
using System.Text.Json.Nodes;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train --resume` without --text reads the text at the checkpoint's recorded path. A checkpoint written before
/// data.piped existed may record a FIFO there (`--text &lt;(cat FILE)`), or the path may name one now: opening it
/// would wait for a writer for ever, so it is refused at once, naming --text.
/// </summary>
public sealed class TrainResumeFifoTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void FileType_tells_a_fifo_and_a_device_from_a_file_and_a_folder_without_opening_them()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string file = temp["f.txt"], fifo = temp["fifo"], link = temp["link"];
        File.WriteAllText(file, "x");
        MakeFifo(fifo);
        File.CreateSymbolicLink(link, fifo);
        Assert.False(FileType.IsSpecial(file));
        Assert.False(FileType.IsSpecial(temp.Path));
        Assert.False(FileType.IsSpecial(temp["missing"]));
        Assert.True(FileType.IsSpecial(fifo));
        Assert.True(FileType.IsSpecial(link));
        Assert.True(FileType.IsSpecial("/dev/null"));
    }

    [Fact]
    public async Task A_fifo_at_the_recorded_text_path_is_refused_without_waiting_for_a_writer()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string text = temp["t.txt"], copy = temp["copy.txt"], run = temp["run"];
        File.WriteAllText(text, string.Concat(Enumerable.Range(0, 40).Select(i => $"the quick brown fox {i % 5} jumps over the lazy dog. ")));
        File.Copy(text, copy);
        var first = TrainCommandTests.Train(run, "--text", text, "--steps", "2", "--eval-every", "1");
        Assert.True(first.ExitCode == 0, first.Error + first.Out);

        // A file's run has no data.piped, as every run had before it was kept (a FIFO's too); then a FIFO where the
        // text was.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, CheckpointStore.ConfigFile)))!;
        Assert.Null(config["data"]!["piped"]);
        File.Delete(text);
        MakeFifo(text);

        var resume = Task.Run(() => CliRun.Run("train", "--resume", run, "--steps", "3"));
        if (await Task.WhenAny(resume, Task.Delay(TimeSpan.FromSeconds(30))) != resume)
        {
            // A writer that closes at once ends the wait (the reader sees an empty text), so the suite goes on.
            using var writer = Process.Start("/bin/sh", ["-c", ": > \"$0\"", text]);
            bool ended = await Task.WhenAny(resume, Task.Delay(TimeSpan.FromSeconds(30))) == resume;
            writer.Kill();
            Assert.Fail($"--resume waited for a writer on the FIFO '{text}' (ended once one came: {ended}).");
        }

        var refused = await resume;
        refused.AssertBadInput(text, "not a regular file");
        Assert.Contains("--text", refused.Error, StringComparison.Ordinal);

        // The text given with --text continues the run.
        var resumed = CliRun.Run("train", "--resume", run, "--steps", "3", "--text", copy);
        Assert.True(resumed.ExitCode == 0, resumed.Error + resumed.Out);
        Assert.Equal(3, CheckpointStore.LoadConfig(run).Step);
    }

    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }
}
