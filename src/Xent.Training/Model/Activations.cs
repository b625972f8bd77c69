namespace Xent.Training.Model;

/// <summary>
/// Every buffer of one forward + backward for up to N = B*T rows, allocated once and reused while the shape fits
/// (no per-step allocation). Shapes in the comments are for the current (B, T).
/// </summary>
internal sealed class Activations
{
    public Activations(GptConfig config, int batch, int seq)
    {
        Batch = batch;
        Seq = seq;
        int n = batch * seq, d = config.Dim;
        Encoded = new float[n * d];
        Blocks = new BlockActivations[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            Blocks[l] = new BlockActivations(n, d, GptModel.KeepAttentionProbabilities ? batch * config.Heads * seq * seq : 0);
        }

        LnF = new float[n * d];
        LnFMean = new float[n];
        LnFRstd = new float[n];
        Tokens = new int[n];
    }

    /// <summary>B this was allocated for; any (B', T') with B' T' &lt;= B T and B' T'^2 &lt;= B T^2 fits.</summary>
    public int Batch { get; }

    /// <summary>T this was allocated for.</summary>
    public int Seq { get; }

    /// <summary>Input tokens [B*T] (copied, so the backward can scatter into wte).</summary>
    public int[] Tokens { get; }

    /// <summary>Token + position embeddings [B*T, D], the input of block 0.</summary>
    public float[] Encoded { get; }

    /// <summary>Per block.</summary>
    public BlockActivations[] Blocks { get; }

    /// <summary>Final LayerNorm output [B*T, D], the loss head's hidden states.</summary>
    public float[] LnF { get; }

    /// <summary>Final LayerNorm mean [B*T].</summary>
    public float[] LnFMean { get; }

    /// <summary>Final LayerNorm 1/std [B*T].</summary>
    public float[] LnFRstd { get; }

    /// <summary>Backward scratch, allocated on the first backward.</summary>
    public GradientScratch? Scratch { get; set; }

    /// <summary>Bytes held by these buffers (the backward scratch included once allocated).</summary>
    public long Bytes
    {
        get
        {
            long floats = Encoded.Length + LnF.Length + LnFMean.Length + LnFRstd.Length + Tokens.Length;
            foreach (var b in Blocks)
            {
                floats += b.Ln1.Length + b.Ln1Mean.Length + b.Ln1Rstd.Length + b.Qkv.Length + b.Att.Length + b.AttY.Length
                    + b.Residual2.Length + b.Ln2.Length + b.Ln2Mean.Length + b.Ln2Rstd.Length + b.Fch.Length + b.FchGelu.Length
                    + b.Residual3.Length;
            }

            if (Scratch is { } g)
            {
                floats += g.Residual.Length + g.LnInput.Length + g.Qkv.Length + g.AttY.Length + g.Fch.Length;
            }

            return 4 * floats;
        }
    }

    public bool Fits(int batch, int seq) =>
        (long)batch * seq <= (long)Batch * Seq && (long)batch * seq * seq <= (long)Batch * Seq * Seq;
}

/// <summary>Saved tensors of one Transformer block.</summary>
internal sealed class BlockActivations
{
    public BlockActivations(int n, int d, int attention)
    {
        Ln1 = new float[n * d];
        Ln1Mean = new float[n];
        Ln1Rstd = new float[n];
        Qkv = new float[n * 3 * d];
        Att = new float[attention];
        AttY = new float[n * d];
        Residual2 = new float[n * d];
        Ln2 = new float[n * d];
        Ln2Mean = new float[n];
        Ln2Rstd = new float[n];
        Fch = new float[n * 4 * d];
        FchGelu = new float[n * 4 * d];
        Residual3 = new float[n * d];
    }

    /// <summary>ln_1 output [B*T, D].</summary>
    public float[] Ln1 { get; }

    /// <summary>ln_1 mean [B*T].</summary>
    public float[] Ln1Mean { get; }

    /// <summary>ln_1 1/std [B*T].</summary>
    public float[] Ln1Rstd { get; }

    /// <summary>c_attn output [B*T, 3D]: q | k | v.</summary>
    public float[] Qkv { get; }

    /// <summary>
    /// Attention probabilities [B, H, T, T], or empty: not kept (the default), and the backward recomputes each head's
    /// (see <see cref="GptModel.KeepAttentionProbabilities"/>).
    /// </summary>
    public float[] Att { get; }

    /// <summary>Attention output before c_proj [B*T, D].</summary>
    public float[] AttY { get; }

    /// <summary>Residual stream after the attention [B*T, D].</summary>
    public float[] Residual2 { get; }

    /// <summary>ln_2 output [B*T, D].</summary>
    public float[] Ln2 { get; }

    /// <summary>ln_2 mean [B*T].</summary>
    public float[] Ln2Mean { get; }

    /// <summary>ln_2 1/std [B*T].</summary>
    public float[] Ln2Rstd { get; }

    /// <summary>c_fc output before GELU [B*T, 4D].</summary>
    public float[] Fch { get; }

    /// <summary>GELU output [B*T, 4D].</summary>
    public float[] FchGelu { get; }

    /// <summary>Residual stream after the MLP, the block output [B*T, D].</summary>
    public float[] Residual3 { get; }
}

/// <summary>Gradient buffers reused across layers during one backward.</summary>
internal sealed class GradientScratch
{
    public GradientScratch(int n, int d)
    {
        Residual = new float[n * d];
        LnInput = new float[n * d];
        Qkv = new float[n * 3 * d];
        AttY = new float[n * d];
        Fch = new float[n * 4 * d];
    }

    /// <summary>dL/d(residual stream) [B*T, D], carried down through the blocks.</summary>
    public float[] Residual { get; }

    /// <summary>dL/d(a LayerNorm output) [B*T, D].</summary>
    public float[] LnInput { get; }

    /// <summary>dL/dqkv [B*T, 3D].</summary>
    public float[] Qkv { get; }

    /// <summary>dL/d(attention output) [B*T, D].</summary>
    public float[] AttY { get; }

    /// <summary>dL/d(MLP hidden) [B*T, 4D], before and after the GELU backward (in place).</summary>
    public float[] Fch { get; }
}
