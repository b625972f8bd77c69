using Xent.Layers;

namespace Xent.Training.Model;

/// <summary>The masks of one <see cref="GptModel.ForwardBackward"/> [B*T, D] each, reused across steps.</summary>
internal sealed class DropoutMasks
{
    // The sites of Dropout.FillMask: the embedding output, then per block the attention and the MLP
    // projection outputs.
    private const int EmbeddingSite = 0;

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

    /// <summary>Draws every mask of a step for <paramref name="count"/> = B*T*D elements from element <paramref name="first"/> of the step's whole batch on.</summary>
    public void Fill(float p, long seed, long step, int count, long first, int maxDegreeOfParallelism)
    {
        Dropout.FillMask(p, seed, step, EmbeddingSite, Embedding.AsSpan(0, count), maxDegreeOfParallelism, first);
        for (int l = 0; l < Attention.Length; l++)
        {
            Dropout.FillMask(p, seed, step, AttentionSite(l), Attention[l].AsSpan(0, count), maxDegreeOfParallelism, first);
            Dropout.FillMask(p, seed, step, MlpSite(l), Mlp[l].AsSpan(0, count), maxDegreeOfParallelism, first);
        }
    }

    private static int AttentionSite(int layer) => 1 + (2 * layer);

    private static int MlpSite(int layer) => 2 + (2 * layer);
}
