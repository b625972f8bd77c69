using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// The multiply-add policy (<see cref="Simd.FusedMultiplyAddIsHardware"/>): fused wherever the CPU has the
/// instruction, so that results there are what they always were, and a product then a sum where .NET would compute
/// the fused form in software (SSE- and AVX-only x64; CI runs the kernel tests under DOTNET_EnableAVX2=0 for it).
/// </summary>
public class FusedMultiplyAddTests
{
    [Fact]
    public void HardwareExactlyWhereTheRuntimeHasTheInstruction()
    {
        Assert.Equal(Fma.IsSupported || AdvSimd.IsSupported, Simd.FusedMultiplyAddIsHardware);

        // .NET enables FMA with AVX2 (DOTNET_EnableFMA=0 alone changes nothing), so the 256- and 512-bit paths
        // always have it: only the 128-bit and scalar paths ever run unfused.
        if (Vector256.IsHardwareAccelerated || Avx2.IsSupported)
        {
            Assert.True(Simd.FusedMultiplyAddIsHardware);
        }

        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0" && !AdvSimd.IsSupported)
        {
            Assert.False(Simd.FusedMultiplyAddIsHardware);
        }
    }

    [Fact]
    public void EveryWidthRoundsOnceWithFmaAndTwiceWithout()
    {
        // a = b = 1 + 2^-12: a b = 1 + 2^-11 + 2^-24 exactly, a tie that rounds to 1 + 2^-11. Fused, a b - (1 + 2^-11)
        // is 2^-24; with the product rounded first it is 0.
        float a = 1f + MathF.ScaleB(1f, -12), c = -(1f + MathF.ScaleB(1f, -11));
        float expected = Simd.FusedMultiplyAddIsHardware ? MathF.ScaleB(1f, -24) : 0f;
        Assert.Equal(MathF.ScaleB(1f, -24), MathF.FusedMultiplyAdd(a, a, c));
        Assert.Equal(expected, ScalarOps.MultiplyAdd(a, a, c));
        Assert.Equal(Vector128.Create(expected), Vector128Ops.MultiplyAdd(Vector128.Create(a), Vector128.Create(a), Vector128.Create(c)));
        if (Simd.FusedMultiplyAddIsHardware)
        {
            // The 256- and 512-bit ops fuse unconditionally: those widths are chosen only where AVX2 (and so FMA) is.
            Assert.Equal(Vector256.Create(expected), Vector256Ops.MultiplyAdd(Vector256.Create(a), Vector256.Create(a), Vector256.Create(c)));
            Assert.Equal(Vector512.Create(expected), Vector512Ops.MultiplyAdd(Vector512.Create(a), Vector512.Create(a), Vector512.Create(c)));
        }
    }
}
