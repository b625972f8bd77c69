using Xent.Kernels;
using Xent.LinearAlgebra;
using Xent.Tests.Core;

namespace Xent.Tests.LinearAlgebra;

/// <summary>
/// The fused logits tiles run the 512-bit 6 x (4 vectors) tile in K parts shorter than a sum block, the sums kept in
/// scratch between parts (<see cref="PanelShape.PartKernel"/>): each element must still be one fma chain per 256 k
/// from 0, bit for bit, whatever the part length, the edge tiles and the order (<see cref="MatMul.Panels"/>,
/// <see cref="MatMul.PanelsBlocked"/>), and whether or not Panels prefetches what its caller reads next. At the other
/// widths the parts are ignored, and the same holds.
/// </summary>
public class PanelPartsTests
{
    private static readonly int[] Parts = [0, 128, 100, 64, 7, 256];

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public unsafe void Panels_InKParts_SumAsGemm(VectorWidth width)
    {
        var rng = new Random(31);
        using var scope = Simd.Override(width);
        var shape = PanelShape.For(width);
        int nr = shape.Nr;
        foreach (var (m, n, k) in new[] { (19, 130, 700), (42, 128, 768), (7, 3, 250), (13, 64, 129) })
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (float beta in new[] { 0f, 1f, 0.5f })
                {
                    var a = Random(rng, m * k);
                    var b = Random(rng, k * n);
                    var c = Random(rng, m * n);
                    var expected = MatMulTests.BlockSums(ta, false, m, n, k, 1f, a, b, beta, c);
                    var packed = new float[(((n + nr - 1) / nr) * nr * k) + 16];
                    var ahead = Random(rng, 1000);
                    foreach (int part in Parts)
                    {
                        foreach (int stripBlock in new[] { 0, 2 })
                        {
                            var result = (float[])c.Clone();
                            fixed (float* pa = a, pb = b, pc = result, pp = packed, pn = ahead)
                            {
                                Packing.PackB(false, pb, n, 0, k, 0, n, nr, pp);
                                MatMul.Panels(shape, m, n, k, pa, ta ? 1 : k, ta ? m : 1, pp, (nint)k * nr, pc, n, beta, stripBlock: stripBlock, kPart: part,
                                    ahead: stripBlock > 0 ? pn : null, aheadFloats: ahead.Length);
                            }

                            Assert.True(expected.AsSpan().SequenceEqual(result), $"{m}x{n}x{k} ta={ta} beta={beta} part={part} stripBlock={stripBlock}");
                        }
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public unsafe void PanelsBlocked_InKParts_SumAsGemm(VectorWidth width)
    {
        var rng = new Random(32);
        using var scope = Simd.Override(width);
        var shape = PanelShape.For(width);
        int nr = shape.Nr;
        foreach (var (m, n, k) in new[] { (252, 128, 768), (50, 70, 600), (5, 20, 300) })
        {
            foreach (float beta in new[] { 0f, 0.5f })
            {
                var a = Random(rng, m * k);
                var b = Random(rng, k * n);
                var c = Random(rng, m * n);
                var next = Random(rng, 12 * k);
                var expected = MatMulTests.BlockSums(false, false, m, n, k, 1f, a, b, beta, c);
                var packed = new float[(((n + nr - 1) / nr) * nr * k) + 16];
                foreach (int part in Parts)
                {
                    var result = (float[])c.Clone();
                    fixed (float* pa = a, pb = b, pc = result, pp = packed, pn = next)
                    {
                        Packing.PackB(false, pb, n, 0, k, 0, n, nr, pp);
                        MatMul.PanelsBlocked(shape, m, n, k, pa, k, pp, (nint)k * nr, pc, n, beta, pn, 12, part);
                    }

                    Assert.True(expected.AsSpan().SequenceEqual(result), $"{m}x{n}x{k} beta={beta} part={part}");
                }
            }
        }
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
