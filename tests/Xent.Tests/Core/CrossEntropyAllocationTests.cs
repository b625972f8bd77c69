namespace Xent.Tests.Core;

/// <summary>
/// Every cross-entropy overload allocates nothing on the calling thread once warm, at one thread: a training loop
/// calls one every step. Each call allocated its kernel object and request (280 bytes; 576 with the gradient's
/// fields), and LossWithParts a box for the parts.
/// </summary>
public unsafe class CrossEntropyAllocationTests
{
    private const int Rows = 8, Classes = 96;

    private static readonly CrossEntropyOptions OneThread = new() { MaxDegreeOfParallelism = 1 };

    private static readonly CrossEntropyOptions CappedSmoothed = new() { MaxDegreeOfParallelism = 1, SoftCap = 5f, ZLoss = 1e-3f, LabelSmoothing = 0.1f };

    private static readonly float[] Logits = AllocationCalls.Fill(Rows * Classes, 1);

    private static readonly Half[] HalfLogits = [.. Logits.Select(x => (Half)x)];

    private static readonly BFloat16[] BFloat16Logits = [.. Logits.Select(x => (BFloat16)x)];

    private static readonly float[] Probabilities = AllocationCalls.Softmax(AllocationCalls.Fill(Rows * Classes, 2), Classes);

    private static readonly int[] Targets = [.. Enumerable.Range(0, Rows).Select(n => n == 3 ? -100 : (n * 37) % Classes)];

    private static readonly float[] Upstream = [.. Enumerable.Range(0, Rows).Select(n => 0.5f + n)];

    private readonly float[] gradient = new float[Rows * Classes], losses = new float[Rows], logSumExp = new float[Rows];

    private readonly Half[] halfGradient = new Half[Rows * Classes];

    private readonly BFloat16[] bfloat16Gradient = new BFloat16[Rows * Classes];

    public static TheoryData<string> Calls => [.. Overloads.Keys];

    private static Dictionary<string, Action<CrossEntropyAllocationTests, CrossEntropyOptions>> Overloads { get; } = new()
    {
        ["Loss"] = (_, o) => CrossEntropy.Loss(Logits, Targets, o),
        ["LossWithParts"] = (_, o) => CrossEntropy.LossWithParts(Logits, Targets, o),
        ["LossPerRow"] = (t, o) => CrossEntropy.LossPerRow(Logits, Targets, t.losses, t.logSumExp, o),
        ["LossAndGradient"] = (t, o) => CrossEntropy.LossAndGradient(Logits, Targets, t.gradient, o),
        ["LossAndGradient upstream"] = (t, o) => CrossEntropy.LossAndGradient(Logits, Targets, t.gradient, 2f, t.logSumExp, o),
        ["Gradient"] = (t, o) => CrossEntropy.Gradient(Logits, Targets, Upstream, t.gradient, o),
        ["Half Loss"] = (_, o) => CrossEntropy.Loss(HalfLogits, Targets, o),
        ["Half LossWithParts"] = (_, o) => CrossEntropy.LossWithParts(HalfLogits, Targets, o),
        ["Half LossAndGradient"] = (t, o) => CrossEntropy.LossAndGradient(HalfLogits, Targets, t.halfGradient, o),
        ["BFloat16 Loss"] = (_, o) => CrossEntropy.Loss(BFloat16Logits, Targets, o),
        ["BFloat16 LossWithParts"] = (_, o) => CrossEntropy.LossWithParts(BFloat16Logits, Targets, o),
        ["BFloat16 LossAndGradient"] = (t, o) => CrossEntropy.LossAndGradient(BFloat16Logits, Targets, t.bfloat16Gradient, o),
        ["BFloat16 float gradient"] = (t, o) => CrossEntropy.LossAndGradient(BFloat16Logits, Targets, t.gradient, 1f, default, o),
        ["Pointer Loss"] = (_, o) => AllocationCalls.PointerLoss(Logits, Targets, o),
        ["Pointer LossWithParts"] = (_, o) => AllocationCalls.PointerLossWithParts(Logits, Targets, o),
        ["Pointer LossAndGradient"] = (t, o) => AllocationCalls.PointerLossAndGradient(Logits, Targets, t.gradient, o),
        ["Probabilities Loss"] = (_, o) => CrossEntropy.Loss(Logits, Probabilities, Classes, o),
        ["Probabilities LossAndGradient"] = (t, o) => CrossEntropy.LossAndGradient(Logits, Probabilities, Classes, t.gradient, o),
        ["LogSumExp"] = (t, o) => CrossEntropy.LogSumExp(Logits, t.logSumExp, o.SoftCap),
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public void AllocatesNothing(string call) =>
        AllocationCalls.AssertAllocatesNothing(() => Overloads[call](this, OneThread), call);

    [Theory]
    [MemberData(nameof(Calls))]
    public void AllocatesNothing_CappedSmoothed(string call) =>
        AllocationCalls.AssertAllocatesNothing(() => Overloads[call](this, CappedSmoothed), call);
}
