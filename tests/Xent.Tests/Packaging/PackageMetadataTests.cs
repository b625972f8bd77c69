using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xent.Tests.Docs;

namespace Xent.Tests.Packaging;

/// <summary>
/// What a package built from src carries and depends on, from each project's evaluation under `dotnet pack`: a
/// package's dependencies must be packages that exist, and its page on a feed must say what it is.
/// </summary>
public partial class PackageMetadataTests
{
    public static TheoryData<string> Projects() => new(ProjectEvaluation.SourceProjects());

    [Theory]
    [MemberData(nameof(Projects))]
    public void PackedLibrary_DependsOnlyOnPackedProjects(string project)
    {
        var packed = ProjectEvaluation.Of(project, ["IsPackable", "PackAsTool"], ["ProjectReference"], ["_IsPacking=true"]);
        // A tool package carries its references' assemblies; a library's package names each as a dependency.
        if (!packed.Is("IsPackable") || packed.Is("PackAsTool"))
        {
            return;
        }

        foreach (var reference in packed.Items("ProjectReference"))
        {
            string name = Path.GetFileNameWithoutExtension(reference["FullPath"]);
            var referenced = ProjectEvaluation.Of(name, ["IsPackable"], [], ["_IsPacking=true"]);
            Assert.True(referenced.Is("IsPackable"),
                $"The {project} package would depend on a package {name} that is never packed (IsPackable false): no feed has it, so no project can install {project}.");
        }
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Package_SaysWhatItIs(string project)
    {
        var packed = ProjectEvaluation.Of(project,
            ["IsPackable", "PackAsTool", "PackageId", "Description", "PackageLicenseExpression", "PackageReadmeFile", "GenerateDocumentationFile", "PackageVersion", "DebugType"],
            ["None"], ["_IsPacking=true"]);
        if (!packed.Is("IsPackable"))
        {
            return;
        }

        Assert.Equal(project, packed.Property("PackageId"));
        Assert.False(string.IsNullOrWhiteSpace(packed.Property("Description")), $"{project}: no Description");
        Assert.Equal("MIT", packed.Property("PackageLicenseExpression"));
        Assert.Equal(RepositoryVersion(), packed.Property("PackageVersion"));

        // A package without its symbols gives its users stack traces without file names or line numbers.
        Assert.True(packed.Property("DebugType") == "embedded", $"{project}: its assemblies would carry no symbols (DebugType {packed.Property("DebugType")})");
        if (!packed.Is("PackAsTool"))
        {
            Assert.True(packed.Is("GenerateDocumentationFile"), $"{project}: its package would have no XML documentation");
        }

        string readme = packed.Property("PackageReadmeFile");
        Assert.False(string.IsNullOrEmpty(readme), $"{project}: no PackageReadmeFile");
        Assert.Contains(packed.Items("None"), i =>
            i.GetValueOrDefault("Pack") == "true" && i.GetValueOrDefault("PackagePath") == "/"
            && Path.GetFileName(i["FullPath"]) == readme && File.Exists(i["FullPath"]));
    }

    /// <summary>
    /// A package's page shows its readme alone: a link to a file beside it in the repository (relative) leads nowhere
    /// there, and the repository has no public address to make it absolute.
    /// </summary>
    [Theory]
    [MemberData(nameof(Projects))]
    public void PackageReadme_HasNoRelativeLinks(string project)
    {
        var packed = ProjectEvaluation.Of(project, ["IsPackable", "PackageReadmeFile"], ["None"], ["_IsPacking=true"]);
        if (!packed.Is("IsPackable"))
        {
            return;
        }

        string readme = packed.Property("PackageReadmeFile");
        string path = packed.Items("None").First(i => i.GetValueOrDefault("PackagePath") == "/" && Path.GetFileName(i["FullPath"]) == readme)["FullPath"];
        var relative = MarkdownLink().Matches(File.ReadAllText(path))
            .Select(m => m.Groups[1].Value)
            .Where(target => !target.StartsWith('#') && !target.StartsWith("https://", StringComparison.Ordinal) && !target.StartsWith("http://", StringComparison.Ordinal))
            .ToList();
        Assert.True(relative.Count == 0, $"{project}'s package readme {path} links to {string.Join(", ", relative)}, which its package page cannot show");
    }

    [Fact]
    public void CliDoc_StatesThePackageVersion()
    {
        string cli = File.ReadAllText(Path.Combine(ReadmeTests.RepositoryRoot(), "docs", "cli.md"));
        var stated = StatedVersion().Match(cli);
        Assert.True(stated.Success, "docs/cli.md no longer says which version the tool package has");
        Assert.Equal(RepositoryVersion(), stated.Groups[1].Value);
    }

    /// <summary>The one place a version is set: Directory.Build.props.</summary>
    private static string RepositoryVersion() =>
        XDocument.Load(Path.Combine(ReadmeTests.RepositoryRoot(), "Directory.Build.props")).Descendants("Version").Single().Value;

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"package is `Xent\.Cli` \(version ([0-9][^,)\s]*)")]
    private static partial Regex StatedVersion();
}
