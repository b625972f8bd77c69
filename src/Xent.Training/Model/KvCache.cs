using Xent.Layers;

namespace Xent.Training.Model;

/// <summary>
/// The keys and values a <see cref="GptModel"/> computed for the positions of one sequence, so that the next
/// token costs one row of work per layer instead of a forward over the whole context (incremental decoding,
/// <see cref="GptModel.Append"/>). Per layer and head, with T_max the model's ContextLength: keys in tiles of 32
/// positions [T_max' / 32, hs, 32] (T_max' = T_max rounded up to 32; each tile a 32-position slice of the keys
/// transposed), and values [T_max, hs], so that a step reads each head's keys and values as two streams in address
/// order; plus one row of scratch for the step. Created by
/// <see cref="GptModel.CreateCache"/> and usable with that model only. Not thread-safe.
/// </summary>
public sealed class KvCache
{
    internal KvCache(GptModel owner)
    {
        Owner = owner;
        var config = owner.Config;
        int d = config.Dim;
        Capacity = config.ContextLength;
        TiledCapacity = (Capacity + Attention.KeyTile - 1) / Attention.KeyTile * Attention.KeyTile;
        Keys = new float[config.Layers][];
        Values = new float[config.Layers][];
        for (int l = 0; l < config.Layers; l++)
        {
            Keys[l] = new float[d * TiledCapacity];
            Values[l] = new float[Capacity * d];
        }

        Embedded = new float[d];
        Normalized = new float[d];
        Qkv = new float[3 * d];
        AttentionOutput = new float[d];
        Residual2 = new float[d];
        Residual3 = new float[d];
        Fc = new float[4 * d];
        FcGelu = new float[4 * d];
        Mean = new float[1];
        Rstd = new float[1];
        Probabilities = new float[config.Heads * TiledCapacity];
        float[][] step = [Embedded, Normalized, Qkv, AttentionOutput, Residual2, Residual3, Fc, FcGelu, Mean, Rstd, Probabilities];
        Bytes = 4 * (Keys.Concat(Values).Concat(step).Sum(a => (long)a.Length));
    }

    /// <summary>Positions held: the next token appended goes to position <see cref="Length"/>.</summary>
    public int Length { get; internal set; }

    /// <summary>T_max, the most positions the cache holds (the model's ContextLength, the reach of its position embedding).</summary>
    public int Capacity { get; }

    /// <summary>
    /// Bytes of the cache's arrays: 4 (L T_max' D + L T_max D + 16 D + H T_max' + 2) with T_max' = T_max rounded up to
    /// 32, the keys and values and the step's rows.
    /// </summary>
    public long Bytes { get; }

    internal GptModel Owner { get; }

    /// <summary>T_max', the positions a head's keys hold room for: <see cref="Capacity"/> rounded up to whole tiles.</summary>
    internal int TiledCapacity { get; }

    /// <summary>Per layer, keys [H, T_max' / 32, hs, 32]: head h's tiles (see Attention.TiledRow) from h T_max' hs.</summary>
    internal float[][] Keys { get; }

    /// <summary>Per layer, values [H, T_max, hs].</summary>
    internal float[][] Values { get; }

    // One row of each activation of the step [D], [3D] or [4D]; LayerNorm's mean and rstd [1]; the attention
    // probabilities of each head [H, T_max'].
    internal float[] Embedded { get; }

    internal float[] Normalized { get; }

    internal float[] Qkv { get; }

    internal float[] AttentionOutput { get; }

    internal float[] Residual2 { get; }

    internal float[] Residual3 { get; }

    internal float[] Fc { get; }

    internal float[] FcGelu { get; }

    internal float[] Mean { get; }

    internal float[] Rstd { get; }

    internal float[] Probabilities { get; }

    /// <summary>Forgets every position (the arrays are kept): the next append starts a new sequence at position 0.</summary>
    public void Clear() => Length = 0;
}
