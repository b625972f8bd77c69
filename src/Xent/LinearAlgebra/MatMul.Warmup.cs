namespace Xent.LinearAlgebra;

/// <content>
/// Compiling the products' kernels ahead of the first call.
/// </content>
public static partial class MatMul
{
    /// <summary>
    /// One small product (m, n, k, A stored transposed, B stored transposed) for each of <see cref="Run"/>'s paths: the
    /// one-row product, the weight gradient split by sum blocks, the swapped and streamed few-rows paths (B stored
    /// [N, K] and [K, N]), B packed whole (each layout, a K of two blocks, C narrow enough to read A in place), and the
    /// column blocks of a B too large to pack whole (the head's [V, D]: 16384 x 300 here, 20 MB).
    /// </summary>
    private static readonly (int M, int N, int K, bool TransposeA, bool TransposeB)[] WarmupProducts =
    [
        (1, 1024, 256, false, true), (1, 1024, 256, false, false),
        (64, 64, 2048, true, false),
        (64, 256, 256, false, true),
        (64, 1024, 256, false, false), (64, 1024, 256, true, false),
        (512, 256, 256, false, true), (512, 256, 256, false, false), (512, 256, 256, true, false),
        (512, 256, 1280, false, true), (512, 256, 1280, false, false), (512, 64, 256, false, true),
        (260, 16384, 300, false, true),
    ];

    /// <summary>
    /// Compiles, on a thread of its own, the kernels of <see cref="Gemm"/>'s products on this many threads, so that the
    /// first product takes about what later ones do: it runs one small product down each of Gemm's paths (one row,
    /// few rows with B stored either way, B packed whole in each layout, B too large to pack whole, a weight gradient
    /// split across two threads). The kernels are compiled fully optimised on first use, which made a first 512 x 3072 x
    /// 768 product 2.4-2.8x a later one (docs/benchmarks.md, First call). Start it early; await it before the first
    /// product that should be fast.
    /// </summary>
    /// <param name="maxDegreeOfParallelism">The products' threads, as <see cref="Gemm"/>'s; -1 for all cores.</param>
    /// <returns>A task that completes when the products have run.</returns>
    /// <exception cref="ArgumentOutOfRangeException">maxDegreeOfParallelism is 0 or below -1.</exception>
    /// <remarks>
    /// It computes nothing of the caller's and changes no later result. It allocates about 40 MB while it runs (the
    /// large-B product's operands). A native AOT application has its kernels compiled already and needs none of this.
    /// </remarks>
    public static Task WarmupAsync(int maxDegreeOfParallelism = -1)
    {
        CheckThreads(maxDegreeOfParallelism);
        return Task.Factory.StartNew(() => Warmup(maxDegreeOfParallelism), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static void Warmup(int threads)
    {
        foreach (var (m, n, k, transposeA, transposeB) in WarmupProducts)
        {
            var a = new float[m * k];
            var b = new float[n * k];
            var c = new float[m * n];
            for (int i = 0; i < b.Length; i++)
            {
                b[i] = ((i % 17) - 8) * 0.125f;
            }

            a.AsSpan().Fill(0.5f);
            Gemm(transposeA, transposeB, m, n, k, 1f, a, transposeA ? m : k, b, transposeB ? k : n, 0f, c, n, threads);
        }
    }
}
