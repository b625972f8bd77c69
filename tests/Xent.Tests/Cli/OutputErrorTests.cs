using Xent.Cli.Commands;
using Xent.Cli.IO;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Tests.Cli;

/// <summary>
/// Outputs that cannot be written (export's folder, loss's --grad file, train's loss.png): the message names the
/// user's path and says what is wrong in xent's words, never .NET's ("Could not find file") nor a temporary file's name.
/// </summary>
public sealed class OutputErrorTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Export_names_an_output_folder_that_cannot_be_created()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string run = temp["run"];
        var trained = TrainCommandTests.Train(run, "--steps", "1");
        Assert.True(trained.ExitCode == 0, trained.Error);
        string proc = $"/proc/xent-test-{Guid.NewGuid():N}";
        CliRun.Run("export", "--format", "hf", "--checkpoint", run, "--out", proc)
            .AssertBadInput($"cannot create the folder '{proc}'", "does not accept new files");
    }

    [Fact]
    public void Loss_names_the_output_it_cannot_write_not_its_temporary_file()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string logits = TestNpy.F32(temp["l.npy"], new float[2 * 3], 2, 3);
        string targets = TestNpy.I64(temp["t.npy"], [0L, 1], 2);
        const string Grad = "/proc/xent-test-grad.npy";
        var run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", Grad);
        run.AssertBadInput(Grad, "cannot write the output: the folder '/proc' does not accept new files or folders. Nothing was written");
        Assert.DoesNotContain("xent-tmp", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("..", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_output_keeps_the_io_error_as_its_inner_exception()
    {
        string png = temp["p.png"];
        var files = new FailingFiles(failAt: 0);
        XentCliException e;
        using (OutputFiles.Use(files))
        {
            e = Assert.Throws<XentCliException>(() => BytesOutput.Write(png, [1, 2, 3]));
        }

        Assert.StartsWith($"{png}: cannot write the output: the disk is full", e.Message, StringComparison.Ordinal);
        Assert.Same(files.Thrown, e.InnerException);
    }

    [Fact]
    public void Train_s_loss_plot_that_cannot_be_written_names_loss_png_and_says_what_the_run_saved()
    {
        string png = Path.Combine(temp["run"], LossPlot.FileName);
        Directory.CreateDirectory(temp["run"]);
        File.WriteAllText(png, "earlier");
        var files = new FailingFiles(failAt: 0);
        TrainingInputException e;
        using (OutputFiles.Use(files))
        {
            e = Assert.Throws<TrainingInputException>(() => LossPlot.Save(png, [], null, null, "t", checkpointStep: 3));
        }

        Assert.Equal($"cannot write '{png}', drawing the loss curve: the disk is full. The run is over and its checkpoint of step 3, "
            + "metrics.jsonl and summary.json are saved; loss.png was not written (the earlier loss.png there is as it was).", e.Message);
        Assert.Same(files.Thrown, e.InnerException);
        Assert.Equal("earlier", File.ReadAllText(png));
        Assert.Single(Directory.GetFileSystemEntries(temp["run"]));
    }

    [Fact]
    public void A_second_rename_that_fails_keeps_the_io_error_as_its_inner_exception()
    {
        string first = temp["a.npy"], second = temp["b.npy"];
        using var a = NpyOutput.Create(first, ElementType.Float32, [2]);
        using var b = NpyOutput.Create(second, ElementType.Float32, [2]);
        var files = new FailingFiles(failAt: 3); // both written, the first renamed into place
        XentCliException e;
        using (OutputFiles.Use(files))
        {
            e = Assert.Throws<XentCliException>(() => NpyOutput.WriteAll([a, b]));
        }

        Assert.StartsWith($"{second}: cannot move the written output into place: the disk is full", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{first}, renamed into place before it, holds this run's output.", e.Message, StringComparison.Ordinal);
        Assert.Same(files.Thrown, e.InnerException);
        Assert.True(File.Exists(first));
        Assert.False(File.Exists(second));
    }

    /// <summary>The real file system, except that its operation number <paramref name="failAt"/> (0: the first create) fails as a full disk does.</summary>
    private sealed class FailingFiles(int failAt) : IFileOperations
    {
        private int count;

        public IOException? Thrown { get; private set; }

        public Stream Create(string path, long size)
        {
            Fail(path);
            return FileOperations.Real.Create(path, size);
        }

        public void Move(string from, string to)
        {
            Fail(from);
            FileOperations.Real.Move(from, to);
        }

        public void Delete(string path) => FileOperations.Real.Delete(path);

        private void Fail(string path)
        {
            if (count++ == failAt)
            {
                throw Thrown = new IOException($"No space left on device : '{path}'", 28);
            }
        }
    }
}
