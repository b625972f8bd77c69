using Xent.Kernels;
using Xent.LinearAlgebra;
using static Xent.Distillation.DistillationRows;

namespace Xent.Distillation;

/// <summary>
/// The fused distillation loss: student logits s = h W_s^T and teacher logits t = h_t W_t^T are only ever held one
/// tile (<see cref="TokenBlock"/> tokens x <see cref="TileColumns"/> classes) at a time. Per token block, sweeps
/// over the vocabulary recompute the tiles with <see cref="MatMul.Gemm"/>: the row log-sum-exps of s / T, t / T
/// (and s, for the hard term); for the mixture (0 &lt; beta &lt; 1), or without gradients, a sweep for the
/// divergence's terms (and the row statistic the mixture's gradient needs); then the logits gradient (with the KL
/// divergences' terms on the way), turned at once into dW_s (+)= G^T h and dh += G W_s. Element-wise work runs in
/// float vector lanes
/// (<see cref="DistillationRows"/>), row states and reductions in double.
/// </summary>
/// <remarks>
/// The vocabulary is split into a fixed number of groups, a function of V only. Groups are the parallel tasks: a
/// group owns its rows of dW_s and keeps its own partial row states and partial dh, merged in group order. Every
/// per-row number is a fold of the same tiles in the same order, whatever the batch, the row's position in it or
/// the thread count (the matrix kernel computes each element of a product the same way for any M), so a row's loss
/// and (with Sum) its dh are bitwise the same alone or in any batch. Memory: <see cref="ScratchBytes"/>, nothing
/// proportional to N or V.
/// </remarks>
internal sealed unsafe partial class DistillationKernel
{
    /// <summary>Tokens per block.</summary>
    public const int TokenBlock = 512;

    /// <summary>Classes per tile.</summary>
    public const int TileColumns = 512;

    private const int MaxGroups = 8;
    private const int GroupColumns = 4096;

    // The calling thread's kernel, reused by its next call (Run): a kernel per call, with its per-token-block arrays,
    // was about 70 KB of garbage every training step. The fields below are the call's, set by Start and cleared after.
    [ThreadStatic]
    private static DistillationKernel? spareKernel;

    // The last call's groups and tiles, for the next call with the same groups and D: a training loop makes the same
    // call every step, and fresh arrays each call (up to ScratchBytes, in the large object heap) grew a process's
    // committed memory by about 200 MB over 50 calls at 256 x 256 x 32000, every one of them garbage.
    private static Buffers? keptBuffers;

    private DistillationProblem p;
    private DistillationOptions o = DistillationOptions.Default;
    private DivergenceKind kind;
    private VectorWidth width;
    private int rows, classes, d, teacherSize;
    private Group[] groups = [];
    private Buffers? buffers;
    private bool gradients, hard, raw;
    private double temperature;
    private float inverseTemperature;
    private int kept;
    private double scale;
    private int threads;

    // Group g's classes are groupStart[g] .. groupStart[g + 1] (the first groups.Length + 1 entries are the call's).
    private readonly int[] groupStart = new int[MaxGroups + 1];

    // The current token block's merged row states and constants.
    private readonly RowConstants[] constants = new RowConstants[TokenBlock];
    private readonly double[] divergence = new double[TokenBlock];
    private readonly LogSumExpParts[] lseRaw = new LogSumExpParts[TokenBlock];
    private readonly float[] targetLogit = new float[TokenBlock];
    private readonly float[] cumulants = new float[5];

    private DistillationKernel()
    {
    }

    private enum Pass
    {
        Statistics,
        Terms,
        Gradients,
    }

    /// <summary>Groups (parallel tasks) for V classes: one per 4096 classes, at most 8.</summary>
    /// <param name="classes">V.</param>
    public static int GroupCount(int classes) => Math.Clamp((classes + GroupColumns - 1) / GroupColumns, 1, MaxGroups);

    /// <summary>
    /// The bytes of the per-call buffers, at most: per group a partial dh of one token block (with gradients) and, per
    /// running task (never more than the groups), two tiles (student, teacher); plus the matrix kernel's per-thread
    /// packing buffers, which it keeps across calls.
    /// </summary>
    /// <param name="classes">V.</param>
    /// <param name="hiddenSize">D.</param>
    public static long ScratchBytes(int classes, int hiddenSize) =>
        GroupCount(classes) * ((2L * TokenBlock * TileColumns) + ((long)TokenBlock * hiddenSize)) * sizeof(float);

