using System.Globalization;
using System.Runtime.Intrinsics.X86;

namespace Xent;

/// <summary>
/// The size of one core's L2 cache, which sets how many rows of A <see cref="LinearAlgebra.MatMul.Gemm"/> packs into
/// a block (<see cref="LinearAlgebra.PanelShape.McFor"/>): Zen 2 and Zen 3 cores have 512 KB, Zen 4 and Zen 5 1 MB,
/// recent Intel cores 1.25-2 MB. Read once: on x64 from CPUID leaf 0x80000006 (AMD and Intel both fill it), else from
/// Linux's /sys (Arm64, or a hypervisor that hides the leaf), else <see cref="DefaultL2Bytes"/>. The environment
/// variable <c>XENT_L2_KB</c> overrides it for a process, so that a benchmark can give a core the blocking of a smaller
/// one. No size changes a result.
/// </summary>
internal static class CpuCaches
{
    public const string EnvironmentVariable = "XENT_L2_KB";

    /// <summary>What is assumed where nothing says (the blocking measured on 1 MB cores).</summary>
    public const long DefaultL2Bytes = 1L << 20;

    /// <summary>One core's L2 cache, in bytes.</summary>
    public static long L2Bytes { get; } = EnvironmentSettings.L2Bytes ?? Detect() ?? DefaultL2Bytes;

    /// <summary>A size in KB as the environment variable gives it (null where unset); anything else throws.</summary>
    internal static long? Parse(string? kilobytes)
    {
        if (string.IsNullOrWhiteSpace(kilobytes))
        {
            return null;
        }

        // Past 2^53 KB the shift to bytes wraps: 2^54 + 64 KB came out as a plausible 64 KB.
        return long.TryParse(kilobytes.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long kb) && kb <= long.MaxValue >> 10 && Plausible(kb << 10)
            ? kb << 10
            : throw new ArgumentException($"{EnvironmentVariable}='{kilobytes}': expected an L2 cache size in KB, 64 to 65536");
    }

    private static bool Plausible(long bytes) => bytes is >= 64L << 10 and <= 64L << 20;

    private static long? Detect() => Checked(X86Base.IsSupported ? FromCpuId() : null) ?? Checked(FromSys());

    private static long? Checked(long? bytes) => bytes is long b && Plausible(b) ? b : null;

    // ECX[31:16] of leaf 0x80000006 is the L2 size in KB; a hypervisor that hides the leaf leaves it 0.
    private static long? FromCpuId()
    {
        if ((uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax < 0x80000006)
        {
            return null;
        }

        uint ecx = (uint)X86Base.CpuId(unchecked((int)0x80000006), 0).Ecx;
        return (long)(ecx >> 16) << 10;
    }

    // The first level-2 cache that Linux lists for CPU 0 ("1024K"); null elsewhere.
    private static long? FromSys()
    {
        try
        {
            foreach (string index in Directory.EnumerateDirectories("/sys/devices/system/cpu/cpu0/cache", "index*"))
            {
                string type = File.ReadAllText(Path.Combine(index, "type")).Trim();
                if (File.ReadAllText(Path.Combine(index, "level")).Trim() == "2" && type is "Unified" or "Data")
                {
                    string size = File.ReadAllText(Path.Combine(index, "size")).Trim();
                    return size.EndsWith('K') && long.TryParse(size[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out long kb) ? kb << 10 : null;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
