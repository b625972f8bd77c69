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
internal static partial class DistillationRows
{
    /// <summary>Where the rest of a tile row's sum is under this part of its max's term, the row is summed again with that term apart (<see cref="Statistics"/>).</summary>
    private const double MaxTermRest = 1.0 / 16;

    /// <summary>A tile row's maxima (of s and t, not tempered) and float sums, before they are folded into the row state.</summary>
    public struct TileSums
    {
        public float StudentMax, TeacherMax, RawMax;
        public double StudentSum, TeacherSum, RawSum, Weighted;

        // The reverse KL's: the student's max's terms (their count, as exp(0) = 1 each) and their part of Weighted, and
        // the teacher's logit there (where the count is 1).
        public double StudentTop, TopWeighted;
        public float TeacherAtMax;
    }

    /// <summary>Per-row constants of the second and third sweeps.</summary>
    public struct RowConstants
    {
        public float InverseTemperature;
        public float StudentMax, StudentScale, StudentShift; // m_s (of s, not tempered), exp(m_s / T - lse_s), m_s / T - lse_s
        public float StudentLow; // the scale's rounding, relative: exp(m_s / T - lse_s) = StudentScale (1 + StudentLow)
        public float TeacherMax, TeacherScale, TeacherShift, TeacherLow; // the same of t
        public float RawMax, RawScale, RawLow; // max of s, exp(max - lse(s)) (hard term with T != 1), its rounding as StudentLow
        public float Beta, Rest; // beta, 1 - beta
        public bool SmallBeta; // beta under 1/4: the mixture's log(Q/M) away from P = Q by log1p (MixtureLogs)
        public float LogBeta, LogRest; // their logs (the mixture's stand-in log M, MixtureLog)
        public float K1, K2, K3, K4, K5; // the mixture's series of log(M/Q) in log(P/Q): the cumulants of Bernoulli(beta) over k! (MixtureLogs)
        public float Centre, CentreLow; // reverse KL: E_Q[(x - m) - (y - m_t)]; mixture: the row's mean; in two floats, Centre + CentreLow
        public float SoftScale, HardScale; // scale x SoftLossWeight / T, scale x HardLossWeight
        public bool Soft; // SoftLossWeight != 0: with 0 the divergence's gradient is absent, not 0 x a NaN or infinite one
    }

    /// <summary>Maxima, then sums of exp(x - max) (and the KL weighted sum) of a tile row.</summary>
    public static void Statistics(VectorWidth width, ReadOnlySpan<float> s, ReadOnlySpan<float> t, float inverseTemperature, bool raw, DivergenceKind kind, out TileSums sums)
    {
        sums = default;
        int n = s.Length;
        ref float rs = ref Unsafe.AsRef(in s[0]);
        ref float rt = ref Unsafe.AsRef(in t[0]);
        int full = TileMaxima(width, s, t, out float maxS, out float maxT);

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
        Sums<No>(width, ref rs, ref rt, full, n, k, raw, kind, ref sums);

        // A sum that holds its max's term 1 dropped the terms under 2^-25 beside it (all of them where one logit / T
        // leads the rest by 17), and with them log(1 + rest): where the rest is under 1/16 of that term (the tile's
        // max leads it), the tile row is summed again with the max's terms apart. Elsewhere the 1 costs the rest a few
        // 1e-7 of itself, and this costs the common row one comparison.
        if (sums.StudentSum < 1 + MaxTermRest || sums.TeacherSum < 1 + MaxTermRest || (raw && sums.RawSum < 1 + MaxTermRest))
        {
            sums.StudentSum = sums.TeacherSum = sums.RawSum = sums.Weighted = 0;
            Sums<Yes>(width, ref rs, ref rt, full, n, k, raw, kind, ref sums);
        }
    }

    /// <summary>A tile row's maxima of s and t; returns where its whole vectors end (the rest taken one by one).</summary>
    private static int TileMaxima(VectorWidth width, ReadOnlySpan<float> s, ReadOnlySpan<float> t, out float maxS, out float maxT)
    {
        int n = s.Length;
        ref float rs = ref Unsafe.AsRef(in s[0]);
        ref float rt = ref Unsafe.AsRef(in t[0]);
        int full;
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

        return full;
    }

