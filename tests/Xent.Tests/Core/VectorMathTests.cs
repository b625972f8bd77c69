using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>The kernels' own exp and tanh against Math.Exp / Math.Tanh, lane by lane, for every width.</summary>
public class VectorMathTests
{
    private static float Lane512(Func<Vector512<float>, Vector512<float>> f, float x) => f(Vector512.Create(x)).ToScalar();

    private static float Lane256(Func<Vector256<float>, Vector256<float>> f, float x) => f(Vector256.Create(x)).ToScalar();

    private static float Lane128(Func<Vector128<float>, Vector128<float>> f, float x) => f(Vector128.Create(x)).ToScalar();

    private static IEnumerable<(string Width, Func<float, float> Exp, Func<float, float> Tanh)> Widths()
    {
        yield return ("128", x => Lane128(Vector128Ops.Exp, x), x => Lane128(VectorMath.Tanh<Vector128Ops, Vector128<float>>, x));
        if (Vector256.IsHardwareAccelerated)
        {
            yield return ("256", x => Lane256(Vector256Ops.Exp, x), x => Lane256(VectorMath.Tanh<Vector256Ops, Vector256<float>>, x));
        }

        if (Vector512.IsHardwareAccelerated)
        {
            yield return ("512", x => Lane512(Vector512Ops.Exp, x), x => Lane512(VectorMath.Tanh<Vector512Ops, Vector512<float>>, x));
        }

        yield return ("scalar", ScalarOps.Exp, VectorMath.Tanh);
    }

    private static double Ulps(float actual, double exact) =>
        Math.Abs(actual - exact) / (MathF.BitIncrement((float)exact) - (float)exact);

    [Fact]
    public void ExpIsWithinAFewUlpOnTheKernelsDomain()
    {
        var random = new Random(1);
        foreach (var (width, exp, _) in Widths())
        {
            double worst = 0;
            for (int i = 0; i < 200_000; i++)
            {
                // Mostly near 0 (where the sums' mass is), the rest down to -87.
                float x = i % 2 == 0 ? -(float)(random.NextDouble() * 4) : -(float)(random.NextDouble() * 86.9);
                worst = Math.Max(worst, Ulps(exp(x), Math.Exp(x)) / (2 + Math.Abs(x)));
            }

            // 1.9 ulp from the polynomial, plus the single rounding of t = x log2(e), which costs |t| 2^-24
            // relative, i.e. up to ~1.5 ulp per unit of |x|: within 1.5 (2 + |x|) ulp (so ~4 ulp near the max, where a
            // softmax's mass is; 5e-6 relative at e^-87).
            Assert.True(worst <= 1.5, $"{width}: {worst:F2} x (2 + |x|) ulp");
            Assert.Equal(1f, exp(0f));
            Assert.Equal(0f, exp(float.NegativeInfinity));
            Assert.True(exp(-100f) < 1e-38f, width); // 0 in the vector lanes, a denormal from MathF.Exp
            Assert.True(float.IsNaN(exp(float.NaN)), width);
        }
    }

    /// <summary>
    /// The polynomial exp core without AVX-512 (SSE and AdvSimd machines, and AVX2 ones for rows too short for 256 bits),
    /// called directly so that it is tested on any machine, at the widths that have it; the dispatching
    /// <see cref="Vector128Ops.Exp2"/> takes it only where the runtime reports no AVX-512 (CI runs these tests again
    /// under DOTNET_EnableAVX512=0).
    /// </summary>
    private static IEnumerable<(string Width, Func<float, float> Exp2)> RoundedExp2()
    {
        yield return ("128", t => Lane128(Vector128Ops.Exp2Rounded, t));
        yield return ("512", t => Lane512(Vector512Ops.Exp2Rounded, t));
    }

