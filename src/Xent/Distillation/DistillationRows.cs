using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Xent.Kernels;

namespace Xent.Distillation;

/// <summary>Which divergence a call computes, and so which sweeps it needs.</summary>
internal enum DivergenceKind
{
    /// <summary>beta = 0, KL(P || Q): the loss folds into the statistics sweep; gradient Q - P.</summary>
    Forward,

    /// <summary>beta = 1, KL(Q || P): the loss folds into the statistics sweep; gradient Q (x - y - E_Q[x - y]).</summary>
    Reverse,

    /// <summary>0 &lt; beta &lt; 1: needs the row's log-sum-exps before its terms, so a sweep of its own.</summary>
    Mixture,
}

/// <summary>
/// The element-wise work of the distillation kernel on one row of a tile: student logits s and teacher logits t,
/// tempered x = s * (1/T) and y = t * (1/T) in float. Vector lanes in float, written once over
/// <see cref="IVectorOps{TV}"/> (the scalar instantiation runs the tail of a row); each call returns its sums in
/// double, and the caller folds them in double. The formulas (Q = softmax(x), P = softmax(y)):
/// forward KL, sum P (y - x) - lse(y) + lse(x), gradient Q - P; reverse KL, sum Q (x - y) - lse(x) + lse(y),
/// gradient Q (x - y - E_Q[x - y]); mixture M = beta P + (1 - beta) Q, terms beta P log(P/M) + (1 - beta) Q log(Q/M),
/// gradient Q ((1 - beta) log(Q/M) - mean) with mean = (1 - beta) sum Q log(Q/M).
/// </summary>
/// <remarks>
/// Probabilities are formed as exp(x - m) a with m the row's float max and a = exp(m - lse) rounded to float once, so
/// that they keep their relative accuracy whatever the size of the logits; log-probabilities as (x - m) + (m - lse).
/// Zero probabilities (exp below -87, or a -inf teacher logit) contribute 0, never 0 x inf.
/// </remarks>
internal static class DistillationRows
{
    /// <summary>A tile row's maxima and float sums, before they are folded into the row state.</summary>
    public struct TileSums
    {
        public float StudentMax, TeacherMax, RawMax;
        public double StudentSum, TeacherSum, RawSum, Weighted;
    }

    /// <summary>Per-row constants of the second and third sweeps.</summary>
    public struct RowConstants
    {
        public float InverseTemperature;
        public float StudentMax, StudentScale, StudentShift; // m_s, exp(m_s - lse_s), m_s - lse_s
        public float TeacherMax, TeacherScale, TeacherShift;
        public float RawMax, RawScale; // max of s, exp(max - lse(s)) (hard term with T != 1)
        public float Beta, Rest; // beta, 1 - beta
        public float Centre; // reverse KL: E_Q[x - y]; mixture: the row's mean
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

        // Rounding is monotone: max(s) / T rounded is the max of the rounded s / T.
        sums.StudentMax = maxS * inverseTemperature;
        sums.TeacherMax = maxT * inverseTemperature;
        sums.RawMax = maxS;
        var k = new RowConstants
        {
            InverseTemperature = inverseTemperature,
            StudentMax = sums.StudentMax == float.NegativeInfinity ? 0 : sums.StudentMax,
            TeacherMax = sums.TeacherMax == float.NegativeInfinity ? 0 : sums.TeacherMax,
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

    /// <summary>The mixture's sums over a tile row: sum P log(P/M) and sum Q log(Q/M).</summary>
    public static (double Teacher, double Student) MixtureTerms(VectorWidth width, ReadOnlySpan<float> s, ReadOnlySpan<float> t, in RowConstants k)
    {
        int n = s.Length;
        ref float rs = ref Unsafe.AsRef(in s[0]);
        ref float rt = ref Unsafe.AsRef(in t[0]);
        double a = 0, b = 0;
        int full = 0;
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512: full = n - (n % Vector512<float>.Count); Mixture<Vector512Ops, Vector512<float>>(ref rs, ref rt, 0, full, k, ref a, ref b); break;
            case VectorWidth.V256: full = n - (n % Vector256<float>.Count); Mixture<Vector256Ops, Vector256<float>>(ref rs, ref rt, 0, full, k, ref a, ref b); break;
            case VectorWidth.V128: full = n - (n % Vector128<float>.Count); Mixture<Vector128Ops, Vector128<float>>(ref rs, ref rt, 0, full, k, ref a, ref b); break;
            default: break;
        }

        Mixture<ScalarOps, float>(ref rs, ref rt, full, n, k, ref a, ref b);
        return (a, b);
    }

