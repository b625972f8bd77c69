using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
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

    private static readonly VectorWidth FromEnvironment = EnvironmentSettings.VectorWidthCap;

    private static readonly string? EnvironmentProblem = EnvironmentSettings.Problem;

    private static readonly AsyncOverride<VectorWidth> OverrideWidth = new();

    /// <summary>The width kernels should use now (read it once per call, on the calling thread).</summary>
    /// <exception cref="InvalidOperationException">One of Xent's environment variables has a value it does not accept
    /// (<see cref="EnvironmentSettings.Problem"/>).</exception>
    public static VectorWidth Width
    {
        get
        {
            if (EnvironmentProblem is not null)
            {
                throw new InvalidOperationException(EnvironmentProblem);
            }

            var w = OverrideWidth.Value ?? FromEnvironment;
            return w < Hardware ? w : Hardware;
        }
    }

    /// <summary>
    /// Whether fused multiply-add is an instruction here: x64 with FMA3 (every CPU with AVX2: .NET enables and
    /// disables FMA with AVX2, so every 256- and 512-bit path has it) and every Arm64. Elsewhere (x64 with SSE or AVX
    /// only: Atom-class Pentium and Celeron, Sandy and Ivy Bridge, some virtual machines) .NET computes
    /// MathF.FusedMultiplyAdd and VectorN.FusedMultiplyAdd in software, lane by lane, ~10x the time of the rest of a
    /// kernel, so every multiply-add in Xent (the ops' MultiplyAdd: <see cref="ScalarOps.MultiplyAdd"/>,
    /// <see cref="Vector128Ops.MultiplyAdd"/>, ...) is a product and then a sum there: one more rounding, and still the
    /// same bits for any thread count and batch, since the choice is the machine's. A JIT-time constant.
    /// </summary>
    /// <remarks>
    /// The kernels do not read this property: a branch in an inlined helper (the ||) folds late, by when the dead
    /// software VectorN.FusedMultiplyAdd has put the loop's vectors on the stack (FlopLimit's 12 chains under
    /// DOTNET_EnableAVX2=0: 4x slower), and even a condition that folds at import spends the JIT's inlining budget
    /// (the 512-bit GEMM tile kernel then spilled two accumulators and kept a call: 92-98% -> 77-85% of the FMA
    /// limit). So <see cref="Vector256Ops"/> and <see cref="Vector512Ops"/> fuse unconditionally (those widths imply
    /// FMA), <see cref="Vector128Ops.MultiplyAdd"/> is the JIT's MultiplyAddEstimate (fused exactly where FMA is
    /// hardware), and the scalar and exp code spell the condition out. FusedMultiplyAddTests checks that they agree.
    /// </remarks>
    public static bool FusedMultiplyAddIsHardware => Fma.IsSupported || AdvSimd.IsSupported;

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
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static VectorWidth Widest() =>
        Vector512.IsHardwareAccelerated ? VectorWidth.V512 :
        Vector256.IsHardwareAccelerated ? VectorWidth.V256 :
        Vector128.IsHardwareAccelerated ? VectorWidth.V128 : VectorWidth.Scalar;
}
