using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent;

/// <summary>
/// Which vector width the kernels use. The hardware's widest accelerated width by default; the environment
/// variable <c>XENT_VECTOR_WIDTH</c> (512, 256, 128 or scalar) caps it for a whole process, so that every
/// fallback path can be run on one machine. Tests switch it in-process through <see cref="Override"/>.
/// </summary>
internal static class Simd
{
    public const string EnvironmentVariable = "XENT_VECTOR_WIDTH";

    private static readonly VectorWidth Hardware = Widest();

    private static readonly VectorWidth FromEnvironment = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    private static readonly AsyncOverride<VectorWidth> OverrideWidth = new();

    /// <summary>The width kernels should use now (read it once per call, on the calling thread).</summary>
    public static VectorWidth Width
    {
        get
        {
            var w = OverrideWidth.Value ?? FromEnvironment;
            return w < Hardware ? w : Hardware;
        }
    }

    /// <summary>Widths this machine can run, widest first.</summary>
    public static IEnumerable<VectorWidth> Supported()
    {
        foreach (var w in new[] { VectorWidth.V512, VectorWidth.V256, VectorWidth.V128, VectorWidth.Scalar })
        {
            if (w <= Hardware)
            {
                yield return w;
            }
        }
    }

    /// <summary>Caps the width for the calling async flow until the returned scope is disposed (tests, benchmarks).</summary>
    public static AsyncOverride<VectorWidth>.Scope Override(VectorWidth width) => OverrideWidth.Set(width);

    // Apart from the static constructor: ReadyToRun code that asks for Vector512 or Vector256 is rejected on a machine
    // with AVX-512 and JIT-compiled, so only this small method is, not the whole constructor.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static VectorWidth Widest() =>
        Vector512.IsHardwareAccelerated ? VectorWidth.V512 :
        Vector256.IsHardwareAccelerated ? VectorWidth.V256 :
        Vector128.IsHardwareAccelerated ? VectorWidth.V128 : VectorWidth.Scalar;

    private static VectorWidth Parse(string? s) => s?.Trim().ToUpperInvariant() switch
    {
        null or "" => VectorWidth.V512,
        "512" or "V512" => VectorWidth.V512,
        "256" or "V256" => VectorWidth.V256,
        "128" or "V128" => VectorWidth.V128,
        "0" or "SCALAR" or "NONE" => VectorWidth.Scalar,
        _ => throw new InvalidOperationException($"{EnvironmentVariable}='{s}' is not one of 512, 256, 128, scalar."),
    };
}
