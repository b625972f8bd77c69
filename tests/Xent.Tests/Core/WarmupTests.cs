namespace Xent.Tests.Core;

/// <summary>
/// <see cref="CrossEntropy.WarmupAsync(int, CrossEntropyOptions?)"/> and its 16-bit forms: it runs to the end for every kind
/// of call it warms (short and long rows, a vocabulary split across threads, each option, each logits type), fails as a
/// call would, and leaves later calls' bits as they were.
/// What it is for, the first call's time, is measured by bench/Xent.FirstCall (loss-warm, grad-warm, bf16-warm), not here.
/// </summary>
public class WarmupTests
{
    public static TheoryData<int, string> Cases() => new()
    {
        { 1, "defaults" },
        { 32, "defaults" },
        { 1000, "all" },
        { 50257, "defaults" },
        { 70000, "one thread" },
        { 70000, "per row" },
        { 4096, "soft cap" },
        { 4096, "soft cap and smoothing" },
    };

    private static CrossEntropyOptions Options(string name, int classes) => name switch
    {
        "all" => new() { ClassWeights = TestData.Weights(classes, 2), LabelSmoothing = 0.1f, ZLoss = 1e-3f, IgnoreIndex = 0 },
        "one thread" => new() { MaxDegreeOfParallelism = 1 },
        "per row" => new() { Reduction = Reduction.None },
        "soft cap" => new() { SoftCap = 30f },
        "soft cap and smoothing" => new() { SoftCap = 30f, LabelSmoothing = 0.1f },
        _ => CrossEntropyOptions.Default,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task RunsEveryKindOfCall(int classes, string options) =>
        await CrossEntropy.WarmupAsync(classes, Options(options, classes));

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task RunsEveryKindOfBFloat16Call(int classes, string options) =>
        await CrossEntropy.WarmupAsync<BFloat16>(classes, Options(options, classes));

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task RunsEveryKindOfHalfCall(int classes, string options) =>
        await CrossEntropy.WarmupAsync<Half>(classes, Options(options, classes));

    [Fact]
    public void RejectsOtherLogitTypes()
    {
        Assert.Throws<NotSupportedException>(() => { _ = CrossEntropy.WarmupAsync<double>(10); });
        Assert.Throws<NotSupportedException>(() => { _ = CrossEntropy.WarmupAsync<int>(10); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = CrossEntropy.WarmupAsync<BFloat16>(0); });
    }

    [Fact]
    public void RejectsNoClasses()
    {
        // Thrown by the call itself, before any task starts.
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = CrossEntropy.WarmupAsync(0); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = CrossEntropy.WarmupAsync(-1); });
    }

    [Fact]
    public async Task FailsAsTheCallWould()
    {
        var options = new CrossEntropyOptions { ClassWeights = new float[10] };
        await Assert.ThrowsAsync<ArgumentException>(() => CrossEntropy.WarmupAsync(11, options));
    }

    [Fact]
    public async Task LeavesLaterCallsBitsAsTheyWere()
    {
        const int Rows = 64, V = 5000;
        var x = TestData.Logits(Rows, V, 3, scale: 4f);
        var y = TestData.Targets(Rows, V, 3);
        var before = new float[x.Length];
        float lossBefore = CrossEntropy.LossAndGradient(x, y, before);

        await CrossEntropy.WarmupAsync(V);

        var after = new float[x.Length];
        float lossAfter = CrossEntropy.LossAndGradient(x, y, after);
        Assert.Equal(BitConverter.SingleToInt32Bits(lossBefore), BitConverter.SingleToInt32Bits(lossAfter));
        Assert.Equal(before.Select(BitConverter.SingleToInt32Bits), after.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public async Task LeavesLaterBFloat16CallsBitsAsTheyWere()
    {
        const int Rows = 64, V = 5000;
        BFloat16[] x = [.. TestData.Logits(Rows, V, 4, scale: 4f).Select(v => (BFloat16)v)];
        var y = TestData.Targets(Rows, V, 4);
        var before = new BFloat16[x.Length];
        float lossBefore = CrossEntropy.LossAndGradient(x, y, before);

        await CrossEntropy.WarmupAsync<BFloat16>(V);

        var after = new BFloat16[x.Length];
        float lossAfter = CrossEntropy.LossAndGradient(x, y, after);
        Assert.Equal(BitConverter.SingleToInt32Bits(lossBefore), BitConverter.SingleToInt32Bits(lossAfter));
        Assert.Equal(before.Select(g => g.Bits), after.Select(g => g.Bits));
    }
}
