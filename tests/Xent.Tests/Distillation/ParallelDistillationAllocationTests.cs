using Xent.Tests.Core;

namespace Xent.Tests.Distillation;

/// <summary>
/// Linear distillation calls on every core allocate nothing once warm, on any thread: the vocabulary groups dealt out
/// to the pool's workers. Each sweep's Parallel.For (its closure, options and the runtime's own objects) was garbage at
/// 2 threads or more. The caller's bytes and those of the items the pool's workers run are counted, in calls where a
/// worker ran an item (the calling thread's alone missed what a worker's item allocated; every thread's, in calls whose
/// items a sleeping worker left all to the caller, too); alone in the run (<see
/// cref="RunsAloneCollection"/>): a test holding the pool makes a call fall back to the runtime's.
/// </summary>
[Collection(nameof(RunsAloneCollection))]
public class ParallelDistillationAllocationTests
{
    // Three vocabulary groups (DistillationKernel.GroupCount: one per 4096 classes), the sweeps' parallel tasks.
    private const int Rows = 8, Hidden = 16, TeacherHidden = 24, Classes = (2 * 4096) + 100;

    private static readonly float[] StudentHidden = AllocationCalls.Fill(Rows * Hidden, 1), StudentWeight = AllocationCalls.Fill(Classes * Hidden, 2),
        TeacherHiddenStates = AllocationCalls.Fill(Rows * TeacherHidden, 3), TeacherWeight = AllocationCalls.Fill(Classes * TeacherHidden, 4),
        TeacherLogits = AllocationCalls.Fill(Rows * Classes, 5);

    private static readonly int[] Targets = [.. Enumerable.Range(0, Rows).Select(n => n == 3 ? -100 : (n * 7919) % Classes)];

    private readonly float[] dHidden = new float[Rows * Hidden], dWeight = new float[Classes * Hidden], losses = new float[Rows];

    public static TheoryData<string> Divergences => [.. Options.Keys];

    // All cores (MaxDegreeOfParallelism -1); the forward KL's gradient sweep also takes the leading column's tails.
    private static Dictionary<string, DistillationOptions> Options { get; } = new()
    {
        ["forward"] = new(),
        ["reverse, hard, tempered"] = new() { Beta = 1f, HardLossWeight = 0.5f, Temperature = 2f },
        ["mixture, hard, sum"] = new() { Beta = 0.5f, HardLossWeight = 0.5f, Reduction = Reduction.Sum },
    };

    [Theory]
    [MemberData(nameof(Divergences))]
    public void AllocatesNothing(string divergence)
    {
        var o = Options[divergence];
        Check(() => LinearDistillation.Loss(StudentHidden, StudentWeight, TeacherHiddenStates, TeacherWeight, Targets, o), $"Loss ({divergence})");
        Check(() => LinearDistillation.LossPerRow(StudentHidden, StudentWeight, TeacherLogits, Targets, losses, o), $"LossPerRow logits ({divergence})");
        Check(() => LinearDistillation.LossAndGradients(StudentHidden, StudentWeight, TeacherHiddenStates, TeacherWeight, Targets, dHidden, dWeight, o),
            $"LossAndGradients ({divergence})");
        Check(() => LinearDistillation.LossAndGradients(StudentHidden, StudentWeight, TeacherLogits, Targets, dHidden, dWeight, o),
            $"LossAndGradients logits ({divergence})");
    }

    private static void Check(Action call, string name) => AllocationCalls.AssertAllocatesNothing(call, name, attempts: 200, workers: true);
}
