using System.Diagnostics;
using Xent.Layers;
using Xent.LinearAlgebra;

namespace Xent.Training.Model;

/// <summary>
/// A GPT-2 style decoder in the spirit of llm.c, forward and hand-written backward on CPU:
/// token + position embeddings; L pre-LayerNorm blocks (x += attn(ln_1(x)); x += mlp(ln_2(x)), causal
/// multi-head self-attention and a D -&gt; 4D -&gt; D GELU MLP); a final LayerNorm; and the loss head
/// <see cref="LinearCrossEntropy"/> with the unembedding tied to wte or a separate lm_head.
/// Every product with a weight matrix goes through <see cref="MatMul.Gemm"/> (the attention's small per-head
/// products use register-accumulating vector kernels); everything else is split over rows, heads or columns in
/// fixed chunks, so results are bitwise the same for any <see cref="MaxDegreeOfParallelism"/>.
/// Activations for a (B, T) are allocated on first use and reused while later calls fit.
/// Not thread-safe: one call at a time per instance.
/// </summary>
public sealed partial class GptModel
{
    private readonly Parameter wte;
    private readonly Parameter wpe;
    private readonly BlockParameters[] blocks;
    private readonly Parameter lnFWeight;
    private readonly Parameter lnFBias;
    private readonly Parameter? lmHead;
    private readonly Parameter[] parameters;
    private readonly int dropoutSeed;
    private Activations? activations;
    private DropoutMasks? dropoutMasks;
    private CrossEntropyOptions headOptions;
    private LinearCrossEntropyOptions headBackwardOptions = LinearCrossEntropyOptions.Default;

    /// <summary>
    /// Creates the model with GPT-2's initialisation from <paramref name="seed"/>: every weight matrix and both
    /// embeddings ~ N(0, 0.02^2), the two residual projections per block (attn.c_proj, mlp.c_proj) ~ N(0,
    /// (0.02 / sqrt(2L))^2), biases 0, LayerNorm gains 1. The same seed gives bitwise the same parameters.
    /// </summary>
    /// <param name="config">Shape; validated here.</param>
    /// <param name="seed">Seed of the initialisation.</param>
    /// <param name="headRows">
    /// Untied only: the rows [Offset, Offset + Count) of the unembedding this model holds (a rank of a
    /// vocabulary-parallel head), initialised as those rows of the whole model; null for all V. A model holding part of
    /// the head computes its loss only through a <see cref="LossHead"/>.
    /// </param>
    public GptModel(GptConfig config, int seed, (int Offset, int Count)? headRows = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        HeadRows = headRows ?? (0, config.VocabSize);
        if (HeadRows.Offset < 0 || HeadRows.Count < 0 || HeadRows.Offset > config.VocabSize - HeadRows.Count
            || (config.TieEmbeddings && HeadRows.Count != config.VocabSize))
        {
            throw new ArgumentOutOfRangeException(nameof(headRows), headRows,
                $"The head rows must lie in [0, {config.VocabSize}), and a tied unembedding cannot be split.");
        }

        int d = config.Dim;
        wte = new Parameter("wte", config.VocabSize, d);
        wpe = new Parameter("wpe", config.ContextLength, d);
        blocks = new BlockParameters[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            blocks[l] = new BlockParameters(l, d);
        }

        lnFWeight = new Parameter("ln_f.weight", d);
        lnFBias = new Parameter("ln_f.bias", d);
        lmHead = config.TieEmbeddings ? null : new Parameter("lm_head", HeadRows.Count, d);

        var list = new List<Parameter> { wte, wpe };
        foreach (var block in blocks)
        {
            list.AddRange(block.All);
        }

        list.Add(lnFWeight);
        list.Add(lnFBias);
        if (lmHead is not null)
        {
            list.Add(lmHead);
        }

        parameters = [.. list];
        ParameterCount = parameters.Sum(p => (long)p.Length) + ((long)(config.VocabSize - HeadRows.Count) * d);
        headOptions = LossOptions;
        UpdateHeadOptions();
        dropoutSeed = seed;
        Initialize(seed);
    }

    /// <summary>The shape.</summary>
    public GptConfig Config { get; }