    /// <summary>Runs the problem on the calling thread's kernel; returns the reduced loss (Mean over kept rows, or Sum).</summary>
    /// <param name="problem">The validated call.</param>
    public static double Run(in DistillationProblem problem)
    {
        // A call nested in one of this thread's (none today) would find the spare taken and make its own.
        var kernel = spareKernel ?? new DistillationKernel();
        spareKernel = null;
        kernel.Start(problem);
        try
        {
            return kernel.Run();
        }
        finally
        {
            // Kept within the fused kernel's bound (ScratchPool.MaxKeptBytes); larger buffers go with their call.
            if (ScratchBytes(kernel.classes, kernel.d) <= Fused.ScratchPool.MaxKeptBytes)
            {
                Volatile.Write(ref keptBuffers, kernel.buffers);
            }

            kernel.Clear();
            spareKernel = kernel;
        }
    }

    /// <summary>The constructor's part of a call: a cleared kernel (new, or after <see cref="Clear"/>) for <paramref name="problem"/>.</summary>
    private void Start(in DistillationProblem problem)
    {
        p = problem;
        o = p.Options;
        rows = p.Rows;
        classes = p.Classes;
        d = p.StudentSize;
        teacherSize = p.TeacherSize;
        kind = o.Beta == 0 ? DivergenceKind.Forward : o.Beta == 1 ? DivergenceKind.Reverse : DivergenceKind.Mixture;
        width = Simd.Width;
        temperature = o.Temperature;
        inverseTemperature = (float)(1.0 / temperature);
        gradients = p.HiddenGradient != null;
        hard = o.HardLossWeight != 0f;
        raw = hard && inverseTemperature != 1f;
        Cumulants(o.Beta, cumulants);
        for (int n = 0; n < rows; n++)
        {
            kept += Kept(n) ? 1 : 0;
        }

        scale = o.Upstream / (o.Reduction == Reduction.Sum ? 1.0 : kept);
        threads = o.MaxDegreeOfParallelism == -1 ? Environment.ProcessorCount : Math.Min(o.MaxDegreeOfParallelism, Environment.ProcessorCount);
        int count = GroupCount(classes);
        for (int g = 0; g <= count; g++)
        {
            groupStart[g] = g == count ? classes : (int)((long)classes * g / count / TileColumns * TileColumns);
        }

        int hiddenSize = gradients ? d : 0;
        var last = Interlocked.Exchange(ref keptBuffers, null);
        buffers = last != null && last.Groups.Length == count && last.HiddenSize == hiddenSize ? last : new Buffers(count, hiddenSize);
        buffers.ReserveTiles(Math.Min(threads, count));
        groups = buffers.Groups;
    }

    /// <summary>
    /// Every field as a new kernel's, so that the spare starts its next call as a new kernel would, with no address or
    /// row state of this call's left to read (a field added to the kernel is cleared here too).
    /// </summary>
    private void Clear()
    {
        int used = Math.Min(rows, TokenBlock);
        Array.Clear(constants, 0, used);
        Array.Clear(divergence, 0, used);
        Array.Clear(lseRaw, 0, used);
        Array.Clear(targetLogit, 0, used);
        Array.Clear(leading, 0, used);
        Array.Clear(groupStart);
        Array.Clear(cumulants);
        p = default;
        o = DistillationOptions.Default;
        kind = default;
        width = default;
        rows = classes = d = teacherSize = kept = threads = 0;
        groups = [];
        buffers = null;
        gradients = hard = raw = false;
        temperature = scale = 0;
        inverseTemperature = 0;
    }

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
            if (kind == DivergenceKind.Mixture || !gradients)
            {
                Sweep(n0, b, Pass.Terms);
                MergeTerms(n0, b);
            }

            if (gradients)
            {
                Sweep(n0, b, Pass.Gradients);
                MergeHidden(n0, b);
                FixLeading(n0, b);
                if (kind != DivergenceKind.Mixture)
                {
                    MergeTerms(n0, b); // the KL terms came with the gradient
                }
            }

