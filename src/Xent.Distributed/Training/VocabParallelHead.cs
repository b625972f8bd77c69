using System.Runtime.InteropServices;
using Xent.Distributed.Vocabulary;
using Xent.Training.Model;

namespace Xent.Distributed.Training;

/// <summary>
/// The loss head of a <see cref="GptModel"/> whose untied unembedding is split across the ranks by vocabulary (each
/// holds the rows of its <see cref="VocabularySlice"/>), the rest of the model data-parallel. Evaluation: every rank
/// has the same rows, so <see cref="VocabParallelLinearCrossEntropy.Loss"/> is called on them as they are. Training:
/// each rank has its own tokens, so their hidden states are all-gathered (blocks padded to the widest rank's, the
/// padding's targets ignored), every rank computes its slice's part of the loss and gradients for all of them
/// (<see cref="VocabParallelLinearCrossEntropy.PartialGradients"/>), and a reduce-scatter returns to each rank the dh
/// of its own tokens, summed over the slices. <see cref="Prepare"/> gives it each micro-batch's gathered targets.
/// </summary>
internal sealed class VocabParallelHead : ILossHead
{
    private readonly ICommunicator communicator;
    private readonly int classes;
    private readonly int dim;
    private int[] targets = [];
    private int blockTokens;
    private float upstream;
    private float[] send = [];
    private float[] gathered = [];
    private float[] partial = [];
    private float[] received = [];
    private float[] rowUpstream = [];
    private float[] rowLosses = [];

    /// <summary>The head over <paramref name="communicator"/>'s ranks for a vocabulary of <paramref name="classes"/> and width <paramref name="dim"/>.</summary>
    public VocabParallelHead(ICommunicator communicator, int classes, int dim)
    {
        this.communicator = communicator;
        this.classes = classes;
        this.dim = dim;
    }

    /// <summary>The sum of the row losses of the last training call, over every rank's tokens (the same on every rank).</summary>
    public double LastLossSum { get; private set; }

    /// <summary>
    /// Sets the next training call's targets: every rank's block of <paramref name="block"/> tokens in rank order
    /// [K x block] (a rank's tokens first, then the ignore index), and the upstream gradient of each row's loss
    /// (1 / the global batch's kept targets: the gradient of the global mean).
    /// </summary>
    public void Prepare(int[] gatheredTargets, int block, float rowGradient)
    {
        targets = gatheredTargets;
        blockTokens = block;
        upstream = rowGradient;
    }

    /// <inheritdoc/>
    public float Loss(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets, CrossEntropyOptions options) =>
        VocabParallelLinearCrossEntropy.Loss(communicator, hidden, weight, [], classes, targets, options);

    /// <inheritdoc/>
    /// <returns>The sum of every rank's rows' losses times the upstream: this micro-batch's part of the global batch's mean loss.</returns>
    public float LossAndGradients(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weight, ReadOnlySpan<int> targets, LinearCrossEntropyGradients gradients,
        LinearCrossEntropyOptions options)
    {
        int k = communicator.Size, block = blockTokens, n = targets.Length;
        if (n > block || hidden.Length != (long)n * dim || gradients.Hidden.Length != hidden.Length || this.targets.Length != k * block)
        {
            throw new InvalidOperationException($"The vocabulary-parallel head was prepared for blocks of {block} tokens, not {n}: call Prepare first.");
        }

        int blockLength = block * dim;
        Grow(ref send, blockLength);
        Grow(ref gathered, k * blockLength);
        Grow(ref partial, k * blockLength);
        Grow(ref received, blockLength);
        Grow(ref rowUpstream, k * block);
        Grow(ref rowLosses, k * block);
        hidden.CopyTo(send);
        send.AsSpan(hidden.Length, blockLength - hidden.Length).Clear();
        communicator.AllGather<float>(send.AsSpan(0, blockLength), gathered.AsSpan(0, k * blockLength));
        rowUpstream.AsSpan(0, k * block).Fill(upstream);
        var dWeight = gradients.WeightLength == 0 ? default : MemoryMarshal.CreateSpan(ref gradients.Weight, checked((int)gradients.WeightLength));
        VocabParallelLinearCrossEntropy.PartialGradients(communicator, gathered.AsSpan(0, k * blockLength), weight, [], classes, this.targets,
            rowUpstream.AsSpan(0, k * block), new LinearCrossEntropyGradients(partial.AsSpan(0, k * blockLength), dWeight),
            rowLosses.AsSpan(0, k * block), options);
        communicator.ReduceScatter<float>(partial.AsSpan(0, k * blockLength), received.AsSpan(0, blockLength));
        received.AsSpan(0, hidden.Length).CopyTo(gradients.Hidden);
        double sum = 0;
        foreach (float loss in rowLosses.AsSpan(0, k * block))
        {
            sum += loss;
        }

        LastLossSum = sum;
        return (float)(sum * upstream);
    }

    private static void Grow(ref float[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new float[length];
        }
    }
}