    /// <summary>
    /// Every parameter tensor, in this order (names are stable, shapes in PyTorch nn.Linear layout [out, in]):
    /// "wte" [V, D]; "wpe" [ContextLength, D]; for each block l: "h.l.ln_1.weight" [D], "h.l.ln_1.bias" [D],
    /// "h.l.attn.c_attn.weight" [3D, D], "h.l.attn.c_attn.bias" [3D], "h.l.attn.c_proj.weight" [D, D],
    /// "h.l.attn.c_proj.bias" [D], "h.l.ln_2.weight" [D], "h.l.ln_2.bias" [D], "h.l.mlp.c_fc.weight" [4D, D],
    /// "h.l.mlp.c_fc.bias" [4D], "h.l.mlp.c_proj.weight" [D, 4D], "h.l.mlp.c_proj.bias" [D];
    /// "ln_f.weight" [D], "ln_f.bias" [D]; and "lm_head" [V, D] only when the embeddings are not tied.
    /// </summary>
    public IReadOnlyList<Parameter> Parameters => parameters;

    /// <summary>Total number of parameters of the whole model (a tied unembedding counted once, a split one whole).</summary>
    public long ParameterCount { get; }

    /// <summary>The untied unembedding "lm_head" [<see cref="HeadRows"/>.Count, D]; null when it is tied to wte.</summary>
    public Parameter? UntiedHead => lmHead;

    /// <summary>The rows of the unembedding this model holds: (0, V) unless it was built with part of the head.</summary>
    public (int Offset, int Count) HeadRows { get; }

    /// <summary>
    /// Computes the loss head in place of <see cref="LinearCrossEntropy"/> on the model's unembedding (which it is
    /// given, as this model holds it); null (default) for the plain head. A model holding part of the unembedding
    /// needs one (Xent.Distributed's vocabulary-parallel head).
    /// </summary>
    public ILossHead? LossHead { get; set; }

