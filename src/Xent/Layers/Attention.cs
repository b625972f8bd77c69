using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xent.Kernels;
using Xent.LinearAlgebra;

namespace Xent.Layers;

/// <summary>
/// Causal multi-head self-attention on a fused qkv [B*T, 3D] (row n holds q | k | v; head h uses columns
/// h*hs .. h*hs+hs-1 of each third). One (b, h) pair is one independent work item. Scores, softmax and the
/// weighted sums run over the causal half only (t2 &lt;= t) with vectorised head-size dot products and axpys:
/// for the small head sizes of this model that beats calling a packed matrix kernel per head. Results are bitwise
/// the same for any thread count. Float64 reference and finite-difference check of the backward:
/// tests/Xent.Tests/Layers/AttentionTests.cs.
/// </summary>
public static unsafe class Attention
{
    /// <summary>
    /// output [B*T, D] (head h in columns h*hs..) and probabilities [B, H, T, T] (softmax probabilities of row t over
    /// t2 &lt;= t; 0 above the diagonal) from qkv [B*T, 3D], with head size hs = D / H.
    /// </summary>
    /// <param name="qkv">[B*T, 3D], row-major: row n holds q | k | v; D = qkv.Length / (3 B T), a multiple of H.</param>
    /// <param name="batch">B &gt;= 0.</param>
    /// <param name="sequence">T &gt;= 0.</param>
    /// <param name="heads">H &gt;= 1.</param>
    /// <param name="output">Destination [B*T, D].</param>
    /// <param name="probabilities">Destination [B, H, T, T], kept for the backward; or empty: not kept (each head's
    /// are then held only while it is computed, and the backward recomputes them from qkv, the same bits).</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or an output overlaps an input or
    /// the other output.</exception>
    public static void Forward(ReadOnlySpan<float> qkv, int batch, int sequence, int heads, Span<float> output,
        Span<float> probabilities, int maxDegreeOfParallelism = -1)
    {
        int dim = Dim(qkv.Length, batch, sequence, heads);
        LayerChecks.AtLeast(output.Length, (long)batch * sequence * dim, nameof(output), "[B*T, D]");
        if (!probabilities.IsEmpty)
        {
            LayerChecks.AtLeast(probabilities.Length, (long)batch * heads * sequence * sequence, nameof(probabilities), "[B, H, T, T] or empty");
        }

        LayerChecks.Parallelism(maxDegreeOfParallelism);
        var y = output.Slice(0, batch * sequence * dim);
        LayerChecks.Disjoint(y, nameof(output), qkv, nameof(qkv));
        if (!probabilities.IsEmpty)
        {
            var att = probabilities.Slice(0, batch * heads * sequence * sequence);
            LayerChecks.Disjoint(att, nameof(probabilities), qkv, nameof(qkv));
            LayerChecks.Disjoint(att, nameof(probabilities), y, nameof(output));
        }

        fixed (float* pOutput = output, pAtt = probabilities, pQkv = qkv)
        {
            Forward(pOutput, pAtt, pQkv, batch, sequence, dim, heads, maxDegreeOfParallelism);
        }
    }

