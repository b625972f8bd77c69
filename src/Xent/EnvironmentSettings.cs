namespace Xent;

/// <summary>
/// The process-wide settings Xent reads from environment variables, each read once: <c>XENT_VECTOR_WIDTH</c>
/// (<see cref="Simd"/>), <c>XENT_L2_KB</c> (<see cref="CpuCaches"/>) and <c>XENT_STREAM_GRADIENT</c>
/// (<see cref="Kernels.CrossEntropyKernel.StreamsGradient"/>). A value none accepts leaves that setting at its default
/// and is kept in <see cref="Problem"/>, which <see cref="Simd.Width"/> (read by every entry point before any work)
/// throws: one clear InvalidOperationException per call, where a throw in each static constructor surfaced as a
/// TypeInitializationException from whichever type met it first, and the command line called it an internal error.
/// </summary>
internal static class EnvironmentSettings
{
    /// <summary>The variable of <see cref="StreamGradient"/>.</summary>
    public const string StreamGradientVariable = "XENT_STREAM_GRADIENT";

    /// <summary>The cap on the vector width (512 where unset).</summary>
    public static VectorWidth VectorWidthCap { get; }

    /// <summary>The L2 cache size in bytes the environment sets, or null.</summary>
    public static long? L2Bytes { get; }

    /// <summary>Which out-of-place gradients stream their stores.</summary>
    public static StreamPolicy StreamGradient { get; }

    /// <summary>Each variable whose value is not one its setting accepts, what it should be; null when all are fine.</summary>
    public static string? Problem { get; }

    static EnvironmentSettings()
    {
        var problems = new List<string>();
        string? width = Environment.GetEnvironmentVariable(Simd.EnvironmentVariable);
        VectorWidthCap = ParseWidth(width) ?? VectorWidth.V512;
        if (ParseWidth(width) is null)
        {
            problems.Add($"{Simd.EnvironmentVariable}='{width}' is not one of 512, 256, 128, scalar");
        }

        try
        {
            L2Bytes = CpuCaches.Parse(Environment.GetEnvironmentVariable(CpuCaches.EnvironmentVariable));
        }
        catch (ArgumentException e)
        {
            problems.Add(e.Message);
        }

        string? stream = Environment.GetEnvironmentVariable(StreamGradientVariable);
        StreamGradient = ParseStream(stream) ?? StreamPolicy.Auto;
        if (ParseStream(stream) is null)
        {
            problems.Add($"{StreamGradientVariable}='{stream}' is not one of auto, on (1), always, off (0)");
        }

        Problem = problems.Count == 0 ? null : string.Join("; ", problems) + ".";
    }

    /// <summary>A width cap as the variable gives it; 512 where unset, null where it is not one.</summary>
    internal static VectorWidth? ParseWidth(string? s) => s?.Trim().ToUpperInvariant() switch
    {
        null or "" => VectorWidth.V512,
        // The four values the docs and the error name, no aliases: "0" and "none" forced the scalar path, where they
        // read as "no cap".
        "512" => VectorWidth.V512,
        "256" => VectorWidth.V256,
        "128" => VectorWidth.V128,
        "SCALAR" => VectorWidth.Scalar,
        _ => null,
    };

    /// <summary>A streaming policy as the variable gives it; auto where unset, null where it is not one.</summary>
    internal static StreamPolicy? ParseStream(string? s) => s?.Trim().ToUpperInvariant() switch
    {
        null or "" or "AUTO" => StreamPolicy.Auto,
        "ON" or "1" => StreamPolicy.On,
        "ALWAYS" => StreamPolicy.Always,
        "OFF" or "0" => StreamPolicy.Off,
        _ => null,
    };
}

/// <summary>Which out-of-place gradients are written with streaming stores (see <see cref="Kernels.CrossEntropyKernel.StreamsGradient"/>).</summary>
internal enum StreamPolicy : byte
{
    /// <summary>Where measured faster: large gradients at 512 bits.</summary>
    Auto,

    /// <summary>Every gradient from the streaming size on, at any width.</summary>
    On,

    /// <summary>Every gradient.</summary>
    Always,

    /// <summary>None.</summary>
    Off,
}
