namespace Xent.Fused;

/// <summary>Fork/join over a fixed number of chunks (the chunking, not the thread count, decides the arithmetic).</summary>
internal static class ParallelHelpers
{
    public static void For(int chunks, int maxDegreeOfParallelism, Action<int> body)
    {
        if (chunks == 1 || maxDegreeOfParallelism == 1)
        {
            for (int k = 0; k < chunks; k++)
            {
                body(k);
            }

            return;
        }

        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, body);
    }
}
