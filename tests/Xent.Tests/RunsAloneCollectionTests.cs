using System.Reflection;

namespace Xent.Tests;

/// <summary>
/// Tests that must run with no other test running share <see cref="RunsAloneCollection"/>: three classes defined a
/// run-alone collection of their own, which runs them alone just the same but hides that they belong together.
/// </summary>
public sealed class RunsAloneCollectionTests
{
    [Fact]
    public void It_is_the_only_collection_that_runs_alone()
    {
        string[] alone = [.. typeof(RunsAloneCollection).Assembly.GetTypes()
            .Where(t => t.GetCustomAttribute<CollectionDefinitionAttribute>() is { DisableParallelization: true })
            .Select(t => t.Name)];
        Assert.Equal([nameof(RunsAloneCollection)], alone);
    }
}
