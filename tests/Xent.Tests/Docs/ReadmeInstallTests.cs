using System.Text.RegularExpressions;
using Xent.Tests.Packaging;

namespace Xent.Tests.Docs;

/// <summary>
/// The README's steps to get the library: pack the project whose package is the one added, into the folder added as
/// a source beside nuget.org. `dotnet add package --source FOLDER` alone restores from that folder only, and fails
/// on Xent's own dependency (System.Numerics.Tensors, NU1101); the steps were run as written.
/// </summary>
public partial class ReadmeInstallTests
{
    [Fact]
    public void ReadmeInstall_PacksTheAddedPackageIntoASourceBesideNuGetOrg()
    {
        string readme = File.ReadAllText(Path.Combine(ReadmeTests.RepositoryRoot(), "README.md"));
        var steps = InstallSteps().Match(readme);
        Assert.True(steps.Success, "README.md's Use section does not begin with the ```sh steps that get the package");
        string block = steps.Groups[1].Value;

        var pack = Pack().Match(block);
        Assert.True(pack.Success, "the install steps do not pack a project: dotnet pack src/PROJECT -c Release -o FOLDER");
        var added = Add().Match(block);
        Assert.True(added.Success, "the install steps do not add a package: dotnet add package ID");
        Assert.DoesNotContain("--source", added.Value, StringComparison.Ordinal);

        var packed = ProjectEvaluation.Of(pack.Groups[1].Value, ["IsPackable", "PackageId"], [], ["_IsPacking=true"]);
        Assert.True(packed.Is("IsPackable"), $"src/{pack.Groups[1].Value} is not packed");
        Assert.Equal(packed.Property("PackageId"), added.Groups[1].Value);
        Assert.Contains($"dotnet nuget add source {pack.Groups[2].Value} ", block, StringComparison.Ordinal);
        Assert.Contains("dotnet new nugetconfig", block, StringComparison.Ordinal);
    }

    [GeneratedRegex("## Use\\n[^`]*```sh\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex InstallSteps();

    [GeneratedRegex(@"dotnet pack src/([\w.]+) -c Release -o (\S+)")]
    private static partial Regex Pack();

    [GeneratedRegex(@"dotnet add package ([\w.]+)[^\n]*")]
    private static partial Regex Add();
}
