using Xent.Training.Model;
using Xent.Training.Sampling;

namespace Xent.Tests.Model;

public class KvCacheTests
{
    public static TheoryData<VectorWidth, int> WidthsAndThreads()
    {
        var data = new TheoryData<VectorWidth, int>();
        foreach (var width in Simd.Supported())
        {
            data.Add(width, 1);
            data.Add(width, 2);
        }

        return data;
    }

    // Three shapes: head size 16 (whole 512-bit vectors) with tied embeddings; head size 20 and V 11 (vector and
    // scalar remainders everywhere) with a separate lm_head; D 15 (head size 5), whose MLP row of 4D = 60 is no whole
    // number of 256- or 512-bit vectors, so a step's GELU row ends in a part of a vector where the batched forward's
    // runs on. T 23 is no multiple of any vector length.
    private static IEnumerable<GptModel> Models()
    {
        yield return Model(new GptConfig { VocabSize = 37, ContextLength = 23, Layers = 2, Heads = 4, Dim = 64 }, 3);
        yield return Model(new GptConfig { VocabSize = 11, ContextLength = 23, Layers = 1, Heads = 2, Dim = 40, TieEmbeddings = false }, 4);
        yield return Model(new GptConfig { VocabSize = 13, ContextLength = 23, Layers = 2, Heads = 3, Dim = 15 }, 5);
    }

    // Weights far from their small initialisation, so that attention is peaked and every layer matters.
    private static GptModel Model(GptConfig config, int seed)
    {
        var model = new GptModel(config, seed);
        var random = new Random(seed);
        foreach (var p in model.Parameters)
        {
            for (int i = 0; i < p.Length; i++)
            {
                p.Data[i] += (float)(random.NextDouble() - 0.5);
            }
        }

        return model;
    }

