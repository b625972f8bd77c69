namespace Xent.Tests.Core;

/// <summary>
/// Every linear cross-entropy overload allocates nothing on the calling thread once warm, at one thread: a training
/// loop calls one every step. Each call allocated its kernel object and problem (576 bytes), and those taking
/// <see cref="CrossEntropyOptions"/> the options they convert to (40 more).
/// </summary>
public unsafe class LinearCrossEntropyAllocationTests
{
    private const int Rows = 8, Hidden = 16, Classes = 100;

    private static readonly CrossEntropyOptions OneThread = new() { MaxDegreeOfParallelism = 1 };

    private static readonly CrossEntropyOptions CappedSmoothed = new() { MaxDegreeOfParallelism = 1, SoftCap = 5f, ZLoss = 1e-3f, LabelSmoothing = 0.1f };

    private static readonly float[] HiddenStates = AllocationCalls.Fill(Rows * Hidden, 1), Weight = AllocationCalls.Fill(Classes * Hidden, 2),
        Bias = AllocationCalls.Fill(Classes, 3);

    private static readonly BFloat16[] HiddenBFloat16 = [.. HiddenStates.Select(x => (BFloat16)x)], WeightBFloat16 = [.. Weight.Select(x => (BFloat16)x)];

    private static readonly int[] Targets = [.. Enumerable.Range(0, Rows).Select(n => n == 3 ? -100 : (n * 37) % Classes)];

    private static readonly float[] Upstream = [.. Enumerable.Range(0, Rows).Select(n => 0.5f + n)];

    private readonly float[] dHidden = new float[Rows * Hidden], dWeight = new float[Classes * Hidden], dBias = new float[Classes],
        losses = new float[Rows], logSumExp = new float[Rows], entropy = new float[Rows];

    public static TheoryData<string> Calls => [.. Overloads.Keys];

    private LinearCrossEntropyGradients Gradients => new(dHidden, dWeight, dBias);

    private static Dictionary<string, Action<LinearCrossEntropyAllocationTests, CrossEntropyOptions, LinearCrossEntropyOptions>> Overloads { get; } = new()
    {
        ["Loss"] = (_, o, _) => LinearCrossEntropy.Loss(HiddenStates, Weight, Targets, o),
        ["Loss bias"] = (_, o, _) => LinearCrossEntropy.Loss(HiddenStates, Weight, Bias, Targets, o),
        ["LossWithParts"] = (_, o, _) => LinearCrossEntropy.LossWithParts(HiddenStates, Weight, Bias, Targets, o),
        ["LossPerRow"] = (t, o, _) => LinearCrossEntropy.LossPerRow(HiddenStates, Weight, Bias, Targets, t.losses, t.logSumExp, o),
        ["LossAndGradients"] = (t, _, l) => LinearCrossEntropy.LossAndGradients(HiddenStates, Weight, Targets, new(t.dHidden, t.dWeight), l),
        ["LossAndGradients upstream"] = (t, _, l) => LinearCrossEntropy.LossAndGradients(HiddenStates, Weight, Bias, Targets, t.Gradients, 2f, t.logSumExp, l),
        ["Gradients"] = (t, _, l) => LinearCrossEntropy.Gradients(HiddenStates, Weight, Bias, Targets, Upstream, t.Gradients, t.losses, t.logSumExp, l),
        ["LogProbabilities"] = (t, o, _) => LinearCrossEntropy.LogProbabilities(HiddenStates, Weight, Bias, Targets, t.losses, t.logSumExp, t.entropy, Plain(o)),
        ["LogProbabilityGradients"] = (t, _, l) => LinearCrossEntropy.LogProbabilityGradients(HiddenStates, Weight, Bias, Targets, Upstream, t.Gradients,
            t.losses, t.logSumExp, t.entropy, PlainLinear(l), Upstream),
        ["BFloat16 Loss"] = (_, o, _) => LinearCrossEntropy.Loss(HiddenBFloat16, WeightBFloat16, Targets, o),
        ["BFloat16 LossWithParts"] = (_, o, _) => LinearCrossEntropy.LossWithParts(HiddenBFloat16, WeightBFloat16, Bias, Targets, o),
        ["BFloat16 LossPerRow"] = (t, o, _) => LinearCrossEntropy.LossPerRow(HiddenBFloat16, WeightBFloat16, Bias, Targets, t.losses, t.logSumExp, o),
        ["BFloat16 LossAndGradients"] = (t, _, l) => LinearCrossEntropy.LossAndGradients(HiddenBFloat16, WeightBFloat16, Targets, t.Gradients, l),
        ["BFloat16 Gradients"] = (t, _, l) => LinearCrossEntropy.Gradients(HiddenBFloat16, WeightBFloat16, Bias, Targets, Upstream, t.Gradients, t.losses, default, l),
        ["BFloat16 LogProbabilities"] = (t, o, _) => LinearCrossEntropy.LogProbabilities(HiddenBFloat16, WeightBFloat16, Bias, Targets, t.losses, default, default, Plain(o)),
        ["BFloat16 LogProbabilityGradients"] = (t, _, l) => LinearCrossEntropy.LogProbabilityGradients(HiddenBFloat16, WeightBFloat16, Bias, Targets, Upstream,
            t.Gradients, options: PlainLinear(l)),
        ["Pointer Loss"] = (_, o, _) => PointerLoss(o),
        ["Pointer LossWithParts"] = (_, o, _) => PointerLossWithParts(o),
        ["Pointer LossPerRow"] = (t, o, _) => t.PointerLossPerRow(o),
        ["Pointer LossAndGradients"] = (t, _, l) => t.PointerLossAndGradients(l),
        ["Pointer Gradients"] = (t, _, l) => t.PointerGradients(l),
        ["Pointer LogProbabilities"] = (t, o, _) => t.PointerLogProbabilities(Plain(o)),
        ["Pointer LogProbabilityGradients"] = (t, _, l) => t.PointerLogProbabilityGradients(PlainLinear(l)),
    };

