namespace Xent.Kernels;

/// <summary>
/// A setting that tests and benchmarks override for the calling async flow only (the vector width, the fused
/// kernel's cache budget). AsyncLocal, not ThreadStatic: the override flows into Parallel.For workers and stays
/// out of tests running beside it.
/// </summary>
/// <typeparam name="T">The setting's type.</typeparam>
internal sealed class AsyncOverride<T>
    where T : struct
{
    private readonly AsyncLocal<T?> current = new();

    /// <summary>The override in force for the calling flow, or null.</summary>
    public T? Value => current.Value;

    /// <summary>Overrides the setting for the calling async flow until the returned scope is disposed.</summary>
    public Scope Set(T value) => new(this, value);

    /// <summary>Restores the previous override on dispose.</summary>
    internal readonly struct Scope : IDisposable
    {
        private readonly AsyncOverride<T> owner;
        private readonly T? previous;

        public Scope(AsyncOverride<T> owner, T value)
        {
            this.owner = owner;
            previous = owner.current.Value;
            owner.current.Value = value;
        }

        public void Dispose() => owner.current.Value = previous;
    }
}
