using Xent.Kernels;
using Xent.Layers;
using Xent.LinearAlgebra;

namespace Xent.Training.Model;

/// <summary>Incremental inference: the forward of new tokens against a <see cref="KvCache"/> of the earlier ones.</summary>
public sealed partial class GptModel
{
    /// <summary>An empty cache for this model's <see cref="Append"/> (about 8 L T D bytes).</summary>
    public KvCache CreateCache() => new(this);

    /// <summary>
    /// Runs the forward of <paramref name="tokens"/> at positions cache.Length, cache.Length + 1, ... against the
    /// keys and values already in <paramref name="cache"/>, appends theirs, and writes the logits of the token after
    /// the last one. The logits have the same bits as <see cref="NextTokenLogits"/> over all the tokens the cache
    /// holds (the same kernels in the same order, row by row): a prompt on an empty cache runs as one forward over
    /// its rows, every other token as one row per layer. Absolute positions (GPT-2's learned wpe) cannot roll: when
    /// the cache is full, <see cref="KvCache.Clear"/> it and append the tokens to keep.
    /// </summary>
    /// <param name="cache">A cache of this model, holding the sequence so far (empty for a new one).</param>
    /// <param name="tokens">New tokens [n], n &gt;= 1, each in [0, V); cache.Length + n &lt;= ContextLength.</param>
    /// <param name="logits">Destination [V]: h_last W^T with W the unembedding.</param>
    public void Append(KvCache cache, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (!ReferenceEquals(cache.Owner, this))
        {
            throw new ArgumentException("The cache was created by another model.", nameof(cache));
        }

        CheckLogits(logits);
        if (tokens.IsEmpty)
        {
            throw new ArgumentException("There are no tokens to append.", nameof(tokens));
        }

        if (cache.Length + tokens.Length > cache.Capacity)
        {
            throw new ArgumentException(
                $"The cache holds {cache.Length} of {cache.Capacity} positions: {tokens.Length} more would pass the context length. Clear it and append the tokens to keep.",
                nameof(tokens));
        }

        CheckTokens(tokens, 1, tokens.Length);
        if (cache.Length == 0 && tokens.Length > 1)
        {
            Prefill(cache, tokens, logits);
            return;
        }

        for (int i = 0; i < tokens.Length; i++)
        {
            Step(cache, tokens[i]);
        }

        Head(cache.Normalized, logits);
    }

    /// <summary>Logits [V] = h [D] W^T with W the unembedding [V, D].</summary>
    private void Head(ReadOnlySpan<float> h, Span<float> logits) =>
        MatMul.Gemm(false, true, 1, Config.VocabSize, Config.Dim, 1, h, Config.Dim, WholeHeadWeight.Data, Config.Dim,
            0, logits, Config.VocabSize, MaxDegreeOfParallelism);

    private void CheckLogits(Span<float> logits)
    {
        if (logits.Length != Config.VocabSize)
        {
            throw new ArgumentException($"logits must have length V = {Config.VocabSize}, got {logits.Length}.", nameof(logits));
        }
    }

    /// <summary>A prompt on an empty cache: the batched forward over its rows, whose keys and values are then kept.</summary>
    private void Prefill(KvCache cache, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        int n = tokens.Length, d = Config.Dim;
        var act = Forward(tokens, 1, n);
        for (int l = 0; l < Config.Layers; l++)
        {
            float[] qkv = act.Blocks[l].Qkv;
            for (int t = 0; t < n; t++)
            {
                Keep(cache, l, t, qkv.AsSpan(t * 3 * d, 3 * d));
            }
        }

        cache.Length = n;
        Head(act.LnF.AsSpan((n - 1) * d, d), logits);
    }

    // Below this many multiply-adds of q K^T (as many again for P V) a step's heads run on the calling thread: the
    // default model's (4 heads of 16, at most 128 positions) cost less than waking the workers.
    private const long ParallelAttentionWork = 1L << 16;

    // Tests set 0, so that small models run their heads in parallel too.
    private static readonly AsyncOverride<long> AttentionWorkOverride = new();

    /// <summary>Sets the work below which a step's heads run inline, for the calling async flow until disposed (tests).</summary>
    internal static AsyncOverride<long>.Scope OverrideParallelAttentionWork(long work) => AttentionWorkOverride.Set(work);

