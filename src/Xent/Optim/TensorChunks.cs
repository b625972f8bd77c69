namespace Xent.Optim;

/// <summary>
/// Many tensors cut into work items of at most a fixed number of elements each, in tensor order then element order:
/// one parallel call covers a whole model (a small model's tensors are each far below one chunk, and one call per
/// tensor would run them all on one thread). The items depend on the lengths only, never on the thread count.
/// </summary>
internal static class TensorChunks
{
    /// <summary>The items (tensor index, first element, length) of tensors of the given lengths.</summary>
    public static (int Tensor, int Start, int Length)[] Of(IReadOnlyList<int> lengths, int chunk)
    {
        var items = new List<(int, int, int)>();
        for (int i = 0; i < lengths.Count; i++)
        {
            for (int start = 0; start < lengths[i]; start += chunk)
            {
                items.Add((i, start, Math.Min(chunk, lengths[i] - start)));
            }
        }

        return [.. items];
    }
}
