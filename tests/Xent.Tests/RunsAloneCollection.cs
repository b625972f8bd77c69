namespace Xent.Tests;

/// <summary>
/// Tests that need the process to themselves, run with no other test running: they count the bytes a call allocates,
/// and another test holding the worker pool (or the fused kernel's kept buffers) at the same time makes their calls
/// fall back to paths that allocate. Its classes name it with <c>[Collection(nameof(RunsAloneCollection))]</c>.
/// </summary>
[CollectionDefinition(nameof(RunsAloneCollection), DisableParallelization = true)]
public sealed class RunsAloneCollection;
