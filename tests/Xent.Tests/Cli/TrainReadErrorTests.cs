using Xent.Tests.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// `xent train --resume` whose reads fail (no permission, a failing disk): exit 2 and one line in our words naming
/// the file, what happened and what to do, never .NET's message or "corrupt" for a file that is only unreadable; and
/// loss.png drawn from the records the run holds, not from metrics.jsonl read back.
/// </summary>
public sealed class TrainReadErrorTests : IDisposable
{
    private const int InputOutputError = 5;

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    public static TheoryData<string, bool> Reads => new()
    {
        { MetricsLog.FileName, true },
        { MetricsLog.FileName, false },
        { CheckpointStore.ModelFile, true },
        { CheckpointStore.ModelFile, false },
        { BestCheckpoint.InfoFile, true },
        { BestCheckpoint.InfoFile, false },
    };

    [Theory]
    [MemberData(nameof(Reads))]
    public void A_resume_that_cannot_read_a_file_is_one_line_naming_it_and_what_to_do(string name, bool permission)
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "1", "--eval-every", "10").ExitCode);
        var before = Snapshot(dir);

        var files = new ReadFails(name, permission);
        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = CliRun.Run("train", "--resume", dir, "--steps", "2", "--eval-every", "10");
        }

        string path = name == BestCheckpoint.InfoFile ? Path.Combine(dir, BestCheckpoint.Folder, name) : Path.Combine(dir, name);
        Assert.True(File.Exists(path));
        string problem = permission ? "permission denied" : "an I/O error (the disk or its file system failed to read it)";
        string remedy = permission ? "Make it readable by this user and run again." : "Check the disk (or copy the folder back from a backup) and run again.";
        string expected = name switch
        {
            MetricsLog.FileName => $"cannot read '{path}', resuming from the checkpoint of step 1: {problem}. Nothing was written: metrics.jsonl and the checkpoint are untouched, and the run did not start. {remedy}",
            BestCheckpoint.InfoFile => $"cannot read '{path}', resuming with the run's best checkpoint so far: {problem}. Nothing was written: best/ and the checkpoint are untouched, "
                + $"and the run did not start (without best.json its next evaluation would replace best/'s checkpoint whatever its loss). {remedy}",
            _ => $"cannot read '{path}', loading the checkpoint: {problem}. {remedy}",
        };
        run.AssertBadInput(expected, problem);
        Assert.NotNull(files.Thrown);
        Assert.DoesNotContain("corrupt", run.Error, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(dir));
    }

    [Fact]
    public void An_unreadable_config_json_beside_a_whole_model_safetensors_is_set_aside_with_a_note_in_our_words()
    {
        string dir = temp["run"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "1", "--eval-every", "10").ExitCode);

        var files = new ReadFails(CheckpointStore.ConfigFile, permission: true);
        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = CliRun.Run("train", "--resume", dir, "--steps", "2", "--eval-every", "10");
        }

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains($"cannot read '{Path.Combine(dir, CheckpointStore.ConfigFile)}', loading the checkpoint: permission denied.", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Access to the path", run.Error, StringComparison.Ordinal);
        Assert.Equal(2, CheckpointStore.LoadConfig(dir).Step);
    }

    [Fact]
    public void Loss_png_is_drawn_from_the_run_s_records_when_metrics_jsonl_is_gone_by_the_end()
    {
        string dir = temp["run"];
        CliRun run;
        using (CheckpointFiles.Use(new LogRemovedBeforeTheSummary()))
        {
            run = TrainCommandTests.Train(dir, "--steps", "2", "--eval-every", "1");
        }

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.False(File.Exists(Path.Combine(dir, MetricsLog.FileName)));
        Assert.True(new FileInfo(Path.Combine(dir, "loss.png")).Length > 0);
        Assert.True(File.Exists(Path.Combine(dir, RunSummary.FileName)));
    }

    [Fact]
    public void Export_refuses_an_out_whose_model_safetensors_it_cannot_read_instead_of_replacing_it()
    {
        string dir = temp["run"], output = temp["out"];
        Assert.Equal(0, TrainCommandTests.Train(dir, "--steps", "1", "--eval-every", "10").ExitCode);
        Assert.Equal(0, TrainCommandTests.Train(output, "--steps", "1", "--eval-every", "10").ExitCode);
        var before = Snapshot(output);

        // --out may hold a run's checkpoint: one that cannot be read is not taken for a folder to replace.
        var files = new ReadFails(CheckpointStore.ModelFile, permission: true, output);
        CliRun run;
        using (CheckpointFiles.Use(files))
        {
            run = CliRun.Run("export", "--checkpoint", dir, "--out", output);
        }

        run.AssertBadInput($"cannot read '{Path.Combine(output, CheckpointStore.ModelFile)}', loading the checkpoint: permission denied. Make it readable by this user and run again.", "permission denied");
        Assert.Equal(before, Snapshot(output));
    }

    // Every file of the folder (temporary ones included) with its bytes in hex.
    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), f => Convert.ToHexString(File.ReadAllBytes(f)));

    /// <summary>
    /// The real file system, except that opening <paramref name="name"/> for reading is refused (no permission), or,
    /// where <paramref name="permission"/> is false, its reads past the first half of the file fail as a failing disk's do;
    /// in <paramref name="folder"/> only, where given.
    /// </summary>
    internal sealed class ReadFails(string name, bool permission, string? folder = null) : IFileOperations
    {
        public Exception? Thrown { get; set; }

        public FileStream OpenRead(string path)
        {
            if (Path.GetFileName(path) != name || (folder is not null && Path.GetDirectoryName(Path.GetFullPath(path)) != Path.GetFullPath(folder)))
            {
                return FileOperations.Real.OpenRead(path);
            }

            return permission ? throw (Thrown = new UnauthorizedAccessException($"Access to the path '{path}' is denied.")) : new FailingReads(path, this);
        }

        public Stream Create(string path, long size) => FileOperations.Real.Create(path, size);

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string path) => FileOperations.Real.Delete(path);
    }

    /// <summary>A file whose reads from its middle on fail with EIO.</summary>
    private sealed class FailingReads(string path, ReadFails owner) : FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1)
    {
        public override int Read(byte[] buffer, int offset, int count) => Position >= Length / 2
            ? throw (owner.Thrown = new IOException($"Input/output error : '{Name}'", InputOutputError))
            : base.Read(buffer, offset, (int)Math.Min(count, Math.Max(1, (Length / 2) - Position)));

        public override int Read(Span<byte> buffer)
        {
            byte[] bytes = new byte[buffer.Length];
            int n = Read(bytes, 0, bytes.Length);
            bytes.AsSpan(0, n).CopyTo(buffer);
            return n;
        }

        public override int ReadByte()
        {
            Span<byte> one = stackalloc byte[1];
            return Read(one) == 0 ? -1 : one[0];
        }
    }

    /// <summary>
    /// The real file system, except that metrics.jsonl is removed when summary.json is written (after the run closed
    /// the log, before loss.png), as a clean-up meanwhile would.
    /// </summary>
    private sealed class LogRemovedBeforeTheSummary : IFileOperations
    {
        public Stream Create(string path, long size)
        {
            if (Path.GetFileName(path).StartsWith($".{RunSummary.FileName}.", StringComparison.Ordinal))
            {
                File.Delete(Path.Combine(Path.GetDirectoryName(path)!, MetricsLog.FileName));
            }

            return FileOperations.Real.Create(path, size);
        }

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string path) => FileOperations.Real.Delete(path);
    }
}
