using Xent.Layers;

namespace Xent.Training.Model;

/// <summary>The masks of one <see cref="GptModel.ForwardBackward"/> [B*T, D] each, reused across steps.</summary>
internal sealed class DropoutMasks
{
    public DropoutMasks(int rows, int dim, int layers)
    {
        Rows = rows;
        Embedding = new float[rows * dim];
        Attention = new float[layers][];
        Mlp = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            Attention[l] = new float[rows * dim];
            Mlp[l] = new float[rows * dim];
        }
    }

    /// <summary>Most rows B*T the masks hold.</summary>
    public int Rows { get; }

    /// <summary>Mask of the embedding output.</summary>
    public float[] Embedding { get; }

    /// <summary>Mask of each block's attention projection output.</summary>
    public float[][] Attention { get; }

    /// <summary>Mask of each block's MLP projection output.</summary>
    public float[][] Mlp { get; }

    /// <summary>Draws every mask of a step for the first <paramref name="count"/> = B*T*D elements.</summary>
    public void Fill(float p, long seed, long step, int count, int maxDegreeOfParallelism)
    {
        Dropout.FillMask(Embedding, count, p, seed, step, Dropout.EmbeddingSite, maxDegreeOfParallelism);
        for (int l = 0; l < Attention.Length; l++)
        {
            Dropout.FillMask(Attention[l], count, p, seed, step, Dropout.AttentionSite(l), maxDegreeOfParallelism);
            Dropout.FillMask(Mlp[l], count, p, seed, step, Dropout.MlpSite(l), maxDegreeOfParallelism);
        }
    }
}
