namespace Xent;

/// <summary>The widest SIMD vectors a kernel may use.</summary>
public enum VectorWidth
{
    /// <summary>No SIMD: plain scalar code.</summary>
    Scalar = 0,

    /// <summary>128-bit vectors (SSE, Arm64 AdvSimd).</summary>
    V128 = 128,

    /// <summary>256-bit vectors (AVX2).</summary>
    V256 = 256,

    /// <summary>512-bit vectors (AVX-512).</summary>
    V512 = 512,
}
