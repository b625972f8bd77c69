using Xent.Training.Model;
using Xent.Training.Sampling;

namespace Xent.Tests.Model;

/// <summary>
/// What the generation loop allocates once its cache is sized: next to nothing a token. One thread, so that all the
/// work runs on the calling thread, whose allocations alone are counted (other tests run beside these).
/// </summary>
public class GenerationAllocationTests
{
    // Bytes a token, averaged: the layers' closures and the attention checks' messages were about 6 KB a token of the
    // default model, the draw's weights 2 KB more.
    private const long Bound = 256;

    private const int Tokens = 64;

    public static TheoryData<int, long> ShapesAndAttentionWork() => new()
    {
        { 64, 1L << 16 },
        { 64, 0 },
        { 128, 0 },
    };

    [Theory]
    [MemberData(nameof(ShapesAndAttentionWork))]
    public void Append_AllocatesNextToNothingPerToken(int dim, long attentionWork)
    {
        using var work = GptModel.OverrideParallelAttentionWork(attentionWork);
        var model = new GptModel(new GptConfig { VocabSize = 256, ContextLength = 128, Dim = dim }, 1) { MaxDegreeOfParallelism = 1 };
        var cache = model.CreateCache();
        var logits = new float[256];
        model.Append(cache, [1, 2, 3, 4], logits);
        for (int i = 0; i < 16; i++)
        {
            model.Append(cache, [i % 7], logits);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Tokens; i++)
        {
            model.Append(cache, [i % 5], logits);
        }

        long perToken = (GC.GetAllocatedBytesForCurrentThread() - before) / Tokens;
        Assert.True(perToken < Bound, $"{perToken} bytes a token");
    }

    // Top-p's sort of the likely tokens took two arrays a draw, about 1 KB a token here.
    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(10, 1.0)]
    [InlineData(0, 0.9)]
    [InlineData(10, 0.5)]
    public void Generate_AllocatesNextToNothingPerToken(int topK, double topP)
    {
        var model = new GptModel(new GptConfig { VocabSize = 256, ContextLength = 128 }, 1) { MaxDegreeOfParallelism = 1 };
        TokenSampler.Generate(model, [1, 2, 3], 16, 1.0, topK, topP, 1, useCache: true);

        // The difference of a long and a short generation: the cache, the logits and the prompt's forward cancel out.
        long before = GC.GetAllocatedBytesForCurrentThread();
        TokenSampler.Generate(model, [1, 2, 3], 16, 1.0, topK, topP, 1, useCache: true);
        long shortRun = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        TokenSampler.Generate(model, [1, 2, 3], 16 + Tokens, 1.0, topK, topP, 1, useCache: true);
        long perToken = (GC.GetAllocatedBytesForCurrentThread() - before - shortRun) / Tokens;
        Assert.True(perToken < Bound, $"{perToken} bytes a token");
    }
}
