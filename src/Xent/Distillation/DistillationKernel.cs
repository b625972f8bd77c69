using Xent.LinearAlgebra;

namespace Xent.Distillation;

/// <summary>
/// The fused distillation loss: student logits s = h W_s^T and teacher logits t = h_t W_t^T are only ever held one
/// tile (<see cref="TokenBlock"/> tokens x <see cref="TileColumns"/> classes) at a time. Per token block, three
/// sweeps over the vocabulary recompute the tiles with <see cref="MatMul.Gemm"/>: the row log-sum-exps of s / T,
/// t / T (and s, for the hard term); the divergence and the row statistic its gradient needs; then the logits
/// gradient, turned at once into dW_s (+)= G^T h and dh += G W_s.
/// </summary>
/// <remarks>
/// The vocabulary is split into a fixed number of groups, a function of V only. Groups are the parallel tasks: a
/// group owns its rows of dW_s and keeps its own partial row states and partial dh, merged in group order. Every
/// per-row number is a fold of the same tiles in the same order, whatever the batch, the row's position in it or
/// the thread count (the matrix kernel computes each element of a product the same way for any M), so a row's loss
/// and (with Sum) its dh are bitwise the same alone or in any batch. Memory: <see cref="ScratchBytes"/>, nothing
/// proportional to N or V.
/// </remarks>
internal sealed unsafe class DistillationKernel
{
    /// <summary>Tokens per block.</summary>
    public const int TokenBlock = 128;

    /// <summary>Classes per tile.</summary>
    public const int TileColumns = 256;

    private const int MaxGroups = 16;
    private const int GroupColumns = 4096;

    private readonly DistillationProblem p;
    private readonly DistillationOptions o;
    private readonly Divergence divergence;
    private readonly int rows, classes, d, teacherSize;
    private readonly int[] groupStart;
    private readonly Group[] groups;
    private readonly bool gradients, hard;
    private readonly double temperature;
    private readonly int kept;
    private readonly double scale;
    private readonly int threads;

    // The current token block's merged row states.
    private readonly double[] lseStudent = new double[TokenBlock], lseTeacher = new double[TokenBlock], lseRaw = new double[TokenBlock];
    private readonly double[] mean = new double[TokenBlock];
    private readonly float[] targetLogit = new float[TokenBlock];

    private DistillationKernel(DistillationProblem p)
    {
        this.p = p;
        o = p.Options;
        rows = p.Rows;
        classes = p.Classes;
        d = p.StudentSize;
        teacherSize = p.TeacherSize;
        divergence = new Divergence(o.Beta);
        temperature = o.Temperature;
        gradients = p.HiddenGradient != null;
        hard = o.HardLossWeight != 0f;
        for (int n = 0; n < rows; n++)
        {
            kept += Kept(n) ? 1 : 0;
        }

        scale = o.Upstream / (o.Reduction == Reduction.Sum ? 1.0 : kept);
        threads = o.MaxDegreeOfParallelism == -1 ? Environment.ProcessorCount : Math.Min(o.MaxDegreeOfParallelism, Environment.ProcessorCount);
        int count = GroupCount(classes);
        groupStart = new int[count + 1];
        for (int g = 0; g <= count; g++)
        {
            groupStart[g] = g == count ? classes : (int)((long)classes * g / count / TileColumns * TileColumns);
        }

        groups = new Group[count];
        for (int g = 0; g < count; g++)
        {
            groups[g] = new Group(gradients ? d : 0);
        }
    }

    private enum Pass
    {
        Statistics,
        Terms,
        Gradients,
    }

    /// <summary>Groups (parallel tasks) for V classes: one per 4096 classes, at most 16.</summary>
    /// <param name="classes">V.</param>
    public static int GroupCount(int classes) => Math.Clamp((classes + GroupColumns - 1) / GroupColumns, 1, MaxGroups);

    /// <summary>
    /// The bytes of the per-call buffers: per group two tiles (student, teacher) and, with gradients, a partial dh of
    /// one token block; plus the matrix kernel's per-thread packing buffers, which it keeps across calls.
    /// </summary>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    public static long ScratchBytes(int classes, int hiddenSize) =>
        GroupCount(classes) * ((2L * TokenBlock * TileColumns) + ((long)TokenBlock * hiddenSize)) * sizeof(float);

    /// <summary>Runs the problem; returns the reduced loss (Mean over kept rows, or Sum).</summary>
    /// <param name="problem">The validated call.</param>
    public static double Run(DistillationProblem problem) => new DistillationKernel(problem).Run();