    /// <summary>
    /// One query row at position t of one head, the KV-cache decoding step: p[0..t] = softmax over keys 0..t of
    /// q k_s / sqrt(hs), p after t = 0, and output [hs] = sum_{s &lt;= t} p[s] v_s. It gives the same bits as row t of
    /// <see cref="Forward(ReadOnlySpan{float}, int, int, int, Span{float}, Span{float}, int)"/> over T = p.Length
    /// positions.
    /// </summary>
    /// <param name="query">q [hs], hs &gt;= 1.</param>
    /// <param name="keysTransposed">Keys transposed [hs, keyStride]: column s is key s (at least the first
    /// <paramref name="probabilities"/>.Length columns of the last row readable).</param>
    /// <param name="keyStride">Row stride of keysTransposed.</param>
    /// <param name="values">Value rows [t + 1, hs] with row stride valueStride.</param>
    /// <param name="valueStride">Row stride of values.</param>
    /// <param name="position">t: the query attends to keys 0..t.</param>
    /// <param name="probabilities">Destination [T &gt; t], overwritten: the row's probabilities, 0 after t.</param>
    /// <param name="output">Destination [hs].</param>
    /// <exception cref="ArgumentException">A length or stride does not fit the shapes above, or probabilities overlap
    /// an input or the output, or the output the values.</exception>
    public static void Row(ReadOnlySpan<float> query, ReadOnlySpan<float> keysTransposed, int keyStride, ReadOnlySpan<float> values,
        int valueStride, int position, Span<float> probabilities, Span<float> output)
    {
        LayerChecks.Size(position, nameof(position));
        LayerChecks.AtLeast(probabilities.Length, (long)position + 1, nameof(probabilities), "[T > t]");
        LayerChecks.AtLeast(output.Length, query.Length, nameof(output), "[hs]");
        LayerChecks.Size(keyStride, nameof(keyStride));
        LayerChecks.Size(valueStride, nameof(valueStride));
        LayerChecks.HeadSize(query.Length, nameof(query));
        LayerChecks.AtLeast(keysTransposed.Length, ((long)(query.Length - 1) * keyStride) + probabilities.Length, nameof(keysTransposed),
            $"[hs = {query.Length}, stride {keyStride}] over {probabilities.Length} keys");
        LayerChecks.AtLeast(values.Length, ((long)position * valueStride) + query.Length, nameof(values),
            $"[t + 1 = {position + 1}, hs = {query.Length}] with stride {valueStride}");

        // The scores are written while the query and keys are read, the output while the probabilities and values are
        // (the query and keys are read before the output is written: the output may lie over them).
        var keys = keysTransposed.Slice(0, ((query.Length - 1) * keyStride) + probabilities.Length);
        var valueRows = values.Slice(0, (position * valueStride) + query.Length);
        LayerChecks.Disjoint(probabilities, nameof(probabilities), query, nameof(query));
        LayerChecks.Disjoint(probabilities, nameof(probabilities), keys, nameof(keysTransposed));
        LayerChecks.Disjoint(probabilities, nameof(probabilities), valueRows, nameof(values));
        LayerChecks.Disjoint(output.Slice(0, query.Length), nameof(output), valueRows, nameof(values));
        LayerChecks.Disjoint(output.Slice(0, query.Length), nameof(output), probabilities, nameof(probabilities));
        Row(output.Slice(0, query.Length), query, keysTransposed, keyStride, values, valueStride, probabilities, position,
            1 / MathF.Sqrt(query.Length), Simd.Width);
    }

    /// <summary>
    /// Positions per key tile of <see cref="TiledRow"/>'s layout: a head's keys are stored as tiles [hs, 32], each a
    /// slice of the keys transposed, one after another.
    /// </summary>
    public const int KeyTile = SpanMath.Tile;

    /// <summary>
    /// Stores key s (one head's, [hs]) into <see cref="TiledRow"/>'s layout: element i at
    /// 32 (hs (s / 32) + i) + s % 32, where 32 is <see cref="KeyTile"/>.
    /// </summary>
    /// <param name="key">k_s [hs], hs &gt;= 1.</param>
    /// <param name="position">s &gt;= 0.</param>
    /// <param name="keyTiles">The head's key tiles, at least [s / 32 + 1, hs, 32].</param>
    /// <exception cref="ArgumentException">A length or the position does not fit the shapes above, or the key lies in
    /// the tile it is stored into.</exception>
    public static void StoreTiledKey(ReadOnlySpan<float> key, int position, Span<float> keyTiles)
    {
        int hs = key.Length;
        LayerChecks.HeadSize(hs, nameof(key));
        LayerChecks.Size(position, nameof(position));
        LayerChecks.AtLeast(keyTiles.Length, ((long)(position / KeyTile) + 1) * KeyTile * hs, nameof(keyTiles), $"[s / {KeyTile} + 1, hs = {hs}, {KeyTile}]");
        var tile = keyTiles.Slice(position / KeyTile * KeyTile * hs, KeyTile * hs);
        LayerChecks.Disjoint(tile, nameof(keyTiles), key, nameof(key));
        int lane = position % KeyTile;
        for (int i = 0; i < hs; i++)
        {
            tile[(i * KeyTile) + lane] = key[i];
        }
    }

