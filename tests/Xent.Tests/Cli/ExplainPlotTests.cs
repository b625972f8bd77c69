using Xent.Cli.IO;
using Xent.Training.Checkpoints;

namespace Xent.Tests.Cli;

/// <summary>
/// xent explain --plot checks its file as xent loss checks its outputs, before anything is computed or printed,
/// and writes it as they are written: never over an input, never half, no temporary file left behind.
/// </summary>
public sealed class ExplainPlotTests : IDisposable
{
    private readonly TempFolder dir = new();
    private readonly string logits;
    private readonly string targets;
    private readonly string weights;

    public ExplainPlotTests()
    {
        logits = TestNpy.F32(dir["l.npy"], [2f, 1f, 0.1f, 0.5f, 0.5f, 3f], 2, 3);
        targets = TestNpy.I64(dir["t.npy"], [0L, 2], 2);
        weights = TestNpy.F32(dir["w.npy"], [1f, 2f, 3f], 3);
    }

    public void Dispose() => dir.Dispose();

    public static TheoryData<string, string> Inputs => new()
    {
        { "l.npy", "--plot would overwrite the input --logits" },
        { "t.npy", "--plot would overwrite the input --targets" },
        { "w.npy", "--plot would overwrite the input --weights" },
    };

    [Theory]
    [MemberData(nameof(Inputs))]
    public void AnInputAsThePlotIsRefusedAndKept(string input, string problem)
    {
        var before = Contents();
        var run = CliRun.Run("explain", "--logits", logits, "--targets", targets, "--weights", weights, "--plot", dir[input]);
        run.AssertBadInput(dir[input], problem);
        Assert.Empty(run.Out);
        Assert.Equal(before, Contents());
    }

    [Fact]
    public void AnInputReachedThroughALinkIsRefused()
    {
        File.CreateSymbolicLink(dir["link.npy"], logits);
        var before = File.ReadAllBytes(logits);
        var run = CliRun.Run("explain", "--logits", logits, "--targets", targets, "--plot", dir["link.npy"]);
        run.AssertBadInput(dir["link.npy"], "--plot would overwrite the input --logits");
        Assert.Equal(before, File.ReadAllBytes(logits));
    }

    [Fact]
    public void AFolderIsRefusedAndNothingIsLeftInIt()
    {
        var before = Contents();
        var run = CliRun.Run("explain", "--logits", "2,1", "--target", "0", "--plot", dir.Path);
        run.AssertBadInput(dir.Path, "--plot names a folder; give a file name");
        Assert.Empty(run.Out);
        Assert.Equal(before, Contents());
        Assert.Equal(before.Keys, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void AMissingFolderIsRefusedBeforeAnythingIsPrinted()
    {
        string missing = Path.Combine(dir["none"], "p.png");
        var run = CliRun.Run("explain", "--logits", "2,1", "--target", "0", "--plot", missing);
        run.AssertBadInput(missing, $"cannot write --plot: the folder '{dir["none"]}' does not exist; create it first.");
        Assert.Empty(run.Out);
        Assert.DoesNotContain(".tmp", run.Error, StringComparison.Ordinal);

        // The words xent loss uses for the same problem.
        var loss = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", missing);
        Assert.Equal(run.Error.Replace("--plot", "--grad", StringComparison.Ordinal), loss.Error);
    }

    [Theory]
    [InlineData("create")]
    [InlineData("move")]
    public void AFailedWriteNamesThePlotLeavesTheEarlierFileAndNoTemporary(string failAt)
    {
        File.WriteAllText(dir["p.png"], "old");
        CliRun run;
        using (OutputFiles.Use(new FailingFiles(failAt)))
        {
            run = CliRun.Run("explain", "--logits", "2,1", "--target", "0", "--plot", dir["p.png"]);
        }

        run.AssertBadInput(dir["p.png"], "the disk is full");
        Assert.Empty(run.Out);
        Assert.Equal("old", File.ReadAllText(dir["p.png"]));
        Assert.DoesNotContain(Directory.GetFiles(dir.Path), f => Path.GetFileName(f).StartsWith(".p.png.", StringComparison.Ordinal));
    }

    [Fact]
    public void AFolderMadeInThePlaceOfThePlotWhileItIsWrittenIsNamedAndLeftAsItIs()
    {
        CliRun run;

        // Made after the plot's name was checked, while its temporary file is written.
        using (OutputFiles.Use(new FolderMaker(dir["p.png"])))
        {
            run = CliRun.Run("explain", "--logits", "2,1", "--target", "0", "--plot", dir["p.png"]);
        }

        run.AssertBadInput(dir["p.png"], "cannot move the written output into place: a folder named 'p.png' is in the way. Nothing was written there");
        Assert.Empty(Directory.GetFileSystemEntries(dir["p.png"]));
        Assert.DoesNotContain(Directory.GetFiles(dir.Path), f => Path.GetFileName(f).StartsWith(".p.png.", StringComparison.Ordinal));
    }

    [Fact]
    public void ThePlotIsAPngWrittenOverAnEarlierOne()
    {
        File.WriteAllText(dir["p.png"], "old");
        var run = CliRun.Run("explain", "--logits", "2,1", "--target", "0", "--plot", dir["p.png"]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.EndsWith($"plot: {dir["p.png"]}", run.Out.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(dir["p.png"])[..4]);
        Assert.Equal(["l.npy", "p.png", "t.npy", "w.npy"], dir.Files().Order());
    }

    private Dictionary<string, string> Contents() =>
        Directory.GetFiles(dir.Path).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(File.ReadAllBytes(f)));

    /// <summary>The real file system, except that creating or renaming the output fails as a full disk does.</summary>
    private sealed class FailingFiles(string failAt) : IFileOperations
    {
        public Stream Create(string path, long size)
        {
            var stream = FileOperations.Real.Create(path, size);
            if (failAt == "create")
            {
                stream.Dispose();
                throw new IOException("No space left on device");
            }

            return stream;
        }

        public void Move(string from, string to)
        {
            if (failAt == "move")
            {
                throw new IOException("No space left on device");
            }

            FileOperations.Real.Move(from, to);
        }

        public void Delete(string path) => FileOperations.Real.Delete(path);
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
}