    private double Run()
    {
        if (gradients)
        {
            for (long c = 0; c < classes; c++)
            {
                new Span<float>(p.WeightGradient + (c * d), d).Clear();
            }
        }

        double total = 0;
        for (int n0 = 0; n0 < rows; n0 += TokenBlock)
        {
            int b = Math.Min(TokenBlock, rows - n0);
            Sweep(n0, b, Pass.Statistics);
            MergeStatistics(n0, b);
            Sweep(n0, b, Pass.Terms);
            total += MergeTerms(n0, b);
            if (gradients)
            {
                Sweep(n0, b, Pass.Gradients);
                MergeHidden(n0, b);
            }
        }

        return o.Reduction == Reduction.Sum ? total : total / kept; // 0 / 0 = NaN when every row is ignored
    }

    private bool Kept(int n) => p.Targets[n] != o.IgnoreIndex;

    private void Sweep(int n0, int b, Pass pass)
    {
        if (threads == 1 || groups.Length == 1)
        {
            for (int g = 0; g < groups.Length; g++)
            {
                RunGroup(g, n0, b, pass);
            }

            return;
        }

        Parallel.For(0, groups.Length, new ParallelOptions { MaxDegreeOfParallelism = threads }, g => RunGroup(g, n0, b, pass));
    }

    private void RunGroup(int g, int n0, int b, Pass pass)
    {
        var group = groups[g];
        group.Reset(b);
        for (int c0 = groupStart[g]; c0 < groupStart[g + 1]; c0 += TileColumns)
        {
            int width = Math.Min(TileColumns, groupStart[g + 1] - c0);
            ComputeTiles(group, n0, b, c0, width);
            for (int r = 0; r < b; r++)
            {
                var s = group.Student.AsSpan(r * width, width);
                var t = group.Teacher.AsSpan(r * width, width);
                if (!Kept(n0 + r))
                {
                    s.Clear(); // a zero row of G: no gradient
                    continue;
                }

                switch (pass)
                {
                    case Pass.Statistics:
                        StatisticsRow(group, r, n0 + r, c0, s, t);
                        break;
                    case Pass.Terms:
                        TermsRow(group, r, s, t);
                        break;
                    default:
                        GradientRow(r, n0 + r, c0, s, t);
                        break;
                }
            }

            if (pass == Pass.Gradients)
            {
                Products(group, n0, b, c0, width, first: c0 == groupStart[g]);
            }
        }
    }

    /// <summary>The block's student tile s [b, width] and teacher tile t [b, width] for classes c0 ..</summary>
    private void ComputeTiles(Group group, int n0, int b, int c0, int width)
    {
        MatMul.Gemm(false, true, b, width, d, 1f, new ReadOnlySpan<float>(p.StudentHidden + ((nint)n0 * d), b * d), Math.Max(1, d),
            new ReadOnlySpan<float>(p.StudentWeight + ((nint)c0 * d), width * d), Math.Max(1, d), 0f, group.Student.AsSpan(0, b * width), width, 1);
        if (p.TeacherLogits != null)
        {
            for (int r = 0; r < b; r++)
            {
                new ReadOnlySpan<float>(p.TeacherLogits + ((nint)(n0 + r) * classes) + c0, width).CopyTo(group.Teacher.AsSpan(r * width, width));
            }
        }
        else
        {
            MatMul.Gemm(false, true, b, width, teacherSize, 1f, new ReadOnlySpan<float>(p.TeacherHidden + ((nint)n0 * teacherSize), b * teacherSize), Math.Max(1, teacherSize),
                new ReadOnlySpan<float>(p.TeacherWeight + ((nint)c0 * teacherSize), width * teacherSize), Math.Max(1, teacherSize), 0f, group.Teacher.AsSpan(0, b * width), width, 1);
        }
    }

    private void StatisticsRow(Group group, int r, int n, int c0, ReadOnlySpan<float> s, ReadOnlySpan<float> t)
    {
        group.StudentLse[r].Add(LogSumExpState.Of(s, temperature));
        group.TeacherLse[r].Add(LogSumExpState.Of(t, temperature));
        if (hard && temperature != 1)
        {
            group.RawLse[r].Add(LogSumExpState.Of(s, 1));
        }

        int y = p.Targets[n] - c0;
        if ((uint)y < (uint)s.Length)
        {
            group.TargetLogit[r] = s[y];
        }
    }

    private void MergeStatistics(int n0, int b)
    {
        for (int r = 0; r < b; r++)
        {
            if (!Kept(n0 + r))
            {
                continue;
            }

            LogSumExpState student = LogSumExpState.Empty, teacher = LogSumExpState.Empty, raw = LogSumExpState.Empty;
            foreach (var group in groups)
            {
                student.Add(group.StudentLse[r]);
                teacher.Add(group.TeacherLse[r]);
                raw.Add(group.RawLse[r]);
            }

            lseStudent[r] = student.Value;
            lseTeacher[r] = teacher.Value;
            lseRaw[r] = temperature == 1 ? lseStudent[r] : raw.Value;
            int y = p.Targets[n0 + r], g = 0;
            while (y >= groupStart[g + 1])
            {
                g++;
            }

            targetLogit[r] = groups[g].TargetLogit[r];
        }
    }

