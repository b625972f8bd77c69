using Xent.Layers;
using Xent.LinearAlgebra;
using Xent.Tests.Core;

namespace Xent.Tests.Layers;

/// <summary>
/// Outputs that share memory with an input or with another output (where that would read what the call has already
/// written) throw an ArgumentException naming the output, before anything is written.
/// </summary>
public class LayerOverlapTests
{
    private static float[] Ramp(int n, float scale = 0.37f) => [.. Enumerable.Range(0, n).Select(i => MathF.Sin((i + 1) * scale))];

    private static void Refused(string parameter, float[] buffer, Action call)
    {
        float[] before = (float[])buffer.Clone();
        var e = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Equal(parameter, e.ParamName);
        Assert.Equal(before, buffer);
    }

    [Fact]
    public void Gemm_COverAOrB_Throws_BeforeWriting()
    {
        // A [3, 4] at 0, B [4, 3] at 12 of one buffer; C [3, 3] placed over each in turn.
        float[] buffer = Ramp(40);
        Refused("c", buffer, () => MatMul.Gemm(false, false, 3, 3, 4, 1, buffer.AsSpan(0, 12), 4, buffer.AsSpan(12, 12), 3, 0, buffer.AsSpan(6, 9), 3));
        Refused("c", buffer, () => MatMul.Gemm(false, false, 3, 3, 4, 1, buffer.AsSpan(0, 12), 4, buffer.AsSpan(12, 12), 3, 1, buffer.AsSpan(20, 9), 3));
        Refused("c", buffer, () => MatMul.Gemm(true, true, 3, 3, 4, 2, buffer.AsSpan(0, 12), 3, buffer.AsSpan(12, 12), 4, 0, buffer.AsSpan(0, 9), 3));

        // Where A and B are not read (alpha 0), C may lie over them.
        MatMul.Gemm(false, false, 3, 3, 4, 0, buffer.AsSpan(0, 12), 4, buffer.AsSpan(12, 12), 3, 2, buffer.AsSpan(6, 9), 3);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Gemm_CBesideAInOneBuffer_IsComputed_AndOneElementInCommonIsRefused(VectorWidth width)
    {
        // Rows of L = K + N + 3: X [M, K] in columns [0, K), C = X W^T [M, N] in columns [K, K + N), 3 columns left
        // alone. The ranges overlap, no element does: computed as into a buffer of its own, X and the gap untouched.
        const int M = 37, K = 19, N = 53, L = K + N + 3;
        using var scope = Simd.Override(width);
        float[] buffer = Ramp(M * L), w = Ramp(N * K, 0.11f), expected = new float[M * N];
        float[] before = (float[])buffer.Clone();
        MatMul.Gemm(false, true, M, N, K, 1, buffer, L, w, K, 0, expected, N);
        MatMul.Gemm(false, true, M, N, K, 1, buffer, L, w, K, 0, buffer.AsSpan(K), L);
        for (int i = 0; i < M; i++)
        {
            Assert.Equal(expected.AsSpan(i * N, N).ToArray(), buffer.AsSpan((i * L) + K, N).ToArray());
            Assert.Equal(before.AsSpan(i * L, K).ToArray(), buffer.AsSpan(i * L, K).ToArray());
            if (i < M - 1)
            {
                Assert.Equal(before.AsSpan((i * L) + K + N, 3).ToArray(), buffer.AsSpan((i * L) + K + N, 3).ToArray());
            }
        }

        // One column further left, C's first column is X's last; one row's stride other than X's: refused.
        Refused("c", buffer, () => MatMul.Gemm(false, true, M, N, K, 1, buffer, L, w, K, 0, buffer.AsSpan(K - 1), L));
        Refused("c", buffer, () => MatMul.Gemm(false, true, M - 1, N, K, 1, buffer, L, w, K, 0, buffer.AsSpan(K), L + 1));

        // X beside C the other way round (C first), and A transposed.
        MatMul.Gemm(true, true, 4, 5, 6, 1, buffer.AsSpan(10), L, w, 6, 0, buffer, L);
        Refused("c", buffer, () => MatMul.Gemm(true, true, 4, 5, 6, 1, buffer.AsSpan(4), L, w, 6, 0, buffer, L));
    }

    [Fact]
    public void ElementWise_OutputsPartlyOverAnInput_Throw_BeforeWriting()
    {
        float[] buffer = Ramp(300);
        Span<float> S(int at) => buffer.AsSpan(at, 40);

        Refused("destination", buffer, () => Gelu.Forward(S(0), S(1)));
        Refused("destination", buffer, () => Gelu.Forward(S(1), S(0)));
        Refused("inputGradient", buffer, () => Gelu.Backward(S(0), S(100), S(101)));
        Refused("inputGradient", buffer, () => Gelu.Backward(S(0), S(100), S(3)));
        Refused("destination", buffer, () => Dropout.Multiply(S(0), S(100), S(8)));
        Refused("destination", buffer, () => Dropout.Multiply(S(0), S(100), S(108)));
        Refused("branch", buffer, () => Dropout.AddMasked(S(0), S(100), S(9)));
        Refused("branch", buffer, () => Dropout.AddMasked(S(0), S(100), S(99)));

        // In place (the same first element) is allowed and gives the out-of-place numbers.
        float[] x = Ramp(40, 2.1f), expected = new float[40];
        Gelu.Forward(x, expected);
        x.AsSpan().CopyTo(S(200));
        Gelu.Forward(S(200), S(200));
        Assert.Equal(expected, S(200).ToArray());
    }

    [Fact]
    public void Dense_OutputsOverAnInputOrEachOther_Throw_BeforeWriting()
    {
        const int Rows = 3, In = 4, Out = 5;
        float[] buffer = Ramp(200);
        Span<float> X(int at) => buffer.AsSpan(at, Rows * In);
        Span<float> W(int at) => buffer.AsSpan(at, Out * In);
        Span<float> B(int at) => buffer.AsSpan(at, Out);
        Span<float> Y(int at) => buffer.AsSpan(at, Rows * Out);

        // x at 0, W at 20, b at 40, residual at 50, output at 70 when apart.
        Refused("output", buffer, () => Dense.Forward(X(0), W(20), B(40), default, Y(5)));
        Refused("output", buffer, () => Dense.Forward(X(0), W(20), B(40), default, Y(30)));
        Refused("output", buffer, () => Dense.Forward(X(0), W(20), B(40), default, Y(36)));
        Refused("output", buffer, () => Dense.Forward(X(0), W(20), B(40), Y(50), Y(55)));

        // The residual as the output itself (in place) is allowed, and gives the out-of-place numbers.
        float[] residual = Ramp(Rows * Out, 0.11f), expected = new float[Rows * Out];
        Dense.Forward(X(0), W(20), B(40), residual, expected);
        residual.AsSpan().CopyTo(Y(70));
        Dense.Forward(X(0), W(20), B(40), Y(70), Y(70));
        Assert.Equal(expected, Y(70).ToArray());

        // dout at 0, x at 20, W at 40; dx at 70, dW at 90, db at 120 when apart.
        Refused("inputGradient", buffer, () => Dense.Backward(Y(0), X(20), W(40), false, X(5), W(90), B(120)));
        Refused("inputGradient", buffer, () => Dense.Backward(Y(0), X(20), W(40), false, X(25), W(90), B(120)));
        Refused("inputGradient", buffer, () => Dense.Backward(Y(0), X(20), W(40), true, X(50), W(90), B(120)));
        Refused("weightGradient", buffer, () => Dense.Backward(Y(0), X(20), W(40), false, X(70), W(10), B(120)));
        Refused("weightGradient", buffer, () => Dense.Backward(Y(0), X(20), W(40), false, X(70), W(30), B(120)));
        Refused("weightGradient", buffer, () => Dense.Backward(Y(0), X(20), W(40), false, X(70), W(80), B(120)));
        Refused("biasGradient", buffer, () => Dense.Backward(Y(0), X(20), W(40), false, X(70), W(90), B(3)));
        Refused("biasGradient", buffer, () => Dense.Backward(Y(0), X(20), W(40), false, X(70), W(90), B(100)));
        Refused("biasGradient", buffer, () => Dense.Backward(Y(0), X(20), W(40), false, X(70), W(90), B(75)));
    }

    [Fact]
    public void Attention_OutputsOverAnInputOrEachOther_Throw_BeforeWriting()
    {
        const int Batch = 1, Seq = 3, Heads = 1, Dim = 2;
        int qkvLength = Batch * Seq * 3 * Dim, yLength = Batch * Seq * Dim, attLength = Batch * Heads * Seq * Seq;
        float[] buffer = Ramp(200);
        Span<float> Qkv(int at) => buffer.AsSpan(at, qkvLength);
        Span<float> Out(int at) => buffer.AsSpan(at, yLength);
        Span<float> Att(int at) => buffer.AsSpan(at, attLength);

        // qkv at 0, output at 20, probabilities at 30 when apart.
        Refused("output", buffer, () => Attention.Forward(Qkv(0), Batch, Seq, Heads, Out(10), Att(30)));
        Refused("probabilities", buffer, () => Attention.Forward(Qkv(0), Batch, Seq, Heads, Out(20), Att(12)));
        Refused("probabilities", buffer, () => Attention.Forward(Qkv(0), Batch, Seq, Heads, Out(20), Att(25)));

        // dY at 0, qkv at 10, probabilities at 30; qkvGradient at 50 when apart.
        Refused("qkvGradient", buffer, () => Attention.Backward(Out(0), Qkv(10), Att(30), Batch, Seq, Heads, Qkv(5)));
        Refused("qkvGradient", buffer, () => Attention.Backward(Out(0), Qkv(10), Att(30), Batch, Seq, Heads, Qkv(10)));
        Refused("qkvGradient", buffer, () => Attention.Backward(Out(0), Qkv(10), Att(30), Batch, Seq, Heads, Qkv(35)));
        Refused("qkvGradient", buffer, () => Attention.Backward(Out(0), Qkv(10), default, Batch, Seq, Heads, Qkv(25)));

        // One row, hs 2, t 2 of 3 keys: q at 0, keys transposed [2, 3] at 10, values [3, 2] at 20; p [3] at 30, y [2] at 40.
        Span<float> Q(int at) => buffer.AsSpan(at, 2);
        Span<float> K(int at) => buffer.AsSpan(at, 6);
        Span<float> P(int at) => buffer.AsSpan(at, 3);
        Refused("probabilities", buffer, () => Attention.Row(Q(0), K(10), 3, K(20), 2, 2, P(1), Q(40)));
        Refused("probabilities", buffer, () => Attention.Row(Q(0), K(10), 3, K(20), 2, 2, P(14), Q(40)));
        Refused("probabilities", buffer, () => Attention.Row(Q(0), K(10), 3, K(20), 2, 2, P(22), Q(40)));
        Refused("output", buffer, () => Attention.Row(Q(0), K(10), 3, K(20), 2, 2, P(30), Q(21)));
        Refused("output", buffer, () => Attention.Row(Q(0), K(10), 3, K(20), 2, 2, P(30), Q(31)));

        // The output over the query is read before the output is written: allowed.
        float[] expected = new float[2], probabilities = new float[3];
        Attention.Row(Q(0), K(10), 3, K(20), 2, 2, probabilities, expected);
        Q(0).CopyTo(Q(50));
        Attention.Row(Q(50), K(10), 3, K(20), 2, 2, probabilities, Q(50));
        Assert.Equal(expected, Q(50).ToArray());

        // Tiled keys [1, 2, 32] at 0, q at 70, values [3, 2] at 80; p [32] at 100, y [2] at 140.
        Span<float> T(int at) => buffer.AsSpan(at, 64);
        Span<float> Tp(int at) => buffer.AsSpan(at, 32);
        Refused("probabilities", buffer, () => Attention.TiledRow(Q(70), T(0), K(80), 2, Tp(60), Q(140)));
        Refused("probabilities", buffer, () => Attention.TiledRow(Q(70), T(0), K(80), 2, Tp(40), Q(140)));
        Refused("probabilities", buffer, () => Attention.TiledRow(Q(70), T(0), K(80), 2, Tp(84), Q(140)));
        Refused("output", buffer, () => Attention.TiledRow(Q(70), T(0), K(80), 2, Tp(100), Q(84)));
        Refused("output", buffer, () => Attention.TiledRow(Q(70), T(0), K(80), 2, Tp(100), Q(120)));
        Refused("keyTiles", buffer, () => Attention.StoreTiledKey(Q(30), 1, T(0)));
    }

    [Fact]
    public void LayerNorm_StatisticsAndParameterGradientsOverAnInputOrAnOutput_Throw_BeforeWriting()
    {
        float[] buffer = Ramp(200);
        Span<float> X(int at) => buffer.AsSpan(at, 12);
        Span<float> W(int at) => buffer.AsSpan(at, 4);
        Span<float> M(int at) => buffer.AsSpan(at, 3);

        // Three rows of four: x at 0, weight at 20, bias at 30; output at 40, mean at 60, rstd at 70 when apart.
        Refused("output", buffer, () => LayerNorm.Forward(X(0), W(20), W(30), X(18), M(60), M(70)));
        Refused("mean", buffer, () => LayerNorm.Forward(X(0), W(20), W(30), X(40), M(5), M(70)));
        Refused("mean", buffer, () => LayerNorm.Forward(X(0), W(20), W(30), X(40), M(41), M(70)));
        Refused("mean", buffer, () => LayerNorm.Forward(X(0), W(20), W(30), X(40), M(31), M(70)));
        Refused("rstd", buffer, () => LayerNorm.Forward(X(0), W(20), W(30), X(40), M(60), M(61)));

        // dout at 0, x at 20, weight at 40, mean at 50, rstd at 55; dx at 60, dweight at 80, dbias at 90 when apart.
        Refused("inputGradient", buffer, () => LayerNorm.Backward(X(0), X(20), W(40), M(50), M(55), X(38), W(80), W(90)));
        Refused("inputGradient", buffer, () => LayerNorm.Backward(X(0), X(20), W(40), M(50), M(55), X(45), W(80), W(90)));
        Refused("weightGradient", buffer, () => LayerNorm.Backward(X(0), X(20), W(40), M(50), M(55), X(60), W(70), W(90)));
        Refused("biasGradient", buffer, () => LayerNorm.Backward(X(0), X(20), W(40), M(50), M(55), X(60), W(80), W(82)));
        Refused("biasGradient", buffer, () => LayerNorm.Backward(X(0), X(20), W(40), M(50), M(55), X(60), W(80), W(65)));
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LayerNorm_OutputShiftedOverItsInput_Throws_BeforeWriting_AndInPlaceKeepsTheBits(VectorWidth width)
    {
        // Rows of D 16 (whole vectors: the four-row kernels) and D 19 (row by row), 8 rows; x at 40 of the buffer, the
        // output or dx shifted by whole or part rows either way (a forward shift was off by up to 40 when allowed).
        using var scope = Simd.Override(width);
        foreach (int dim in new[] { 16, 19 })
        {
            int rows = 8, length = rows * dim;
            float[] buffer = Ramp(length + 80);
            float[] weight = Ramp(dim, 0.11f), bias = Ramp(dim, 0.05f), other = Ramp(length, 0.21f);
            var mean = new float[rows];
            var rstd = new float[rows];
            foreach (int shift in new[] { -dim - 1, -5, -1, 1, 5, dim, dim + 1 })
            {
                Refused("output", buffer, () => LayerNorm.Forward(buffer.AsSpan(40, length), weight, bias, buffer.AsSpan(40 + shift, length), mean, rstd));
                Refused("inputGradient", buffer, () => LayerNorm.Backward(buffer.AsSpan(40, length), other, weight, mean, rstd, buffer.AsSpan(40 + shift, length), new float[dim], new float[dim]));
                Refused("inputGradient", buffer, () => LayerNorm.Backward(other, buffer.AsSpan(40, length), weight, mean, rstd, buffer.AsSpan(40 + shift, length), new float[dim], new float[dim]));
            }

            // In place: the bits of the disjoint call.
            float[] x = Ramp(length, 0.29f), apart = new float[length], inPlace = (float[])x.Clone();
            LayerNorm.Forward(x, weight, bias, apart, mean, rstd, 2);
            LayerNorm.Forward(inPlace, weight, bias, inPlace, mean, rstd, 2);
            Assert.Equal(apart, inPlace);

            // dx over x itself (dx starts as x's values, and x is read before each row of dx is written).
            float[] dxApart = (float[])x.Clone(), dxOverX = (float[])x.Clone();
            LayerNorm.Backward(other, x, weight, mean, rstd, dxApart, new float[dim], new float[dim], 2);
            LayerNorm.Backward(other, dxOverX, weight, mean, rstd, dxOverX, new float[dim], new float[dim], 2);
            Assert.Equal(dxApart, dxOverX);
        }
    }
}