    /// <summary>
    /// <see cref="Row(ReadOnlySpan{float}, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, int, Span{float}, Span{float})"/>
    /// over keys in tiles of <see cref="KeyTile"/> positions (<see cref="StoreTiledKey"/>) and value rows hs apart, the
    /// layout of `GptModel`'s KV cache: the same bits, but the keys and the values each one stream in address order,
    /// where keys transposed [hs, T_max] are hs streams a row apart and the values' rows [T_max, D] are hs floats out of
    /// every D (GPT-2 small's 144 heads at position 1000, 2 threads, Zen 4: 0.41-0.72x the time, `decode-attention`).
    /// </summary>
    /// <param name="query">q [hs], hs &gt;= 1.</param>
    /// <param name="keyTiles">Keys in tiles, at least [ceil((t + 1) / 32), hs, 32]: element i of key s at 32 (hs (s / 32) + i) + s % 32.</param>
    /// <param name="values">Value rows, at least [t + 1, hs], contiguous.</param>
    /// <param name="position">t &gt;= 0: the query attends to keys 0..t.</param>
    /// <param name="probabilities">Destination, at least [32 ceil((t + 1) / 32)], overwritten: the row's probabilities in
    /// 0..t, scores of whatever the tiles hold after t up to the tile's end.</param>
    /// <param name="output">Destination [hs].</param>
    /// <exception cref="ArgumentException">A length or the position does not fit the shapes above, or probabilities
    /// overlap an input or the output, or the output the values.</exception>
    public static void TiledRow(ReadOnlySpan<float> query, ReadOnlySpan<float> keyTiles, ReadOnlySpan<float> values, int position,
        Span<float> probabilities, Span<float> output)
    {
        int hs = query.Length;
        LayerChecks.HeadSize(hs, nameof(query));
        LayerChecks.Size(position, nameof(position));
        long whole = ((long)position + KeyTile) / KeyTile * KeyTile;
        LayerChecks.AtLeast(keyTiles.Length, whole * hs, nameof(keyTiles), $"[ceil((t + 1) / {KeyTile}), hs = {hs}, {KeyTile}] for t = {position}");
        LayerChecks.AtLeast(values.Length, ((long)position + 1) * hs, nameof(values), $"[t + 1 = {(long)position + 1}, hs = {hs}]");
        LayerChecks.AtLeast(probabilities.Length, whole, nameof(probabilities), $"[{KeyTile} ceil((t + 1) / {KeyTile})] for t = {position}");
        LayerChecks.AtLeast(output.Length, hs, nameof(output), "[hs]");
        var scores = probabilities.Slice(0, (int)whole);
        var valueRows = values.Slice(0, (position + 1) * hs);
        LayerChecks.Disjoint(scores, nameof(probabilities), query, nameof(query));
        LayerChecks.Disjoint(scores, nameof(probabilities), keyTiles.Slice(0, (int)whole * hs), nameof(keyTiles));
        LayerChecks.Disjoint(scores, nameof(probabilities), valueRows, nameof(values));
        LayerChecks.Disjoint(output.Slice(0, hs), nameof(output), valueRows, nameof(values));
        LayerChecks.Disjoint(output.Slice(0, hs), nameof(output), scores, nameof(probabilities));
        var width = Simd.Width;
        SpanMath.RowTimesTiles(1 / MathF.Sqrt(hs), query, keyTiles, probabilities.Slice(0, (int)whole), width);
        var p = probabilities.Slice(0, position + 1);
        CausalSoftmax(p, position, width);
        SpanMath.WeightedRowSum(p, values, hs, output.Slice(0, hs), width);
    }

