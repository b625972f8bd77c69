using PublicApiGenerator;
using Xent.Tests.Docs;

namespace Xent.Tests.Api;

/// <summary>
/// The public API of each packed library, printed as C# by PublicApiGenerator, must equal the file committed next
/// to its source: a change of the public API is then a visible diff in review, never an accident. When the change
/// is meant, accept it with <c>XENT_ACCEPT_API=1 dotnet test tests/Xent.Tests -c Release --filter PublicApi</c>,
/// which rewrites the file, and commit it.
/// </summary>
public class PublicApiTests
{
    // Xent.Training is left out while it is not packed (IsPackable false): its API is still being shaped.
    public static TheoryData<string> Libraries() => new() { "Xent" };

    [Theory]
    [MemberData(nameof(Libraries))]
    public void PublicApi_IsTheCommittedOne(string library)
    {
        var assembly = typeof(CrossEntropy).Assembly;
        Assert.Equal(library, assembly.GetName().Name);
        string actual = assembly.GeneratePublicApi(new ApiGeneratorOptions { IncludeAssemblyAttributes = false }).ReplaceLineEndings("\n");
        string path = Path.Combine(ReadmeTests.RepositoryRoot(), "src", library, "PublicAPI.txt");
        if (Environment.GetEnvironmentVariable("XENT_ACCEPT_API") == "1")
        {
            File.WriteAllText(path, actual);
        }

        string expected = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n") : "";
        if (expected == actual)
        {
            return;
        }

        // Line by line, each member is one line: name what was added and what went away.
        var old = expected.Split('\n').Select(l => l.Trim()).ToHashSet();
        var now = actual.Split('\n').Select(l => l.Trim()).ToHashSet();
        var added = now.Except(old).Select(l => "+ " + l);
        var removed = old.Except(now).Select(l => "- " + l);
        Assert.Fail($"The public API of {library} differs from src/{library}/PublicAPI.txt:\n"
            + string.Join('\n', removed.Concat(added))
            + $"\nIf the change is meant: XENT_ACCEPT_API=1 dotnet test tests/Xent.Tests -c Release --filter PublicApi, then commit src/{library}/PublicAPI.txt.");
    }
}
