using Xent.Cli.IO;
using Xent.Cli.Terminal;
using Xent.Tests.Training;
using Xent.Training.Checkpoints;

namespace Xent.Tests.Cli;

/// <summary>
/// Outputs renamed into place whose folder cannot then be flushed to disk (EIO from fsync of the folder): the files
/// are there, whole, but a power loss may undo the renames. The message says so and names every file in doubt: of
/// xent loss's two .npy outputs it named only the last one written, and the Hugging Face export said it could not
/// write its config.json, which it had written.
/// </summary>
public sealed class OutputFlushTests : IDisposable
{
    private const string Eio = "Input/output error";

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Loss_names_both_npy_outputs_when_their_folder_cannot_be_flushed()
    {
        var (logits, targets) = Inputs();
        string grad = temp["g.npy"], losses = temp["r.npy"];
        CliRun run;
        using (OutputFiles.Use(new FlushFails()))
        {
            run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", grad, "--losses", losses);
        }

        run.AssertBadInput(grad, Eio);
        Assert.Equal($"xent: error: cannot flush the folder '{temp.Path}' to disk: {Eio}. {grad} and {losses} were renamed into place, "
            + "but they may not survive a power loss: check the disk.", run.Error.Trim());
        AssertWhole(logits, targets, grad, losses);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Loss_names_the_npy_outputs_of_every_folder_left_unflushed(int failing)
    {
        var (logits, targets) = Inputs();
        string[] folders = [temp["a"], temp["b"]];
        foreach (string f in folders)
        {
            Directory.CreateDirectory(f);
        }

        string grad = Path.Combine(folders[0], "g.npy"), losses = Path.Combine(folders[1], "r.npy");
        var files = new FlushFails(folders[failing]);
        CliRun run;
        using (OutputFiles.Use(files))
        {
            run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", grad, "--losses", losses);
        }

        // The folders are flushed in the outputs' order, --grad's first: the one that fails leaves its outputs and those of
        // the folders after it in doubt; an output in a folder flushed before it is on disk.
        string named = failing == 0 ? $"{grad} and {losses} were renamed into place, but they" : $"{losses} was renamed into place, but it";
        Assert.Equal(ExitCodes.BadInput, run.ExitCode);
        Assert.Equal($"xent: error: cannot flush the folder '{folders[failing]}' to disk: {Eio}. {named} may not survive a power loss: check the disk.",
            run.Error.Trim());
        string[] flushed = failing == 0 ? [] : [folders[0]];
        Assert.Equal(flushed, files.Flushed);
        AssertWhole(logits, targets, grad, losses);
    }

    [Fact]
    public void A_single_npy_or_png_output_whose_folder_cannot_be_flushed_is_named()
    {
        var (logits, targets) = Inputs();
        string grad = temp["g.npy"], png = temp["p.png"];
        CliRun loss, plot;
        using (OutputFiles.Use(new FlushFails()))
        {
            loss = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", grad);
            plot = CliRun.Run("explain", "--logits", "2,1", "--target", "0", "--plot", png);
        }

        foreach (var (run, file) in new[] { (loss, grad), (plot, png) })
        {
            run.AssertBadInput(file, Eio);
            Assert.Equal($"xent: error: {file}: cannot flush the output's folder to disk: {Eio}. The output was renamed into place, but it may not survive a power loss: check the disk.",
                run.Error.Trim());
            Assert.True(new FileInfo(file).Length > 0);
        }

        Assert.DoesNotContain(Directory.GetFiles(temp.Path), f => TemporaryFiles.IsTemporary(Path.GetFileName(f)));
    }

    [Fact]
    public void Train_names_loss_png_when_its_folder_cannot_be_flushed()
    {
        // The run's own files go through CheckpointFiles: only loss.png, an output of the command, meets the failure.
        string dir = temp["run"];
        CliRun run;
        using (OutputFiles.Use(new FlushFails()))
        {
            run = TrainCommandTests.Train(dir, "--steps", "2", "--eval-every", "2");
        }

        string png = Path.Combine(dir, "loss.png");
        run.AssertBadInput($"cannot write '{png}', drawing the loss curve: {Eio}. loss.png was renamed into place, but it may not survive a power loss: check the disk.", Eio);
        Assert.True(new FileInfo(png).Length > 0);
        Assert.Equal(2, CheckpointStore.LoadConfig(dir).Step);
    }

    [Fact]
    public void Export_names_the_folder_and_its_files_when_the_folder_cannot_be_flushed()
    {
        string run = temp["run"], hf = temp["hf"], whole = temp["whole"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);
        Assert.Equal(0, CliRun.Run("export", "--checkpoint", run, "--out", whole).ExitCode);
        Directory.CreateDirectory(hf);

        CliRun failed;
        using (CheckpointFiles.Use(new FlushFails(hf)))
        {
            failed = CliRun.Run("export", "--checkpoint", run, "--out", hf);
        }

        failed.AssertBadInput(hf, Eio);
        Assert.Equal($"xent: error: cannot flush the folder '{hf}' to disk: {Eio}. model.safetensors and config.json were renamed into place, "
            + "but they may not survive a power loss: check the disk, then export again.", failed.Error.Trim());
        foreach (string name in new[] { "model.safetensors", "config.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, name)), File.ReadAllBytes(Path.Combine(hf, name)));
        }

        Assert.Equal(2, Directory.GetFileSystemEntries(hf).Length);
    }

    [Fact]
    public void Export_into_a_folder_it_created_removes_it_again_when_the_folder_cannot_be_flushed()
    {
        string run = temp["run"], hf = Path.Combine(temp["new"], "hf");
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);

        CliRun failed;
        using (CheckpointFiles.Use(new FlushFails(hf)))
        {
            failed = CliRun.Run("export", "--checkpoint", run, "--out", hf);
        }

        failed.AssertBadInput(hf, Eio);
        Assert.Equal($"xent: error: cannot flush the folder '{hf}' to disk: {Eio}. Nothing was left: the folder '{hf}', created by this export, was removed again.",
            failed.Error.Trim());
        Assert.False(Directory.Exists(temp["new"]));
    }

    private (string Logits, string Targets) Inputs() =>
        (TestNpy.F32(temp["l.npy"], [0f, 1f, 2f, 3f, 4f, 5f], 2, 3), TestNpy.I64(temp["t.npy"], [2L, 0L], 2));

    // The outputs hold what a run without the failure writes.
    private void AssertWhole(string logits, string targets, string grad, string losses)
    {
        string g = temp["clean-g.npy"], r = temp["clean-r.npy"];
        var clean = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", g, "--losses", r);
        Assert.True(clean.ExitCode == 0, clean.Error);
        Assert.Equal(File.ReadAllBytes(g), File.ReadAllBytes(grad));
        Assert.Equal(File.ReadAllBytes(r), File.ReadAllBytes(losses));
    }
}
