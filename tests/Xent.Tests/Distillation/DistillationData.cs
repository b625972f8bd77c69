using Xent.LinearAlgebra;
using Xent.Reference;

namespace Xent.Tests.Distillation;

/// <summary>Random student and teacher hidden states and weights, and the float64 reference's numbers for them.</summary>
internal sealed class DistillationData
{
    public DistillationData(int rows, int classes, int hiddenSize, int teacherSize, int seed, float scale = 1f, int ignoreEvery = 0)
    {
        var random = new Random(seed);
        float Next() => scale * ((2 * random.NextSingle()) - 1);
        N = rows;
        V = classes;
        D = hiddenSize;
        StudentHidden = [.. Enumerable.Range(0, rows * hiddenSize).Select(_ => Next())];
        StudentWeight = [.. Enumerable.Range(0, classes * hiddenSize).Select(_ => Next())];
        TeacherHidden = [.. Enumerable.Range(0, rows * teacherSize).Select(_ => Next())];
        TeacherWeight = [.. Enumerable.Range(0, classes * teacherSize).Select(_ => Next())];
        Targets = [.. Enumerable.Range(0, rows).Select(n => ignoreEvery > 0 && n % ignoreEvery == ignoreEvery - 1 ? -100 : random.Next(classes))];

        // The teacher's logits as the fused kernel computes them: each element of a product is accumulated the same
        // way whatever the shape, so the logits overload must give bitwise the same numbers.
        TeacherLogits = new float[rows * classes];
        MatMul.Gemm(false, true, rows, classes, teacherSize, 1f, TeacherHidden, teacherSize, TeacherWeight, teacherSize, 0f, TeacherLogits, classes);
    }

    public int N { get; }

    public int V { get; }

    public int D { get; }

    public float[] StudentHidden { get; }

    public float[] StudentWeight { get; }

    public float[] TeacherHidden { get; }

    public float[] TeacherWeight { get; }

    public float[] TeacherLogits { get; }

    public int[] Targets { get; set; }

    public double[] StudentLogits => DistillationReference.Logits(StudentHidden, StudentWeight, N);

    public double[] TeacherLogitsExact => DistillationReference.Logits(TeacherHidden, TeacherWeight, N);

    public double ReferenceLoss(DistillationOptions o) => DistillationReference.Loss(StudentLogits, TeacherLogitsExact, Targets, o);

    public double[] ReferenceRows(DistillationOptions o) => DistillationReference.RowLosses(StudentLogits, TeacherLogitsExact, Targets, o);

    public (double[] Hidden, double[] Weight) ReferenceGradients(DistillationOptions o) =>
        DistillationReference.Backward(DistillationReference.Gradient(StudentLogits, TeacherLogitsExact, Targets, o), StudentHidden, StudentWeight, N);

    public float LossAndGradients(DistillationOptions o, float[] dh, float[] dw) =>
        LinearDistillation.LossAndGradients(StudentHidden, StudentWeight, TeacherHidden, TeacherWeight, Targets, dh, dw, o);
}
