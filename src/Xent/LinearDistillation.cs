using Xent.Distillation;

namespace Xent;

/// <summary>
/// Knowledge distillation without logits: the divergence between the teacher's and the student's softmax over the
/// vocabulary (forward KL, reverse KL or generalised JSD, <see cref="DistillationOptions.Beta"/>), at a temperature,
/// optionally mixed with hard-label cross-entropy, and its gradients for the student's hidden states and
/// unembedding, computed from hidden states and weights by tiles: neither logits matrix is ever held. Shapes: N
/// tokens, V classes, student h [N, D] with W_s [V, D], teacher h_t [N, D_t] with W_t [V, D_t] (or teacher logits
/// [N, V]). Semantics: <see cref="Reference.DistillationReference"/>.
/// </summary>
/// <remarks>
/// Products accumulate in float (the matrix kernel), element-wise terms in float vector lanes, row states and
/// reductions in double. Memory beyond the inputs and outputs: at most 8 x (2 MB + 2 KB x D), 32 MB at D = 1024,
/// whatever N and V. Results are
/// bitwise the same for any thread count, and each row's loss (and, with <see cref="Reduction.Sum"/>, its dh) is
/// bitwise the same whether the row is alone or in a batch, at any position.
/// Bad input (an output overlapping an input or another output included) throws <see cref="ArgumentException"/> before
/// anything is written.
/// </remarks>
public static unsafe class LinearDistillation
{
    /// <summary>The reduced loss from student and teacher hidden states.</summary>
    /// <param name="studentHidden">Student hidden states h [N, D].</param>
    /// <param name="studentWeight">Student unembedding W_s [V, D].</param>
    /// <param name="teacherHidden">Teacher hidden states h_t [N, D_t].</param>
    /// <param name="teacherWeight">Teacher unembedding W_t [V, D_t].</param>
    /// <param name="targets">Targets [N]: hard labels in [0, V) (used by the hard term), or the ignore index to leave a row out.</param>
    /// <param name="options">Options; null for the defaults. Reduction.None throws: use LossPerRow.</param>
    /// <returns>The loss; NaN for Mean when every row is ignored.</returns>
    public static float Loss(ReadOnlySpan<float> studentHidden, ReadOnlySpan<float> studentWeight, ReadOnlySpan<float> teacherHidden, ReadOnlySpan<float> teacherWeight,
        ReadOnlySpan<int> targets, DistillationOptions? options = null) =>
        Call(studentHidden, studentWeight, teacherHidden, teacherWeight, default, targets, default, default, default, options, reduce: true);

