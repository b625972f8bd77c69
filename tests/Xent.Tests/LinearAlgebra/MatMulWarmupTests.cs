using Xent.LinearAlgebra;

namespace Xent.Tests.LinearAlgebra;

/// <summary>
/// <see cref="MatMul.WarmupAsync"/>: it runs every path's product to the end on any thread count, checks its argument
/// as <see cref="MatMul.Gemm"/> does, and leaves later products' bits as they were. The first product's time, what it
/// is for, is measured by bench/Xent.FirstCall (gemm-warm), not here.
/// </summary>
public class MatMulWarmupTests
{
    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task RunsEveryPath(int threads) => await MatMul.WarmupAsync(threads);

    [Fact]
    public void RejectsNoThreads()
    {
        // Thrown by the call itself, before any task starts.
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = MatMul.WarmupAsync(0); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = MatMul.WarmupAsync(-2); });
    }

    [Fact]
    public async Task LeavesLaterProductsBitsAsTheyWere()
    {
        const int M = 300, N = 200, K = 1100;
        var random = new Random(5);
        float[] a = [.. Enumerable.Range(0, M * K).Select(_ => (float)(random.NextDouble() - 0.5))];
        float[] b = [.. Enumerable.Range(0, N * K).Select(_ => (float)(random.NextDouble() - 0.5))];
        var before = new float[M * N];
        MatMul.Gemm(false, true, M, N, K, 1f, a, K, b, K, 0f, before, N);

        await MatMul.WarmupAsync();

        var after = new float[M * N];
        MatMul.Gemm(false, true, M, N, K, 1f, a, K, b, K, 0f, after, N);
        Assert.Equal(before.Select(BitConverter.SingleToInt32Bits), after.Select(BitConverter.SingleToInt32Bits));
    }
}
