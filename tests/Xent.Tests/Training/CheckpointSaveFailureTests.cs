using Xent.Training.Checkpoints;
using Xent.Training.Data;
using static Xent.Tests.Training.TinyCheckpoint;

namespace Xent.Tests.Training;

/// <summary>
/// A checkpoint save that meets an I/O error (a full disk at any point, no permission, a read-only file system, the
/// folder removed) is one message in our words: it names the checkpoint file, not its temporary one, says what went
/// wrong and what the folder holds now, keeps the error as the inner exception and leaves no temporary file. Before
/// the first rename the previous checkpoint is untouched, byte for byte; a failure at the second rename leaves the
/// new model.safetensors, which loads as the new step, beside the earlier config.json.
/// </summary>
public sealed class CheckpointSaveFailureTests : IDisposable
{
    private const int NoSpace = 28;
    private const int ReadOnlyFileSystem = 30;

    private readonly string testDir = Directory.CreateTempSubdirectory("xent-ckpt-fail-").FullName;

    public void Dispose()
    {
        if (Directory.Exists(testDir))
        {
            Directory.Delete(testDir, recursive: true);
        }
    }

    private void Save(long step) =>
        CheckpointStore.Save(testDir, Config(step), Tensors(Config(step), step), Tensors(Config(step), 1000), Tensors(Config(step), 2000), step);

    private string ModelPath => Path.Combine(testDir, CheckpointStore.ModelFile);

    private string ConfigPath => Path.Combine(testDir, CheckpointStore.ConfigFile);

    private static IOException DiskFull(string path) => new($"No space left on device : '{path}'", NoSpace);

    public static TheoryData<string, string> BeforeTheRenames => new()
    {
        { "write", CheckpointStore.ModelFile },
        { "write", CheckpointStore.ConfigFile }, // model.safetensors' temporary written whole by then
        { "flush", CheckpointStore.ModelFile },
        { "flush", CheckpointStore.ConfigFile },
        { "first move", CheckpointStore.ModelFile },
    };

