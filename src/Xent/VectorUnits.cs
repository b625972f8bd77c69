using System.Runtime.Intrinsics.X86;

namespace Xent;

/// <summary>
/// How wide the CPU's vector units are, where a kernel's best choice depends on it rather than on the vector width
/// alone. Read once from CPUID.
/// </summary>
internal static class VectorUnits
{
    /// <summary>
    /// Whether each 512-bit operation runs as two 256-bit halves: AMD's Zen 4 (family 19h with AVX-512), where a
    /// 512-bit exponential costs per element what a 256-bit one does, so that a pass over data in L2 is cheap beside
    /// it, as at 256 bits. False on CPUs with full-width 512-bit units (Zen 5, Intel's), without AVX-512 (where no
    /// kernel runs at 512 bits) and off x64.
    /// </summary>
    public static bool SplitsVector512 { get; } = Avx512F.IsSupported && IsAmdFamily(0x19);

    // CPUID leaf 0: the vendor in EBX, EDX, ECX; leaf 1: EAX's family, base (bits 8-11) plus extended (20-27) where
    // the base is 0xF.
    private static bool IsAmdFamily(int family)
    {
        if (!X86Base.IsSupported)
        {
            return false;
        }

        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        bool amd = ebx == 0x68747541 && edx == 0x69746E65 && ecx == 0x444D4163; // "Auth" "enti" "cAMD"
        int eax = X86Base.CpuId(1, 0).Eax;
        int baseFamily = (eax >> 8) & 0xF;
        int fullFamily = baseFamily == 0xF ? baseFamily + ((eax >> 20) & 0xFF) : baseFamily;
        return amd && fullFamily == family;
    }
}