    [Fact]
    public void RoundedExp2IsWithinTwoUlpAndExactAtWholePowers()
    {
        var random = new Random(3);
        foreach (var (width, exp2) in RoundedExp2())
        {
            double worst = 0;
            for (int i = 0; i < 200_000; i++)
            {
                // Mostly within a few units of 0 (ties at halves included), the rest down to the last normal power.
                float t = i % 4 == 0 ? (i / 4 % 64) / -8f : i % 2 == 0 ? -(float)(random.NextDouble() * 4) : -(float)(random.NextDouble() * 125.5);
                worst = Math.Max(worst, Ulps(exp2(t), Math.Pow(2, t)));
            }

            // The polynomial's multiply-adds unfused where FMA is not hardware (SSE- and AVX-only x64): one more rounding each.
            Assert.True(worst <= (Simd.FusedMultiplyAddIsHardware ? 1.9 : 2.2), $"{width}: {worst:F2} ulp");
            for (int n = -126; n <= 127; n++)
            {
                Assert.Equal(MathF.ScaleB(1f, n), exp2(n));
            }
        }
    }

    [Fact]
    public void RoundedExp2GivesDenormalsThenZeroAndKeepsNaN()
    {
        foreach (var (width, exp2) in RoundedExp2())
        {
            // n = -126 down to t = -126.5 (a tie, which rounds to n = -127): p 2^-126, a denormal within a denormal's rounding of 2^t.
            foreach (float t in new[] { -125.75f, -126f, -126.25f, -126.4f })
            {
                Assert.True(Math.Abs(exp2(t) - Math.Pow(2, t)) <= 1.5 * float.Epsilon, $"{width}: 2^{t} = {exp2(t)}");
            }

            // n = -127 and below, however far (|t| beyond 2^22 and -inf included): 2^n is built as 0.
            foreach (float t in new[] { -126.5f, -126.75f, -127f, -128f, -200f, -4.2e6f, -1e30f, -float.MaxValue, float.NegativeInfinity })
            {
                Assert.Equal(0f, exp2(t));
            }

            // NaN of either sign, with payload bits in the low 9 (which the exponent-building shift moves into place).
            foreach (uint bits in new[] { 0x7FC00000u, 0xFFC00000u, 0x7FC001FFu, 0xFFC00001u, 0x7F800001u })
            {
                Assert.True(float.IsNaN(exp2(BitConverter.UInt32BitsToSingle(bits))), $"{width}: {bits:X8}");
            }
        }
    }

    /// <summary>
    /// The 256-bit exp without AVX-512 (<see cref="TableExp"/>), called directly so that it is tested on any AVX2 machine;
    /// <see cref="Vector256Ops.Exp2"/> takes it only where the runtime reports no AVX-512.
    /// </summary>
    [Fact]
    public void TableExp2IsWithinOnePointTwoUlpThenUnderTheLeastNormalThenZero()
    {
        if (!Avx2.IsSupported)
        {
            return;
        }

        static float Exp2(float t) => Lane256(TableExp.Exp2, t);
        var random = new Random(7);
        double worst = 0, worstLow = 0;
        float worstT = 0, worstLowT = 0;
        for (int i = 0; i < 400_000; i++)
        {
            // Eighths and sixteenths down to -126 (the table's points and the ties between them), near 0, down to -126,
            // and the last powers of two above -126 densely.
            float t = (i % 8) switch
            {
                0 or 4 => (i / 4 % 2017) / -16f,
                1 or 3 or 5 => (float)((random.NextDouble() * 5) - 4),
                7 => -122f - (float)(random.NextDouble() * 4),
                _ => -(float)(random.NextDouble() * 126),
            };
            double u = Ulps(Exp2(t), Math.Pow(2, t));
            if (t >= -122f && u > worst)
            {
                worst = u;
                worstT = t;
            }
            else if (t < -122f && u > worstLow)
            {
                worstLow = u;
                worstLowT = t;
            }
        }

        // Above 2^-122 within 1.2 ulp (1.16 measured); below it the product 2^t r is a denormal, whose rounding adds up to
        // half an ulp (1.45 measured).
        Assert.True(worst <= 1.2, $"{worst:F2} ulp at 2^{worstT} = {Exp2(worstT)}");
        Assert.True(worstLow <= 1.5, $"{worstLow:F2} ulp at 2^{worstLowT} = {Exp2(worstLowT)}");
        for (int n = -126; n <= 127; n++)
        {
            Assert.Equal(MathF.ScaleB(1f, n), Exp2(n));
        }

        // Between -127 and -126: a value under the least normal (where the true one is a denormal), never negative.
        foreach (float t in new[] { -126.01f, -126.0625f, -126.5f, -126.9f, -126.97f })
        {
            float value = Exp2(t);
            Assert.True(value >= 0 && value < MathF.ScaleB(1f, -126), $"2^{t} = {value}");
        }

        // From -127 down, however far, -inf included: exactly 0.
        foreach (float t in new[] { -127f, -127.01f, -128f, -200f, -4.2e6f, -1e30f, -float.MaxValue, float.NegativeInfinity })
        {
            Assert.Equal(0f, Exp2(t));
        }

        foreach (uint bits in new[] { 0x7FC00000u, 0xFFC00000u, 0x7FC001FFu, 0xFFC00001u, 0x7F800001u })
        {
            Assert.True(float.IsNaN(Exp2(BitConverter.UInt32BitsToSingle(bits))), $"{bits:X8}");
        }

        // Each lane takes its own table entry: eight different eighths side by side.
        var lanes = Vector256.Create(0f, -0.125f, -0.25f, -0.375f, -0.5f, -0.625f, -0.75f, -7.875f);
        Vector256<float> values = TableExp.Exp2(lanes);
        for (int j = 0; j < 8; j++)
        {
            Assert.True(Ulps(values[j], Math.Pow(2, lanes[j])) <= 1, $"lane {j}: 2^{lanes[j]} = {values[j]}");
        }
    }

