namespace Xent.Distillation;

/// <summary>
/// One call of the fused distillation, as raw addresses (the public overloads pin and validate first). Shapes: N
/// tokens, V classes, D student hidden size, D_t teacher hidden size. A readonly struct passed by in: a problem object
/// per call was garbage on every training step.
/// </summary>
internal readonly unsafe struct DistillationProblem
{
    public required int Rows { get; init; }

    public required int Classes { get; init; }

    public required int StudentSize { get; init; }

    /// <summary>Student hidden states h [N, D].</summary>
    public required float* StudentHidden { get; init; }

    /// <summary>Student unembedding W_s [V, D].</summary>
    public required float* StudentWeight { get; init; }

    public int TeacherSize { get; init; }

    /// <summary>Teacher hidden states [N, D_t], or null with <see cref="TeacherLogits"/>.</summary>
    public float* TeacherHidden { get; init; }

    /// <summary>Teacher unembedding W_t [V, D_t], or null with <see cref="TeacherLogits"/>.</summary>
    public float* TeacherWeight { get; init; }

    /// <summary>Teacher logits [N, V], or null with teacher hidden states and weight.</summary>
    public float* TeacherLogits { get; init; }

    /// <summary>Targets [N].</summary>
    public required int* Targets { get; init; }

    public required DistillationOptions Options { get; init; }

    /// <summary>Per-row losses out [N], or null.</summary>
    public float* Losses { get; init; }

    /// <summary>dh [N, D] out, or null for no gradients.</summary>
    public float* HiddenGradient { get; init; }

    /// <summary>dW_s [V, D] out (with <see cref="HiddenGradient"/>).</summary>
    public float* WeightGradient { get; init; }
}
