using Xent.Kernels;
using Xent.LinearAlgebra;
using Xent.Tests.Core;

namespace Xent.Tests.LinearAlgebra;

public class MatMulTests
{

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void SmallSizes_AllTransposes_MatchFloat64TripleLoop(VectorWidth width)
    {
        var rng = new Random(1234 + (int)width);
        using var scope = Simd.Override(width);
        // Every size 1..67 appears in each dimension (sampled combinations, not the full cube, to stay fast).
        for (int s = 1; s <= 67; s++)
        {
            int m = s, n = rng.Next(1, 68), k = rng.Next(1, 68);
            switch (s % 3)
            {
                case 1:
                    (m, n) = (n, s);
                    break;
                case 2:
                    (m, k) = (k, s);
                    break;
            }

            bool ta = (s & 1) != 0, tb = (s & 2) != 0;
            float alpha = (s % 5) switch { 0 => 1f, 1 => -0.5f, 2 => 2f, 3 => 1f, _ => 0.25f };
            float beta = (s % 4) switch { 0 => 0f, 1 => 1f, 2 => -1.5f, _ => 0.5f };
            int pad = s % 7 == 0 ? 3 : 0;
            CheckCase(rng, ta, tb, m, n, k, alpha, beta, pad);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EveryTransposeCombination_WithPaddedStrides(VectorWidth width)
    {
        var rng = new Random(99);
        using var scope = Simd.Override(width);
        foreach (bool ta in new[] { false, true })
        {
            foreach (bool tb in new[] { false, true })
            {
                CheckCase(rng, ta, tb, 13, 37, 29, 1f, 0f, 5);
                CheckCase(rng, ta, tb, 67, 1, 66, -1f, 2f, 1);
                CheckCase(rng, ta, tb, 1, 67, 3, 0.5f, 1f, 0);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LargerThanOneBlock_InEveryDimension(VectorWidth width)
    {
        // K > 1024 crosses a K block (the chain continues from C), M > Mc and N > Nc make several tasks.
        var rng = new Random(7);
        using var scope = Simd.Override(width);
        CheckCase(rng, false, true, 157, 1100, 300, 1f, 0.5f, 0);
        CheckCase(rng, false, false, 130, 300, 1100, 1f, 1f, 1);
        CheckCase(rng, true, false, 40, 90, 530, -2f, 0f, 2);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EachElement_IsSummedInFixedKBlocks_WhateverTheBlocking(VectorWidth width)
    {
        // The promise behind batch invariance and thread independence: C[i, j] is summed in blocks of 256 k, each an
        // fma chain over alpha A[i, k] B[k, j] from 0, the first giving C = s or fma(C, beta, s), the others added in
        // order, bit for bit, at every width, across cache K blocks (K = 2100 makes three), edge tiles, one-row
        // products and the four parallel schemes (B packed whole, per column block when N K is large, for few rows and B
        // stored [N, K] op(A)^T packed and B read in place, or for few rows and B stored [K, N] at least 2 M wide op(A)
        // packed whole and B a micro-panel at a time by column tasks). Two threads
        // whatever the machine, so that the schemes chosen by thread count are the same everywhere.
        var rng = new Random(5);
        using var scope = Simd.Override(width);
        foreach (var (m, n, k) in new[] { (13, 70, 2100), (7, 9000, 600), (1, 33, 5), (1, 600, 1030), (1, 77, 777), (203, 517, 300), (256, 100, 600), (8, 300, 4400) })
        {
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            {
                foreach (var (alpha, beta) in new[] { (1f, 0f), (-0.5f, 1f), (3f, 0.25f) })
                {
                    var a = Random(rng, m * k);
                    var b = Random(rng, k * n);
                    var c = Random(rng, m * n);
                    var expected = BlockSums(ta, tb, m, n, k, alpha, a, b, beta, c);

                    MatMul.Gemm(ta, tb, m, n, k, alpha, a, ta ? m : k, b, tb ? k : n, beta, c, n, maxDegreeOfParallelism: 2);
                    Assert.Equal(expected, c);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EveryBlockHeight_SumsAsEveryPath(VectorWidth width)
    {
        // The A block's rows follow the core's L2 (PanelShape.McFor: 120 with 1 MB, 60 with 512 KB, 30 with 256 KB): a
        // product must give the same bits on every core, so every height sums as BlockSums does, in the schemes that
        // block rows (B packed whole, per column block) and across cache K blocks.
        var rng = new Random(11);
        using var scope = Simd.Override(width);
        foreach (var (m, n, k) in new[] { (203, 517, 300), (130, 2100, 1100), (600, 64, 40) })
        {
            foreach (var (ta, tb) in new[] { (false, true), (true, false) })
            {
                var a = Random(rng, m * k);
                var b = Random(rng, k * n);
                var c0 = Random(rng, m * n);
                var expected = BlockSums(ta, tb, m, n, k, 1.5f, a, b, 0.5f, c0);
                foreach (int mc in new[] { PanelShape.McMax, PanelShape.McFor(512 << 10), PanelShape.McFor(256 << 10), PanelKernels.Mr, 7 })
                {
                    using var rows = PanelShape.OverrideMc(mc);
                    Assert.Equal(mc, PanelShape.For(width).Mc);
                    var c = (float[])c0.Clone();
                    MatMul.Gemm(ta, tb, m, n, k, 1.5f, a, ta ? m : k, b, tb ? k : n, 0.5f, c, n, maxDegreeOfParallelism: 2);
                    Assert.Equal(expected, c);
                }
            }
        }
    }

    [Fact]
    public void BlockHeight_FollowsTheL2Cache()
    {
        Assert.Equal(120, PanelShape.McFor(1 << 20));
        Assert.Equal(120, PanelShape.McFor(2 << 20));
        Assert.Equal(60, PanelShape.McFor(512 << 10));
        Assert.Equal(30, PanelShape.McFor(256 << 10));
        Assert.Equal(4 * PanelKernels.Mr, PanelShape.McFor(64 << 10));
        Assert.InRange(CpuCaches.L2Bytes, 64 << 10, 64 << 20);
        Assert.Equal(PanelShape.McFor(CpuCaches.L2Bytes), PanelShape.For(Simd.Width).Mc);
        Assert.Equal(512L << 10, CpuCaches.Parse(" 512 "));
        Assert.Null(CpuCaches.Parse(null));
        Assert.Null(CpuCaches.Parse(""));
        // 2^54 + 64 KB is 2^64 + 64 KB in bytes: it wrapped to a plausible 64 KB.
        foreach (string bad in new[] { "1M", "-512", "32", "1048576", "0x200", "18014398509482048", "9223372036854775807" })
        {
            var e = Assert.Throws<ArgumentException>(() => CpuCaches.Parse(bad));
            Assert.Contains(CpuCaches.EnvironmentVariable, e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void OneRow_PaddedStrides_SumAsEveryPath(VectorWidth width)
    {
        // Cached decoding's one-row products (Gemv) with B's rows or columns ldb > K or N apart and op(A) a strided
        // column (A stored [K, 1] with lda > 1; with alpha != 1 copied scaled first): the column groups (K not a
        // multiple of their 16-k steps), their prefetch of the next rows and the scalar chains must read only through
        // the strides. B's rows 1024 floats apart (300 + 724) take one group at a time; 2600 columns make items longer
        // than 128. 1, 2 and 3 threads, the same bits.
        var rng = new Random(33);
        using var scope = Simd.Override(width);
        foreach (var (n, k, pad) in new[] { (300, 520, 3), (77, 777, 16), (33, 40, 1), (1100, 300, 724), (2600, 90, 2) })
        {
            foreach (var (ta, tb) in new[] { (false, true), (false, false), (true, true), (true, false) })
            {
                foreach (var (alpha, beta) in new[] { (1f, 0f), (-0.5f, 1f) })
                {
                    int lda = ta ? 1 + pad : k, ldb = (tb ? k : n) + pad;
                    var a = Random(rng, ta ? k * lda : k);
                    var b = Random(rng, (tb ? n : k) * ldb);
                    var c0 = Random(rng, n);
                    float[] dense = tb
                        ? [.. Enumerable.Range(0, n * k).Select(i => b[(i / k * ldb) + (i % k)])]
                        : [.. Enumerable.Range(0, k * n).Select(i => b[(i / n * ldb) + (i % n)])];
                    float[] column = ta ? [.. Enumerable.Range(0, k).Select(p => a[p * lda])] : a;
                    var expected = BlockSums(ta, tb, 1, n, k, alpha, column, dense, beta, c0);
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        var c = (float[])c0.Clone();
                        MatMul.Gemm(ta, tb, 1, n, k, alpha, a, lda, b, ldb, beta, c, n, threads);
                        Assert.Equal(expected, c);
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void SplitK_WeightGradientsOverManyRows_SumAsEveryPath(VectorWidth width)
    {
        // 'tn' products with K of 1024 and more on 2 threads (the weight gradients of the default GPT, K = 2048 tokens):
        // one partial C per 256-row sum block, added in block order. K not a multiple of 256, edge tiles, padded strides
        // (lda > M, ldb > N, ldc > N), C started or scaled, alpha != 1; 1, 2 and 3 threads give the same bits.
        var rng = new Random(21);
        using var scope = Simd.Override(width);
        foreach (var (m, n, k, pad) in new[] { (256, 64, 2048, 0), (64, 256, 2048, 0), (192, 64, 2048, 3), (37, 45, 1100, 5), (6, 17, 5000, 1) })
        {
            foreach (var (alpha, beta) in new[] { (1f, 0f), (-0.5f, 1f), (3f, 0.25f) })
            {
                int lda = m + pad, ldb = n + pad, ldc = n + pad;
                var a = Random(rng, k * lda);
                var b = Random(rng, k * ldb);
                var c0 = Random(rng, m * ldc);
                float[] Compact(float[] x, int rows, int cols, int ld) => [.. Enumerable.Range(0, rows * cols).Select(i => x[(i / cols * ld) + (i % cols)])];
                var expected = BlockSums(true, false, m, n, k, alpha, Compact(a, k, m, lda), Compact(b, k, n, ldb), beta, Compact(c0, m, n, ldc));
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    var c = (float[])c0.Clone();
                    MatMul.Gemm(true, false, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
                    Assert.Equal(expected, Compact(c, m, n, ldc));
                    for (int i = 0; i < m; i++)
                    {
                        // The padding of C is not written.
                        Assert.Equal(c0.AsSpan((i * ldc) + n, pad).ToArray(), c.AsSpan((i * ldc) + n, pad).ToArray());
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void StreamedB_RowBlocksAndPackingChunks_SumAsEveryPath(VectorWidth width)
    {
        // The streamed-B path (few rows, B stored [K, N] and wide) with two row blocks (300 rows, taken at 512 bits only:
        // the second block reuses the micro-panels the first packed) and with op(A) packed in two chunks (48 x 24000
        // floats > 4 MB), on one thread and on two (one column task per thread); at the other widths 300
        // rows run RunSharedB, with the same sums.
        var rng = new Random(9);
        using var scope = Simd.Override(width);
        foreach (var (m, n, k) in new[] { (300, 700, 300), (44, 130, 24000) })
        {
            foreach (bool ta in new[] { false, true })
            {
                var a = Random(rng, m * k);
                var b = Random(rng, k * n);
                var c0 = Random(rng, m * n);
                var expected = BlockSums(ta, false, m, n, k, -0.5f, a, b, 1f, c0);
                foreach (int threads in new[] { 1, 2 })
                {
                    var c = (float[])c0.Clone();
                    MatMul.Gemm(ta, false, m, n, k, -0.5f, a, ta ? m : k, b, n, 1f, c, n, threads);
                    Assert.Equal(expected, c);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void StreamedB_AReadInPlace_SumsAsEveryPath(VectorWidth width)
    {
        // The streamed-B path with A stored [M, K], alpha = 1 and K over 1024 reads A's rows in place at 512 bits (the
        // narrower widths pack them): a partial last row strip (45 rows) and a partial last micro-panel (300 columns), C
        // started (beta 0) or scaled, 1 and 2 threads.
        var rng = new Random(12);
        using var scope = Simd.Override(width);
        int m = 45, n = 300, k = 1300;
        var a = Random(rng, m * k);
        var b = Random(rng, k * n);
        foreach (float beta in new[] { 0f, 0.5f })
        {
            var c0 = Random(rng, m * n);
            var expected = BlockSums(false, false, m, n, k, 1f, a, b, beta, c0);
            foreach (int threads in new[] { 1, 2 })
            {
                var c = (float[])c0.Clone();
                MatMul.Gemm(false, false, m, n, k, 1f, a, k, b, n, beta, c, n, threads);
                Assert.Equal(expected, c);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void RowBlocks_ReadAInPlaceForFewMicroPanels_SumAsEveryPath(VectorWidth width)
    {
        // At most 4 micro-panels of C's columns and alpha 1: the row blocks read A's rows in place instead of packing
        // them, packing only a block's partial last strip. Partial strips (203 rows, two M blocks) and a partial last
        // micro-panel, one K block or three (K 2100), A and B in either storage (A stored [K, M] 256 wide: packed in K
        // blocks of 1024, in place in the 2-thread split by sum blocks), C started or scaled, 1 and 2 threads; alpha -0.5
        // packs A, for contrast.
        var rng = new Random(41);
        using var scope = Simd.Override(width);
        int nr = PanelShape.For(width).Nr;
        foreach (var (m, n, k) in new[] { (203, (4 * nr) - 3, 2100), (2048, nr, 64), (130, 64, 300), (256, 64, 2100) })
        {
            foreach (var (ta, tb, alpha, beta) in new[] { (false, false, 1f, 0f), (false, true, 1f, 0.5f), (true, false, 1f, 0f), (true, true, 1f, 0.5f), (false, false, -0.5f, 1f) })
            {
                var a = Random(rng, m * k);
                var b = Random(rng, k * n);
                var c0 = Random(rng, m * n);
                var expected = BlockSums(ta, tb, m, n, k, alpha, a, b, beta, c0);
                foreach (int threads in new[] { 1, 2 })
                {
                    var c = (float[])c0.Clone();
                    MatMul.Gemm(ta, tb, m, n, k, alpha, a, ta ? m : k, b, tb ? k : n, beta, c, n, threads);
                    Assert.Equal(expected, c);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void StreamedB_ManyMicroPanels_SumAsEveryPath(VectorWidth width)
    {
        // The streamed-B path's column tasks over many micro-panels (up to 63 at 128 bits) with a partial last one, op(A)
        // packed (K 600, either storage) or read in place (K 1100, alpha 1), C started or scaled: 1, 2 and 3 threads (one
        // column task per thread) give the same bits; 13 x 300 x 300 runs on the calling thread.
        var rng = new Random(31);
        using var scope = Simd.Override(width);
        foreach (var (m, n, k, ta, alpha) in new[] { (40, 1000, 600, false, -0.5f), (40, 1000, 600, true, 1f), (31, 530, 1100, false, 1f), (13, 300, 300, false, 2f) })
        {
            foreach (float beta in new[] { 0f, 0.5f })
            {
                var a = Random(rng, m * k);
                var b = Random(rng, k * n);
                var c0 = Random(rng, m * n);
                var expected = BlockSums(ta, false, m, n, k, alpha, a, b, beta, c0);
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    var c = (float[])c0.Clone();
                    MatMul.Gemm(ta, false, m, n, k, alpha, a, ta ? m : k, b, n, beta, c, n, threads);
                    Assert.Equal(expected, c);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public unsafe void FusedKernelsPanelProduct_SumsEachElementInBlocksOf256_AsGemm(VectorWidth width)
    {
        // MatMul.Panels (the fused head's products: B packed once along its whole depth, A read in place) runs Gemm's
        // tile and sums: each element an fma chain per 256 k from 0, the first giving C = s or fma(C, beta, s), the
        // others added in order, bit for bit, across several sum blocks, edge tiles, both storages of A and both tile orders (panel first also in blocks of strips).
        var rng = new Random(21);
        using var scope = Simd.Override(width);
        var shape = PanelShape.For(width);
        int nr = shape.Nr;
        foreach (var (m, n, k) in new[] { (19, 45, 700), (130, 70, 1100), (7, 3, 250) })
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (float beta in new[] { 0f, 1f, 0.5f })
                {
                    var a = Random(rng, m * k);
                    var b = Random(rng, k * n);
                    var c = Random(rng, m * n);
                    var expected = BlockSums(ta, false, m, n, k, 1f, a, b, beta, c);

                    int panels = (n + nr - 1) / nr;
                    var packed = new float[(panels * nr * k) + 16];
                    foreach (var (rowStripsOuter, stripBlock) in new[] { (false, 0), (true, 0), (false, 3), (false, MatMul.StripBlock) })
                    {
                        var result = (float[])c.Clone();
                        fixed (float* pa = a, pb = b, pc = result, pp = packed)
                        {
                            Packing.PackB(false, pb, n, 0, k, 0, n, nr, pp);
                            MatMul.Panels(shape, m, n, k, pa, ta ? 1 : k, ta ? m : 1, pp, (nint)k * nr, pc, n, beta, rowStripsOuter, stripBlock);
                        }

                        Assert.Equal(expected, result);
                    }
                }
            }
        }
    }

    /// <summary>
    /// C = alpha op(A) op(B) + beta C summed as the kernels promise: per element, an fma chain (a multiply-add chain where FMA is not hardware, as ScalarOps.MultiplyAdd) over alpha A B per 256 k
    /// from 0, the first block giving C = s or fma(C, beta, s), the later ones added in order.
    /// </summary>
    internal static float[] BlockSums(bool ta, bool tb, int m, int n, int k, float alpha, float[] a, float[] b, float beta, float[] c)
    {
        var expected = new float[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float total = 0;
                for (int q0 = 0; q0 < k; q0 += 256)
                {
                    float sum = 0;
                    for (int p = q0; p < Math.Min(k, q0 + 256); p++)
                    {
                        float x = ta ? a[(p * m) + i] : a[(i * k) + p];
                        float y = tb ? b[(j * k) + p] : b[(p * n) + j];
                        sum = ScalarOps.MultiplyAdd(alpha * x, y, sum);
                    }

                    total = q0 > 0 ? total + sum : beta == 0 ? sum : ScalarOps.MultiplyAdd(c[(i * n) + j], beta, sum);
                }

                expected[(i * n) + j] = total;
            }
        }

        return expected;
    }

    [Fact]
    public void BetaZero_DoesNotReadC_AlphaZero_DoesNotReadAB()
    {
        var rng = new Random(3);
        int m = 9, n = 35, k = 11;
        var a = Random(rng, m * k);
        var b = Random(rng, k * n);
        var c = Enumerable.Repeat(float.NaN, m * n).ToArray();
        MatMul.Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
        Assert.All(c, x => Assert.False(float.IsNaN(x)));

        var nanA = Enumerable.Repeat(float.NaN, m * k).ToArray();
        var c2 = Random(rng, m * n);
        var expected = c2.Select(x => x * 3).ToArray();
        MatMul.Gemm(false, false, m, n, k, 0, nanA, k, b, n, 3, c2, n);
        Assert.Equal(expected, c2);
    }

    [Fact]
    public void Result_IsBitwiseIdentical_ForAnyThreadCount()
    {
        // M = 203 with B stored [N, K] runs the swapped path (op(A)^T packed, B read in place, C staged transposed);
        // M <= 256 with B stored [K, N] and N >= 2 M the streamed path (op(A) packed whole, B micro-panels packed by
        // their column tasks).
        var rng = new Random(11);
        int n = 517, k = 300;
        foreach (var (ta, tb, m) in new[] { (false, true, 301), (true, false, 301), (false, true, 203), (true, true, 203), (false, false, 203), (true, false, 203), (false, false, 256) })
        {
            var a = Random(rng, m * k);
            var b = Random(rng, k * n);
            var c0 = Random(rng, m * n);
            float[]? first = null;
            foreach (int threads in new[] { 1, 2, 7 })
            {
                var c = (float[])c0.Clone();
                MatMul.Gemm(ta, tb, m, n, k, 1, a, ta ? m : k, b, tb ? k : n, 0.5f, c, n, threads);
                first ??= c;
                Assert.Equal(first, c);
            }
        }
    }

    [Fact]
    public void BadArguments_Throw_BeforeWriting()
    {
        var a = new float[12];
        var b = new float[12];
        var c = new float[9];
        Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.Gemm(false, false, -1, 3, 4, 1, a, 4, b, 3, 0, c, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.Gemm(false, false, 3, 3, 4, 1, a, 3, b, 3, 0, c, 3));
        Assert.Throws<ArgumentException>(() => MatMul.Gemm(false, false, 3, 3, 4, 1, a.AsSpan(0, 11), 4, b, 3, 0, c, 3));
        Assert.Throws<ArgumentException>(() => MatMul.Gemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c.AsSpan(0, 8), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.Gemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c, 3, 0));
        Assert.All(c, x => Assert.Equal(0f, x));
    }

    private static void CheckCase(Random rng, bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad)
    {
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        var a = Random(rng, (ta ? k : m) * lda);
        var b = Random(rng, (tb ? n : k) * ldb);
        var c = Random(rng, m * ldc);
        var expected = new double[m * ldc];
        var bound = new double[m * ldc];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = ta ? a[(p * lda) + i] : a[(i * lda) + p];
                    double y = tb ? b[(j * ldb) + p] : b[(p * ldb) + j];
                    sum += x * y;
                    abs += Math.Abs(x * y);
                }

                double old = c[(i * ldc) + j];
                expected[(i * ldc) + j] = (alpha * sum) + (beta == 0 ? 0 : beta * old);
                bound[(i * ldc) + j] = (Math.Abs(alpha) * abs) + Math.Abs(beta * old);
            }
        }

        var padding = c.Where((_, idx) => idx % ldc >= n).ToArray();
        MatMul.Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                int idx = (i * ldc) + j;
                double tol = (2e-7 * (k + 4) * bound[idx]) + 1e-30;
                Assert.True(Math.Abs(c[idx] - expected[idx]) <= tol,
                    $"ta={ta} tb={tb} m={m} n={n} k={k} alpha={alpha} beta={beta}: C[{i},{j}] = {c[idx]}, expected {expected[idx]}");
            }
        }

        Assert.Equal(padding, c.Where((_, idx) => idx % ldc >= n).ToArray());
    }

    private static float[] Random(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        return x;
    }
}