    /// <summary>
    /// Exp4, the four-vector exp that interleaves its steps (GELU, the attention's softmax), gives every lane the bits
    /// of Exp, whichever of the four vectors the lane is in: on the domain, below it (denormals, 0, -inf), above 0 and
    /// for NaN. CI reruns this under DOTNET_EnableAVX512=0 and DOTNET_EnableAVX2=0 for the other forms.
    /// </summary>
    [Fact]
    public void Exp4GivesEachLaneTheBitsOfExp()
    {
        var random = new Random(5);
        float[] special = [0f, -0f, -87.5f, -100f, -104f, -1e30f, float.NegativeInfinity, float.NaN, 1f, 88f, -0.5f];
        var x = new float[4 * 16];
        for (int round = 0; round < 500; round++)
        {
            for (int j = 0; j < x.Length; j++)
            {
                x[j] = random.Next(5) == 0 ? special[random.Next(special.Length)] : -(float)(random.NextDouble() * (round % 2 == 0 ? 4 : 110));
            }

            Check<ScalarOps, float>(x, 1);
            Check<Vector128Ops, Vector128<float>>(x, 4);
            if (Vector256.IsHardwareAccelerated)
            {
                Check<Vector256Ops, Vector256<float>>(x, 8);
            }

            if (Vector512.IsHardwareAccelerated)
            {
                Check<Vector512Ops, Vector512<float>>(x, 16);
            }
        }

        static void Check<TOps, TV>(float[] x, int count)
            where TOps : struct, IVectorOps<TV>
            where TV : struct
        {
            ref float x0 = ref x[0];
            TV a = TOps.Load(ref x0, 0), b = TOps.Load(ref x0, count), c = TOps.Load(ref x0, 2 * count), d = TOps.Load(ref x0, 3 * count);
            TOps.Exp4(ref a, ref b, ref c, ref d);
            var actual = new float[4 * count];
            ref float y0 = ref actual[0];
            TOps.Store(a, ref y0, 0);
            TOps.Store(b, ref y0, count);
            TOps.Store(c, ref y0, 2 * count);
            TOps.Store(d, ref y0, 3 * count);
            var expected = new float[4 * count];
            for (int q = 0; q < 4; q++)
            {
                TOps.Store(TOps.Exp(TOps.Load(ref x0, q * count)), ref expected[0], q * count);
            }

            for (int j = 0; j < actual.Length; j++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(expected[j]) == BitConverter.SingleToInt32Bits(actual[j]) || (float.IsNaN(expected[j]) && float.IsNaN(actual[j])),
                    $"{typeof(TOps).Name} lane {j}: exp({x[j]}) = {expected[j]}, Exp4 gave {actual[j]}");
            }
        }
    }

    /// <summary>
    /// The knobs that CI uses to take the fallback branches on an AVX-512 machine do take effect (if a runtime
    /// ignored them, the CI step would silently test the AVX-512 paths again).
    /// </summary>
    [Fact]
    public void InstructionSetKnobsTakeEffect()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0")
        {
            Assert.False(Avx512F.IsSupported);
            Assert.False(Avx512DQ.VL.IsSupported);
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.NotEqual(VectorWidth.V512, Simd.Supported().First());
        }

        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0")
        {
            Assert.False(Avx2.IsSupported);
            Assert.False(Vector256.IsHardwareAccelerated);
            Assert.Equal(Vector128.IsHardwareAccelerated ? VectorWidth.V128 : VectorWidth.Scalar, Simd.Supported().First());
        }
    }

    [Fact]
    public void TanhIsWithinAFewUlp()
    {
        var random = new Random(2);
        foreach (var (width, _, tanh) in Widths())
        {
            double worst = 0;
            for (int i = 0; i < 200_000; i++)
            {
                float x = (float)((random.NextDouble() - 0.5) * (i % 2 == 0 ? 2 : 30));
                worst = Math.Max(worst, Ulps(tanh(x), Math.Tanh(x)));
            }

            Assert.True(worst < 4, $"{width}: {worst:F2} ulp");
            Assert.Equal(1f, tanh(float.PositiveInfinity));
            Assert.Equal(-1f, tanh(float.NegativeInfinity));
            Assert.True(float.IsNaN(tanh(float.NaN)), width);
        }
    }

    /// <summary>
    /// Vectors that mix lanes of both branches (|x| below and above 0.625, infinities, NaN) give each lane what the
    /// lane gives alone: the early return for all-small vectors must not change any lane.
    /// </summary>
    [Fact]
    public void TanhOfMixedLanesEqualsEachLaneAlone()
    {
        var random = new Random(4);
        float[] special = [0f, -0f, 0.624f, 0.625f, -0.626f, 9f, float.PositiveInfinity, float.NegativeInfinity, float.NaN];
        for (int round = 0; round < 2000; round++)
        {
            var x = new float[16];
            for (int j = 0; j < x.Length; j++)
            {
                x[j] = random.Next(4) == 0 ? special[random.Next(special.Length)] : (float)((random.NextDouble() - 0.5) * (round % 3 == 0 ? 1.2 : 4));
            }

            // Each lane alone: the value broadcast to a whole vector of the same width.
            Same([.. x.Select(v => Lane128(VectorMath.Tanh<Vector128Ops, Vector128<float>>, v))], [.. Enumerable.Range(0, 4).SelectMany(q => Lanes(VectorMath.Tanh<Vector128Ops, Vector128<float>>(Vector128.Create(x, q * 4))))]);
            if (Vector256.IsHardwareAccelerated)
            {
                Same([.. x.Select(v => Lane256(VectorMath.Tanh<Vector256Ops, Vector256<float>>, v))], [.. Enumerable.Range(0, 2).SelectMany(q => Lanes(VectorMath.Tanh<Vector256Ops, Vector256<float>>(Vector256.Create(x.AsSpan(q * 8, 8)))))]);
            }

            if (Vector512.IsHardwareAccelerated)
            {
                Same([.. x.Select(v => Lane512(VectorMath.Tanh<Vector512Ops, Vector512<float>>, v))], Lanes(VectorMath.Tanh<Vector512Ops, Vector512<float>>(Vector512.Create(x))));
            }
        }

        static float[] Lanes<TV>(TV v)
            where TV : struct => System.Runtime.InteropServices.MemoryMarshal.Cast<TV, float>([v]).ToArray();

        static void Same(float[] expected, float[] actual)
        {
            for (int j = 0; j < expected.Length; j++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(expected[j]) == BitConverter.SingleToInt32Bits(actual[j]) || (float.IsNaN(expected[j]) && float.IsNaN(actual[j])), $"lane {j}: {expected[j]} vs {actual[j]}");
            }
        }
    }
}
