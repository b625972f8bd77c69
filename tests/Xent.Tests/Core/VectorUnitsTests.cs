using System.Runtime.Intrinsics.X86;
using Xent.Kernels;

namespace Xent.Tests.Core;

/// <summary>
/// <see cref="VectorUnits.SplitsVector512"/> read from CPUID against what Linux says of the same CPU, and the
/// gradient's exponentials policy that follows it.
/// </summary>
public class VectorUnitsTests
{
    [Fact]
    public void SplitsVector512_IsAmdFamily19hWithAvx512_AsLinuxReportsIt()
    {
        Assert.True(!VectorUnits.SplitsVector512 || Avx512F.IsSupported);
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/cpuinfo"))
        {
            return;
        }

        // The first processor's "vendor_id" and "cpu family" lines (decimal); AVX-512 as the runtime enables it (the
        // kernel reruns switch it off with DOTNET_EnableAVX512=0, and then nothing runs at 512 bits).
        var fields = File.ReadLines("/proc/cpuinfo").TakeWhile(line => line.Length > 0)
            .Select(line => line.Split(':', 2)).Where(parts => parts.Length == 2)
            .GroupBy(parts => parts[0].Trim()).ToDictionary(g => g.Key, g => g.First()[1].Trim());
        bool expected = fields.GetValueOrDefault("vendor_id") == "AuthenticAMD" && fields.GetValueOrDefault("cpu family") == "25" && Avx512F.IsSupported;
        Assert.Equal(expected, VectorUnits.SplitsVector512);
    }

    [Fact]
    public void ExponentialsPolicy_StoresBelow512_UnderACap_AndAt512OnSplitUnitsButSmoothedFloat_ByTheRowsLanes()
    {
        foreach (var width in new[] { VectorWidth.V256, VectorWidth.V128, VectorWidth.Scalar })
        {
            Assert.True(CrossEntropyKernel.StoresExponentials(width, capped: false, sixteenBit: false, smoothed: false));
            Assert.True(CrossEntropyKernel.StoresExponentials(width, capped: false, sixteenBit: true, smoothed: true));
        }

        Assert.True(CrossEntropyKernel.StoresExponentials(VectorWidth.V512, capped: true, sixteenBit: false, smoothed: false));
        Assert.Equal(VectorUnits.SplitsVector512, CrossEntropyKernel.StoresExponentials(VectorWidth.V512, capped: false, sixteenBit: false, smoothed: false));
        Assert.False(CrossEntropyKernel.StoresExponentials(VectorWidth.V512, capped: false, sixteenBit: false, smoothed: true));
        Assert.Equal(VectorUnits.SplitsVector512, CrossEntropyKernel.StoresExponentials(VectorWidth.V512, capped: false, sixteenBit: true, smoothed: false));
        Assert.Equal(VectorUnits.SplitsVector512, CrossEntropyKernel.StoresExponentials(VectorWidth.V512, capped: false, sixteenBit: true, smoothed: true));
        // Rows shorter than one 512-bit vector choose as the narrower lanes they run in; 16 classes and more as 512 bits,
        // but a 16-bit gradient without smoothing stores at 512 bits: bfloat16 at every length, Half under 128 classes.
        foreach (bool sixteenBit in new[] { false, true })
        {
            foreach (bool half in sixteenBit ? new[] { false, true } : [false])
            {
                foreach (bool smoothed in new[] { false, true })
                {
                    bool at512 = CrossEntropyKernel.StoresExponentials(VectorWidth.V512, capped: false, sixteenBit, smoothed);
                    bool shortStores = sixteenBit && !smoothed, longStores = shortStores && !half;
                    Assert.True(CrossEntropyKernel.StoresExponentials(VectorWidth.V512, 15, capped: false, sixteenBit, smoothed, half));
                    Assert.True(CrossEntropyKernel.StoresExponentials(VectorWidth.V512, 3, capped: false, sixteenBit, smoothed, half));
                    Assert.Equal(shortStores || at512, CrossEntropyKernel.StoresExponentials(VectorWidth.V512, 16, capped: false, sixteenBit, smoothed, half));
                    Assert.Equal(shortStores || at512, CrossEntropyKernel.StoresExponentials(VectorWidth.V512, 127, capped: false, sixteenBit, smoothed, half));
                    Assert.Equal(longStores || at512, CrossEntropyKernel.StoresExponentials(VectorWidth.V512, 128, capped: false, sixteenBit, smoothed, half));
                    Assert.Equal(longStores || at512, CrossEntropyKernel.StoresExponentials(VectorWidth.V512, 50257, capped: false, sixteenBit, smoothed, half));
                    Assert.Equal(CrossEntropyKernel.StoresExponentials(VectorWidth.V256, capped: false, sixteenBit, smoothed), CrossEntropyKernel.StoresExponentials(VectorWidth.V256, 64, capped: false, sixteenBit, smoothed, half));
                }
            }
        }

        using (CrossEntropyKernel.OverrideStoredExponentials(false))
        {
            Assert.False(CrossEntropyKernel.StoresExponentials(VectorWidth.V512, 32, capped: false, sixteenBit: true, smoothed: false, half: false));
            Assert.False(CrossEntropyKernel.StoresExponentials(VectorWidth.V256, capped: true, sixteenBit: true, smoothed: false));
        }
    }
}