    private static void Sums<TApart>(VectorWidth width, ref float rs, ref float rt, int full, int n, in RowConstants k, bool raw, DivergenceKind kind, ref TileSums sums)
        where TApart : struct, IConstant
    {
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512: Sums<Vector512Ops, Vector512<float>, TApart>(ref rs, ref rt, 0, full, k, raw, kind, ref sums); break;
            case VectorWidth.V256: Sums<Vector256Ops, Vector256<float>, TApart>(ref rs, ref rt, 0, full, k, raw, kind, ref sums); break;
            case VectorWidth.V128: Sums<Vector128Ops, Vector128<float>, TApart>(ref rs, ref rt, 0, full, k, raw, kind, ref sums); break;
            default: break;
        }

        Sums<ScalarOps, float, TApart>(ref rs, ref rt, full, n, k, raw, kind, ref sums);
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
        double a = 0, b = 0, c = 0, top = 0;
        int full = 0;
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512: full = n - (n % Vector512<float>.Count); Terms<Vector512Ops, Vector512<float>>(ref rs, ref rt, 0, full, k, kind, ref a, ref b, ref c, ref top); break;
            case VectorWidth.V256: full = n - (n % Vector256<float>.Count); Terms<Vector256Ops, Vector256<float>>(ref rs, ref rt, 0, full, k, kind, ref a, ref b, ref c, ref top); break;
            case VectorWidth.V128: full = n - (n % Vector128<float>.Count); Terms<Vector128Ops, Vector128<float>>(ref rs, ref rt, 0, full, k, kind, ref a, ref b, ref c, ref top); break;
            default: break;
        }

        Terms<ScalarOps, float>(ref rs, ref rt, full, n, k, kind, ref a, ref b, ref c, ref top);

        // The student's max's terms Q log(Q/M) with Q = exp(0) a, a the softmax scale in double (its float and its rounding).
        return (a, b, top == 0 ? c : c + (k.StudentScale * (1.0 + k.StudentLow) * top));
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

    /// <summary>
    /// The logits gradient at the hard term's target y, which the lanes leave without its -1: the soft part as they
    /// compute it, plus HardScale (r - 1) with r = exp(s_y - max) a, a the softmax scale in double (its float and its
    /// rounding). Where the student is confident in y, r is 1 - 3.5e-9 (a lead of 30) and r - 1 in float, after
    /// r rounded to float, would be off by 3e-8, ten times the gradient.
    /// </summary>
    public static float HardTarget(float studentLogit, float teacherLogit, in RowConstants k, bool rawIsStudent, DivergenceKind kind)
    {
        float soft = studentLogit, teacher = teacherLogit;
        double unused = 0;
        Gradient<ScalarOps, float>(ref soft, ref teacher, 0, 1, k, hard: false, rawIsStudent, kind, ref unused);
        double scale = rawIsStudent ? k.StudentScale * (1.0 + k.StudentLow) : k.RawScale * (1.0 + k.RawLow);
        double r = MathF.Exp(studentLogit - (rawIsStudent ? k.StudentMax : k.RawMax)) * scale;
        return (float)(soft + (k.HardScale * (r - 1)));
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
    private static void Sums<TOps, TV, TApart>(ref float s, ref float t, int start, int end, in RowConstants k, bool raw, DivergenceKind kind, ref TileSums sums)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
        where TApart : struct, IConstant
    {
        if (start >= end)
        {
            return;
        }

        // With TApart each sum is kept in two: the max's terms (exp(0) = 1, where x - m is 0) and the rest. Beside a
        // term of 1 a float sum drops every term under 2^-25, all of them where one logit / T leads the rest by 17 (a
        // confident row), and with them log(1 + rest): the hard term's loss, the softmax's 1 - p at the max. The
        // reverse KL's weighted sum too: the max's (0 - (y - m_t)) would drop the rest, which the centred gradient
        // there needs. The parts meet in double.
        bool apart = TApart.Value;
        TV zero = TOps.Create(0), sumS = zero, sumT = zero, sumR = zero, weighted = zero, topS = zero, topT = zero, topR = zero, topW = zero, teacherTop = zero;
        TV inv = TOps.Create(k.InverseTemperature), ms = TOps.Create(k.StudentMax), mt = TOps.Create(k.TeacherMax), mr = TOps.Create(k.RawMax);
        for (int j = start; j < end; j += TOps.Count)
        {
            TV sv = TOps.Load(ref s, j), tv = TOps.Load(ref t, j);
            TV xm = TOps.Multiply(TOps.Subtract(sv, ms), inv), ym = TOps.Multiply(TOps.Subtract(tv, mt), inv);
            TV es = TOps.Exp(xm), et = TOps.Exp(ym);
            TV belowS = default;
            if (apart)
            {
                belowS = TOps.LessThan(xm, zero);
                TV belowT = TOps.LessThan(ym, zero);
                sumS = TOps.Add(sumS, TOps.Select(belowS, es, zero));
                topS = TOps.Add(topS, TOps.Select(belowS, zero, es));
                sumT = TOps.Add(sumT, TOps.Select(belowT, et, zero));
                topT = TOps.Add(topT, TOps.Select(belowT, zero, et));
            }
            else
            {
                sumS = TOps.Add(sumS, es);
                sumT = TOps.Add(sumT, et);
            }

            if (raw)
            {
                TV xr = TOps.Subtract(sv, mr), er = TOps.Exp(xr);
                if (apart)
                {
                    TV belowR = TOps.LessThan(xr, zero);
                    sumR = TOps.Add(sumR, TOps.Select(belowR, er, zero));
                    topR = TOps.Add(topR, TOps.Select(belowR, zero, er));
                }
                else
                {
                    sumR = TOps.Add(sumR, er);
                }
            }

            if (kind == DivergenceKind.Reverse)
            {
                // (x - m) - (y - m_t), not x - y: far from 0 that loses y (or x), or overflows (LogSumExpState).
                TV w = TOps.Select(TOps.LessThan(zero, es), TOps.Multiply(es, TOps.Subtract(xm, ym)), zero);
                if (apart)
                {
                    weighted = TOps.Add(weighted, TOps.Select(belowS, w, zero));
                    topW = TOps.Add(topW, TOps.Select(belowS, zero, w));
                    teacherTop = TOps.Add(teacherTop, TOps.Select(belowS, zero, tv));
                }
                else
                {
                    weighted = TOps.Add(weighted, w);
                }
            }
        }

        if (apart && kind == DivergenceKind.Reverse)
        {
            double top = TOps.SumWide(topS), topWeighted = TOps.SumWide(topW);
            sums.StudentTop += top;
            sums.TopWeighted += topWeighted;
            sums.TeacherAtMax += TOps.Sum(teacherTop); // exact where one lane holds the max, the others 0
            sums.StudentSum += top + TOps.SumWide(sumS);
            sums.Weighted += topWeighted + TOps.SumWide(weighted);
        }
        else
        {
            sums.StudentSum += TOps.SumWide(topS) + TOps.SumWide(sumS);
            sums.Weighted += TOps.SumWide(weighted);
        }

        sums.TeacherSum += TOps.SumWide(topT) + TOps.SumWide(sumT);
        sums.RawSum += TOps.SumWide(topR) + TOps.SumWide(sumR);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Terms<TOps, TV>(ref float s, ref float t, int start, int end, in RowConstants k, DivergenceKind kind, ref double first, ref double second, ref double mean, ref double top)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (start >= end)
        {
            return;
        }

        // The mixture's mean sum Q log(Q/M) keeps the student's max's terms (x - m = 0) apart, as Sums does, and sums
        // their log(Q/M) alone (Q there is the scale, which the caller applies in double): where the student is
        // confident that term is most of the mean, and beside it a float sum would drop the rest, which the gradient at
        // the max, Q ((1 - beta) log(Q/M) - mean), is made of; and Q log(Q/M) in float would be off by the roundings of Q
        // and of the product.
        TV zero = TOps.Create(0), a = zero, b = zero, c = zero, tops = zero;
        TV beta = TOps.Create(k.Beta), rest = TOps.Create(k.Rest);
        for (int j = start; j < end; j += TOps.Count)
        {
            Probabilities<TOps, TV>(ref s, ref t, j, k, out TV x, out _, out TV q, out TV p, out TV logQ, out TV logP);
            if (kind != DivergenceKind.Mixture)
            {
                a = TOps.Add(a, KlTerm<TOps, TV>(kind, q, p, logQ, logP));
                continue;
            }

            TV m = TOps.MultiplyAdd(beta, p, TOps.Multiply(rest, q));
            MixtureLogs<TOps, TV>(m, logP, logQ, k, out TV teacherLog, out TV studentLog);
            a = TOps.Add(a, TOps.Select(TOps.LessThan(zero, p), Phi<TOps, TV>(p, m, teacherLog), m));
            TV positive = TOps.LessThan(zero, q);
            b = TOps.Add(b, TOps.Select(positive, Phi<TOps, TV>(q, m, studentLog), m));
            TV below = TOps.LessThan(x, zero);
            c = TOps.Add(c, TOps.Select(below, TOps.Select(positive, TOps.Multiply(q, studentLog), zero), zero));
            tops = TOps.Add(tops, TOps.Select(below, zero, TOps.Select(positive, studentLog, zero)));
        }

        first += TOps.SumWide(a);
        second += TOps.SumWide(b);
        mean += TOps.SumWide(c);
        top += TOps.SumWide(tops);
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
        TV beta = TOps.Create(k.Beta), rest = TOps.Create(k.Rest), centre = TOps.Create(k.Centre), centreLow = TOps.Create(k.CentreLow);
        TV studentLow = TOps.Create(k.StudentLow), teacherLow = TOps.Create(k.TeacherLow);
        TV soft = TOps.Create(k.SoftScale), hardScale = TOps.Create(k.HardScale);
        for (int j = start; j < end; j += TOps.Count)
        {
            Probabilities<TOps, TV>(ref s, ref t, j, k, out TV x, out TV y, out TV q, out TV p, out TV logQ, out TV logP);
            TV g;
            if (kind == DivergenceKind.Forward)
            {
                // Q - P with the scales' roundings, q StudentLow - p TeacherLow: where both are near one-hot at the same
                // class, q - p there is the difference of the two rounded scales (exact), 3e-8 off a gradient of 1 - p
                // less 1 - q, which can be far smaller. Equal rows still give exactly 0.
                g = TOps.Subtract(TOps.MultiplyAdd(q, studentLow, TOps.Subtract(q, p)), TOps.Multiply(p, teacherLow));
                terms = TOps.Add(terms, KlTerm<TOps, TV>(kind, q, p, logQ, logP));
            }
            else if (kind == DivergenceKind.Reverse)
            {
                // The centre in two floats: at a confident student's max, (x - y) - centre is small beside both, and a
                // float centre would leave its rounding there.
                g = TOps.Select(TOps.LessThan(zero, q), TOps.Multiply(q, TOps.Subtract(TOps.Subtract(TOps.Subtract(x, y), centre), centreLow)), zero);
                terms = TOps.Add(terms, KlTerm<TOps, TV>(kind, q, p, logQ, logP));
            }
            else
            {
                MixtureLogs<TOps, TV>(TOps.MultiplyAdd(beta, p, TOps.Multiply(rest, q)), logP, logQ, k, out _, out TV studentLog);
                TV inner = TOps.Subtract(TOps.MultiplyAdd(rest, studentLog, TOps.Subtract(zero, centre)), centreLow);
                g = TOps.Select(TOps.LessThan(zero, q), TOps.Multiply(q, inner), zero);
            }

            g = k.Soft ? TOps.Multiply(soft, g) : zero;
            if (hard)
            {
                TV r = rawIsStudent ? q : TOps.Multiply(TOps.Exp(TOps.Subtract(TOps.Load(ref s, j), mr)), scaleR);
                g = TOps.MultiplyAdd(hardScale, r, g);
            }

            TOps.Store(g, ref s, j);
        }

        term += TOps.SumWide(terms);
    }

    /// <summary>
    /// log(P/M) and log(Q/M) for the mixture M = beta P + (1 - beta) Q computed in float as <paramref name="m"/>. Where
    /// P and Q are within 1/8 in log (u = log(P/Q)), log(M/Q) = log(1 - beta + beta e^u) is taken by its series
    /// K(u) = K1 u + K2 u^2 + .. + K5 u^5 (3e-8 of itself at |u| = 1/8): log M from the float m is off by its rounding,
    /// up to 6e-8 where M is near 1 (P and Q near one-hot at the same class), and log(Q/M) there is far smaller, about
    /// beta (1 - Q) - beta (1 - P); rows alike everywhere (Q = P) get 0, not that rounding. Elsewhere they are
    /// log P - log M and log Q - log M (<see cref="MixtureLog"/>), except log(Q/M) under a beta below 1/4: it is about
    /// beta (e^u - 1) in size, and as log Q - log M it kept an ulp of |log Q| whatever its size, so that the gradient
    /// Q ((1 - beta) log(Q/M) - mean) lost about 2e-7 / beta of itself; there it is -log1p(beta (e^u - 1))
    /// (<see cref="LogMixtureOverStudent"/>; e^u - 1 needs no expm1, |u| being 1/8 or more), up to u = 80 (e^u near
    /// float's range; past it log(Q/M) is at least log(1 + beta e^80)). Its exp and log cost more than the error is
    /// worth at larger betas (1.2-1.3x the time of a whole call at D 64).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MixtureLogs<TOps, TV>(TV m, TV logP, TV logQ, in RowConstants k, out TV teacherLog, out TV studentLog)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV logM = MixtureLog<TOps, TV>(m, logP, logQ, k);
        TV u = TOps.Subtract(logP, logQ);
        TV series = TOps.MultiplyAdd(TOps.Create(k.K5), u, TOps.Create(k.K4));
        series = TOps.MultiplyAdd(series, u, TOps.Create(k.K3));
        series = TOps.MultiplyAdd(series, u, TOps.Create(k.K2));
        series = TOps.MultiplyAdd(series, u, TOps.Create(k.K1));
        series = TOps.Multiply(series, u);
        TV near = TOps.LessThan(TOps.Abs(u), TOps.Create(0.125f)); // false for NaN and infinite u (a zero P or Q)
        teacherLog = TOps.Select(near, TOps.Subtract(u, series), TOps.Subtract(logP, logM));
        TV far = TOps.Subtract(logQ, logM);
        if (k.SmallBeta)
        {
            far = TOps.Select(TOps.LessThan(u, TOps.Create(80f)), TOps.Subtract(TOps.Create(0f), LogMixtureOverStudent<TOps, TV>(u, k)), far);
        }

        studentLog = TOps.Select(near, TOps.Subtract(TOps.Create(0f), series), far);
    }

    /// <summary>
    /// log(M/Q) = log(1 + x), x = beta (e^u - 1), lane-wise for u under 80 and beta under 1/4, to a few ulp of itself
    /// however small: log w for w = 1 + x in float (at least 3/4 there), less w's rounding ((w - 1) - x) / w (all of it
    /// where x is under w's ulp).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV LogMixtureOverStudent<TOps, TV>(TV u, in RowConstants k)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV one = TOps.Create(1f);
        TV e = TOps.Exp(TOps.Max(u, TOps.Create(-104f))); // e^-104 is 0 beside 1: P = 0 (u = -inf) gives x = -beta
        TV x = TOps.Multiply(TOps.Create(k.Beta), TOps.Subtract(e, one));
        TV w = TOps.Add(one, x);
        return TOps.Subtract(Log<TV>(w), TOps.Divide(TOps.Subtract(TOps.Subtract(w, one), x), w));
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