    private static readonly LinearCrossEntropyOptions LinearOneThread = OneThread, LinearCappedSmoothed = CappedSmoothed;

    // Log-probabilities take no smoothing or z-loss: the capped options without them, made once.
    private static readonly CrossEntropyOptions Capped = new() { MaxDegreeOfParallelism = 1, SoftCap = 5f };

    private static readonly LinearCrossEntropyOptions LinearCapped = Capped;

    [Theory]
    [MemberData(nameof(Calls))]
    public void AllocatesNothing(string call) =>
        AllocationCalls.AssertAllocatesNothing(() => Overloads[call](this, OneThread, LinearOneThread), call);

    [Theory]
    [MemberData(nameof(Calls))]
    public void AllocatesNothing_CappedSmoothed(string call) =>
        AllocationCalls.AssertAllocatesNothing(() => Overloads[call](this, CappedSmoothed, LinearCappedSmoothed), call);

    private static CrossEntropyOptions Plain(CrossEntropyOptions o) => o.LabelSmoothing == 0 ? o : Capped;

    private static LinearCrossEntropyOptions PlainLinear(LinearCrossEntropyOptions o) => o.CrossEntropy.LabelSmoothing == 0 ? o : LinearCapped;

    // Methods, not lambdas over a pointer: a lambda's closure would be the call's garbage.
    private static float PointerLoss(CrossEntropyOptions o)
    {
        fixed (float* w = Weight)
        {
            return LinearCrossEntropy.Loss(HiddenStates, w, Classes, Hidden, Bias, Targets, o);
        }
    }

    private static LossParts PointerLossWithParts(CrossEntropyOptions o)
    {
        fixed (float* w = Weight)
        {
            return LinearCrossEntropy.LossWithParts(HiddenStates, w, Classes, Hidden, Bias, Targets, o);
        }
    }

    private void PointerLossPerRow(CrossEntropyOptions o)
    {
        fixed (float* w = Weight)
        {
            LinearCrossEntropy.LossPerRow(HiddenStates, w, Classes, Hidden, Bias, Targets, losses, logSumExp, o);
        }
    }

    private float PointerLossAndGradients(LinearCrossEntropyOptions o)
    {
        fixed (float* w = Weight)
        {
            return LinearCrossEntropy.LossAndGradients(HiddenStates, w, Classes, Hidden, Bias, Targets, Gradients, options: o);
        }
    }

    private void PointerGradients(LinearCrossEntropyOptions o)
    {
        fixed (float* w = Weight)
        {
            LinearCrossEntropy.Gradients(HiddenStates, w, Classes, Hidden, Bias, Targets, Upstream, Gradients, options: o);
        }
    }

    private void PointerLogProbabilities(CrossEntropyOptions o)
    {
        fixed (float* w = Weight)
        {
            LinearCrossEntropy.LogProbabilities(HiddenStates, w, Classes, Hidden, Bias, Targets, losses, options: o);
        }
    }

    private void PointerLogProbabilityGradients(LinearCrossEntropyOptions o)
    {
        fixed (float* w = Weight)
        {
            LinearCrossEntropy.LogProbabilityGradients(HiddenStates, w, Classes, Hidden, Bias, Targets, Upstream, Gradients, options: o);
        }
    }
}
