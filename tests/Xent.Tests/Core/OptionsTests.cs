namespace Xent.Tests.Core;

/// <summary>
/// Every option alone and all combined, each in Mean, Sum and None (per-row losses and the per-row backward),
/// against the reference for every width and thread count (see <see cref="PathChecks"/>).
/// </summary>
public class OptionsTests
{
    private const int Rows = 6;
    private const int V = 1000;

    public static TheoryData<string> Cases() => new(OptionSets().Keys);

    private static Dictionary<string, CrossEntropyOptions> OptionSets() => new()
    {
        ["defaults"] = new(),
        ["weights"] = new() { ClassWeights = TestData.Weights(V, 1) },
        ["smoothing"] = new() { LabelSmoothing = 0.1f },
        ["smoothing 1"] = new() { LabelSmoothing = 1f },
        ["ignore index in range"] = new() { IgnoreIndex = 5 },
        ["z-loss"] = new() { ZLoss = 1e-3f },
        ["soft cap"] = new() { SoftCap = 2f },
        ["all"] = new() { ClassWeights = TestData.Weights(V, 2), LabelSmoothing = 0.15f, IgnoreIndex = 7, ZLoss = 1e-2f, SoftCap = 4f },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(string name)
    {
        var o = OptionSets()[name];
        var x = TestData.Logits(Rows, V, 11, scale: 4f);
        var y = TestData.Targets(Rows, V, 11, ignoreEvery: 4, ignoreIndex: o.IgnoreIndex);
        PathChecks.ClassIndex(x, y, o, name);
    }
}
