using BenchmarkDotNet.Attributes;

namespace Xent.Benchmarks;

/// <summary>
/// What each option costs over the plain loss, at 2048 x 32000 (float32 unless Half, every core): Loss and
/// LossAndGradient per option set; compare each row with the "plain" rows of the same run.
/// Run (about 3 minutes): dotnet run -c Release --project bench/Xent.Benchmarks -- --filter '*CrossEntropyOptionsBenchmarks*'
/// </summary>
[Config(typeof(CrossEntropyBenchmarks.ShortConfig))]
public class CrossEntropyOptionsBenchmarks
{
    private const int Rows = 2048, Classes = 32000;
    private float[] logits = [];
    private float[] gradient = [];
    private Half[] halfLogits = [];
    private Half[] halfGradient = [];
    private int[] targets = [];
    private CrossEntropyOptions options = CrossEntropyOptions.Default;

    [Params("plain", "smoothing", "weights", "z-loss", "soft cap", "Half")]
    public string Options { get; set; } = "plain";

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        logits = new float[Rows * Classes];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)((random.NextDouble() * 8) - 4);
        }

        gradient = new float[logits.Length];
        gradient.AsSpan().Fill(1f);
        targets = [.. Enumerable.Range(0, Rows).Select(_ => random.Next(Classes))];
        halfLogits = Options == "Half" ? [.. logits.Select(x => (Half)x)] : [];
        halfGradient = Options == "Half" ? new Half[logits.Length] : [];
        options = Options switch
        {
            "smoothing" => new CrossEntropyOptions { LabelSmoothing = 0.1f },
            "weights" => new CrossEntropyOptions { ClassWeights = Enumerable.Range(0, Classes).Select(c => 0.5f + (c % 3 * 0.25f)).ToArray() },
            "z-loss" => new CrossEntropyOptions { ZLoss = 1e-4f },
            "soft cap" => new CrossEntropyOptions { SoftCap = 30f },
            _ => CrossEntropyOptions.Default,
        };
    }

    [Benchmark]
    public float Loss() => Options == "Half" ? CrossEntropy.Loss(halfLogits, targets) : CrossEntropy.Loss(logits, targets, options);

    [Benchmark]
    public float LossAndGradient() => Options == "Half"
        ? CrossEntropy.LossAndGradient(halfLogits, targets, halfGradient)
        : CrossEntropy.LossAndGradient(logits, targets, gradient, options);
}
