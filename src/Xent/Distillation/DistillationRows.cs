using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Distillation;

/// <summary>Which divergence a call computes, and so which sweeps it needs.</summary>
internal enum DivergenceKind
{
    /// <summary>beta = 0, KL(P || Q): terms summed in the gradient sweep; gradient Q - P.</summary>
    Forward,

    /// <summary>beta = 1, KL(Q || P): terms summed in the gradient sweep; gradient Q (x - y - E_Q[x - y]), E_Q from the statistics sweep (x and y less their maxima).</summary>
    Reverse,

    /// <summary>0 &lt; beta &lt; 1: needs the row's log-sum-exps before its terms, so a sweep of its own.</summary>
    Mixture,
}

/// <summary>
/// The element-wise work of the distillation kernel on one row of a tile: student logits s and teacher logits t,
/// tempered x = s * (1/T) and y = t * (1/T) in float. Vector lanes in float, written once over
/// <see cref="IVectorOps{TV}"/> (the scalar instantiation runs the tail of a row), taken as (s - max) / T; each call returns its sums in
/// double, and the caller folds them in double. The formulas (Q = softmax(x), P = softmax(y)):
/// forward KL, terms P log(P/Q) - P + Q, gradient Q - P; reverse KL, terms Q log(Q/P) - Q + P, gradient
/// Q (x - y - E_Q[x - y]) (x and y taken less their row's maxima, which the centre cancels); mixture M = beta P + (1 - beta) Q, terms beta (P log(P/M) - P + M) + (1 - beta)
/// (Q log(Q/M) - Q + M), gradient Q ((1 - beta) log(Q/M) - mean) with mean = (1 - beta) sum Q log(Q/M). The added
/// linear parts sum to 0 over a row (per class, for the mixture) and make every term non-negative, so that a small
/// divergence is not the difference of large sums.
/// </summary>
/// <remarks>
/// Probabilities are formed as exp(x - m) a with m the row's float max and a = exp(m - lse) rounded to float once, so
/// that they keep their relative accuracy whatever the size of the logits; log-probabilities as (x - m) + (m - lse).
/// Zero probabilities (exp below -87, or a -inf teacher logit) contribute 0, never 0 x inf.
/// </remarks>
internal static class DistillationRows
{
    /// <summary>A tile row's maxima (of s and t, not tempered) and float sums, before they are folded into the row state.</summary>
    public struct TileSums
    {
        public float StudentMax, TeacherMax, RawMax;
        public double StudentSum, TeacherSum, RawSum, Weighted;
    }

    /// <summary>Per-row constants of the second and third sweeps.</summary>
    public struct RowConstants
    {
        public float InverseTemperature;
        public float StudentMax, StudentScale, StudentShift; // m_s (of s, not tempered), exp(m_s / T - lse_s), m_s / T - lse_s
        public float TeacherMax, TeacherScale, TeacherShift; // the same of t
        public float RawMax, RawScale; // max of s, exp(max - lse(s)) (hard term with T != 1)
        public float Beta, Rest; // beta, 1 - beta
        public float LogBeta, LogRest; // their logs (the mixture's stand-in log M, MixtureLog)
        public float Centre; // reverse KL: E_Q[(x - m) - (y - m_t)]; mixture: the row's mean
        public float SoftScale, HardScale; // scale x SoftLossWeight / T, scale x HardLossWeight
    }

