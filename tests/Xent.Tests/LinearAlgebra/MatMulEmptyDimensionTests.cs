using Xent.LinearAlgebra;

namespace Xent.Tests.LinearAlgebra;

/// <summary>
/// A matrix with no elements (M, N or K is 0) is never read, so any stride from 0 on is accepted for it: callers
/// pass lda 0 for an empty A as for an empty span. Where an element would be addressed a short stride still throws.
/// </summary>
public class MatMulEmptyDimensionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ZeroRows_AcceptStrideZero(bool transposeA)
    {
        // M = 0: A is [0, K] (or [K, 0] transposed) and C is [0, N]; nothing is read or written.
        float[] b = [1, 2, 3, 4, 5, 6];
        MatMul.Gemm(transposeA, false, 0, 3, 2, 1f, [], 0, b, 3, 0f, [], 0);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void ZeroK_AcceptsStrideZero_AndScalesC(bool transposeA, bool transposeB)
    {
        // K = 0: op(A) op(B) is 0, so C = beta C whatever A and B hold.
        float[] c = [1, 2, 3, 4, 5, 6];
        MatMul.Gemm(transposeA, transposeB, 2, 3, 0, 1f, [], 0, [], 0, 2f, c, 3);
        Assert.Equal(new float[] { 2, 4, 6, 8, 10, 12 }, c);
    }

    [Fact]
    public void ZeroColumns_AcceptStrideZero()
    {
        float[] a = [1, 2, 3, 4];
        MatMul.Gemm(false, false, 2, 0, 2, 1f, a, 2, [], 0, 0f, [], 0);
    }

    [Fact]
    public void AStrideTooShortWhereItIsAddressed_StillThrows()
    {
        float[] a = new float[12], b = new float[12], c = new float[9];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.Gemm(false, false, 3, 3, 4, 1f, a, 0, b, 3, 0f, c, 3));
        Assert.Equal("lda", e.ParamName);

        // alpha = 0 reads no element of A, but its rows are still addressed by its stride.
        Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.Gemm(false, false, 3, 3, 4, 0f, a, 2, b, 3, 0f, c, 3));
        e = Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.Gemm(false, false, 3, 3, 4, 1f, a, 4, b, 3, 0f, c, 0));
        Assert.Equal("ldc", e.ParamName);
    }

    [Fact]
    public void ANegativeStride_Throws_EvenWhereEmpty()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.Gemm(false, false, 0, 3, 2, 1f, [], -1, new float[6], 3, 0f, [], 0));
        Assert.Equal("lda", e.ParamName);
    }
}