    /// <summary>Most threads a call uses; -1 (default) for all cores. Results are bitwise the same for any value.</summary>
    public int MaxDegreeOfParallelism
    {
        get;
        set
        {
            if (value == 0 || value < -1)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Use -1 (all cores) or a positive count.");
            }

            field = value;
            UpdateHeadOptions();
        }
    } = -1;

    /// <summary>
    /// Options of the loss head (IgnoreIndex, label smoothing, z-loss, ...). Default: PyTorch's defaults (mean over
    /// kept positions, ignore index -100). Its MaxDegreeOfParallelism is replaced by the model's.
    /// </summary>
    public CrossEntropyOptions LossOptions
    {
        get;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            field = value;
            UpdateHeadOptions();
        }
    } = CrossEntropyOptions.Default;

    /// <summary>
    /// Gradient filter of the loss head's backward (<see cref="LinearCrossEntropyOptions.FilterThreshold"/>): tiles
    /// of the logits gradient whose every entry is below it in magnitude are skipped, as in Cut Cross-Entropy.
    /// 0 (default) is exact. Must be finite and &gt;= 0.
    /// </summary>
    public float HeadGradientFilter
    {
        get;
        set
        {
            if (!(value >= 0) || float.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The filter threshold must be finite and >= 0.");
            }

            field = value;
            UpdateHeadOptions();
        }
    }

    /// <summary>
    /// Bytes of the activation and gradient-scratch buffers allocated so far (reused across calls):
    /// B T (16 D + 4) + B H T^2 floats per layer plus about 12 B T D for the embeddings, the final LayerNorm and the
    /// backward scratch, 4 bytes each. (Parameters and their gradients take 8 bytes per parameter besides.)
    /// </summary>
    public long ActivationBytes => activations?.Bytes ?? 0;

    /// <summary>Time split of the last <see cref="Loss"/> or <see cref="ForwardBackward"/> call.</summary>
    public StepTimings LastStepTimings { get; private set; }

    /// <summary>The mean loss, forward only (evaluation).</summary>
    /// <param name="tokens">Input tokens [B, T] row-major, each in [0, V).</param>
    /// <param name="targets">Next-token targets [B, T], each in [0, V) or the ignore index (-100).</param>
    /// <param name="batch">B &gt;= 1.</param>
    /// <param name="seq">T in [1, ContextLength].</param>
    /// <returns>Mean cross-entropy over the kept positions, in nats (NaN when every target is ignored).</returns>
    public float Loss(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq)
    {
        CheckTargets(targets, batch, seq);
        long start = Stopwatch.GetTimestamp();
        var act = Forward(tokens, batch, seq);
        long headStart = Stopwatch.GetTimestamp();
        var hidden = act.LnF.AsSpan(0, batch * seq * Config.Dim);
        float loss = LossHead is { } head ? head.Loss(hidden, HeadWeight.Data, targets, headOptions)
            : LinearCrossEntropy.Loss(hidden, WholeHeadWeight.Data, targets, headOptions);
        long end = Stopwatch.GetTimestamp();
        LastStepTimings = new StepTimings(
            Stopwatch.GetElapsedTime(start, end), Stopwatch.GetElapsedTime(headStart, end),
            Stopwatch.GetElapsedTime(start, headStart), TimeSpan.Zero);
        return loss;
    }

    /// <summary>
    /// Forward and backward: returns the mean loss as <see cref="Loss"/> does and OVERWRITES every
    /// <see cref="Parameter.Grad"/> with dLoss/dParameter. With <see cref="GptConfig.Dropout"/> &gt; 0 the dropout
    /// masks are a function of the model's seed, <paramref name="step"/> and the position only.
    /// </summary>
    /// <param name="tokens">Input tokens [B, T] row-major, each in [0, V).</param>
    /// <param name="targets">Next-token targets [B, T], each in [0, V) or the ignore index (-100).</param>
    /// <param name="batch">B &gt;= 1.</param>
    /// <param name="seq">T in [1, ContextLength].</param>
    /// <param name="step">The training step, &gt;= 0: it selects the dropout masks (no effect without dropout).</param>
    /// <param name="firstRow">
    /// Where these B sequences start in the step's whole batch (a data-parallel rank's or a micro-batch's slice): the
    /// dropout masks are drawn by position in the whole batch, so a batch split in slices draws the whole batch's masks.
    /// </param>
    /// <returns>Mean cross-entropy over the kept positions, in nats (or what the <see cref="LossHead"/> returns).</returns>
    public float ForwardBackward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seq, long step = 0, int firstRow = 0)
    {
        CheckTargets(targets, batch, seq);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        long start = Stopwatch.GetTimestamp();
        var masks = DrawDropoutMasks(batch, seq, step, firstRow);
        var act = Forward(tokens, batch, seq, masks);
        int n = batch * seq, d = Config.Dim, dop = MaxDegreeOfParallelism;
        var g = act.Scratch ??= new GradientScratch(act.Batch * act.Seq, d);

        // Loss head: dLnF into g.LnInput; dW straight into the unembedding's gradient (overwritten: for a tied
        // wte the embedding backward adds its part last).
        long headStart = Stopwatch.GetTimestamp();
        var headGradients = new LinearCrossEntropyGradients(g.LnInput.AsSpan(0, n * d), HeadWeight.Grad);
        float loss = LossHead is { } head ? head.LossAndGradients(act.LnF.AsSpan(0, n * d), HeadWeight.Data, targets, headGradients, headBackwardOptions)
            : LinearCrossEntropy.LossAndGradients(act.LnF.AsSpan(0, n * d), WholeHeadWeight.Data, targets, headGradients, headBackwardOptions);
        long headEnd = Stopwatch.GetTimestamp();

        float[] last = Config.Layers == 0 ? act.Encoded : act.Blocks[^1].Residual3;
        LayerNorm.Backward(g.LnInput.AsSpan(0, n * d), last.AsSpan(0, n * d), lnFWeight.Data, act.LnFMean.AsSpan(0, n),
            act.LnFRstd.AsSpan(0, n), g.Residual, lnFWeight.Grad, lnFBias.Grad, dop, clearInputGradient: true);
        for (int l = Config.Layers - 1; l >= 0; l--)
        {
            float[] input = l == 0 ? act.Encoded : act.Blocks[l - 1].Residual3;
            BlockBackward(blocks[l], act.Blocks[l], g, input, batch, seq, masks?.Attention[l], masks?.Mlp[l]);
        }

        if (masks is not null)
        {
            Dropout.Multiply(g.Residual.AsSpan(0, n * d), masks.Embedding.AsSpan(0, n * d), g.Residual, dop);
        }

        if (lmHead is not null)
        {
            Array.Clear(wte.Grad);
        }

        Array.Clear(wpe.Grad);
        Encoder.Backward(wte.Grad, wpe.Grad, g.Residual, act.Tokens, batch, seq, d);
        long end = Stopwatch.GetTimestamp();
        LastStepTimings = new StepTimings(
            Stopwatch.GetElapsedTime(start, end), Stopwatch.GetElapsedTime(headStart, headEnd),
            Stopwatch.GetElapsedTime(start, headStart), Stopwatch.GetElapsedTime(headEnd, end));
        return loss;
    }

    /// <summary>Logits of the token after the sequence (sampling): forward over tokens, head on the last position.</summary>
    /// <param name="tokens">Context tokens [t], 1 &lt;= t &lt;= ContextLength, each in [0, V).</param>
    /// <param name="logits">Destination [V]: h_last W^T with W the unembedding.</param>
    public void NextTokenLogits(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        if (logits.Length != Config.VocabSize)
        {
            throw new ArgumentException($"logits must have length V = {Config.VocabSize}, got {logits.Length}.", nameof(logits));
        }

        int t = tokens.Length, d = Config.Dim;
        var act = Forward(tokens, 1, t);
        MatMul.Gemm(false, true, 1, Config.VocabSize, d, 1, act.LnF.AsSpan((t - 1) * d, d), d, WholeHeadWeight.Data, d,
            0, logits, Config.VocabSize, MaxDegreeOfParallelism);
    }

    private Parameter HeadWeight => lmHead ?? wte;

    // The unembedding where all of it is needed: a model holding part of it cannot compute these logits alone.
    private Parameter WholeHeadWeight => HeadRows.Count == Config.VocabSize ? HeadWeight
        : throw new InvalidOperationException($"This model holds rows [{HeadRows.Offset}, {HeadRows.Offset + HeadRows.Count}) of the unembedding only: its loss needs a LossHead, and it cannot compute the logits of the whole vocabulary.");

    /// <summary>
    /// A copy of this model holding only rows [offset, offset + count) of its untied unembedding (a rank of a
    /// vocabulary-parallel head): every other parameter, the seed of its dropout masks and its settings are the same.
    /// </summary>
    /// <param name="offset">The first row kept.</param>
    /// <param name="count">How many rows.</param>
    public GptModel WithHeadRows(int offset, int count)
    {
        var copy = new GptModel(Config, dropoutSeed, (offset, count)) { MaxDegreeOfParallelism = MaxDegreeOfParallelism, LossOptions = LossOptions, HeadGradientFilter = HeadGradientFilter };
        for (int i = 0; i < parameters.Length; i++)
        {
            var from = ReferenceEquals(parameters[i], lmHead) ? parameters[i].Data.AsSpan((offset - HeadRows.Offset) * Config.Dim, count * Config.Dim) : parameters[i].Data;
            from.CopyTo(copy.parameters[i].Data);
        }

        return copy;
    }

    private void UpdateHeadOptions()
    {
        headOptions = LossOptions with { MaxDegreeOfParallelism = MaxDegreeOfParallelism };
        headBackwardOptions = new LinearCrossEntropyOptions { CrossEntropy = headOptions, FilterThreshold = HeadGradientFilter };
    }

    /// <summary>The masks of a training step, or null without dropout.</summary>
    private DropoutMasks? DrawDropoutMasks(int batch, int seq, long step, int firstRow)
    {
        if (Config.Dropout == 0)
        {
            return null;
        }

        int n = batch * seq;
        if (dropoutMasks is null || dropoutMasks.Rows < n)
        {
            dropoutMasks = new DropoutMasks(n, Config.Dim, Config.Layers);
        }

        dropoutMasks.Fill(Config.Dropout, dropoutSeed, step, n * Config.Dim, (long)firstRow * seq * Config.Dim, MaxDegreeOfParallelism);
        return dropoutMasks;
    }

    /// <summary>
    /// Whether the forward keeps the attention probabilities [B, H, T, T] of every layer for the backward, as it did
    /// before; set only by the benchmarks (XENT_AB=keepatt), to time it beside the default. By default they are not
    /// kept: the backward recomputes each head's from qkv (the same bits), which at the default model's shape was
    /// faster than writing them to memory and reading them back, and saves B H T^2 floats per layer (4 MB a layer
    /// at B 16, T 128, H 4; 200 MB a layer at GPT-2 small's T 1024, B 4).
    /// </summary>
    internal static bool KeepAttentionProbabilities { get; set; }

    private Activations Forward(ReadOnlySpan<int> tokens, int batch, int seq, DropoutMasks? masks = null)
    {
        CheckTokens(tokens, batch, seq);
        if (activations is null || !activations.Fits(batch, seq))
        {
            int b = Math.Max(batch, activations?.Batch ?? 0), t = Math.Max(seq, activations?.Seq ?? 0);
            activations = new Activations(Config, b, t);
        }

        var act = activations;
        int n = batch * seq, d = Config.Dim, dop = MaxDegreeOfParallelism;
        tokens.CopyTo(act.Tokens);
        Encoder.Forward(act.Encoded, act.Tokens, wte.Data, wpe.Data, batch, seq, d, dop);
        if (masks is not null)
        {
            Dropout.Multiply(act.Encoded.AsSpan(0, n * d), masks.Embedding.AsSpan(0, n * d), act.Encoded, dop);
        }

        float[] x = act.Encoded;
        for (int l = 0; l < Config.Layers; l++)
        {
            var p = blocks[l];
            var a = act.Blocks[l];
            LayerNorm.Forward(x.AsSpan(0, n * d), p.Ln1Weight.Data, p.Ln1Bias.Data, a.Ln1, a.Ln1Mean, a.Ln1Rstd, dop);
            Dense.Forward(a.Ln1.AsSpan(0, n * d), p.QkvWeight.Data, p.QkvBias.Data, default, a.Qkv, dop);
            Attention.Forward(a.Qkv.AsSpan(0, n * 3 * d), batch, seq, Config.Heads, a.AttY, a.Att, dop);
            Dense.Forward(a.AttY.AsSpan(0, n * d), p.AttnProjWeight.Data, p.AttnProjBias.Data, masks is null ? x.AsSpan(0, n * d) : default,
                a.Residual2, dop);
            if (masks is not null)
            {
                Dropout.AddMasked(x.AsSpan(0, n * d), masks.Attention[l].AsSpan(0, n * d), a.Residual2, dop);
            }

            LayerNorm.Forward(a.Residual2.AsSpan(0, n * d), p.Ln2Weight.Data, p.Ln2Bias.Data, a.Ln2, a.Ln2Mean, a.Ln2Rstd, dop);
            Dense.Forward(a.Ln2.AsSpan(0, n * d), p.FcWeight.Data, p.FcBias.Data, default, a.Fch, dop);
            Gelu.Forward(a.Fch.AsSpan(0, n * 4 * d), a.FchGelu, dop);
            Dense.Forward(a.FchGelu.AsSpan(0, n * 4 * d), p.FcProjWeight.Data, p.FcProjBias.Data,
                masks is null ? a.Residual2.AsSpan(0, n * d) : default, a.Residual3, dop);
            if (masks is not null)
            {
                Dropout.AddMasked(a.Residual2.AsSpan(0, n * d), masks.Mlp[l].AsSpan(0, n * d), a.Residual3, dop);
            }

            x = a.Residual3;
        }

        LayerNorm.Forward(x.AsSpan(0, n * d), lnFWeight.Data, lnFBias.Data, act.LnF, act.LnFMean, act.LnFRstd, dop);
        return act;
    }

    /// <summary>
    /// On entry g.Residual = dL/d(block output) [B*T, D]; on exit dL/d(block input). With dropout masks [B*T, D],
    /// a projection's output gradient is the masked residual gradient, formed in g.LnInput (free at that point).
    /// </summary>
    private void BlockBackward(BlockParameters p, BlockActivations a, GradientScratch g, float[] input, int batch, int seq,
        float[]? attentionMask, float[]? mlpMask)
    {
        int n = batch * seq, d = Config.Dim, dop = MaxDegreeOfParallelism;
        float[] mlpOut = Masked(g.Residual, mlpMask, g.LnInput, n * d);

        // MLP: Residual3 = Residual2 + c_proj(gelu(c_fc(ln_2(Residual2)))).
        Dense.Backward(mlpOut.AsSpan(0, n * d), a.FchGelu.AsSpan(0, n * 4 * d), p.FcProjWeight.Data, false,
            g.Fch, p.FcProjWeight.Grad, p.FcProjBias.Grad, dop);
        Gelu.Backward(a.Fch.AsSpan(0, n * 4 * d), g.Fch.AsSpan(0, n * 4 * d), g.Fch, dop);
        Dense.Backward(g.Fch.AsSpan(0, n * 4 * d), a.Ln2.AsSpan(0, n * d), p.FcWeight.Data, false, g.LnInput, p.FcWeight.Grad, p.FcBias.Grad, dop);
        LayerNorm.Backward(g.LnInput.AsSpan(0, n * d), a.Residual2.AsSpan(0, n * d), p.Ln2Weight.Data, a.Ln2Mean.AsSpan(0, n),
            a.Ln2Rstd.AsSpan(0, n), g.Residual, p.Ln2Weight.Grad, p.Ln2Bias.Grad, dop);

        // Attention: Residual2 = input + c_proj(attn(c_attn(ln_1(input)))).
        float[] attentionOut = Masked(g.Residual, attentionMask, g.LnInput, n * d);
        Dense.Backward(attentionOut.AsSpan(0, n * d), a.AttY.AsSpan(0, n * d), p.AttnProjWeight.Data, false,
            g.AttY, p.AttnProjWeight.Grad, p.AttnProjBias.Grad, dop);
        Attention.Backward(g.AttY.AsSpan(0, n * d), a.Qkv.AsSpan(0, n * 3 * d), a.Att.Length == 0 ? default : a.Att.AsSpan(0, batch * Config.Heads * seq * seq),
            batch, seq, Config.Heads, g.Qkv, dop);
        Dense.Backward(g.Qkv.AsSpan(0, n * 3 * d), a.Ln1.AsSpan(0, n * d), p.QkvWeight.Data, false, g.LnInput, p.QkvWeight.Grad, p.QkvBias.Grad, dop);
        LayerNorm.Backward(g.LnInput.AsSpan(0, n * d), input.AsSpan(0, n * d), p.Ln1Weight.Data, a.Ln1Mean.AsSpan(0, n),
            a.Ln1Rstd.AsSpan(0, n), g.Residual, p.Ln1Weight.Grad, p.Ln1Bias.Grad, dop);
    }

    /// <summary>gradient itself without a mask, else mask * gradient written to scratch.</summary>
    private float[] Masked(float[] gradient, float[]? mask, float[] scratch, int count)
    {
        if (mask is null)
        {
            return gradient;
        }

        Dropout.Multiply(gradient.AsSpan(0, count), mask.AsSpan(0, count), scratch, MaxDegreeOfParallelism);
        return scratch;
    }

    private void CheckTokens(ReadOnlySpan<int> tokens, int batch, int seq)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (seq < 1 || seq > Config.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(seq), seq, $"The sequence length must be in [1, {Config.ContextLength}].");
        }

        if (tokens.Length != batch * seq)
        {
            throw new ArgumentException($"tokens has {tokens.Length} entries, expected B x T = {batch} x {seq}.", nameof(tokens));
        }

        int v = Config.VocabSize;
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)v)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i], $"Token at position {i} is outside [0, {v}).");
            }
        }
    }

    private void CheckTargets(ReadOnlySpan<int> targets, int batch, int seq)
    {
        if (targets.Length != (long)batch * seq)
        {
            throw new ArgumentException($"targets has {targets.Length} entries, expected B x T = {batch} x {seq}.", nameof(targets));
        }

        int v = Config.VocabSize, ignore = LossOptions.IgnoreIndex;
        for (int i = 0; i < targets.Length; i++)
        {
            if ((uint)targets[i] >= (uint)v && targets[i] != ignore)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), targets[i],
                    $"Target at position {i} is outside [0, {v}) and is not the ignore index {ignore}.");
            }
        }
    }

    private void Initialize(int seed)
    {
        var random = new Random(seed);
        float residualStd = 0.02f / MathF.Sqrt(2 * Math.Max(1, Config.Layers));
        foreach (var p in parameters)
        {
            if (p.Name.EndsWith(".bias", StringComparison.Ordinal))
            {
                continue;
            }

            if (p.Name.StartsWith("ln", StringComparison.Ordinal) || p.Name.Contains(".ln_", StringComparison.Ordinal))
            {
                Array.Fill(p.Data, 1f);
                continue;
            }

            float std = p.Name.EndsWith("c_proj.weight", StringComparison.Ordinal) ? residualStd : 0.02f;
            FillNormal(p.Data, std, random, ReferenceEquals(p, lmHead) ? (long)HeadRows.Offset * Config.Dim : 0);
        }
    }

    // data = elements [skip, skip + data.Length) of the tensor's normal draws (a part of the unembedding: its rows
    // of the whole model's), the earlier draws made and dropped.
    private static void FillNormal(float[] data, float std, Random random, long skip = 0)
    {
        // Box-Muller on System.Random(seed), whose seeded sequence is stable across .NET versions.
        for (long i = 0; i < skip + data.Length; i += 2)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            if (i + 1 < skip)
            {
                continue;
            }

            double r = Math.Sqrt(-2 * Math.Log(u1));
            if (i >= skip)
            {
                data[i - skip] = (float)(std * r * Math.Cos(2 * Math.PI * u2));
            }

            if (i + 1 < skip + data.Length)
            {
                data[i + 1 - skip] = (float)(std * r * Math.Sin(2 * Math.PI * u2));
            }
        }
    }
}