    /// <summary>Maxima, then sums of exp(x - max) (and the KL weighted sum) of a tile row.</summary>
    public static void Statistics(VectorWidth width, ReadOnlySpan<float> s, ReadOnlySpan<float> t, float inverseTemperature, bool raw, DivergenceKind kind, out TileSums sums)
    {
        sums = default;
        int n = s.Length;
        ref float rs = ref Unsafe.AsRef(in s[0]);
        ref float rt = ref Unsafe.AsRef(in t[0]);
        int full;
        float maxS, maxT;
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512:
                full = n - (n % Vector512<float>.Count);
                Maxima<Vector512Ops, Vector512<float>>(ref rs, ref rt, full, out maxS, out maxT);
                break;
            case VectorWidth.V256:
                full = n - (n % Vector256<float>.Count);
                Maxima<Vector256Ops, Vector256<float>>(ref rs, ref rt, full, out maxS, out maxT);
                break;
            case VectorWidth.V128:
                full = n - (n % Vector128<float>.Count);
                Maxima<Vector128Ops, Vector128<float>>(ref rs, ref rt, full, out maxS, out maxT);
                break;
            default:
                full = 0;
                (maxS, maxT) = (float.NegativeInfinity, float.NegativeInfinity);
                break;
        }

        for (int j = full; j < n; j++)
        {
            maxS = MathF.Max(maxS, s[j]);
            maxT = MathF.Max(maxT, t[j]);
        }

