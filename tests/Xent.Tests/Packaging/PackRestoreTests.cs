namespace Xent.Tests.Packaging;

/// <summary>
/// `dotnet pack` publishes ReadyToRun images (Xent's runtimes/RID/lib, the tool's linux-x64 package), which needs the
/// SDK's crossgen2 compiler package; restore fetches it only when it sees PublishReadyToRun. Restore runs once, with
/// no runtime identifier, so a pack on a machine that never published ReadyToRun failed with NETSDK1094.
/// </summary>
public class PackRestoreTests
{
    [Theory]
    [InlineData("Xent")]
    [InlineData("Xent.Cli")]
    public void PackRestore_FetchesTheReadyToRunCompiler(string project)
    {
        // What restore evaluates under `dotnet pack`: the packages it downloads are ProcessFrameworkReferences' output.
        var restore = ProjectEvaluation.Of(project, [], ["PackageDownload"], ["_IsPacking=true", "MSBuildIsRestoring=true"], "ProcessFrameworkReferences");

        var downloads = restore.Items("PackageDownload").Select(i => i["Identity"]).ToList();
        Assert.True(downloads.Any(d => d.StartsWith("Microsoft.NETCore.App.Crossgen2.", StringComparison.Ordinal)),
            $"{project}: a pack's restore does not fetch crossgen2; it downloads only {string.Join(", ", downloads)}");
    }
}
