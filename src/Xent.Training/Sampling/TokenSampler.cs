using System.Runtime.InteropServices;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Training.Sampling;

/// <summary>Draws the next token from logits with a temperature, top-k and top-p (nucleus) filtering.</summary>
public static class TokenSampler
{
    /// <summary>
    /// Picks an id from <paramref name="logits"/> [V]: temperature 0 takes the arg max; otherwise softmax of
    /// logits / temperature over the <paramref name="topK"/> largest (all when 0), without top-p filtering.
    /// </summary>
    /// <param name="logits">Logits [V].</param>
    /// <param name="temperature">Softmax temperature; 0 or less for the arg max.</param>
    /// <param name="topK">Only the K largest logits compete; 0 for all.</param>
    /// <param name="random">Source of the draw.</param>
    /// <exception cref="TrainingInputException">A logit is NaN or +infinity (a model with non-finite weights): there is no distribution to draw from.</exception>
    public static int Sample(ReadOnlySpan<float> logits, double temperature, int topK, Random random) =>
        Sample(logits, temperature, topK, 1.0, random);

    /// <summary>
    /// Picks an id from <paramref name="logits"/> [V] as Hugging Face's <c>generate</c> samples: temperature 0 takes
    /// the arg max (the first of equal ones) and ignores top-k and top-p; otherwise the softmax of logits /
    /// temperature, kept to the <paramref name="topK"/> largest logits (and every one equal to the K-th), then to the
    /// nucleus: the fewest most likely tokens whose probability, in that distribution, adds up to
    /// <paramref name="topP"/> or more (at least one token). Of equal probabilities the lower id counts as the more
    /// likely. <paramref name="topP"/> 1 draws the same tokens for the same <paramref name="random"/> as no top-p.
    /// </summary>
    /// <param name="logits">Logits [V].</param>
    /// <param name="temperature">Softmax temperature; 0 or less for the arg max.</param>
    /// <param name="topK">Only the K largest logits compete; 0 for all.</param>
    /// <param name="topP">The nucleus' probability, in (0, 1]; 1 for no top-p filtering.</param>
    /// <param name="random">Source of the draw.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topP"/> is not in (0, 1] (or is NaN).</exception>
    /// <exception cref="TrainingInputException">A logit is NaN or +infinity (a model with non-finite weights): there is no distribution to draw from.</exception>
    public static int Sample(ReadOnlySpan<float> logits, double temperature, int topK, double topP, Random random) =>
        Sample(logits, temperature, topK, topP, random, null);

    // buffers: Generate's for all its tokens, or null for arrays of this draw's own.
    private static int Sample(ReadOnlySpan<float> logits, double temperature, int topK, double topP, Random random, DrawBuffers? buffers)
    {
        CheckTopP(topP);
        int v = logits.Length;
        // NaN weights drew the last token every time, printed as text (PyTorch's multinomial refuses them too).
        foreach (float x in logits)
        {
            if (float.IsNaN(x) || float.IsPositiveInfinity(x))
            {
                throw new TrainingInputException(
                    $"the model's next-token logits hold {(float.IsNaN(x) ? "NaN" : "+infinity")}, so there is no distribution to sample from: its weights are not finite (a corrupt checkpoint?).");
            }
        }

        if (temperature <= 0)
        {
            int best = 0;
            for (int i = 1; i < v; i++)
            {
                if (logits[i] > logits[best])
                {
                    best = i;
                }
            }

            return best;
        }
        double cutoff = double.NegativeInfinity;
        if (topK > 0 && topK < v)
        {
            cutoff = TopK.Cutoff(logits, topK);
        }
        double max = double.NegativeInfinity;
        for (int i = 0; i < v; i++)
        {
            max = Math.Max(max, logits[i]);
        }

        var weights = buffers?.Weights ?? new double[v];
        if (buffers is not null)
        {
            Array.Clear(weights);
        }

        double sum = 0;
        for (int i = 0; i < v; i++)
        {
            if (logits[i] < cutoff)
            {
                continue;
            }

            weights[i] = Math.Exp((logits[i] - max) / temperature);
            sum += weights[i];
        }
        if (topP < 1)
        {
            sum = TopP.Keep(weights, sum, topP, buffers?.Keys, buffers?.Ids);
        }
        double u = random.NextDouble() * sum;
        int last = 0;
        for (int i = 0; i < v; i++)
        {
            if (weights[i] == 0)
            {
                continue;
            }

            last = i;
            u -= weights[i];
            if (u < 0)
            {
                return i;
            }
        }
        return last;
    }

    /// <summary>
    /// Extends <paramref name="prompt"/> by <paramref name="count"/> tokens drawn without top-p filtering, with a
    /// <see cref="KvCache"/>: see <see cref="Generate(GptModel, IReadOnlyList{int}, int, double, int, double, int, bool, CancellationToken)"/>.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="prompt">The first tokens (at least one).</param>
    /// <param name="count">Tokens to add.</param>
    /// <param name="temperature">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="topK">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="seed">Seed of the draws.</param>
    /// <param name="cancellationToken">Ends the generation early (the tokens so far are returned).</param>
    /// <returns>The prompt followed by the generated tokens.</returns>
    public static int[] Generate(GptModel model, IReadOnlyList<int> prompt, int count, double temperature, int topK, int seed,
        CancellationToken cancellationToken = default) =>
        Generate(model, prompt, count, temperature, topK, 1.0, seed, useCache: true, cancellationToken);