    /// <summary>Overwrites the tile row s with the logits gradient (without the hard term's -1 at the target).</summary>
    public static void Gradient(VectorWidth width, Span<float> s, ReadOnlySpan<float> t, in RowConstants k, bool hard, bool rawIsStudent, DivergenceKind kind)
    {
        int n = s.Length;
        ref float rs = ref s[0];
        ref float rt = ref Unsafe.AsRef(in t[0]);
        int full = 0;
        switch (Widths.Fit(width, n))
        {
            case VectorWidth.V512: full = n - (n % Vector512<float>.Count); Gradient<Vector512Ops, Vector512<float>>(ref rs, ref rt, 0, full, k, hard, rawIsStudent, kind); break;
            case VectorWidth.V256: full = n - (n % Vector256<float>.Count); Gradient<Vector256Ops, Vector256<float>>(ref rs, ref rt, 0, full, k, hard, rawIsStudent, kind); break;
            case VectorWidth.V128: full = n - (n % Vector128<float>.Count); Gradient<Vector128Ops, Vector128<float>>(ref rs, ref rt, 0, full, k, hard, rawIsStudent, kind); break;
            default: break;
        }

        Gradient<ScalarOps, float>(ref rs, ref rt, full, n, k, hard, rawIsStudent, kind);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
            TV x = TOps.Multiply(sv, inv), y = TOps.Multiply(TOps.Load(ref t, j), inv);
            TV es = TOps.Exp(TOps.Subtract(x, ms)), et = TOps.Exp(TOps.Subtract(y, mt));
            sumS = TOps.Add(sumS, es);
            sumT = TOps.Add(sumT, et);
            if (raw)
            {
                sumR = TOps.Add(sumR, TOps.Exp(TOps.Subtract(sv, mr)));
            }

            if (kind == DivergenceKind.Forward)
            {
                weighted = TOps.Add(weighted, TOps.Select(TOps.LessThan(zero, et), TOps.Multiply(et, TOps.Subtract(y, x)), zero));
            }
            else if (kind == DivergenceKind.Reverse)
            {
                weighted = TOps.Add(weighted, TOps.Select(TOps.LessThan(zero, es), TOps.Multiply(es, TOps.Subtract(x, y)), zero));
            }
        }

        sums.StudentSum += TOps.Sum(sumS);
        sums.TeacherSum += TOps.Sum(sumT);
        sums.RawSum += TOps.Sum(sumR);
        sums.Weighted += TOps.Sum(weighted);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Mixture<TOps, TV>(ref float s, ref float t, int start, int end, in RowConstants k, ref double teacherTerms, ref double studentTerms)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        if (start >= end)
        {
            return;
        }

        TV zero = TOps.Create(0), a = zero, b = zero;
        TV inv = TOps.Create(k.InverseTemperature), ms = TOps.Create(k.StudentMax), mt = TOps.Create(k.TeacherMax);
        TV scaleS = TOps.Create(k.StudentScale), scaleT = TOps.Create(k.TeacherScale), shiftS = TOps.Create(k.StudentShift), shiftT = TOps.Create(k.TeacherShift);
        TV beta = TOps.Create(k.Beta), rest = TOps.Create(k.Rest);
        for (int j = start; j < end; j += TOps.Count)
        {
            TV x = TOps.Subtract(TOps.Multiply(TOps.Load(ref s, j), inv), ms);
            TV y = TOps.Subtract(TOps.Multiply(TOps.Load(ref t, j), inv), mt);
            TV q = TOps.Multiply(TOps.Exp(x), scaleS), p = TOps.Multiply(TOps.Exp(y), scaleT);
            TV logM = Log<TV>(TOps.MultiplyAdd(beta, p, TOps.Multiply(rest, q)));
            TV logQ = TOps.Add(x, shiftS), logP = TOps.Add(y, shiftT);
            a = TOps.Add(a, TOps.Select(TOps.LessThan(zero, p), TOps.Multiply(p, TOps.Subtract(logP, logM)), zero));
            b = TOps.Add(b, TOps.Select(TOps.LessThan(zero, q), TOps.Multiply(q, TOps.Subtract(logQ, logM)), zero));
        }

        teacherTerms += TOps.Sum(a);
        studentTerms += TOps.Sum(b);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gradient<TOps, TV>(ref float s, ref float t, int start, int end, in RowConstants k, bool hard, bool rawIsStudent, DivergenceKind kind)
        where TOps : struct, IVectorOps<TV>
        where TV : struct
    {
        TV zero = TOps.Create(0);
        TV inv = TOps.Create(k.InverseTemperature), ms = TOps.Create(k.StudentMax), mt = TOps.Create(k.TeacherMax), mr = TOps.Create(k.RawMax);
        TV scaleS = TOps.Create(k.StudentScale), scaleT = TOps.Create(k.TeacherScale), scaleR = TOps.Create(k.RawScale), shiftS = TOps.Create(k.StudentShift);
        TV beta = TOps.Create(k.Beta), rest = TOps.Create(k.Rest), centre = TOps.Create(k.Centre);
        TV soft = TOps.Create(k.SoftScale), hardScale = TOps.Create(k.HardScale);
        for (int j = start; j < end; j += TOps.Count)
        {
            TV sv = TOps.Load(ref s, j);
            TV xs = TOps.Multiply(sv, inv), ys = TOps.Multiply(TOps.Load(ref t, j), inv);
            TV x = TOps.Subtract(xs, ms);
            TV q = TOps.Multiply(TOps.Exp(x), scaleS);
            TV g;
            if (kind == DivergenceKind.Forward)
            {
                g = TOps.Subtract(q, TOps.Multiply(TOps.Exp(TOps.Subtract(ys, mt)), scaleT));
            }
            else if (kind == DivergenceKind.Reverse)
            {
                g = TOps.Select(TOps.LessThan(zero, q), TOps.Multiply(q, TOps.Subtract(TOps.Subtract(xs, ys), centre)), zero);
            }
            else
            {
                TV p = TOps.Multiply(TOps.Exp(TOps.Subtract(ys, mt)), scaleT);
                TV logM = Log<TV>(TOps.MultiplyAdd(beta, p, TOps.Multiply(rest, q)));
                TV inner = TOps.MultiplyAdd(rest, TOps.Subtract(TOps.Add(x, shiftS), logM), TOps.Subtract(zero, centre));
                g = TOps.Select(TOps.LessThan(zero, q), TOps.Multiply(q, inner), zero);
            }

            g = TOps.Multiply(soft, g);
            if (hard)
            {
                TV r = rawIsStudent ? q : TOps.Multiply(TOps.Exp(TOps.Subtract(sv, mr)), scaleR);
                g = TOps.MultiplyAdd(hardScale, r, g);
            }

            TOps.Store(g, ref s, j);
        }
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