    private void TermsRow(Group group, int r, ReadOnlySpan<float> s, ReadOnlySpan<float> t)
    {
        double term = 0, rowMean = 0;
        for (int j = 0; j < s.Length; j++)
        {
            var (dTerm, dMean) = divergence.Summand((s[j] / temperature) - lseStudent[r], (t[j] / temperature) - lseTeacher[r]);
            term += dTerm;
            rowMean += dMean;
        }

        group.Term[r] += term;
        group.Mean[r] += rowMean;
    }

    /// <summary>Row losses of the block in double, in group order; returns their sum (row order).</summary>
    private double MergeTerms(int n0, int b)
    {
        double total = 0;
        for (int r = 0; r < b; r++)
        {
            int n = n0 + r;
            double loss = 0;
            if (Kept(n))
            {
                double divergenceTotal = 0, meanTotal = 0;
                foreach (var group in groups)
                {
                    divergenceTotal += group.Term[r];
                    meanTotal += group.Mean[r];
                }

                mean[r] = meanTotal;
                loss = o.SoftLossWeight * divergenceTotal;
                if (hard)
                {
                    loss += o.HardLossWeight * (lseRaw[r] - targetLogit[r]);
                }
            }

            if (p.Losses != null)
            {
                p.Losses[n] = (float)loss;
            }

            total += loss;
        }

        return total;
    }

    /// <summary>Overwrites the row's student logits with the logits gradient G = scale x d(row loss)/ds.</summary>
    private void GradientRow(int r, int n, int c0, Span<float> s, ReadOnlySpan<float> t)
    {
        int y = p.Targets[n] - c0;
        double soft = o.SoftLossWeight / temperature, weightHard = o.HardLossWeight;
        for (int j = 0; j < s.Length; j++)
        {
            double g = soft * divergence.Gradient((s[j] / temperature) - lseStudent[r], (t[j] / temperature) - lseTeacher[r], mean[r]);
            if (hard)
            {
                g += weightHard * (Math.Exp(s[j] - lseRaw[r]) - (j == y ? 1 : 0));
            }

            s[j] = (float)(scale * g);
        }
    }

    /// <summary>dW_s[c0 .., :] += G^T h_block and the group's partial dh (+)= G W_s[c0 .., :].</summary>
    private void Products(Group group, int n0, int b, int c0, int width, bool first)
    {
        if (d == 0)
        {
            return;
        }

        var gradient = group.Student.AsSpan(0, b * width);
        var weight = new ReadOnlySpan<float>(p.StudentWeight + ((nint)c0 * d), width * d);
        MatMul.Gemm(false, false, b, d, width, 1f, gradient, width, weight, d, first ? 0f : 1f, group.Hidden.AsSpan(0, b * d), d, 1);
        MatMul.Gemm(true, false, width, d, b, 1f, gradient, width, new ReadOnlySpan<float>(p.StudentHidden + ((nint)n0 * d), b * d), d,
            1f, new Span<float>(p.WeightGradient + ((nint)c0 * d), width * d), d, 1);
    }

    /// <summary>dh of the block's rows: the groups' partials added in group order.</summary>
    private void MergeHidden(int n0, int b)
    {
        for (int r = 0; r < b; r++)
        {
            var dh = new Span<float>(p.HiddenGradient + ((nint)(n0 + r) * d), d);
            groups[0].Hidden.AsSpan(r * d, d).CopyTo(dh);
            for (int g = 1; g < groups.Length; g++)
            {
                var partial = groups[g].Hidden.AsSpan(r * d, d);
                for (int k = 0; k < d; k++)
                {
                    dh[k] += partial[k];
                }
            }
        }
    }

    /// <summary>One group's buffers and partial row states for the current token block.</summary>
    private sealed class Group(int hiddenSize)
    {
        public float[] Student { get; } = new float[TokenBlock * TileColumns];

        public float[] Teacher { get; } = new float[TokenBlock * TileColumns];

        public float[] Hidden { get; } = new float[TokenBlock * hiddenSize];

        public LogSumExpState[] StudentLse { get; } = new LogSumExpState[TokenBlock];

        public LogSumExpState[] TeacherLse { get; } = new LogSumExpState[TokenBlock];

        public LogSumExpState[] RawLse { get; } = new LogSumExpState[TokenBlock];

        public float[] TargetLogit { get; } = new float[TokenBlock];

        public double[] Term { get; } = new double[TokenBlock];

        public double[] Mean { get; } = new double[TokenBlock];

        public void Reset(int b)
        {
            for (int r = 0; r < b; r++)
            {
                StudentLse[r] = LogSumExpState.Empty;
                TeacherLse[r] = LogSumExpState.Empty;
                RawLse[r] = LogSumExpState.Empty;
                Term[r] = 0;
                Mean[r] = 0;
            }
        }
    }
}
