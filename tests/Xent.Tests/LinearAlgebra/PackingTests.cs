using Xent.LinearAlgebra;

namespace Xent.Tests.LinearAlgebra;

public class PackingTests
{
    /// <summary>
    /// PackB of B stored [K, N] lays out the strips as its definition says (padding zeros scaled with the rest), with
    /// the 512-bit fast path for a lone micro-panel on and off, for every Nr a <see cref="PanelShape"/> uses (2 to 64),
    /// whole and partial strips, odd depths, offsets and strides, and a scale; no float past the last strip is written.
    /// </summary>
    [Fact]
    public unsafe void PackB_RowsStored_MatchesDefinition_FastPathOnAndOff()
    {
        var rng = new Random(77);
        bool saved = Packing.FastRows;
        try
        {
            foreach (bool fast in new[] { true, false })
            {
                Packing.FastRows = fast;
                foreach (int nr in new[] { 2, 8, 16, 32, 64 })
                {
                    foreach (int cols in new[] { nr, 1, nr - 1, nr + 1, (3 * nr) + 5, 2 * nr })
                    {
                        foreach (var (kc, p0, j0, extra) in new[] { (1, 0, 0, 0), (7, 3, 5, 3), (256, 1, 1, 17), (33, 0, 2, 64) })
                        {
                            int ldb = j0 + cols + extra, rows = p0 + kc;
                            var b = new float[(rows * ldb) + 64];
                            for (int i = 0; i < b.Length; i++)
                            {
                                b[i] = (float)rng.NextDouble() - 0.5f;
                            }

                            foreach (float alpha in new[] { 1f, -0.75f })
                            {
                                int padded = (cols + nr - 1) / nr * nr;
                                var packed = new float[(padded * kc) + 8];
                                Array.Fill(packed, float.NaN);
                                fixed (float* pb = b, pp = packed)
                                {
                                    Packing.PackB(false, pb, ldb, p0, kc, j0, cols, nr, pp, alpha);
                                }

                                var expected = new float[packed.Length];
                                Array.Fill(expected, float.NaN);
                                for (int j = 0; j < padded; j++)
                                {
                                    int s = j / nr * nr;
                                    for (int p = 0; p < kc; p++)
                                    {
                                        expected[(s * kc) + (p * nr) + (j - s)] = alpha * (j < cols ? b[((p0 + p) * ldb) + j0 + j] : 0);
                                    }
                                }

                                Assert.True(Bits(expected).SequenceEqual(Bits(packed)), $"nr {nr}, cols {cols}, kc {kc}, p0 {p0}, j0 {j0}, ldb {ldb}, alpha {alpha}, fast {fast}");
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            Packing.FastRows = saved;
        }
    }

    private static int[] Bits(float[] values) => Array.ConvertAll(values, BitConverter.SingleToInt32Bits);
}