    /// <summary>The reduced loss from student hidden states and the teacher's logits.</summary>
    /// <param name="studentHidden">Student hidden states h [N, D].</param>
    /// <param name="studentWeight">Student unembedding W_s [V, D].</param>
    /// <param name="teacherLogits">Teacher logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    public static float Loss(ReadOnlySpan<float> studentHidden, ReadOnlySpan<float> studentWeight, ReadOnlySpan<float> teacherLogits,
        ReadOnlySpan<int> targets, DistillationOptions? options = null) =>
        Call(studentHidden, studentWeight, default, default, teacherLogits, targets, default, default, default, options, reduce: true, logits: true);

    /// <summary>The reduced loss and its gradients dh [N, D] and dW_s [V, D] (overwritten), from hidden states.</summary>
    /// <param name="studentHidden">Student hidden states h [N, D].</param>
    /// <param name="studentWeight">Student unembedding W_s [V, D].</param>
    /// <param name="teacherHidden">Teacher hidden states h_t [N, D_t].</param>
    /// <param name="teacherWeight">Teacher unembedding W_t [V, D_t].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="studentHiddenGradient">Destination dh [N, D].</param>
    /// <param name="studentWeightGradient">Destination dW_s [V, D].</param>
    /// <param name="options">Options; Reduction Mean or Sum; gradients are scaled by options.Upstream.</param>
    public static float LossAndGradients(ReadOnlySpan<float> studentHidden, ReadOnlySpan<float> studentWeight, ReadOnlySpan<float> teacherHidden, ReadOnlySpan<float> teacherWeight,
        ReadOnlySpan<int> targets, Span<float> studentHiddenGradient, Span<float> studentWeightGradient, DistillationOptions? options = null) =>
        Call(studentHidden, studentWeight, teacherHidden, teacherWeight, default, targets, default, studentHiddenGradient, studentWeightGradient, options, reduce: true, withGradients: true);

    /// <summary>The reduced loss and its gradients dh [N, D] and dW_s [V, D] (overwritten), from the teacher's logits.</summary>
    /// <param name="studentHidden">Student hidden states h [N, D].</param>
    /// <param name="studentWeight">Student unembedding W_s [V, D].</param>
    /// <param name="teacherLogits">Teacher logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="studentHiddenGradient">Destination dh [N, D].</param>
    /// <param name="studentWeightGradient">Destination dW_s [V, D].</param>
    /// <param name="options">Options; Reduction Mean or Sum.</param>
    public static float LossAndGradients(ReadOnlySpan<float> studentHidden, ReadOnlySpan<float> studentWeight, ReadOnlySpan<float> teacherLogits,
        ReadOnlySpan<int> targets, Span<float> studentHiddenGradient, Span<float> studentWeightGradient, DistillationOptions? options = null) =>
        Call(studentHidden, studentWeight, default, default, teacherLogits, targets, default, studentHiddenGradient, studentWeightGradient, options, reduce: true, withGradients: true, logits: true);

    /// <summary>Per-row losses r [N] (0 for ignored rows) from hidden states; options.Reduction is not used.</summary>
    /// <param name="studentHidden">Student hidden states h [N, D].</param>
    /// <param name="studentWeight">Student unembedding W_s [V, D].</param>
    /// <param name="teacherHidden">Teacher hidden states h_t [N, D_t].</param>
    /// <param name="teacherWeight">Teacher unembedding W_t [V, D_t].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="options">Options.</param>
    public static void LossPerRow(ReadOnlySpan<float> studentHidden, ReadOnlySpan<float> studentWeight, ReadOnlySpan<float> teacherHidden, ReadOnlySpan<float> teacherWeight,
        ReadOnlySpan<int> targets, Span<float> losses, DistillationOptions? options = null) =>
        Call(studentHidden, studentWeight, teacherHidden, teacherWeight, default, targets, losses, default, default, options, reduce: false);

    /// <summary>Per-row losses r [N] (0 for ignored rows) from the teacher's logits; options.Reduction is not used.</summary>
    /// <param name="studentHidden">Student hidden states h [N, D].</param>
    /// <param name="studentWeight">Student unembedding W_s [V, D].</param>
    /// <param name="teacherLogits">Teacher logits [N, V].</param>
    /// <param name="targets">Targets [N].</param>
    /// <param name="losses">Destination r [N].</param>
    /// <param name="options">Options.</param>
    public static void LossPerRow(ReadOnlySpan<float> studentHidden, ReadOnlySpan<float> studentWeight, ReadOnlySpan<float> teacherLogits,
        ReadOnlySpan<int> targets, Span<float> losses, DistillationOptions? options = null) =>
        Call(studentHidden, studentWeight, default, default, teacherLogits, targets, losses, default, default, options, reduce: false, logits: true);

    private static float Call(ReadOnlySpan<float> studentHidden, ReadOnlySpan<float> studentWeight, ReadOnlySpan<float> teacherHidden, ReadOnlySpan<float> teacherWeight,
        ReadOnlySpan<float> teacherLogits, ReadOnlySpan<int> targets, Span<float> losses, Span<float> hiddenGradient, Span<float> weightGradient,
        DistillationOptions? options, bool reduce, bool withGradients = false, bool logits = false)
    {
        var o = options ?? DistillationOptions.Default;
        CheckOptions(o, reduce);
        int rows = targets.Length;
        if (!reduce)
        {
            CrossEntropyChecks.Destination(losses.Length, rows, nameof(losses));
        }

        if (rows == 0)
        {
            // D and D_t are unknown without rows: every per-row input must be empty. The gradient of no rows is 0, and
            // dW_s is overwritten (as LinearCrossEntropy's is); dh has no rows.
            NoRows(studentHidden, nameof(studentHidden));
            NoRows(teacherHidden, nameof(teacherHidden));
            NoRows(teacherLogits, nameof(teacherLogits));
            if (withGradients)
            {
                weightGradient.Clear();
            }

            return o.Reduction == Reduction.Sum || !reduce ? 0f : float.NaN;
        }

        int d = Divide(studentHidden.Length, rows, nameof(studentHidden), "N = targets.Length");
        int v = Divide(studentWeight.Length, d, nameof(studentWeight), "the student's hidden size D");
        int dt = 0;
        if (logits)
        {
            if (teacherLogits.Length != (long)rows * v)
            {
                throw new ArgumentException($"teacherLogits has {teacherLogits.Length} elements, N x V = {rows} x {v} needed.", nameof(teacherLogits));
            }
        }
        else
        {
            dt = Divide(teacherHidden.Length, rows, nameof(teacherHidden), "N = targets.Length");
            if (teacherWeight.Length != (long)v * dt)
            {
                throw new ArgumentException($"teacherWeight has {teacherWeight.Length} elements, V x D_t = {v} x {dt} needed.", nameof(teacherWeight));
            }
        }

        CrossEntropyChecks.Targets(targets, v, o.IgnoreIndex);
        if (withGradients)
        {
            CrossEntropyChecks.Destination(hiddenGradient.Length, (long)rows * d, nameof(hiddenGradient));
            CrossEntropyChecks.Destination(weightGradient.Length, (long)v * d, nameof(weightGradient));
        }

        fixed (float* hs = studentHidden, ws = studentWeight, ht = teacherHidden, wt = teacherWeight, tl = teacherLogits)
        fixed (int* y = targets)
        fixed (float* r = losses, dh = hiddenGradient, dw = weightGradient)
        {
            // An output over an input or another output gave wrong numbers silently (dW_s over W_s is read by later
            // sweeps and blocks): refused, as LinearCrossEntropy and CrossEntropy refuse it.
            long lossBytes = reduce ? 0 : (long)rows * sizeof(float);
            long dhBytes = withGradients ? (long)rows * d * sizeof(float) : 0, dwBytes = withGradients ? (long)v * d * sizeof(float) : 0;
            ReadOnlySpan<Region> inputs =
            [
                new(hs, (long)studentHidden.Length * sizeof(float), nameof(studentHidden)),
                new(ws, (long)studentWeight.Length * sizeof(float), nameof(studentWeight)),
                new(ht, (long)teacherHidden.Length * sizeof(float), nameof(teacherHidden)),
                new(wt, (long)teacherWeight.Length * sizeof(float), nameof(teacherWeight)),
                new(tl, (long)teacherLogits.Length * sizeof(float), nameof(teacherLogits)),
                new(y, (long)rows * sizeof(int), nameof(targets)),
            ];
            CrossEntropyChecks.Disjoint(
            [
                new(r, lossBytes, nameof(losses)),
                new(dh, dhBytes, nameof(hiddenGradient)),
                new(dw, dwBytes, nameof(weightGradient)),
            ], inputs);
            var problem = new DistillationProblem
            {
                Rows = rows,
                Classes = v,
                StudentSize = d,
                StudentHidden = hs,
                StudentWeight = ws,
                TeacherSize = dt,
                TeacherHidden = ht,
                TeacherWeight = wt,
                TeacherLogits = logits ? tl : null,
                Targets = y,
                Options = o,
                Losses = reduce ? null : r,
                HiddenGradient = withGradients ? dh : null,
                WeightGradient = withGradients ? dw : null,
            };
            return (float)DistillationKernel.Run(in problem);
        }
    }

    private static void NoRows(ReadOnlySpan<float> values, string name)
    {
        if (!values.IsEmpty)
        {
            throw new ArgumentException($"There are no targets but {name} has {values.Length} elements; with N = 0 it must be empty.", name);
        }
    }

    /// <summary>length / divisor, which must be exact and at least 1.</summary>
    private static int Divide(int length, int divisor, string name, string what)
    {
        if (length == 0 || length % divisor != 0)
        {
            throw new ArgumentException($"{name} has {length} elements, not a positive multiple of {what} = {divisor}.", name);
        }

        return length / divisor;
    }

    private static void CheckOptions(DistillationOptions o, bool reduce)
    {
        if (reduce && o.Reduction == Reduction.None)
        {
            throw new ArgumentException("Reduction.None has no single loss: call LossPerRow.", "options");
        }

        if (o.Reduction is not (Reduction.None or Reduction.Mean or Reduction.Sum))
        {
            throw new ArgumentOutOfRangeException("options", o.Reduction, "Reduction must be None, Mean or Sum.");
        }

        if (!(o.Beta >= 0 && o.Beta <= 1))
        {
            throw new ArgumentOutOfRangeException("options", o.Beta, "Beta must be in [0, 1].");
        }

        if (!(o.Temperature > 0) || !float.IsFinite(o.Temperature))
        {
            throw new ArgumentOutOfRangeException("options", o.Temperature, "Temperature must be positive and finite.");
        }

        // The lanes temper by float(1 / T): below about 2.9e-39 (subnormal T) it is +inf, and every row's max term
        // 0 x inf made the loss and gradients NaN.
        if (float.IsInfinity((float)(1.0 / o.Temperature)))
        {
            throw new ArgumentOutOfRangeException("options", o.Temperature, "Temperature must be at least 1 / float.MaxValue (about 2.9e-39): 1 / T must be a finite float.");
        }

        if (!float.IsFinite(o.SoftLossWeight) || !float.IsFinite(o.HardLossWeight) || !float.IsFinite(o.Upstream))
        {
            throw new ArgumentOutOfRangeException("options", "SoftLossWeight, HardLossWeight and Upstream must be finite.");
        }

        if (o.MaxDegreeOfParallelism == 0 || o.MaxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException("options", o.MaxDegreeOfParallelism, "MaxDegreeOfParallelism must be -1 (all cores) or positive.");
        }
    }
}
