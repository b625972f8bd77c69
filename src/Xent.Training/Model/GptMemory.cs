namespace Xent.Training.Model;

/// <summary>
/// Memory of a <see cref="GptModel"/> computed from its config before anything is allocated, so absurd sizes are
/// refused with a number instead of ending in the kernel's out-of-memory kill. The counts follow the
/// constructors of <see cref="GptModel"/> (parameters and their gradients) and <see cref="Activations"/>
/// (every buffer of one forward and backward); a test checks them against the allocated model.
/// </summary>
public static class GptMemory
{
    /// <summary>
    /// Parameters P: wte [V, D], wpe [T, D], per block 12 D^2 + 13 D (two LayerNorms, c_attn, c_proj, c_fc,
    /// mlp c_proj with biases), ln_f [2D], and lm_head [V, D] when untied.
    /// </summary>
    /// <param name="config">The model's shape.</param>
    public static long Parameters(GptConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        long v = config.VocabSize, t = config.ContextLength, d = config.Dim;
        long embeddings = v * d * (config.TieEmbeddings ? 1 : 2);
        return embeddings + (t * d) + (config.Layers * ((12 * d * d) + (13 * d))) + (2 * d);
    }

    /// <summary>
    /// Floats of the activations of one forward + backward over <paramref name="batch"/> x <paramref name="seq"/>
    /// tokens (N = B T rows): per block 16 N D + 4 N, plus the embedding output, ln_f and the backward scratch,
    /// 12 N D + 3 N. The attention probabilities [B, H, T, T] are not kept (the backward recomputes each head's):
    /// their per-thread room is <see cref="AttentionScratchFloats"/>.
    /// </summary>
    /// <param name="config">The model's shape.</param>
    /// <param name="batch">B.</param>
    /// <param name="seq">T.</param>
    public static long ActivationFloats(GptConfig config, int batch, int seq)
    {
        ArgumentNullException.ThrowIfNull(config);
        long n = (long)batch * seq, d = config.Dim;
        return (config.Layers * ((16 * n * d) + (4 * n))) + (12 * n * d) + (3 * n);
    }

    /// <summary>
    /// Floats the attention holds per thread, on every core: one head's probabilities and score gradients [T, T] and
    /// its keys and values transposed [hs, T], 2 (T^2 + hs T).
    /// </summary>
    /// <param name="config">The model's shape.</param>
    /// <param name="seq">T.</param>
    public static long AttentionScratchFloats(GptConfig config, int seq)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Environment.ProcessorCount * 2 * (((long)seq * seq) + ((long)config.HeadSize * seq));
    }

    /// <summary>The largest single array the activations need: one head's attention [T, T] or the MLP hidden [B T, 4D].</summary>
    /// <param name="config">The model's shape.</param>
    /// <param name="batch">B.</param>
    /// <param name="seq">T.</param>
    public static long LargestActivationArray(GptConfig config, int batch, int seq)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Math.Max((long)seq * seq, (long)batch * seq * 4 * config.Dim);
    }

    /// <summary>
    /// Bytes of training: parameters, gradients and AdamW's two moments (4 P floats), the activations and the attention's
    /// per-thread room; when
    /// <paramref name="resuming"/>, also the checkpoint's three tensors per parameter read before they are copied in.
    /// </summary>
    /// <param name="config">The model's shape.</param>
    /// <param name="batch">B.</param>
    /// <param name="seq">T.</param>
    /// <param name="resuming">Whether a checkpoint is loaded first.</param>
    public static long TrainingBytes(GptConfig config, int batch, int seq, bool resuming) =>
        4 * (((resuming ? 7 : 4) * Parameters(config)) + ActivationFloats(config, batch, seq) + AttentionScratchFloats(config, seq));

    /// <summary>Bytes of evaluating or sampling a checkpoint: the model (2 P), the checkpoint read (3 P), the activations and the attention's room.</summary>
    /// <param name="config">The model's shape.</param>
    /// <param name="batch">B of the evaluation windows (1 for sampling).</param>
    /// <param name="seq">T.</param>
    public static long InferenceBytes(GptConfig config, int batch, int seq) =>
        4 * ((5 * Parameters(config)) + ActivationFloats(config, batch, seq) + AttentionScratchFloats(config, seq));

    /// <summary>
    /// Memory this process can still use: /proc/meminfo's MemAvailable on Linux, capped by the GC's limit (a
    /// container's or DOTNET_GCHeapHardLimit) less what the heap holds; elsewhere the GC's limit less the heap.
    /// </summary>
    public static long AvailableBytes()
    {
        var gc = GC.GetGCMemoryInfo();
        long gcRoom = gc.TotalAvailableMemoryBytes - GC.GetTotalMemory(false);
        long? meminfo = MemAvailable();
        return meminfo is { } m ? Math.Min(m, gcRoom) : gcRoom;
    }

    /// <summary>"1.5 GiB", "300 MiB", "256 KiB", "12 bytes".</summary>
    /// <param name="bytes">A size.</param>
    public static string Format(long bytes)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        return bytes switch
        {
            >= 1L << 30 => string.Create(invariant, $"{bytes / (double)(1L << 30):0.0} GiB"),
            >= 1L << 20 => string.Create(invariant, $"{bytes >> 20} MiB"),
            >= 1L << 10 => string.Create(invariant, $"{bytes >> 10} KiB"),
            _ => string.Create(invariant, $"{bytes} bytes"),
        };
    }

    private static long? MemAvailable()
    {
        try
        {
            if (!OperatingSystem.IsLinux() || !File.Exists("/proc/meminfo"))
            {
                return null;
            }

            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    continue;
                }

                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // No reading: fall back to the GC's view.
        }
        return null;
    }
}