    [Theory]
    [MemberData(nameof(BeforeTheRenames))]
    public void A_full_disk_before_the_first_rename_names_the_file_and_leaves_the_previous_checkpoint_untouched(string failAt, string file)
    {
        Save(1);
        var before = Snapshot();
        var files = new FailingFiles(failAt, file, DiskFull);

        var e = SaveFailing(files, 2);

        Assert.Same(files.Thrown, e.InnerException);
        Assert.StartsWith($"cannot write '{Path.Combine(testDir, file)}', saving the checkpoint of step 2: the disk is full. ", e.Message, StringComparison.Ordinal);
        Assert.Contains($"Nothing was replaced: the previous checkpoint in '{testDir}' (model.safetensors and config.json) is untouched.", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("xent-tmp", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
        Assert.Equal(1, CheckpointStore.Load(testDir, Expected).Config.Step);
    }

    [Fact]
    public void A_full_disk_at_the_second_rename_says_model_safetensors_is_new_and_config_json_old()
    {
        Save(1);
        var before = Snapshot();
        var files = new FailingFiles("second move", CheckpointStore.ConfigFile, DiskFull);

        var e = SaveFailing(files, 2);

        Assert.Same(files.Thrown, e.InnerException);
        Assert.StartsWith($"cannot write '{ConfigPath}', saving the checkpoint of step 2: the disk is full. ", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.safetensors was already replaced and holds step 2 whole, its config included, so the checkpoint of step 2 is saved; "
            + "config.json was not replaced and still describes the step before", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("xent-tmp", e.Message, StringComparison.Ordinal);

        // As said: model.safetensors is the new one, config.json the old one, and no temporary file is left.
        var after = Snapshot();
        Assert.Equal([CheckpointStore.ConfigFile, CheckpointStore.ModelFile], after.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(before[CheckpointStore.ConfigFile], after[CheckpointStore.ConfigFile]);
        Assert.NotEqual(before[CheckpointStore.ModelFile], after[CheckpointStore.ModelFile]);
        Checkpoint k = CheckpointStore.Load(testDir, Expected);
        Assert.Equal(2, k.Config.Step);
        Assert.Equal(Tensors(Config(2), 2)[0].Data, k.Weights["wte"].Data);
        Assert.NotNull(k.Note);
    }

    [Theory]
    [InlineData(true)] // no permission
    [InlineData(false)] // a read-only file system
    public void No_permission_or_a_read_only_file_system_names_the_file_and_leaves_the_previous_checkpoint_untouched(bool permission)
    {
        Save(1);
        var before = Snapshot();
        var files = new FailingFiles("create", CheckpointStore.ModelFile, temporary => permission
            ? new UnauthorizedAccessException($"Access to the path '{temporary}' is denied.")
            : new IOException($"Read-only file system : '{temporary}'", ReadOnlyFileSystem));

        var e = SaveFailing(files, 2);

        Assert.Same(files.Thrown, e.InnerException);
        string problem = permission ? "permission denied" : $"the file system of '{testDir}' is read-only";
        Assert.Equal($"cannot write '{ModelPath}', saving the checkpoint of step 2: {problem}. "
            + $"Nothing was replaced: the previous checkpoint in '{testDir}' (model.safetensors and config.json) is untouched.", e.Message);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public void A_full_disk_at_the_first_save_says_nothing_was_saved_and_leaves_no_file()
    {
        var files = new FailingFiles("write", CheckpointStore.ModelFile, DiskFull);

        var e = SaveFailing(files, 1);

        Assert.Same(files.Thrown, e.InnerException);
        Assert.Equal($"cannot write '{ModelPath}', saving the checkpoint of step 1: the disk is full. Nothing was saved, and '{testDir}' holds no checkpoint.", e.Message);
        Assert.Empty(Snapshot());
    }

    [Fact]
    public void A_folder_removed_while_the_checkpoint_is_saved_is_named()
    {
        Save(1);
        var files = new FolderRemover(testDir);

        var e = SaveFailing(files, 2);

        Assert.IsType<FileNotFoundException>(e.InnerException);
        Assert.Equal($"cannot write '{ModelPath}', saving the checkpoint of step 2: the folder '{testDir}' no longer exists. Nothing was saved.", e.Message);
        Assert.False(Directory.Exists(testDir));
    }

    private TrainingInputException SaveFailing(IFileOperations files, long step)
    {
        using (CheckpointFiles.Use(files))
        {
            return Assert.Throws<TrainingInputException>(() => Save(step));
        }
    }

    // Every file and folder of the checkpoint directory (temporary files included), with each file's bytes in hex.
    private Dictionary<string, string> Snapshot() =>
        Directory.GetFileSystemEntries(testDir).ToDictionary(
            f => Path.GetFileName(f), f => File.Exists(f) ? Convert.ToHexString(File.ReadAllBytes(f)) : "folder");

    /// <summary>
    /// The real file system, except that one step fails with the error <paramref name="error"/> makes of the temporary
    /// file's path: "create" (the temporary of <paramref name="file"/>), "write" or "flush" (of its stream), "first
    /// move" or "second move" (which must then be <paramref name="file"/>'s).
    /// </summary>
    private sealed class FailingFiles(string failAt, string file, Func<string, Exception> error) : IFileOperations
    {
        private int moves;

        public Exception? Thrown { get; private set; }

        public Stream Create(string path, long size)
        {
            bool mine = Path.GetFileName(path).StartsWith($".{file}.", StringComparison.Ordinal);
            if (mine && failAt == "create")
            {
                throw Fail(path);
            }

            Stream stream = FileOperations.Real.Create(path, size);
            return mine && failAt is "write" or "flush" ? new FailingStream(stream, failAt, () => Fail(path)) : stream;
        }

        public void Move(string from, string to)
        {
            moves++;
            if ((failAt == "first move" && moves == 1) || (failAt == "second move" && moves == 2))
            {
                Assert.Equal(file, Path.GetFileName(to));
                throw Fail(from);
            }

            FileOperations.Real.Move(from, to);
        }

        public void Delete(string path) => FileOperations.Real.Delete(path);

        private Exception Fail(string temporary) => Thrown = error(temporary);
    }

    /// <summary>A stream whose writes, or whose flush, fail.</summary>
    private sealed class FailingStream(Stream inner, string failAt, Func<Exception> fail) : Stream
    {
        private long written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => written;

        public override long Position { get => written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (failAt == "write")
            {
                throw fail();
            }

            inner.Write(buffer);
            written += buffer.Length;
        }

        public override void Flush()
        {
            if (failAt == "flush")
            {
                throw fail();
            }

            inner.Flush();
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>The real file system, except that the folder is removed (with what it holds) just before the first rename.</summary>
    private sealed class FolderRemover(string folder) : IFileOperations
    {
        public Stream Create(string path, long size) => FileOperations.Real.Create(path, size);

        public void Move(string from, string to)
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }

            FileOperations.Real.Move(from, to);
        }

        public void Delete(string path) => FileOperations.Real.Delete(path);
    }
}
