using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.LinearAlgebra;

/// <summary>
/// Register tile and cache blocking of the micro-kernel for one vector width: the kernel computes an
/// <see cref="Mr"/> x <see cref="Nr"/> block of C from an Mr-row strip of A and an Nr-column strip of B.
/// </summary>
internal readonly unsafe struct KernelShape
{
    /// <summary>K block: a packed B strip (Kc x Nr) stays in the 48 KB L1d while A strips stream past it.</summary>
    public const int Kc = 256;

    private KernelShape(VectorWidth width, int mr, int nr, delegate*<int, float*, nint, nint, float*, nint, float*, nint, float, float, void> kernel)
    {
        Width = width;
        Mr = mr;
        Nr = nr;
        Kernel = kernel;
        Mc = mr * 24;
        Nc = 1024;
    }

    public VectorWidth Width { get; }

    /// <summary>Rows of C per micro-tile.</summary>
    public int Mr { get; }

    /// <summary>Columns of C per micro-tile (two vectors).</summary>
    public int Nr { get; }

    /// <summary>M block: a packed A block (Mc x Kc) stays in the 1 MB L2.</summary>
    public int Mc { get; }

    /// <summary>N block: the packed B panel (Kc x Nc) of one task.</summary>
    public int Nc { get; }

    /// <summary>
    /// The full-tile kernel: (kc, a, a row stride, a k stride, b, b k stride, c, ldc, alpha, beta).
    /// C[i, j] = alpha * sum_p A[i, p] B[p, j] + beta * C[i, j], where beta = 0 does not read C.
    /// </summary>
    public delegate*<int, float*, nint, nint, float*, nint, float*, nint, float, float, void> Kernel { get; }

    public static KernelShape For(VectorWidth width) => width switch
    {
        VectorWidth.V512 => new(width, 6, 32, &MicroKernels.Kernel<Vector512Ops, Vector512<float>>),
        VectorWidth.V256 => new(width, 6, 16, &MicroKernels.Kernel<Vector256Ops, Vector256<float>>),
        VectorWidth.V128 => new(width, 6, 8, &MicroKernels.Kernel<Vector128Ops, Vector128<float>>),
        _ => new(VectorWidth.Scalar, 4, 4, &MicroKernels.KernelScalar),
    };
}
