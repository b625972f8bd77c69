namespace Xent.Training.Model;

/// <summary>The parameters of Transformer block l, in PyTorch nn.Linear layout (weight [out, in]).</summary>
internal sealed class BlockParameters
{
    public BlockParameters(int layer, int d)
    {
        string p = $"h.{layer}.";
        Ln1Weight = new Parameter(p + "ln_1.weight", d);
        Ln1Bias = new Parameter(p + "ln_1.bias", d);
        QkvWeight = new Parameter(p + "attn.c_attn.weight", 3 * d, d);
        QkvBias = new Parameter(p + "attn.c_attn.bias", 3 * d);
        AttnProjWeight = new Parameter(p + "attn.c_proj.weight", d, d);
        AttnProjBias = new Parameter(p + "attn.c_proj.bias", d);
        Ln2Weight = new Parameter(p + "ln_2.weight", d);
        Ln2Bias = new Parameter(p + "ln_2.bias", d);
        FcWeight = new Parameter(p + "mlp.c_fc.weight", 4 * d, d);
        FcBias = new Parameter(p + "mlp.c_fc.bias", 4 * d);
        FcProjWeight = new Parameter(p + "mlp.c_proj.weight", d, 4 * d);
        FcProjBias = new Parameter(p + "mlp.c_proj.bias", d);
    }

    /// <summary>ln_1 gain [D].</summary>
    public Parameter Ln1Weight { get; }

    /// <summary>ln_1 bias [D].</summary>
    public Parameter Ln1Bias { get; }

    /// <summary>attn.c_attn weight [3D, D]: rows 0..D-1 make q, D..2D-1 k, 2D..3D-1 v.</summary>
    public Parameter QkvWeight { get; }

    /// <summary>attn.c_attn bias [3D].</summary>
    public Parameter QkvBias { get; }

    /// <summary>attn.c_proj weight [D, D] (a residual projection: init scaled by 1/sqrt(2L)).</summary>
    public Parameter AttnProjWeight { get; }

    /// <summary>attn.c_proj bias [D].</summary>
    public Parameter AttnProjBias { get; }

    /// <summary>ln_2 gain [D].</summary>
    public Parameter Ln2Weight { get; }

    /// <summary>ln_2 bias [D].</summary>
    public Parameter Ln2Bias { get; }

    /// <summary>mlp.c_fc weight [4D, D].</summary>
    public Parameter FcWeight { get; }

    /// <summary>mlp.c_fc bias [4D].</summary>
    public Parameter FcBias { get; }

    /// <summary>mlp.c_proj weight [D, 4D] (a residual projection: init scaled by 1/sqrt(2L)).</summary>
    public Parameter FcProjWeight { get; }

    /// <summary>mlp.c_proj bias [D].</summary>
    public Parameter FcProjBias { get; }

    /// <summary>All twelve, in the order of <see cref="GptModel.Parameters"/>.</summary>
    public IEnumerable<Parameter> All =>
    [
        Ln1Weight, Ln1Bias, QkvWeight, QkvBias, AttnProjWeight, AttnProjBias,
        Ln2Weight, Ln2Bias, FcWeight, FcBias, FcProjWeight, FcProjBias,
    ];
}
