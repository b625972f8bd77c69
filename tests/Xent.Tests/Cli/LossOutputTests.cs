using System.Diagnostics;
using System.Text.Json;
using Xent.Cli.IO;
using Xent.Training.Checkpoints;

namespace Xent.Tests.Cli;

/// <summary>
/// xent loss outputs: never over an input or over each other (by any path, links included), written through the
/// file API with every I/O failure an exit 2 naming the file, no temporary file left behind, earlier files kept.
/// </summary>
public sealed class LossOutputTests : IDisposable
{
    private const int V = 5;
    private readonly TempFolder dir = new();
    private readonly string logits;
    private readonly string targets;
    private readonly byte[] logitsBytes;
    private readonly byte[] targetsBytes;

    public LossOutputTests()
    {
        logits = TestNpy.F32(dir["l.npy"], Enumerable.Range(0, 2 * V).Select(i => (float)i / 3).ToArray(), 2, V);
        targets = TestNpy.I64(dir["t.npy"], [1L, 4L], 2);
        logitsBytes = File.ReadAllBytes(logits);
        targetsBytes = File.ReadAllBytes(targets);
    }

    public void Dispose() => dir.Dispose();

    [Fact]
    public void GradOverLogits_IsRefused() =>
        AssertClobberRefused(dir["l.npy"], "would overwrite the input --logits", "--grad", logits);

    [Fact]
    public void LossesOverTargets_IsRefused() =>
        AssertClobberRefused(dir["t.npy"], "would overwrite the input --targets", "--losses", targets);

    [Fact]
    public void GradAndLossesTheSameFile_IsRefused()
    {
        var run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", dir["x.npy"], "--losses", dir["x.npy"]);
        run.AssertBadInput(dir["x.npy"], "are the same file");
        Assert.False(File.Exists(dir["x.npy"]));
    }

    [Fact]
    public void ThroughAnotherSpelling_IsRefused()
    {
        Directory.CreateDirectory(dir["sub"]);
        string roundabout = Path.Combine(dir["sub"], "..", ".", "l.npy");
        AssertClobberRefused(roundabout, "would overwrite the input --logits", "--grad", roundabout);
    }

    [Fact]
    public void ThroughASymbolicLink_IsRefused()
    {
        File.CreateSymbolicLink(dir["link.npy"], logits);
        AssertClobberRefused(dir["link.npy"], "would overwrite the input --logits", "--grad", dir["link.npy"]);
    }

    [Fact]
    public void ThroughASymbolicLinkedFolder_IsRefused()
    {
        Directory.CreateSymbolicLink(dir["alias"], dir.Path);
        string viaAlias = Path.Combine(dir["alias"], "t.npy");
        AssertClobberRefused(viaAlias, "would overwrite the input --targets", "--losses", viaAlias);
    }

    [Fact]
    public void ThroughAHardLink_IsRefused()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using (var ln = Process.Start("ln", [logits, dir["hard.npy"]]))
        {
            ln.WaitForExit();
            Assert.Equal(0, ln.ExitCode);
        }

