using static Xent.Distillation.DistillationRows;

namespace Xent.Distillation;

/// <content>
/// The forward KL's gradient at a class where student and teacher both lead, taken in double from the two tails: in
/// float Q - P there is the difference of the two scales, each as good as the float sums of its tail.
/// </content>
internal sealed unsafe partial class DistillationKernel
{
    /// <summary>
    /// Whether a row of the block may have the forward KL's leading column: Q and P both above 1/2 at their maxima (so
    /// each has one max, and only a shared one can cancel). Only such rows pay for <see cref="LeadingTile"/>.
    /// </summary>
    private readonly bool[] leading = new bool[TokenBlock];

    /// <summary>Whether a row leads, from its softmax scales exp(m - lse) (Q and P at their maxima).</summary>
    private bool Leading(float studentScale, float teacherScale) =>
        kind == DivergenceKind.Forward && gradients && o.SoftLossWeight != 0f && studentScale > 0.5f && teacherScale > 0.5f;

    /// <summary>
    /// Before the gradient overwrites a leading row's tile of s: its share of the tails into the group (tile order), and
    /// where the shared max is in the tile, its column, which the caller zeroes after the gradient so that the
    /// products leave it to <see cref="FixLeading"/>.
    /// </summary>
    private int LeadingTile(Group group, int r, int c0, ReadOnlySpan<float> s, ReadOnlySpan<float> t)
    {
        int at = LeadingTails(width, s, t, constants[r], out double student, out double teacher);
        group.StudentTail[r] += student;
        group.TeacherTail[r] += teacher;
        if (at != -1)
        {
            group.Lead[r] = at < 0 ? at : c0 + at;
        }

        return at;
    }

    /// <summary>
    /// After the gradient sweep, a leading row's gradient at its shared max a, in double: with the tails R_s and R_t
    /// (groups added in order), Q_a - P_a = (R_t - R_s) Q_a P_a, Q_a = 1 / (1 + R_s), P_a = 1 / (1 + R_t), times the
    /// soft scale; the hard term's r_a - [a = y] beside it (-R_s Q_a where T is 1 and a is the target). The products
    /// took that column as 0, so it enters dh and dW_s here, once: dh_n += g W_s[a], dW_s[a] += g h_n. At leads of 20 to
    /// 25 (V 32000) Q_a - P_a can be 1e-4 of the tails, and the float tails left it 6e-5 (512 bits) to 1e-3 (scalar) off.
    /// </summary>
    private void FixLeading(int n0, int b)
    {
        for (int r = 0; r < b; r++)
        {
            if (!leading[r])
            {
                continue;
            }

            int n = n0 + r, lead = -1;
            double rs = 0, rt = 0;
            foreach (var group in groups)
            {
                rs += group.StudentTail[r];
                rt += group.TeacherTail[r];
                lead = group.Lead[r] == -1 ? lead : group.Lead[r];
            }

            if (lead < 0)
            {
                continue;
            }

            double q = 1 / (1 + rs), pa = 1 / (1 + rt);
            double g = scale * o.SoftLossWeight / temperature * ((rt - rs) * q * pa);
            if (hard)
            {
                var k = constants[r];
                bool target = p.Targets[n] == lead;
                double hardTerm = raw ? (k.RawScale * (1.0 + k.RawLow)) - (target ? 1 : 0) : target ? -rs * q : q;
                g += scale * o.HardLossWeight * hardTerm;
            }

            if (d == 0)
            {
                continue;
            }

            float value = (float)g;
            var dh = new Span<float>(p.HiddenGradient + ((nint)n * d), d);
            var dw = new Span<float>(p.WeightGradient + ((nint)lead * d), d);
            var w = new ReadOnlySpan<float>(p.StudentWeight + ((nint)lead * d), d);
            var h = new ReadOnlySpan<float>(p.StudentHidden + ((nint)n * d), d);
            for (int i = 0; i < d; i++)
            {
                dh[i] += value * w[i];
                dw[i] += value * h[i];
            }
        }
    }
}