    /// <summary>
    /// The backward of <see cref="Forward(ReadOnlySpan{float}, int, int, int, Span{float}, Span{float}, int)"/>:
    /// qkvGradient [B*T, 3D] (overwritten) from outputGradient [B*T, D], the forward's qkv and probabilities.
    /// With S = Q K^T / sqrt(hs) and P = softmax(S) per row: dP = dY V^T, dV = P^T dY,
    /// dS = P (dP - rowsum(P dP)), dQ = dS K / sqrt(hs), dK = dS^T Q / sqrt(hs).
    /// </summary>
    /// <param name="outputGradient">dY = dL/d(output) [B*T, D].</param>
    /// <param name="qkv">The forward's qkv [B*T, 3D]; D = qkv.Length / (3 B T), a multiple of H.</param>
    /// <param name="probabilities">The forward's probabilities [B, H, T, T]; or empty: each head's are recomputed from
    /// qkv as the forward computes them (the same bits), which costs about half a forward and saves storing B H T^2
    /// floats per layer and their trip through memory.</param>
    /// <param name="batch">B &gt;= 0.</param>
    /// <param name="sequence">T &gt;= 0.</param>
    /// <param name="heads">H &gt;= 1.</param>
    /// <param name="qkvGradient">dL/dqkv [B*T, 3D], overwritten.</param>
    /// <param name="maxDegreeOfParallelism">Most threads; -1 for all cores.</param>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or qkvGradient overlaps an input.</exception>
    public static void Backward(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> qkv, ReadOnlySpan<float> probabilities,
        int batch, int sequence, int heads, Span<float> qkvGradient, int maxDegreeOfParallelism = -1)
    {
        int dim = Dim(qkv.Length, batch, sequence, heads);
        LayerChecks.Exactly(outputGradient.Length, (long)batch * sequence * dim, nameof(outputGradient), "[B*T, D]");
        if (!probabilities.IsEmpty)
        {
            LayerChecks.Exactly(probabilities.Length, (long)batch * heads * sequence * sequence, nameof(probabilities), "[B, H, T, T] or empty");
        }

        LayerChecks.AtLeast(qkvGradient.Length, qkv.Length, nameof(qkvGradient), "[B*T, 3D]");
        LayerChecks.Parallelism(maxDegreeOfParallelism);
        var dqkv = qkvGradient.Slice(0, qkv.Length);
        LayerChecks.Disjoint(dqkv, nameof(qkvGradient), outputGradient, nameof(outputGradient));
        LayerChecks.Disjoint(dqkv, nameof(qkvGradient), qkv, nameof(qkv));
        LayerChecks.Disjoint(dqkv, nameof(qkvGradient), probabilities, nameof(probabilities));
        fixed (float* pDqkv = qkvGradient, pDout = outputGradient, pQkv = qkv, pAtt = probabilities)
        {
            Backward(pDqkv, pDout, pQkv, pAtt, batch, sequence, dim, heads, maxDegreeOfParallelism);
        }
    }

    /// <summary>Checks B, T, H and returns D for qkv [B*T, 3D].</summary>
    private static int Dim(int qkvLength, int batch, int sequence, int heads)
    {
        LayerChecks.Size(batch, nameof(batch));
        LayerChecks.Size(sequence, nameof(sequence));
        LayerChecks.Size(heads, nameof(heads), positive: true);
        if ((long)sequence * sequence > Array.MaxLength)
        {
            // A head's scores and probabilities [T, T] are one block of memory, indexed as a span.
            throw new ArgumentException(
                $"T = {sequence}: one head's attention [T, T] would have {(long)sequence * sequence} elements, over the {Array.MaxLength} a span holds (T at most 46340).",
                nameof(sequence));
        }

        long rows = (long)batch * sequence;
        if (rows == 0)
        {
            LayerChecks.Exactly(qkvLength, 0, "qkv", "[B*T, 3D] with B*T = 0");
            return 0;
        }

        if (qkvLength % (3 * rows) != 0 || qkvLength / (3 * rows) % heads != 0)
        {
            throw new ArgumentException(
                $"qkv has {qkvLength} elements, which is not B*T x 3D = {rows} x 3D for a D that H = {heads} heads divide.", "qkv");
        }

        return (int)(qkvLength / (3 * rows));
    }