        // The maxima of the logits themselves: the lanes temper (s - m) / T, never s / T, which overflows float for
        // T < 1 and logits near float.MaxValue.
        sums.StudentMax = maxS;
        sums.TeacherMax = maxT;
        sums.RawMax = maxS;
        var k = new RowConstants
        {
            InverseTemperature = inverseTemperature,
            StudentMax = maxS == float.NegativeInfinity ? 0 : maxS,
            TeacherMax = maxT == float.NegativeInfinity ? 0 : maxT,
            RawMax = maxS == float.NegativeInfinity ? 0 : maxS,
        };
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512: Sums<Vector512Ops, Vector512<float>>(ref rs, ref rt, 0, full, k, raw, kind, ref sums); break;
            case VectorWidth.V256: Sums<Vector256Ops, Vector256<float>>(ref rs, ref rt, 0, full, k, raw, kind, ref sums); break;
            case VectorWidth.V128: Sums<Vector128Ops, Vector128<float>>(ref rs, ref rt, 0, full, k, raw, kind, ref sums); break;
            default: break;
        }

        Sums<ScalarOps, float>(ref rs, ref rt, full, n, k, raw, kind, ref sums);
    }

    /// <summary>
    /// The divergence's sums over a tile row: for the KL divergences sum P phi(log P/Q) (forward) or Q phi(log Q/P)
    /// (reverse); for the mixture sum P phi(log P/M), sum Q phi(log Q/M) and the gradient's sum Q log(Q/M).
    /// </summary>
    public static (double First, double Second, double Mean) Terms(VectorWidth width, ReadOnlySpan<float> s, ReadOnlySpan<float> t, in RowConstants k, DivergenceKind kind)
    {
        int n = s.Length;
        ref float rs = ref Unsafe.AsRef(in s[0]);
        ref float rt = ref Unsafe.AsRef(in t[0]);
        double a = 0, b = 0, c = 0;
        int full = 0;
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512: full = n - (n % Vector512<float>.Count); Terms<Vector512Ops, Vector512<float>>(ref rs, ref rt, 0, full, k, kind, ref a, ref b, ref c); break;
            case VectorWidth.V256: full = n - (n % Vector256<float>.Count); Terms<Vector256Ops, Vector256<float>>(ref rs, ref rt, 0, full, k, kind, ref a, ref b, ref c); break;
            case VectorWidth.V128: full = n - (n % Vector128<float>.Count); Terms<Vector128Ops, Vector128<float>>(ref rs, ref rt, 0, full, k, kind, ref a, ref b, ref c); break;
            default: break;
        }

        Terms<ScalarOps, float>(ref rs, ref rt, full, n, k, kind, ref a, ref b, ref c);
        return (a, b, c);
    }

    /// <summary>
    /// Overwrites the tile row s with the logits gradient (without the hard term's -1 at the target); for the KL
    /// divergences returns the row's <see cref="Terms"/> First sum on the way, bitwise as Terms computes it.
    /// </summary>
    public static double Gradient(VectorWidth width, Span<float> s, ReadOnlySpan<float> t, in RowConstants k, bool hard, bool rawIsStudent, DivergenceKind kind)
    {
        double term = 0;
        int n = s.Length;
        ref float rs = ref s[0];
        ref float rt = ref Unsafe.AsRef(in t[0]);
        int full = 0;
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512: full = n - (n % Vector512<float>.Count); Gradient<Vector512Ops, Vector512<float>>(ref rs, ref rt, 0, full, k, hard, rawIsStudent, kind, ref term); break;
            case VectorWidth.V256: full = n - (n % Vector256<float>.Count); Gradient<Vector256Ops, Vector256<float>>(ref rs, ref rt, 0, full, k, hard, rawIsStudent, kind, ref term); break;
            case VectorWidth.V128: full = n - (n % Vector128<float>.Count); Gradient<Vector128Ops, Vector128<float>>(ref rs, ref rt, 0, full, k, hard, rawIsStudent, kind, ref term); break;
            default: break;
        }

        Gradient<ScalarOps, float>(ref rs, ref rt, full, n, k, hard, rawIsStudent, kind, ref term);
        return term;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Maxima<TOps, TV>(ref float s, ref float t, int end, out float maxS, out float maxT)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV ms = TOps.Create(float.NegativeInfinity), mt = ms;
        for (int j = 0; j < end; j += TOps.Count)
        {
            ms = TOps.Max(ms, TOps.Load(ref s, j));
            mt = TOps.Max(mt, TOps.Load(ref t, j));
        }

        maxS = TOps.MaxAcross(ms);
        maxT = TOps.MaxAcross(mt);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Sums<TOps, TV>(ref float s, ref float t, int start, int end, in RowConstants k, bool raw, DivergenceKind kind, ref TileSums sums)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (start >= end)
        {
            return;
        }

        TV zero = TOps.Create(0), sumS = zero, sumT = zero, sumR = zero, weighted = zero;
        TV inv = TOps.Create(k.InverseTemperature), ms = TOps.Create(k.StudentMax), mt = TOps.Create(k.TeacherMax), mr = TOps.Create(k.RawMax);
        for (int j = start; j < end; j += TOps.Count)
        {
            TV sv = TOps.Load(ref s, j);
            TV xm = TOps.Multiply(TOps.Subtract(sv, ms), inv), ym = TOps.Multiply(TOps.Subtract(TOps.Load(ref t, j), mt), inv);
            TV es = TOps.Exp(xm), et = TOps.Exp(ym);
            sumS = TOps.Add(sumS, es);
            sumT = TOps.Add(sumT, et);
            if (raw)
            {
                sumR = TOps.Add(sumR, TOps.Exp(TOps.Subtract(sv, mr)));
            }

            if (kind == DivergenceKind.Reverse)
            {
                // (x - m) - (y - m_t), not x - y: far from 0 that loses y (or x), or overflows (LogSumExpState).
                weighted = TOps.Add(weighted, TOps.Select(TOps.LessThan(zero, es), TOps.Multiply(es, TOps.Subtract(xm, ym)), zero));
            }
        }

        sums.StudentSum += TOps.Sum(sumS);
        sums.TeacherSum += TOps.Sum(sumT);
        sums.RawSum += TOps.Sum(sumR);
        sums.Weighted += TOps.Sum(weighted);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Terms<TOps, TV>(ref float s, ref float t, int start, int end, in RowConstants k, DivergenceKind kind, ref double first, ref double second, ref double mean)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (start >= end)
        {
            return;
        }

        TV zero = TOps.Create(0), a = zero, b = zero, c = zero;
        TV beta = TOps.Create(k.Beta), rest = TOps.Create(k.Rest);
        for (int j = start; j < end; j += TOps.Count)
        {
            Probabilities<TOps, TV>(ref s, ref t, j, k, out _, out _, out TV q, out TV p, out TV logQ, out TV logP);
            if (kind != DivergenceKind.Mixture)
            {
                a = TOps.Add(a, KlTerm<TOps, TV>(kind, q, p, logQ, logP));
                continue;
            }

            TV m = TOps.MultiplyAdd(beta, p, TOps.Multiply(rest, q));
            TV logM = MixtureLog<TOps, TV>(m, logP, logQ, k);
            a = TOps.Add(a, TOps.Select(TOps.LessThan(zero, p), Phi<TOps, TV>(p, m, TOps.Subtract(logP, logM)), m));
            TV studentLog = TOps.Subtract(logQ, logM);
            TV positive = TOps.LessThan(zero, q);
            b = TOps.Add(b, TOps.Select(positive, Phi<TOps, TV>(q, m, studentLog), m));
            c = TOps.Add(c, TOps.Select(positive, TOps.Multiply(q, studentLog), zero));
        }

        first += TOps.Sum(a);
        second += TOps.Sum(b);
        mean += TOps.Sum(c);
    }

    /// <summary>
    /// One vector's tempered logits less the row's maxima, x - m = (s - m_s) / T and y - m_t = (t - m_t) / T (never
    /// s / T, which overflows float for T &lt; 1 near float.MaxValue), probabilities and log-probabilities, the same in
    /// every sweep.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Probabilities<TOps, TV>(ref float s, ref float t, int j, in RowConstants k, out TV x, out TV y, out TV q, out TV p, out TV logQ, out TV logP)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV inv = TOps.Create(k.InverseTemperature);
        x = TOps.Multiply(TOps.Subtract(TOps.Load(ref s, j), TOps.Create(k.StudentMax)), inv);
        y = TOps.Multiply(TOps.Subtract(TOps.Load(ref t, j), TOps.Create(k.TeacherMax)), inv);
        q = TOps.Multiply(TOps.Exp(x), TOps.Create(k.StudentScale));
        p = TOps.Multiply(TOps.Exp(y), TOps.Create(k.TeacherScale));
        logQ = TOps.Add(x, TOps.Create(k.StudentShift));
        logP = TOps.Add(y, TOps.Create(k.TeacherShift));
    }

    /// <summary>Forward KL's P log(P/Q) - P + Q, or reverse KL's Q log(Q/P) - Q + P: never negative, so rows sum without cancellation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV KlTerm<TOps, TV>(DivergenceKind kind, TV q, TV p, TV logQ, TV logP)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV zero = TOps.Create(0);
        return kind == DivergenceKind.Forward
            ? TOps.Select(TOps.LessThan(zero, p), Phi<TOps, TV>(p, q, TOps.Subtract(logP, logQ)), q)
            : TOps.Select(TOps.LessThan(zero, q), Phi<TOps, TV>(q, p, TOps.Subtract(logQ, logP)), p);
    }

    /// <summary>
    /// a log(a/b) - a + b = a phi(u) with u = log(a/b), phi(u) = u - 1 + e^-u: by its Taylor series u^2 (1/2 - u/6 + ..)
    /// for |u| &lt; 1/2 (where the direct form would cancel), else a (u - 1) + b.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Phi<TOps, TV>(TV a, TV b, TV u)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV series = TOps.MultiplyAdd(TOps.Create(1f / 40320), u, TOps.Create(-1f / 5040));
        series = TOps.MultiplyAdd(series, u, TOps.Create(1f / 720));
        series = TOps.MultiplyAdd(series, u, TOps.Create(-1f / 120));
        series = TOps.MultiplyAdd(series, u, TOps.Create(1f / 24));
        series = TOps.MultiplyAdd(series, u, TOps.Create(-1f / 6));
        series = TOps.MultiplyAdd(series, u, TOps.Create(0.5f));
        TV small = TOps.Multiply(a, TOps.Multiply(TOps.Multiply(u, u), series));
        TV large = TOps.MultiplyAdd(a, TOps.Subtract(u, TOps.Create(1f)), b);
        return TOps.Select(TOps.LessThan(TOps.Abs(u), TOps.Create(0.5f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Gradient<TOps, TV>(ref float s, ref float t, int start, int end, in RowConstants k, bool hard, bool rawIsStudent, DivergenceKind kind, ref double term)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (start >= end)
        {
            return;
        }

        TV zero = TOps.Create(0), terms = zero;
        TV mr = TOps.Create(k.RawMax), scaleR = TOps.Create(k.RawScale);
        TV beta = TOps.Create(k.Beta), rest = TOps.Create(k.Rest), centre = TOps.Create(k.Centre);
        TV soft = TOps.Create(k.SoftScale), hardScale = TOps.Create(k.HardScale);
        for (int j = start; j < end; j += TOps.Count)
        {
            Probabilities<TOps, TV>(ref s, ref t, j, k, out TV x, out TV y, out TV q, out TV p, out TV logQ, out TV logP);
            TV g;
            if (kind == DivergenceKind.Forward)
            {
                g = TOps.Subtract(q, p);
                terms = TOps.Add(terms, KlTerm<TOps, TV>(kind, q, p, logQ, logP));
            }
            else if (kind == DivergenceKind.Reverse)
            {
                g = TOps.Select(TOps.LessThan(zero, q), TOps.Multiply(q, TOps.Subtract(TOps.Subtract(x, y), centre)), zero);
                terms = TOps.Add(terms, KlTerm<TOps, TV>(kind, q, p, logQ, logP));
            }
            else
            {
                TV logM = MixtureLog<TOps, TV>(TOps.MultiplyAdd(beta, p, TOps.Multiply(rest, q)), logP, logQ, k);
                TV inner = TOps.MultiplyAdd(rest, TOps.Subtract(logQ, logM), TOps.Subtract(zero, centre));
                g = TOps.Select(TOps.LessThan(zero, q), TOps.Multiply(q, inner), zero);
            }

            g = TOps.Multiply(soft, g);
            if (hard)
            {
                TV r = rawIsStudent ? q : TOps.Multiply(TOps.Exp(TOps.Subtract(TOps.Load(ref s, j), mr)), scaleR);
                g = TOps.MultiplyAdd(hardScale, r, g);
            }

            TOps.Store(g, ref s, j);
        }

        term += TOps.Sum(terms);
    }

    /// <summary>
    /// log M for the mixture M = beta P + (1 - beta) Q computed in float as <paramref name="m"/>. Where both parts are
    /// subnormal, M can round to 0 while P or Q does not, and log M = -inf would make the class's term +inf and the
    /// row's gradient NaN. There the larger part's log, max(log beta + log P, log(1 - beta) + log Q), within log 2 of
    /// log M, stands in: such a class adds under 1e-37 to the row either way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV MixtureLog<TOps, TV>(TV m, TV logP, TV logQ, in RowConstants k)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV larger = TOps.Max(TOps.Add(logP, TOps.Create(k.LogBeta)), TOps.Add(logQ, TOps.Create(k.LogRest)));
        return TOps.Select(TOps.LessThan(TOps.Create(0f), m), Log<TV>(m), larger);
    }

    /// <summary>Natural log lane-wise (.NET's vector Log at each width, MathF.Log for one lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Log<TV>(TV x)
        where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            return Unsafe.BitCast<Vector512<float>, TV>(Vector512.Log(Unsafe.BitCast<TV, Vector512<float>>(x)));
        }

        if (typeof(TV) == typeof(Vector256<float>))
        {
            return Unsafe.BitCast<Vector256<float>, TV>(Vector256.Log(Unsafe.BitCast<TV, Vector256<float>>(x)));
        }

        if (typeof(TV) == typeof(Vector128<float>))
        {
            return Unsafe.BitCast<Vector128<float>, TV>(Vector128.Log(Unsafe.BitCast<TV, Vector128<float>>(x)));
        }

        return Unsafe.BitCast<float, TV>(MathF.Log(Unsafe.BitCast<TV, float>(x)));
    }
}