    private static int[] Tokens(int count, int vocab, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => random.Next(vocab))];
    }

    private static float[] FullRecompute(GptModel model, ReadOnlySpan<int> tokens)
    {
        var logits = new float[model.Config.VocabSize];
        model.NextTokenLogits(tokens, logits);
        return logits;
    }

    [Theory]
    [MemberData(nameof(WidthsAndThreads))]
    public void Append_GivesTheFullRecomputesBits_AtEveryPosition(VectorWidth width, int threads)
    {
        using var scope = Simd.Override(width);

        // The step's heads in parallel from the first position (GPT-2 small's shape reaches the threshold at a few
        // dozen positions, these models never would).
        using var parallel = GptModel.OverrideParallelAttentionWork(0);
        foreach (var model in Models())
        {
            model.MaxDegreeOfParallelism = threads;
            int v = model.Config.VocabSize, capacity = model.Config.ContextLength;
            var cache = model.CreateCache();
            var logits = new float[v];

            // A prompt of 1, 5 or 16 tokens (one forward over its rows), then one token at a time to the full context.
            foreach (int promptLength in (int[])[1, 5, 16])
            {
                int[] tokens = Tokens(capacity, v, promptLength);
                cache.Clear();
                model.Append(cache, tokens.AsSpan(0, promptLength), logits);
                Assert.Equal(FullRecompute(model, tokens.AsSpan(0, promptLength)), logits);
                for (int t = promptLength; t < capacity; t++)
                {
                    model.Append(cache, tokens.AsSpan(t, 1), logits);
                    Assert.Equal(t + 1, cache.Length);
                    Assert.Equal(FullRecompute(model, tokens.AsSpan(0, t + 1)), logits);
                }
            }

            // Chunks appended to a cache that already holds tokens run row by row: the same bits again.
            int[] chunked = Tokens(capacity, v, 99);
            cache.Clear();
            model.Append(cache, chunked.AsSpan(0, 2), logits);
            for (int t = 2; t < capacity; t += 7)
            {
                int n = Math.Min(7, capacity - t);
                model.Append(cache, chunked.AsSpan(t, n), logits);
                Assert.Equal(FullRecompute(model, chunked.AsSpan(0, t + n)), logits);
            }
        }
    }

    [Fact]
    public void Append_MatchesTheFloat64Reference()
    {
        var config = new GptConfig { VocabSize = 11, ContextLength = 9, Layers = 2, Heads = 2, Dim = 40, TieEmbeddings = false };
        var model = Model(config, 8);
        int[] tokens = Tokens(9, 11, 5);
        var cache = model.CreateCache();
        var logits = new float[11];
        model.Append(cache, tokens.AsSpan(0, 3), logits);
        for (int t = 3; t < 9; t++)
        {
            model.Append(cache, tokens.AsSpan(t, 1), logits);
        }

        double[] expected = new ReferenceGpt(model).LastLogits(tokens);
        for (int j = 0; j < 11; j++)
        {
            Assert.Equal(expected[j], logits[j], 2e-4 * Math.Max(1, Math.Abs(expected[j])));
        }
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(1.0, 0)]
    [InlineData(0.8, 3)]
    public void Generate_WithTheCache_DrawsTheSameTokens_WhileTheContextHoldsThem(double temperature, int topK)
    {
        foreach (var model in Models())
        {
            int capacity = model.Config.ContextLength;
            int[] prompt = Tokens(4, model.Config.VocabSize, 1);

            // The last token drawn is from the logits of exactly T tokens.
            int count = capacity - prompt.Length + 1;
            int[] cached = TokenSampler.Generate(model, prompt, count, temperature, topK, seed: 5, useCache: true);
            int[] recomputed = TokenSampler.Generate(model, prompt, count, temperature, topK, seed: 5, useCache: false);
            Assert.Equal(recomputed, cached);
            Assert.Equal(prompt.Length + count, cached.Length);
        }
    }

    [Fact]
    public void Generate_PastTheContext_RestartsFromTheLastHalf()
    {
        // Reference from the full recompute: the window starts at the prompt's last T tokens, and whenever it holds
        // T tokens it moves to the last T/2.
        foreach (var model in Models())
        {
            int capacity = model.Config.ContextLength, v = model.Config.VocabSize;
            int[] prompt = Tokens(30, v, 2);
            int[] cached = TokenSampler.Generate(model, prompt, 60, 1.0, 0, seed: 9, useCache: true);

            var tokens = new List<int>(prompt);
            var random = new Random(9);
            int start = prompt.Length - capacity;
            for (int i = 0; i < 60; i++)
            {
                if (tokens.Count - start > capacity)
                {
                    start = tokens.Count - Math.Max(1, capacity / 2);
                }

                float[] logits = FullRecompute(model, tokens.ToArray().AsSpan(start));
                tokens.Add(TokenSampler.Sample(logits, 1.0, 0, random));
            }

            Assert.Equal(tokens, cached);
        }
    }

    [Fact]
    public void BadArguments_ThrowNamingTheParameter()
    {
        var model = Model(new GptConfig { VocabSize = 11, ContextLength = 6, Layers = 1, Heads = 2, Dim = 8 }, 1);
        var other = Model(new GptConfig { VocabSize = 11, ContextLength = 6, Layers = 1, Heads = 2, Dim = 8 }, 1);
        var cache = model.CreateCache();
        var logits = new float[11];
        Assert.Equal("cache", Assert.Throws<ArgumentException>(() => model.Append(other.CreateCache(), [1], logits)).ParamName);
        Assert.Equal("cache", Assert.Throws<ArgumentNullException>(() => model.Append(null!, [1], logits)).ParamName);
        Assert.Equal("logits", Assert.Throws<ArgumentException>(() => model.Append(cache, [1], new float[10])).ParamName);
        Assert.Equal("tokens", Assert.Throws<ArgumentException>(() => model.Append(cache, [], logits)).ParamName);
        Assert.Equal("tokens", Assert.Throws<ArgumentOutOfRangeException>(() => model.Append(cache, [1, 11], logits)).ParamName);
        Assert.Equal("tokens", Assert.Throws<ArgumentOutOfRangeException>(() => model.Append(cache, [-1], logits)).ParamName);
        Assert.Equal(0, cache.Length);
        model.Append(cache, [1, 2, 3, 4], logits);
        Assert.Equal("tokens", Assert.Throws<ArgumentException>(() => model.Append(cache, [1, 2, 3], logits)).ParamName);
        Assert.Equal(4, cache.Length);
        model.Append(cache, [5, 6], logits);
        Assert.Equal(6, cache.Length);
        Assert.Equal("tokens", Assert.Throws<ArgumentException>(() => model.Append(cache, [1], logits)).ParamName);
        // 4 (L T_max' D + L T_max D + 16 D + H T_max' + 2) with L 1, T_max 6 (T_max' 32, whole tiles of keys), D 8, H 2.
        Assert.Equal(4L * ((32 * 8) + (6 * 8) + (16 * 8) + (2 * 32) + 2), cache.Bytes);
    }
}