        AssertClobberRefused(dir["hard.npy"], "would overwrite the input --logits", "--grad", dir["hard.npy"]);
    }

    [Fact]
    public void EmptyFileName_IsRefusedInOurWords()
    {
        var run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", "");
        run.AssertBadInput("--grad", "needs a file name");
    }

    [Fact]
    public void FolderGivenAsOutput_IsRefused()
    {
        var run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--losses", dir.Path);
        run.AssertBadInput(dir.Path, "--losses names a folder");
    }

    [Fact]
    public void A_device_as_output_is_refused()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", "/dev/null");
        run.AssertBadInput("/dev/null", "not a regular file");
        Assert.True(File.Exists("/dev/null"));
    }

    public static TheoryData<string> Failures => ["create", "write", "move"];

    [Theory]
    [MemberData(nameof(Failures))]
    public void InjectedIoFailure_IsExitCode2_NamesTheFile_LeavesNothing(string failAt)
    {
        File.WriteAllText(dir["g.npy"], "old");
        var files = new FailingFiles(failAt);
        CliRun run;
        using (OutputFiles.Use(files))
        {
            run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", dir["g.npy"], "--losses", dir["r.npy"]);
        }

        run.AssertBadInput(dir["g.npy"], failAt == "create" ? "the disk is full: this output needs" : "the disk is full");
        Assert.Equal("old", File.ReadAllText(dir["g.npy"]));
        Assert.False(File.Exists(dir["r.npy"]));
        Assert.True(files.Created > 0);
        AssertNoTemporaries();
    }

    [Fact]
    public void AFolderMadeInThePlaceOfTheSecondOutput_ReplacesNeitherOutput()
    {
        File.WriteAllText(dir["g.npy"], "old gradient");
        CliRun run;

        // Made after the outputs were checked (while the first one is written), as a slow computation would let it.
        using (OutputFiles.Use(new FolderMaker(dir["r.npy"])))
        {
            run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", dir["g.npy"], "--losses", dir["r.npy"]);
        }

        Assert.Equal("old gradient", File.ReadAllText(dir["g.npy"]));
        run.AssertBadInput(dir["r.npy"], "a folder of that name has appeared there");
        Assert.Contains("no output was replaced", run.Error, StringComparison.Ordinal);
        Assert.True(Directory.Exists(dir["r.npy"]));
        AssertNoTemporaries();
    }

    [Fact]
    public void ASecondRenameThatFails_SaysTheFirstOutputWasReplaced()
    {
        File.WriteAllText(dir["g.npy"], "old gradient");
        File.WriteAllText(dir["r.npy"], "old losses");
        CliRun run;
        using (OutputFiles.Use(new FailingFiles("second move")))
        {
            run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", dir["g.npy"], "--losses", dir["r.npy"]);
        }

        // The window between the renames: --grad is new, --losses as it was, and the error line says which is which.
        run.AssertBadInput(dir["r.npy"], "cannot move the written output into place: the disk is full");
        Assert.Contains($"{dir["g.npy"]}, renamed into place before it, holds this run's output", run.Error, StringComparison.Ordinal);
        Assert.NotEqual("old gradient", File.ReadAllText(dir["g.npy"]));
        Assert.Equal("old losses", File.ReadAllText(dir["r.npy"]));
        AssertNoTemporaries();
    }

    [Fact]
    public void StaleTemporaryOfADeadProcess_IsRemoved()
    {
        // A pid above the kernel's maximum (4194304) cannot be alive.
        string stale = dir[".g.npy.9999999-0123456789abcdef.xent-tmp"];
        File.WriteAllText(stale, "left by a killed run");
        var run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", dir["g.npy"]);
        Assert.Equal(0, run.ExitCode);
        Assert.False(File.Exists(stale));
        AssertNoTemporaries();
    }

    [Fact]
    public void A_full_disk_gives_a_small_outputs_size_once()
    {
        // It read "this output needs 160 bytes (160 bytes)": the exact count repeated what the rounded size said.
        CliRun run;
        using (OutputFiles.Use(new FailingFiles("create")))
        {
            run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", dir["g.npy"]);
        }

        run.AssertBadInput(dir["g.npy"], "the disk is full: this output needs");
        Assert.Matches(@"this output needs \d+ bytes\. Nothing was written there", run.Error);
    }

    [Fact]
    public void FullDisk_OnATinyTmpfs_IsExitCode2_LeavesNothing()
    {
        // Needs root and a sandbox that allows mount (true on the project machine and in .ci/run's container);
        // elsewhere InjectedIoFailure covers the same path through the seam.
        string mountPoint = dir["tiny"];
        Directory.CreateDirectory(mountPoint);
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || Shell("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint) != 0)
        {
            return;
        }

        try
        {
            // 256 KiB of gradient into 64 KiB: the reservation fails before any byte is written.
            var big = TestNpy.F32(dir["big.npy"], new float[64 * 1024], 64, 1024);
            var t = TestNpy.I64(dir["bt.npy"], new long[64], 64);
            string grad = Path.Combine(mountPoint, "g.npy");
            var run = CliRun.Run("loss", "--logits", big, "--targets", t, "--grad", grad);
            run.AssertBadInput(grad, "cannot write the output: the disk is full: this output needs 256 KiB");
            Assert.Empty(Directory.GetFileSystemEntries(mountPoint));

            // A small output still fits: the failure was the disk, not the folder.
            var ok = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", grad);
            Assert.Equal(0, ok.ExitCode);
            Assert.Equal([grad], Directory.GetFileSystemEntries(mountPoint));
        }
        finally
        {
            Assert.Equal(0, Shell("umount", mountPoint));
        }
    }

    [Fact]
    public void NonFiniteLogits_SameNumbersAsPyTorch_WarnWithCountAndFirstPosition_JsonValid()
    {
        // Row 0 holds a NaN at column 3, row 1 a +inf at column 4 (its target): losses NaN and NaN (inf - inf).
        var values = Enumerable.Range(0, 3 * V).Select(i => (float)i / 7).ToArray();
        values[3] = float.NaN;
        values[V + 4] = float.PositiveInfinity;
        values[(2 * V) + 1] = float.NegativeInfinity;
        var l = TestNpy.F32(dir["nan.npy"], values, 3, V);
        var t = TestNpy.I64(dir["t3.npy"], [1L, 4L, 0L], 3);
        var run = CliRun.Run("loss", "--logits", l, "--targets", t, "--reduction", "none", "--json");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("2 logits are not finite (1 NaN, 1 +inf), the first at row [0], column 3", run.Error, StringComparison.Ordinal);
        var json = JsonDocument.Parse(run.Out).RootElement;
        var losses = json.GetProperty("loss").EnumerateArray().ToArray();
        Assert.Equal("NaN", losses[0].GetString());
        Assert.Equal("NaN", losses[1].GetString());

        // Row 2: a -inf logit that is not the target is a masked class, an ordinary finite loss.
        Assert.True(double.IsFinite(losses[2].GetDouble()));
        Assert.Equal(1, json.GetProperty("non_finite_logits").GetProperty("neginf").GetInt64());
    }

    [Fact]
    public void MaskedTargetLogit_WarnsOnlyWhenTheResultIsNotFinite()
    {
        var values = new float[2 * V];
        values[2] = float.NegativeInfinity;
        var l = TestNpy.F32(dir["m.npy"], values, 2, V);
        var masked = CliRun.Run("loss", "--logits", l, "--targets", targets);
        Assert.Equal(0, masked.ExitCode);
        Assert.Equal("", masked.Error);

        var hit = CliRun.Run("loss", "--logits", l, "--targets", TestNpy.I64(dir["t1.npy"], [2L, 0L], 2));
        Assert.Equal(0, hit.ExitCode);
        Assert.StartsWith("loss: Infinity", hit.Out, StringComparison.Ordinal);
        Assert.Contains("1 logit is -inf, the first at row [0], column 2", hit.Error, StringComparison.Ordinal);
    }

    private void AssertClobberRefused(string file, string problem, params string[] outputs)
    {
        var run = CliRun.Run(["loss", "--logits", logits, "--targets", targets, .. outputs]);
        run.AssertBadInput(file, problem);
        Assert.Equal(logitsBytes, File.ReadAllBytes(logits));
        Assert.Equal(targetsBytes, File.ReadAllBytes(targets));
        AssertNoTemporaries();
    }

    private void AssertNoTemporaries() =>
        Assert.DoesNotContain(dir.Files(), f => f.EndsWith("tmp", StringComparison.Ordinal));

    private static int Shell(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        try
        {
            using var process = Process.Start(start)!;
            process.WaitForExit();
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }

    /// <summary>The real file system, except that one operation fails as a full disk does.</summary>
    private sealed class FailingFiles(string failAt) : IFileOperations
    {
        private int moved;

        public int Created { get; private set; }

        public Stream Create(string path, long size)
        {
            Created++;
            var stream = FileOperations.Real.Create(path, size);
            if (failAt == "create")
            {
                stream.Dispose();
                throw Full();
            }

            return failAt == "write" ? new FailAfter(stream, 70) : stream;
        }

        public void Move(string from, string to)
        {
            if (failAt == "move" || (failAt == "second move" && moved++ == 1))
            {
                throw Full();
            }

            FileOperations.Real.Move(from, to);
        }

        public void Delete(string path) => FileOperations.Real.Delete(path);

        private static IOException Full() => new("No space left on device");
    }

    /// <summary>The real file system, which makes a folder at <paramref name="inTheWay"/> when the first file is created.</summary>
    private sealed class FolderMaker(string inTheWay) : IFileOperations
    {
        public Stream Create(string path, long size)
        {
            Directory.CreateDirectory(inTheWay);
            return FileOperations.Real.Create(path, size);
        }

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string path) => FileOperations.Real.Delete(path);
    }

    /// <summary>A stream whose writes fail once <c>limit</c> bytes were written.</summary>
    private sealed class FailAfter(Stream inner, long limit) : Stream
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
            if (written + buffer.Length > limit)
            {
                throw new IOException("No space left on device");
            }

            inner.Write(buffer);
            written += buffer.Length;
        }

        public override void Flush() => inner.Flush();

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
}
