namespace Xent.LinearAlgebra;

/// <summary>Single-precision matrix products, row-major, in the BLAS sgemm form.</summary>
/// <remarks>PLACEHOLDER: a plain triple loop until the register-blocked kernel lands (issue 3).</remarks>
public static class MatMul
{
    /// <summary>
    /// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is [M, K], op(B) is [K, N], C is [M, N].
    /// A is stored [M, K] (lda &gt;= K), or [K, M] when transposeA (lda &gt;= M); likewise B is [K, N] or [N, K].
    /// beta = 0 overwrites C without reading it (NaN in C does not leak).
    /// </summary>
    /// <param name="transposeA">Whether A is stored transposed.</param>
    /// <param name="transposeB">Whether B is stored transposed.</param>
    /// <param name="m">M.</param>
    /// <param name="n">N.</param>
    /// <param name="k">K.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A.</param>
    /// <param name="lda">Row stride of A as stored.</param>
    /// <param name="b">B.</param>
    /// <param name="ldb">Row stride of B as stored.</param>
    /// <param name="beta">Scale of C before adding.</param>
    /// <param name="c">C [M, N].</param>
    /// <param name="ldc">Row stride of C.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    public static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        int maxDegreeOfParallelism = -1)
    {
        _ = maxDegreeOfParallelism;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transposeA ? a[(p * lda) + i] : a[(i * lda) + p];
                    float bv = transposeB ? b[(j * ldb) + p] : b[(p * ldb) + j];
                    sum += av * bv;
                }

                int ci = (i * ldc) + j;
                c[ci] = beta == 0 ? alpha * sum : (alpha * sum) + (beta * c[ci]);
            }
        }
    }
}
