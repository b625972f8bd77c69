namespace Xent.Benchmarks;

/// <summary>
/// An in-place case's logits: one copy for each call of a turn, so that every call reads the logits, never a gradient
/// an earlier call wrote over them; <see cref="Restore"/> puts them back after the turn, untimed.
/// </summary>
/// <typeparam name="T">The logits' element.</typeparam>
internal sealed class InPlaceCopies<T>
{
    private readonly T[] source;
    private readonly T[][] copies;

    /// <param name="source">The logits, left as they are.</param>
    /// <param name="calls">Calls per turn.</param>
    public InPlaceCopies(T[] source, int calls)
    {
        this.source = source;
        copies = [.. Enumerable.Range(0, calls).Select(_ => (T[])source.Clone())];
    }

    /// <summary>The copy for a turn's call <paramref name="call"/>.</summary>
    public T[] this[int call] => copies[call];

    /// <summary>Every copy back to the logits.</summary>
    public void Restore()
    {
        foreach (var copy in copies)
        {
            source.AsSpan().CopyTo(copy);
        }
    }
}
