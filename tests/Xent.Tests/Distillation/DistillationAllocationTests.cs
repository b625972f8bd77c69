using Xent.Tests.Core;

namespace Xent.Tests.Distillation;

/// <summary>
/// Every linear distillation overload allocates nothing on the calling thread once warm, at one thread: a training
/// loop calls one every step. Each call allocated its kernel, its problem and the kernel's per-token-block arrays
/// (about 70 KB).
/// </summary>
public class DistillationAllocationTests
{
    private const int Rows = 8, Hidden = 16, TeacherHidden = 24, Classes = 100;

    private static readonly float[] StudentHidden = AllocationCalls.Fill(Rows * Hidden, 1), StudentWeight = AllocationCalls.Fill(Classes * Hidden, 2),
        TeacherHiddenStates = AllocationCalls.Fill(Rows * TeacherHidden, 3), TeacherWeight = AllocationCalls.Fill(Classes * TeacherHidden, 4),
        TeacherLogits = AllocationCalls.Fill(Rows * Classes, 5);

    private static readonly int[] Targets = [.. Enumerable.Range(0, Rows).Select(n => n == 3 ? -100 : (n * 37) % Classes)];

    private readonly float[] dHidden = new float[Rows * Hidden], dWeight = new float[Classes * Hidden], losses = new float[Rows];

    public static TheoryData<string> Calls => [.. Overloads.Keys];

    public static TheoryData<string> Divergences => [.. Options.Keys];

    private static Dictionary<string, DistillationOptions> Options { get; } = new()
    {
        ["forward"] = new() { MaxDegreeOfParallelism = 1 },
        ["reverse, hard, tempered"] = new() { MaxDegreeOfParallelism = 1, Beta = 1f, HardLossWeight = 0.5f, Temperature = 2f },
        ["mixture, hard, sum"] = new() { MaxDegreeOfParallelism = 1, Beta = 0.5f, HardLossWeight = 0.5f, Reduction = Reduction.Sum },
    };

    private static Dictionary<string, Action<DistillationAllocationTests, DistillationOptions>> Overloads { get; } = new()
    {
        ["Loss"] = (_, o) => LinearDistillation.Loss(StudentHidden, StudentWeight, TeacherHiddenStates, TeacherWeight, Targets, o),
        ["Loss logits"] = (_, o) => LinearDistillation.Loss(StudentHidden, StudentWeight, TeacherLogits, Targets, o),
        ["LossPerRow"] = (t, o) => LinearDistillation.LossPerRow(StudentHidden, StudentWeight, TeacherHiddenStates, TeacherWeight, Targets, t.losses, o),
        ["LossPerRow logits"] = (t, o) => LinearDistillation.LossPerRow(StudentHidden, StudentWeight, TeacherLogits, Targets, t.losses, o),
        ["LossAndGradients"] = (t, o) => LinearDistillation.LossAndGradients(StudentHidden, StudentWeight, TeacherHiddenStates, TeacherWeight, Targets,
            t.dHidden, t.dWeight, o),
        ["LossAndGradients logits"] = (t, o) => LinearDistillation.LossAndGradients(StudentHidden, StudentWeight, TeacherLogits, Targets, t.dHidden, t.dWeight, o),
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public void AllocatesNothing(string call)
    {
        foreach (var (name, o) in Options)
        {
            AllocationCalls.AssertAllocatesNothing(() => Overloads[call](this, o), $"{call} ({name})");
        }
    }

    [Fact]
    public void ReusedKernelGivesTheSameBits()
    {
        // The thread's kernel carries nothing from one call to the next: a call after others of other shapes and
        // options gives the bits of its first.
        var o = Options["mixture, hard, sum"];
        var first = new float[Rows];
        LinearDistillation.LossPerRow(StudentHidden, StudentWeight, TeacherHiddenStates, TeacherWeight, Targets, first, o);
        foreach (var (_, other) in Options)
        {
            foreach (var (_, call) in Overloads)
            {
                call(this, other);
            }
        }

        LinearDistillation.Loss(StudentHidden.AsSpan(0, 2 * Hidden), StudentWeight, TeacherHiddenStates.AsSpan(0, 2 * TeacherHidden), TeacherWeight, Targets.AsSpan(0, 2),
            Options["reverse, hard, tempered"]);
        var again = new float[Rows];
        LinearDistillation.LossPerRow(StudentHidden, StudentWeight, TeacherHiddenStates, TeacherWeight, Targets, again, o);
        Assert.Equal(first, again);
    }
}
