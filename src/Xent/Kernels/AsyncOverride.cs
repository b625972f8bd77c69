namespace Xent.Kernels;

/// <summary>
/// A setting that tests and benchmarks override for the calling async flow only (the vector width, the fused
/// kernel's cache budget). AsyncLocal, not ThreadStatic: the override flows into Parallel.For workers and stays
/// out of tests running beside it.
/// </summary>
/// <typeparam name="T">The setting's type.</typeparam>
/// <remarks>
/// The value is boxed (an AsyncLocal of a reference type, whose code the runtime has precompiled, not one of a
/// nullable value type, which a process's first call JIT-compiles), and a process that never overrides reads no
/// AsyncLocal at all.
/// </remarks>
internal sealed class AsyncOverride<T>
    where T : struct
{
    private readonly AsyncLocal<object?> current = new();
    private volatile bool used;

    /// <summary>The override in force for the calling flow, or null.</summary>
    public T? Value => used && current.Value is T value ? value : null;

    /// <summary>Overrides the setting for the calling async flow until the returned scope is disposed.</summary>
    public Scope Set(T value) => new(this, value);

    /// <summary>Restores the previous override on dispose.</summary>
    internal readonly struct Scope : IDisposable
    {
        private readonly AsyncOverride<T> owner;
        private readonly object? previous;

        public Scope(AsyncOverride<T> owner, T value)
        {
            this.owner = owner;
            owner.used = true;
            previous = owner.current.Value;
            owner.current.Value = value;
        }

        public void Dispose() => owner.current.Value = previous;
    }
}