    private static void Forward(float* pOutput, float* pAtt, float* pQkv, int batch, int seq, int dim, int heads,
        int maxDegreeOfParallelism)
    {
        int hs = dim / heads, qkvDim = 3 * dim;
        float scale = 1 / MathF.Sqrt(hs);
        var width = Simd.Width;
        ParallelWork.ForRanges(batch * heads, 1, maxDegreeOfParallelism, new ForwardHeads(pOutput, pAtt, pQkv, batch, seq, dim, heads, hs, qkvDim, scale, width));
    }

    /// <summary>
    /// Rows t .. t + 3 (fewer at the end) of one head's probabilities, each with the bits of a row alone (see Row):
    /// scores against keys 0..t (and a few masked ones up to a whole vector) with K^T's rows contiguous in
    /// <paramref name="kt0"/> [hs, T], then the causal softmax. The forward's, and the backward's recomputation.
    /// </summary>
    /// <param name="att">The head's probabilities [T, T].</param>
    /// <param name="q">The head's first query (row stride <paramref name="qkvDim"/>).</param>
    /// <param name="qkvDim">3D, the row stride of qkv.</param>
    /// <param name="hs">Head size.</param>
    /// <param name="kt0">K^T [hs, T].</param>
    /// <param name="seq">T.</param>
    /// <param name="t">The first row.</param>
    /// <param name="scale">1 / sqrt(hs).</param>
    /// <param name="width">Vector width.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProbabilityRows(float* att, float* q, int qkvDim, int hs, ref float kt0, int seq, int t, float scale, VectorWidth width)
    {
        int m4 = Math.Min(4, seq - t);
        AttentionKernels.RowsTimesMatrix(scale, ref q[(long)t * qkvDim], qkvDim, hs, ref kt0, seq, ref att[(long)t * seq], seq, m4, t, seq, width);
        if (m4 == 4)
        {
            AttentionKernels.CausalSoftmax4(ref att[(long)t * seq], t, seq, width);
        }
        else
        {
            for (int i = 0; i < m4; i++)
            {
                CausalSoftmax(new Span<float>(att + ((long)(t + i) * seq), seq), t + i, width);
            }
        }
    }

