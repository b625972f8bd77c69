namespace Xent.Tests.Cli;

/// <summary>
/// Outputs that cannot be written (export's folder, loss's --grad file): the message names the user's path and says
/// what is wrong in xent's words, never .NET's ("Could not find file") nor a temporary file's name.
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
}