            total += RowLosses(n0, b);
        }

        return o.Reduction == Reduction.Sum ? total : total / kept; // 0 / 0 = NaN when every row is ignored
    }

    private bool Kept(int n) => p.Targets[n] != o.IgnoreIndex;

    /// <summary>The groups of one pass over the block, in parallel on the pool's threads (inline at one thread or one group).</summary>
    private void Sweep(int n0, int b, Pass pass) => ParallelWork.For(groups.Length, threads, new GroupItems(this, n0, b, pass));

    private void RunGroup(int g, int n0, int b, Pass pass)
    {
        var group = groups[g];
        group.Reset(b);
        var tiles = buffers!.TakeTiles();

        for (int c0 = groupStart[g]; c0 < groupStart[g + 1]; c0 += TileColumns)
        {
            int w = Math.Min(TileColumns, groupStart[g + 1] - c0);
            ComputeTiles(tiles, n0, b, c0, w);
            for (int r = 0; r < b; r++)
            {
                var s = tiles.Student.AsSpan(r * w, w);
                var t = tiles.Teacher.AsSpan(r * w, w);
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
                        var (first, second, mean) = Terms(width, s, t, constants[r], kind);
                        group.Term[r] += first;
                        group.SecondTerm[r] += second;
                        group.Mean[r] += mean;
                        break;
                    default:
                        int lead = leading[r] ? LeadingTile(group, r, c0, s, t) : -1;
                        group.Term[r] += Gradient(width, s, t, constants[r], hard, hard && !raw, kind);
                        int y = p.Targets[n0 + r] - c0;
                        if (hard && (uint)y < (uint)w)
                        {
                            s[y] = HardTarget(targetLogit[r], t[y], constants[r], !raw, kind);
                        }

                        if (lead >= 0)
                        {
                            s[lead] = 0f; // FixLeading's, after the products
                        }

                        break;
                }
            }

            if (pass == Pass.Gradients)
            {
                Products(group, tiles, n0, b, c0, w, first: c0 == groupStart[g]);
            }
        }

        buffers.GiveBackTiles(tiles);
    }

    // A struct body on the pool's threads (ParallelWork), not Parallel.For with a lambda: its closure, delegate, options
    // and the runtime's own objects were 3.5 KB of garbage a call at 2 threads (Loss of 8 rows x 8292 classes: two sweeps).
    private readonly struct GroupItems(DistillationKernel kernel, int n0, int b, Pass pass) : IWorkItems
    {
        public void Run(int item) => kernel.RunGroup(item, n0, b, pass);
    }

    /// <summary>The block's student tile s [b, w] and teacher tile t [b, w] for classes c0 ..</summary>
    private void ComputeTiles(Tiles buffers, int n0, int b, int c0, int w)
    {
        MatMul.Gemm(false, true, b, w, d, 1f, new ReadOnlySpan<float>(p.StudentHidden + ((nint)n0 * d), b * d), Math.Max(1, d),
            new ReadOnlySpan<float>(p.StudentWeight + ((nint)c0 * d), w * d), Math.Max(1, d), 0f, buffers.Student.AsSpan(0, b * w), w, 1);
        if (p.TeacherLogits != null)
        {
            for (int r = 0; r < b; r++)
            {
                new ReadOnlySpan<float>(p.TeacherLogits + ((nint)(n0 + r) * classes) + c0, w).CopyTo(buffers.Teacher.AsSpan(r * w, w));
            }
        }
        else
        {
            MatMul.Gemm(false, true, b, w, teacherSize, 1f, new ReadOnlySpan<float>(p.TeacherHidden + ((nint)n0 * teacherSize), b * teacherSize), Math.Max(1, teacherSize),
                new ReadOnlySpan<float>(p.TeacherWeight + ((nint)c0 * teacherSize), w * teacherSize), Math.Max(1, teacherSize), 0f, buffers.Teacher.AsSpan(0, b * w), w, 1);
        }
    }

    private void StatisticsRow(Group group, int r, int n, int c0, ReadOnlySpan<float> s, ReadOnlySpan<float> t)
    {
        Statistics(width, s, t, inverseTemperature, raw, kind, out var sums);
        // The reverse KL's weighted sum is relative to the tile's (tempered) maxima, the teacher's 0 where it is -inf
        // (as Sums takes it).
        bool reverse = kind == DivergenceKind.Reverse;
        double teacherShift = !reverse || sums.TeacherMax == float.NegativeInfinity ? 0 : (double)sums.TeacherMax * inverseTemperature;
        group.StudentLse[r].Add(LogSumExpState.Of(sums.StudentMax, sums.StudentSum, inverseTemperature, reverse ? sums.Weighted : 0, teacherShift,
            sums.StudentTop, sums.TopWeighted, sums.TeacherAtMax));
        group.TeacherLse[r].Add(LogSumExpState.Of(sums.TeacherMax, sums.TeacherSum, inverseTemperature));
        if (raw)
        {
            group.RawLse[r].Add(LogSumExpState.Of(sums.RawMax, sums.RawSum));
        }

        int y = p.Targets[n] - c0;
        if ((uint)y < (uint)s.Length)
        {
            group.TargetLogit[r] = s[y];
        }
    }

    /// <summary>The block's row log-sum-exps (groups folded in order), the KL divergences, and the row constants.</summary>
    private void MergeStatistics(int n0, int b)
    {
        double soft = scale * o.SoftLossWeight / temperature;
        for (int r = 0; r < b; r++)
        {
            leading[r] = false;
            if (!Kept(n0 + r))
            {
                continue;
            }

            LogSumExpState student = LogSumExpState.Empty, teacher = LogSumExpState.Empty, rawState = LogSumExpState.Empty;
            foreach (var group in groups)
            {
                student.Add(group.StudentLse[r]);
                teacher.Add(group.TeacherLse[r]);
                rawState.Add(group.RawLse[r]);
            }

            // m - lse and exp(m - lse) from the parts, -log s and 1 / s (NaN for a row of only -inf, or with +inf):
            // m + log s rounds to m far from 0, and m - lse was then 0 (rows of -1e30: p = 1 in every column).
            LogSumExpParts ls = student.Parts, lt = teacher.Parts;
            lseRaw[r] = raw ? rawState.Parts : ls;
            int y = p.Targets[n0 + r], g = 0;
            while (y >= groupStart[g + 1])
            {
                g++;
            }

            targetLogit[r] = groups[g].TargetLogit[r];
            var (studentScale, studentLow) = Scale(ls.Probability(student.Max));
            var (teacherScale, teacherLow) = Scale(lt.Probability(teacher.Max));
            var (rawScale, rawLow) = raw ? Scale(lseRaw[r].Probability(rawState.Max)) : (0f, 0f);
            var (centre, centreLow) = kind == DivergenceKind.Reverse ? Split(ReverseCentre(student, teacher, inverseTemperature)) : (0f, 0f);
            leading[r] = Leading(studentScale, teacherScale);
            constants[r] = new RowConstants
            {
                InverseTemperature = inverseTemperature,
                StudentMax = student.RawMax,
                StudentScale = studentScale,
                StudentLow = studentLow,
                StudentShift = (float)-ls.Minus(student.Max),
                TeacherMax = teacher.RawMax,
                TeacherScale = teacherScale,
                TeacherLow = teacherLow,
                TeacherShift = (float)-lt.Minus(teacher.Max),
                RawMax = raw ? rawState.RawMax : 0,
                RawScale = rawScale,
                RawLow = rawLow,
                Beta = o.Beta,
                Rest = 1 - o.Beta,
                SmallBeta = o.Beta < 0.25f,
                LogBeta = MathF.Log(o.Beta),
                LogRest = MathF.Log(1 - o.Beta),
                K1 = cumulants[0],
                K2 = cumulants[1],
                K3 = cumulants[2],
                K4 = cumulants[3],
                K5 = cumulants[4],
                Centre = centre,
                CentreLow = centreLow,
                SoftScale = (float)soft,
                Soft = o.SoftLossWeight != 0f,
                HardScale = (float)(scale * o.HardLossWeight),
            };
        }
    }

    /// <summary>
    /// The series of log(1 - beta + beta e^u) = sum kappa_n u^n / n!, the cumulant generating function of Bernoulli(beta):
    /// kappa_n / n! for n = 1 .. 5, into <paramref name="kappa"/>.
    /// </summary>
    private static void Cumulants(double beta, Span<float> kappa)
    {
        double k2 = beta * (1 - beta), k3 = k2 * (1 - (2 * beta));
        kappa[0] = (float)beta;
        kappa[1] = (float)(k2 / 2);
        kappa[2] = (float)(k3 / 6);
        kappa[3] = (float)(k2 * (1 - (6 * k2)) / 24);
        kappa[4] = (float)(k3 * (1 - (12 * k2)) / 120);
    }

    /// <summary>x as a float and the rest of it, x - float(x), as another: together they keep 48 bits of x.</summary>
    private static (float High, float Low) Split(double x)
    {
        float high = (float)x;
        return (high, float.IsFinite(high) ? (float)(x - high) : 0f);
    }

    /// <summary>A softmax scale a = exp(m - lse) as a float and its rounding relative to it, a / float(a) - 1 (0 where the float is 0 or not finite).</summary>
    private static (float Scale, float Low) Scale(double a)
    {
        float scale = (float)a;
        return (scale, scale != 0 && float.IsFinite(scale) ? (float)((a - scale) / scale) : 0f);
    }

    /// <summary>
    /// The reverse KL's E_Q[(x - m) - (y - m_t)], m and m_t the row's maxima of the tempered student and teacher logits
    /// (the gradient's Q ((x - m) - (y - m_t) - E_Q[..]) takes the same differences): the student state's mean, rebased
    /// from the teacher shift it folded to (0 for tiles of only -inf teacher logits) to the teacher's max.
    /// </summary>
    /// <remarks>
    /// Where the student's max is one class a, its term w_a = 0 - (y_a - m_t) is replaced by the float the gradient's
    /// lanes take there, fl(fl(t_a - m_t) / T) less from 0: the statistics sweep rounded it at its tile's teacher max
    /// instead. Where the student is confident, w_a is most of the centre and the gradient there, q_a (w_a - centre)
    /// = q_a sum over c != a of q_c (w_a - w_c), is small beside it (1e-7 at a lead of 30): the two roundings of w_a
    /// (up to 1e-6 at |y_a| of 20) would not cancel, and the gradient there would be theirs.
    /// </remarks>
    private static double ReverseCentre(in LogSumExpState student, in LogSumExpState teacher, float inverseTemperature)
    {
        double centre = student.TeacherMax == teacher.Max ? student.Mean : student.Mean + (teacher.Max - student.TeacherMax);
        if (student.Top != 1)
        {
            return centre;
        }

        float lanes = 0f - ((student.TeacherAtMax - teacher.RawMax) * inverseTemperature);
        double top = student.TopWeighted + (teacher.Max - student.TeacherMax);
        double moved = (lanes - top) / student.Sum;
        return float.IsFinite(lanes) && double.IsFinite(moved) ? centre + moved : centre;
    }

    /// <summary>The divergence (and the mixture's gradient statistic), groups added in order.</summary>
    private void MergeTerms(int n0, int b)
    {
        double beta = o.Beta, rest = 1 - beta;
        for (int r = 0; r < b; r++)
        {
            if (!Kept(n0 + r))
            {
                continue;
            }

            double first = 0, second = 0, mean = 0;
            foreach (var group in groups)
            {
                first += group.Term[r];
                second += group.SecondTerm[r];
                mean += group.Mean[r];
            }

            if (kind == DivergenceKind.Mixture)
            {
                divergence[r] = (beta * first) + (rest * second);
                (constants[r].Centre, constants[r].CentreLow) = Split(rest * mean);
            }
            else
            {
                divergence[r] = first;
            }
        }
    }

    /// <summary>Row losses of the block in double; returns their sum (row order).</summary>
    private double RowLosses(int n0, int b)
    {
        double total = 0;
        for (int r = 0; r < b; r++)
        {
            int n = n0 + r;
            double loss = 0;
            if (Kept(n))
            {
                // A term of weight 0 is absent, not 0 x inf (an infinite divergence, a target logit of -inf).
                loss = o.SoftLossWeight == 0f ? 0 : o.SoftLossWeight * divergence[r];
                if (hard)
                {
                    loss += o.HardLossWeight * lseRaw[r].Minus(targetLogit[r]);
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

    /// <summary>dW_s[c0 .., :] += G^T h_block and the group's partial dh (+)= G W_s[c0 .., :].</summary>
    private void Products(Group group, Tiles buffers, int n0, int b, int c0, int w, bool first)
    {
        if (d == 0)
        {
            return;
        }

        var gradient = buffers.Student.AsSpan(0, b * w);
        var weight = new ReadOnlySpan<float>(p.StudentWeight + ((nint)c0 * d), w * d);
        MatMul.Gemm(false, false, b, d, w, 1f, gradient, w, weight, d, first ? 0f : 1f, group.Hidden.AsSpan(0, b * d), d, 1);
        MatMul.Gemm(true, false, w, d, b, 1f, gradient, w, new ReadOnlySpan<float>(p.StudentHidden + ((nint)n0 * d), b * d), d,
            1f, new Span<float>(p.WeightGradient + ((nint)c0 * d), w * d), d, 1);
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

    /// <summary>A call's groups and the tiles of its running tasks (none carries anything from one call to the next).</summary>
    private sealed class Buffers
    {
        // A pair of tiles for each task that may run at once (never more than the groups), made before the call, taken by
        // a task for its group and given back after. A ConcurrentBag that the tasks filled instead made a pair (2 MB)
        // during a warm call whenever more tasks ran at once than ever before (the first call on more threads, or a
        // worker that was late in all earlier calls), on whichever thread ran the task.
        private readonly Tiles?[] tiles;

        public Buffers(int count, int hiddenSize)
        {
            HiddenSize = hiddenSize;
            Groups = new Group[count];
            for (int g = 0; g < count; g++)
            {
                Groups[g] = new Group(hiddenSize);
            }

            tiles = new Tiles?[count];
        }

        public int HiddenSize { get; }

        public Group[] Groups { get; }

        /// <summary>Before a call (no task running): tiles for <paramref name="tasks"/> tasks at once, made now if there are fewer.</summary>
        public void ReserveTiles(int tasks)
        {
            int have = 0;
            foreach (var t in tiles)
            {
                have += t != null ? 1 : 0;
            }

            for (int i = 0; i < tiles.Length && have < tasks; i++)
            {
                if (tiles[i] == null)
                {
                    tiles[i] = new Tiles();
                    have++;
                }
            }
        }

        /// <summary>A pair of tiles for a running task: one of those reserved.</summary>
        public Tiles TakeTiles()
        {
            for (int i = 0; i < tiles.Length; i++)
            {
                if (Interlocked.Exchange(ref tiles[i], null) is { } taken)
                {
                    return taken;
                }
            }

            return new Tiles(); // more tasks at once than reserved for: not expected, but not wrong
        }

        /// <summary>Gives a task's tiles back for the next task.</summary>
        public void GiveBackTiles(Tiles given)
        {
            for (int i = 0; i < tiles.Length; i++)
            {
                if (Interlocked.CompareExchange(ref tiles[i], given, null) == null)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One running task's tiles (reused by the groups it runs; they carry nothing between groups).</summary>
    private sealed class Tiles
    {
        public float[] Student { get; } = GC.AllocateUninitializedArray<float>(TokenBlock * TileColumns);

        public float[] Teacher { get; } = GC.AllocateUninitializedArray<float>(TokenBlock * TileColumns);
    }

    /// <summary>One group's partial row states and partial dh for the current token block.</summary>
    private sealed class Group(int hiddenSize)
    {
        public float[] Hidden { get; } = GC.AllocateUninitializedArray<float>(TokenBlock * hiddenSize);

        public LogSumExpState[] StudentLse { get; } = new LogSumExpState[TokenBlock];

        public LogSumExpState[] TeacherLse { get; } = new LogSumExpState[TokenBlock];

        public LogSumExpState[] RawLse { get; } = new LogSumExpState[TokenBlock];

        public float[] TargetLogit { get; } = new float[TokenBlock];

        public double[] Term { get; } = new double[TokenBlock];

        public double[] SecondTerm { get; } = new double[TokenBlock];

        public double[] Mean { get; } = new double[TokenBlock];

        // A leading row's tails and the column of its shared max (-1 not here, -2 the teacher's max elsewhere): FixLeading's.
        public double[] StudentTail { get; } = new double[TokenBlock];

        public double[] TeacherTail { get; } = new double[TokenBlock];

        public int[] Lead { get; } = new int[TokenBlock];

        public void Reset(int b)
        {
            for (int r = 0; r < b; r++)
            {
                StudentLse[r] = LogSumExpState.Empty;
                TeacherLse[r] = LogSumExpState.Empty;
                RawLse[r] = LogSumExpState.Empty;
                Term[r] = 0;
                SecondTerm[r] = 0;
                Mean[r] = 0;
                StudentTail[r] = 0;
                TeacherTail[r] = 0;
                Lead[r] = -1;
            }
        }
    }
}
