using System.Diagnostics;
using System.Text.Json;
using Xent.Tests.Docs;

namespace Xent.Tests.Packaging;

/// <summary>
/// A project under src as the SDK that runs these tests evaluates it (`dotnet msbuild -getProperty`, about a second,
/// nothing built or written): what `dotnet pack` and its restore see, without the minutes a pack takes.
/// </summary>
internal sealed class ProjectEvaluation
{
    private readonly JsonElement properties;
    private readonly JsonElement items;

    private ProjectEvaluation(JsonElement properties, JsonElement items)
    {
        this.properties = properties;
        this.items = items;
    }

    public static string PathOf(string project) =>
        Path.Combine(ReadmeTests.RepositoryRoot(), "src", project, project + ".csproj");

    /// <summary>Every project under src, by name.</summary>
    public static IEnumerable<string> SourceProjects() =>
        Directory.GetDirectories(Path.Combine(ReadmeTests.RepositoryRoot(), "src"))
            .Select(Path.GetFileName)
            .Where(name => File.Exists(PathOf(name!)))
            .Order(StringComparer.Ordinal)!;

    /// <summary>
    /// The project evaluated with <paramref name="globals"/> (e.g. `_IsPacking=true`, which `dotnet pack` sets), and
    /// <paramref name="target"/> run first where items are made by a target rather than the evaluation.
    /// </summary>
    public static ProjectEvaluation Of(string project, string[] propertyNames, string[] itemTypes, string[] globals, string? target = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // MSBuild's own variables, set by the `dotnet test` that started this process, would steer the child at
        // that build's state; no server or node outlives the query.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        foreach (var argument in new[] { "msbuild", PathOf(project), "-nologo", "-nodeReuse:false", "-getProperty:MSBuildProjectName" })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in propertyNames)
        {
            start.ArgumentList.Add("-getProperty:" + name);
        }

        foreach (var type in itemTypes)
        {
            start.ArgumentList.Add("-getItem:" + type);
        }

        foreach (var global in globals)
        {
            start.ArgumentList.Add("-property:" + global);
        }

        if (target is not null)
        {
            start.ArgumentList.Add("-target:" + target);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), $"dotnet msbuild {project} did not finish within 120 s");
        Assert.True(process.ExitCode == 0, $"dotnet msbuild {project} exited {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        var json = JsonDocument.Parse(stdout.Result).RootElement.Clone();
        return new ProjectEvaluation(json.GetProperty("Properties"),
            json.TryGetProperty("Items", out var found) ? found : JsonDocument.Parse("{}").RootElement.Clone());
    }

    public string Property(string name) => properties.GetProperty(name).GetString()!;

    public bool Is(string name) => string.Equals(Property(name), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The items of one type, each as its metadata (Identity, FullPath, Pack, ...).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, string>> Items(string type) =>
        items.TryGetProperty(type, out var list)
            ? list.EnumerateArray().Select(i => (IReadOnlyDictionary<string, string>)i.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "")).ToList()
            : [];
}