    /// <summary>
    /// One query row t of one head (the forward's unit of work, also the KV-cache step's): p[0..t] = softmax over
    /// keys 0..t of q k_s * scale, p after t = 0, and y [hs] = sum_{s &lt;= t} p[s] v_s. Scores are computed in whole
    /// vectors up to p.Length (the row length of the masking), so a row gives the same bits for the same p.Length.
    /// </summary>
    /// <param name="y">Output [hs].</param>
    /// <param name="q">Query [hs].</param>
    /// <param name="kt">Keys transposed [hs, ktStride]: column s is key s (at least p.Length columns readable).</param>
    /// <param name="ktStride">Row stride of kt.</param>
    /// <param name="values">Value rows [t + 1, hs] with row stride valueStride.</param>
    /// <param name="valueStride">Row stride of values.</param>
    /// <param name="p">Probabilities [&gt;= t + 1] (overwritten).</param>
    /// <param name="t">The query's position.</param>
    /// <param name="scale">1 / sqrt(hs).</param>
    /// <param name="width">Vector width.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(Span<float> y, ReadOnlySpan<float> q, ReadOnlySpan<float> kt, int ktStride, ReadOnlySpan<float> values,
        int valueStride, Span<float> p, int t, float scale, VectorWidth width)
    {
        SpanMath.RowTimesMatrix(scale, q, kt, ktStride, p.Slice(0, WholeVectors(t, p.Length, width)), width);
        CausalSoftmax(p, t, width);
        SpanMath.WeightedRowSum(p.Slice(0, t + 1), values, valueStride, y, width);
    }

    private static void Backward(float* pDqkv, float* pDout, float* pQkv, float* pAtt, int batch, int seq, int dim,
        int heads, int maxDegreeOfParallelism)
    {
        int hs = dim / heads, qkvDim = 3 * dim;
        float scale = 1 / MathF.Sqrt(hs);
        var width = Simd.Width;
        ParallelWork.ForRanges(batch * heads, 1, maxDegreeOfParallelism, new BackwardHeads(pDqkv, pDout, pQkv, pAtt, batch, seq, dim, heads, hs, qkvDim, scale, width));
    }

    /// <summary>t + 1 rounded up to whole vectors of the width, at most the row length.</summary>
    private static int WholeVectors(int t, int seq, VectorWidth width)
    {
        int lanes = width == VectorWidth.Scalar ? 1 : (int)width / 32;
        return Math.Min(seq, ((t + lanes) / lanes) * lanes);
    }

    /// <summary>destination [hs, T] = the head's [T, hs] slice of qkv starting at offset, with row stride 3D.</summary>
    private static void Transpose(Span<float> destination, ReadOnlySpan<float> qkv, int offset, int stride, int seq, int hs)
    {
        if (seq == 0)
        {
            return;
        }

        // Bounds checked once here; the copy itself runs on pointers, eight source rows per pass in 8 x 8 register
        // blocks (Transpose8, the packing routines' transpose; times 1: a copy) where AVX is.
        _ = destination[(hs * seq) - 1];
        _ = qkv[offset + ((seq - 1) * stride) + hs - 1];
        fixed (float* d = destination, q = qkv)
        {
            float* src = q + offset;
            int t = 0;
            for (; Transpose8.IsSupported && t + 8 <= seq; t += 8)
            {
                float* r0 = src + ((nint)t * stride);
                int i = 0;
                for (; i + 8 <= hs; i += 8)
                {
                    Transpose8.Block(r0 + i, stride, d + ((nint)i * seq) + t, seq, 8, 1f);
                }

                for (; i < hs; i++)
                {
                    for (int r = 0; r < 8; r++)
                    {
                        d[((nint)i * seq) + t + r] = r0[((nint)r * stride) + i];
                    }
                }
            }

            for (; t < seq; t++)
            {
                float* r0 = src + ((nint)t * stride);
                for (int i = 0; i < hs; i++)
                {
                    d[((nint)i * seq) + t] = r0[i];
                }
            }
        }
    }

    /// <summary>A buffer owned by the calling thread, reused across steps (no per-step allocation).</summary>
    private static float* Scratch(long length) => Workspace.Current.Get(WorkspaceSlot.ModelRows, length);

    /// <summary>Softmax of row[0..t] in place; entries after t (future positions) become 0.</summary>
    private static void CausalSoftmax(Span<float> row, int t, VectorWidth width)
    {
        ref float start = ref MemoryMarshal.GetReference(row);
        if (!AttentionKernels.CausalSoftmax(ref start, t, row.Length, width))
        {
            AttentionKernels.CausalSoftmaxScalar(ref start, t, row.Length, width);
        }
    }

    private readonly struct ForwardHeads(float* pOutput, float* pAtt, float* pQkv, int batch, int seq, int dim, int heads, int hs, int qkvDim,
        float scale, VectorWidth width) : IWorkRanges
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            var qkv = new ReadOnlySpan<float>(pQkv, batch * seq * qkvDim);

            // Per thread: K^T [hs, T], and the head's probabilities [T, T] where they are not kept.
            float* buffer = Scratch((hs * seq) + (pAtt == null ? (long)seq * seq : 0));
            var kt = new Span<float>(buffer, hs * seq);
            ref float kt0 = ref *buffer;
            float* own = buffer + (hs * seq);
            for (int bh = start; bh < end; bh++)
            {
                int b = bh / heads, h = bh % heads;
                int rowBase = b * seq, headOffset = (rowBase * qkvDim) + (h * hs);
                float* att = pAtt == null ? own : pAtt + ((long)bh * seq * seq);
                Transpose(kt, qkv, headOffset + dim, qkvDim, seq, hs);
                for (int t0 = 0; t0 < seq; t0 += 8)
                {
                    // Rows t0 .. t0 + 7, four at a time, then the probability-weighted sums of the value rows, eight
                    // rows sharing each value row load.
                    for (int t = t0; t < Math.Min(seq, t0 + 8); t += 4)
                    {
                        ProbabilityRows(att, pQkv + headOffset, qkvDim, hs, ref kt0, seq, t, scale, width);
                    }

                    int m = Math.Min(8, seq - t0);
                    AttentionKernels.WeightedSums(ref att[(long)t0 * seq], seq, 1, ref pQkv[headOffset + (2 * dim)], qkvDim,
                        ref pOutput[((long)(rowBase + t0) * dim) + (h * hs)], dim, hs, m, 0, 0, t0 + 1, 1, width);
                }
            }
        }
    }

    private readonly struct BackwardHeads(float* pDqkv, float* pDout, float* pQkv, float* pAtt, int batch, int seq, int dim, int heads, int hs,
        int qkvDim, float scale, VectorWidth width) : IWorkRanges
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            var qkv = new ReadOnlySpan<float>(pQkv, batch * seq * qkvDim);

            // Per thread: V^T [hs, T] and dS [T, T]; where the probabilities were not kept, K^T [hs, T] and P [T, T].
            long perHead = (hs * seq) + ((long)seq * seq);
            float* buffer = Scratch(pAtt == null ? 2 * perHead : perHead);
            var vt = new Span<float>(buffer, hs * seq);
            ref float vt0 = ref *buffer;
            ref float ds = ref buffer[hs * seq];
            var kt = new Span<float>(buffer + perHead, pAtt == null ? hs * seq : 0);
            ref float kt0 = ref buffer[perHead];
            float* own = buffer + perHead + (hs * seq);
            for (int bh = start; bh < end; bh++)
            {
                int b = bh / heads, h = bh % heads;
                int rowBase = b * seq, headOffset = (rowBase * qkvDim) + (h * hs), doutOffset = (rowBase * dim) + (h * hs);
                float* p = pAtt == null ? own : pAtt + ((long)bh * seq * seq);
                if (pAtt == null)
                {
                    Transpose(kt, qkv, headOffset + dim, qkvDim, seq, hs);
                    for (int t = 0; t < seq; t += 4)
                    {
                        ProbabilityRows(p, pQkv + headOffset, qkvDim, hs, ref kt0, seq, t, scale, width);
                    }
                }

                Transpose(vt, qkv, headOffset + (2 * dim), qkvDim, seq, hs);

                // Query side, eight rows at a time: dP = dY V^T (V^T rows contiguous) and dS = scale P (dP - rowsum(P dP))
                // four rows at a time, then dQ = dS K with eight rows sharing each key row load.
                for (int t0 = 0; t0 < seq; t0 += 8)
                {
                    for (int t = t0; t < Math.Min(seq, t0 + 8); t += 4)
                    {
                        int m4 = Math.Min(4, seq - t);
                        AttentionKernels.RowsTimesMatrix(1, ref pDout[doutOffset + ((long)t * dim)], dim, hs, ref vt0, seq,
                            ref Unsafe.Add(ref ds, t * seq), seq, m4, t, seq, width);
                        AttentionKernels.SoftmaxBackward(ref p[(long)t * seq], ref Unsafe.Add(ref ds, t * seq), seq, t, m4, scale, width);
                    }

                    AttentionKernels.WeightedSums(ref Unsafe.Add(ref ds, t0 * seq), seq, 1, ref pQkv[headOffset + dim], qkvDim,
                        ref pDqkv[headOffset + ((long)t0 * qkvDim)], qkvDim, hs, Math.Min(8, seq - t0), 0, 0, t0 + 1, 1, width);
                }

                // Key side, eight columns at a time: dK_s = sum_{t >= s} dS[t, s] q_t, dV_s = sum_{t >= s} P[t, s] dy_t.
                for (int s = 0; s < seq; s += 8)
                {
                    int m = Math.Min(8, seq - s);
                    long keyRow = headOffset + ((long)s * qkvDim);
                    AttentionKernels.WeightedSums(ref Unsafe.Add(ref ds, s), 1, seq, ref pQkv[headOffset], qkvDim,
                        ref pDqkv[keyRow + dim], qkvDim, hs, m, s, 1, seq, 0, width);
                    AttentionKernels.WeightedSums(ref p[s], 1, seq, ref pDout[doutOffset], dim,
                        ref pDqkv[keyRow + (2 * dim)], qkvDim, hs, m, s, 1, seq, 0, width);
                }
            }
        }
    }
}