    // Head h of layer l for the query at position t: its row of probabilities spans keys 0..t exactly, as the last row
    // of a forward over t + 1 tokens.
    private void AttendHead(KvCache cache, int l, int t, int h)
    {
        int hs = Config.HeadSize, keys = cache.TiledCapacity * hs, values = cache.Capacity * hs;
        Attention.TiledRow(cache.Qkv.AsSpan(h * hs, hs), cache.Keys[l].AsSpan(h * keys, keys), cache.Values[l].AsSpan(h * values, values), t,
            cache.Probabilities.AsSpan(h * cache.TiledCapacity, cache.TiledCapacity), cache.AttentionOutput.AsSpan(h * hs, hs));
    }

    private void AttendHeads(KvCache cache, int l, int t, int dop) => ParallelWork.For(Config.Heads, dop, new Heads(this, cache, l, t));

    private readonly struct Heads(GptModel model, KvCache cache, int layer, int position) : IWorkItems
    {
        public void Run(int item) => model.AttendHead(cache, layer, position, item);
    }

    /// <summary>
    /// One token at position cache.Length through every block, each layer a row of the batched forward's kernels;
    /// leaves the final LayerNorm's output in cache.Normalized.
    /// </summary>
    private void Step(KvCache cache, int token)
    {
        int t = cache.Length, d = Config.Dim, heads = Config.Heads, hs = Config.HeadSize, dop = MaxDegreeOfParallelism;
        Encoder.Row(cache.Embedded, token, t, wte.Data, wpe.Data, d);
        float[] x = cache.Embedded;
        for (int l = 0; l < Config.Layers; l++)
        {
            var p = blocks[l];
            LayerNorm.Forward(x, p.Ln1Weight.Data, p.Ln1Bias.Data, cache.Normalized, cache.Mean, cache.Rstd, dop);
            Dense.Forward(cache.Normalized, p.QkvWeight.Data, p.QkvBias.Data, default, cache.Qkv, dop);
            Keep(cache, l, t, cache.Qkv);

            // The heads run side by side, each with its own row of probabilities (the same bits on any number of
            // threads): they read the cached keys and values, up to 75 MB a token at GPT-2 small's full context, and one
            // thread alone took a quarter of a 2,000-token generation.
            if ((long)heads * hs * (t + 1) < (AttentionWorkOverride.Value ?? ParallelAttentionWork))
            {
                for (int h = 0; h < heads; h++)
                {
                    AttendHead(cache, l, t, h);
                }
            }
            else
            {
                AttendHeads(cache, l, t, dop);
            }

            Dense.Forward(cache.AttentionOutput, p.AttnProjWeight.Data, p.AttnProjBias.Data, x, cache.Residual2, dop);
            LayerNorm.Forward(cache.Residual2, p.Ln2Weight.Data, p.Ln2Bias.Data, cache.Normalized, cache.Mean, cache.Rstd, dop);
            Dense.Forward(cache.Normalized, p.FcWeight.Data, p.FcBias.Data, default, cache.Fc, dop);
            Gelu.Forward(cache.Fc, cache.FcGelu, dop);
            Dense.Forward(cache.FcGelu, p.FcProjWeight.Data, p.FcProjBias.Data, cache.Residual2, cache.Residual3, dop);
            x = cache.Residual3;
        }

        LayerNorm.Forward(x, lnFWeight.Data, lnFBias.Data, cache.Normalized, cache.Mean, cache.Rstd, dop);
        cache.Length = t + 1;
    }

    /// <summary>Stores the key and value of position t of layer l from its qkv row [3D] (q | k | v), in the cache's layout.</summary>
    private void Keep(KvCache cache, int layer, int t, ReadOnlySpan<float> qkv)
    {
        int d = Config.Dim, hs = Config.HeadSize, headKeys = cache.TiledCapacity * hs;
        float[] keys = cache.Keys[layer], values = cache.Values[layer];
        var k = qkv.Slice(d, d);
        var v = qkv.Slice(2 * d, d);
        for (int h = 0; h < Config.Heads; h++)
        {
            Attention.StoreTiledKey(k.Slice(h * hs, hs), t, keys.AsSpan(h * headKeys, headKeys));
            v.Slice(h * hs, hs).CopyTo(values.AsSpan(((h * cache.Capacity) + t) * hs, hs));
        }
    }
}