    /// <summary>
    /// Extends <paramref name="prompt"/> by <paramref name="count"/> tokens drawn without top-p filtering: see
    /// <see cref="Generate(GptModel, IReadOnlyList{int}, int, double, int, double, int, bool, CancellationToken)"/>.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="prompt">The first tokens (at least one); only the last T are read.</param>
    /// <param name="count">Tokens to add.</param>
    /// <param name="temperature">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="topK">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="seed">Seed of the draws.</param>
    /// <param name="useCache">Whether to decode incrementally with a <see cref="KvCache"/>.</param>
    /// <param name="cancellationToken">Ends the generation early (the tokens so far are returned).</param>
    /// <returns>The prompt followed by the generated tokens.</returns>
    public static int[] Generate(GptModel model, IReadOnlyList<int> prompt, int count, double temperature, int topK, int seed,
        bool useCache, CancellationToken cancellationToken = default) =>
        Generate(model, prompt, count, temperature, topK, 1.0, seed, useCache, cancellationToken);

    /// <summary>
    /// Extends <paramref name="prompt"/> by <paramref name="count"/> tokens drawn with
    /// <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.
    /// Without the cache every token recomputes the forward over the last ContextLength (T) tokens. With it
    /// (<see cref="GptModel.Append"/>) each token costs one row per layer and gives the same logits, hence the same
    /// tokens for a seed, while the sequence fits in T. When it no longer fits, the cache restarts from the last T/2
    /// tokens (one forward over them), then grows again: GPT-2's positions are absolute, so a cache cannot roll, and
    /// recomputing the last T tokens for every token would cost as much as no cache. Every token still sees at
    /// least T/2 tokens of context, and the whole costs about one extra row per generated token.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="prompt">The first tokens (at least one); only the last T are read.</param>
    /// <param name="count">Tokens to add.</param>
    /// <param name="temperature">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="topK">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="topP">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="seed">Seed of the draws.</param>
    /// <param name="useCache">Whether to decode incrementally with a <see cref="KvCache"/>.</param>
    /// <param name="cancellationToken">Ends the generation early (the tokens so far are returned).</param>
    /// <returns>The prompt followed by the generated tokens.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topP"/> is not in (0, 1] (or is NaN).</exception>
    public static int[] Generate(GptModel model, IReadOnlyList<int> prompt, int count, double temperature, int topK, double topP,
        int seed, bool useCache, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Generate(model, prompt, count, temperature, topK, topP, seed, useCache, model.Config.VocabSize, cancellationToken);
    }

    /// <summary>
    /// Extends <paramref name="prompt"/> as
    /// <see cref="Generate(GptModel, IReadOnlyList{int}, int, double, int, double, int, bool, CancellationToken)"/>
    /// does, drawing only ids below <paramref name="drawable"/>, as if the logits of the others were -infinity: a model
    /// whose vocabulary is padded past its tokenizer's (GPT-2's 50257 to nanoGPT's 50304) has ids no text has, which
    /// would print as nothing.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="prompt">The first tokens (at least one); only the last T are read.</param>
    /// <param name="count">Tokens to add.</param>
    /// <param name="temperature">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="topK">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="topP">See <see cref="Sample(ReadOnlySpan{float}, double, int, double, Random)"/>.</param>
    /// <param name="seed">Seed of the draws.</param>
    /// <param name="useCache">Whether to decode incrementally with a <see cref="KvCache"/>.</param>
    /// <param name="drawable">How many of the first ids may be drawn, in [1, V]: the tokenizer's vocabulary size.</param>
    /// <param name="cancellationToken">Ends the generation early (the tokens so far are returned).</param>
    /// <returns>The prompt followed by the generated tokens.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topP"/> is not in (0, 1] (or is NaN), or <paramref name="drawable"/> not in [1, V].</exception>
    public static int[] Generate(GptModel model, IReadOnlyList<int> prompt, int count, double temperature, int topK, double topP,
        int seed, bool useCache, int drawable, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentOutOfRangeException.ThrowIfLessThan(drawable, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(drawable, model.Config.VocabSize);
        if (prompt.Count == 0)
        {
            throw new ArgumentException("The prompt has no tokens.", nameof(prompt));
        }
        CheckTopP(topP);
        int context = model.Config.ContextLength;
        var tokens = new List<int>(prompt);
        var logits = new float[model.Config.VocabSize];
        var random = new Random(seed);
        var cache = useCache ? model.CreateCache() : null;
        var buffers = new DrawBuffers(model.Config.VocabSize, topP < 1);
        for (int i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
        {
            var all = CollectionsMarshal.AsSpan(tokens);
            if (cache is null)
            {
                model.NextTokenLogits(all[Math.Max(0, all.Length - context)..], logits);
            }
            else if (i == 0 || cache.Length == context)
            {
                cache.Clear();
                int keep = i == 0 ? context : Math.Max(1, context / 2);
                model.Append(cache, all[Math.Max(0, all.Length - keep)..], logits);
            }
            else
            {
                model.Append(cache, all[^1..], logits);
            }
            tokens.Add(Sample(logits.AsSpan(0, drawable), temperature, topK, topP, random, buffers));
        }
        return [.. tokens];
    }

    // NaN fails both comparisons.
    private static void CheckTopP(double topP)
    {
        if (!(topP > 0 && topP <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(topP), topP, "top-p must be a number in (0, 1]; 1 for no top-p filtering.");
        }
    }

    // A draw's arrays, [V] each, so that a generation allocates them once rather than once a token; top-p's only with top-p.
    private sealed class DrawBuffers(int classes, bool topP)
    {
        public double[] Weights { get; } = new double[classes];

        public double[]? Keys { get; } = topP ? new double[classes] : null;

        public int[]? Ids { get; } = topP ? new int[classes] : null;
    }
}
