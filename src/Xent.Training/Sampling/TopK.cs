namespace Xent.Training.Sampling;

/// <summary>Top-k filtering's threshold: the K-th largest logit, found without sorting the vocabulary.</summary>
internal static class TopK
{
    /// <summary>
    /// The <paramref name="k"/>-th largest of <paramref name="values"/> (counting equal values one by one, as the K-th
    /// element of a descending sort). A heap of the K largest so far: O(V log K) against a sort's O(V log V), which for
    /// GPT-2's 50257 logits and K = 50 took longer than the rest of a sampled token's draw.
    /// </summary>
    /// <param name="values">The logits [V], none NaN.</param>
    /// <param name="k">K, in [1, V].</param>
    public static float Cutoff(ReadOnlySpan<float> values, int k)
    {
        // A min-heap: heap[0] is the smallest of the K largest seen; on the stack for the usual K (an array a token was
        // garbage in the generation loop).
        Span<float> heap = k <= 256 ? stackalloc float[k] : new float[k];
        for (int i = 0; i < k; i++)
        {
            heap[i] = values[i];
            Up(heap, i);
        }

        for (int i = k; i < values.Length; i++)
        {
            if (values[i] > heap[0])
            {
                heap[0] = values[i];
                Down(heap);
            }
        }

        return heap[0];
    }

    private static void Up(Span<float> heap, int at)
    {
        while (at > 0)
        {
            int parent = (at - 1) / 2;
            if (heap[parent] <= heap[at])
            {
                return;
            }

            (heap[parent], heap[at]) = (heap[at], heap[parent]);
            at = parent;
        }
    }

    private static void Down(Span<float> heap)
    {
        int at = 0;
        while (true)
        {
            int smallest = at, left = (2 * at) + 1, right = left + 1;
            if (left < heap.Length && heap[left] < heap[smallest])
            {
                smallest = left;
            }

            if (right < heap.Length && heap[right] < heap[smallest])
            {
                smallest = right;
            }

            if (smallest == at)
            {
                return;
            }

            (heap[smallest], heap[at]) = (heap[at], heap[smallest]);
            at = smallest;
        }
    }
}
