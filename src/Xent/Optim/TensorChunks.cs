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

    /// <summary>
    /// The tensors laid end to end and cut into items of about equal size, an item's pieces in tensor order: at most
    /// <paramref name="items"/> items of a multiple of <paramref name="align"/> elements each (but the last), at most
    /// <paramref name="chunk"/> elements. For element-wise work (AdamW's update), where a model of many small tensors
    /// (the default GPT's 28, from 64 to 16,384 elements) split tensor by tensor gives items of very unequal sizes.
    /// The items depend on the lengths only, never on the thread count.
    /// </summary>
    public static (int Tensor, int Start, int Length)[][] Balanced(IReadOnlyList<int> lengths, int items, int align, int chunk)
    {
        long total = 0;
        foreach (int length in lengths)
        {
            total += length;
        }

        long size = Math.Min(chunk, Math.Max(align, ((total + items - 1) / items + align - 1) / align * align));
        var result = new List<(int, int, int)[]>();
        var pieces = new List<(int, int, int)>();
        long room = size;
        for (int i = 0; i < lengths.Count; i++)
        {
            for (int start = 0; start < lengths[i];)
            {
                int length = (int)Math.Min(room, lengths[i] - start);
                pieces.Add((i, start, length));
                start += length;
                room -= length;
                if (room == 0)
                {
                    result.Add([.. pieces]);
                    pieces.Clear();
                    room = size;
                }
            }
        }

        if (pieces.Count > 0)
        {
            result.Add([.. pieces]);
        }

        return [.. result];
    }
}
