using System.Runtime.InteropServices;
using System.Text.Json;
using Xent.Reference;

namespace Xent.Tests.Cli;

/// <summary>xent loss in-process: numbers against the float64 reference and the library, outputs, JSON.</summary>
public sealed class LossCommandTests : IDisposable
{
    private const int B = 2, T = 3, V = 37;
    private readonly TempFolder dir = new();
    private readonly float[] logits;
    private readonly int[] targets;

    public LossCommandTests()
    {
        var rng = new Random(5);
        logits = new float[B * T * V];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)(rng.NextDouble() * 8 - 4);
        }

        targets = new int[B * T];
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = rng.Next(V);
        }

        targets[4] = -100;
    }

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Float32_Rank3_MatchesReference()
    {
        var run = CliRun.Run("loss", "--logits", LogitsF32(), "--targets", TargetsI64());
        Assert.Equal(0, run.ExitCode);
        double expected = CrossEntropyReference.Loss(logits, targets);
        Assert.StartsWith("loss: ", run.Out, StringComparison.Ordinal);
        float printed = float.Parse(run.Out.Split('\n')[0]["loss: ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(expected, printed, expected * 1e-6);
        Assert.Contains("over 5 of 6 rows, 37 classes", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Float64_IsConvertedToFloat32()
    {
        var wide = logits.Select(x => (double)x + 1e-9).ToArray();
        var path = TestNpy.Write(dir["l64.npy"], "<f8", wide.AsSpan(), B, T, V);
        var json = Json("loss", "--logits", path, "--targets", TargetsI32(), "--json");
        var asFloat = wide.Select(x => (float)x).ToArray();
        Assert.Equal(CrossEntropyReference.Loss(asFloat, targets), json.GetProperty("loss").GetDouble(), 1e-5);
        Assert.Equal("float64", json.GetProperty("logits_dtype").GetString());
    }

    [Fact]
    public void Float16_UsesTheHalfOverloads_GradientIsFloat16()
    {
        var half = logits.Select(x => (Half)x).ToArray();
        var path = TestNpy.Write(dir["l16.npy"], "<f2", half.AsSpan(), B, T, V);
        var json = Json("loss", "--logits", path, "--targets", TargetsI64(), "--json", "--grad", dir["g.npy"]);
        var widened = half.Select(h => (float)h).ToArray();
        Assert.Equal(CrossEntropyReference.Loss(widened, targets), json.GetProperty("loss").GetDouble(), 1e-5);
        Assert.Equal("float16", json.GetProperty("grad_dtype").GetString());

        // The gradient of float16 logits is float16 (as PyTorch), bitwise the library's Half overload.
        var expected = new Half[half.Length];
        float loss = CrossEntropy.LossAndGradient(half, targets, expected);
        Assert.Equal(loss, json.GetProperty("loss").GetSingle());
        var (descr, shape, data) = TestNpy.Read(dir["g.npy"]);
        Assert.Equal("<f2", descr);
        Assert.Equal(new long[] { B, T, V }, shape);
        Assert.Equal(MemoryMarshal.AsBytes(expected.AsSpan()).ToArray(), data);
    }

    [Fact]
    public void Float16_BeyondTheHalfOverloads_IsConvertedAndStillRight()
    {
        // Forces the path of float16 files over 2^31 elements: a float32 copy, gradient in place, rounded to float16.
        var half = logits.Select(x => (Half)x).ToArray();
        var path = TestNpy.Write(dir["l16.npy"], "<f2", half.AsSpan(), B, T, V);
        var t = TargetsI64();
        var inPlace = Json("loss", "--logits", path, "--targets", t, "--json", "--grad", dir["g1.npy"], "--losses", dir["r1.npy"]);
        Xent.Cli.IO.LogitsData.HalfInPlaceLimit = 0;
        JsonElement converted;
        try
        {
            converted = Json("loss", "--logits", path, "--targets", t, "--json", "--grad", dir["g2.npy"], "--losses", dir["r2.npy"]);
        }
        finally
        {
            Xent.Cli.IO.LogitsData.HalfInPlaceLimit = int.MaxValue;
        }

        Assert.Equal(inPlace.GetProperty("loss").GetSingle(), converted.GetProperty("loss").GetSingle(), 1e-6f);
        Assert.Equal(TestNpy.ReadF32(dir["r1.npy"], out _), TestNpy.ReadF32(dir["r2.npy"], out _), (a, b) => Math.Abs(a - b) <= 1e-6f * Math.Max(1, Math.Abs(a)));
        var g1 = MemoryMarshal.Cast<byte, Half>(TestNpy.Read(dir["g1.npy"]).Data).ToArray();
        var g2 = MemoryMarshal.Cast<byte, Half>(TestNpy.Read(dir["g2.npy"]).Data).ToArray();
        var reference = CrossEntropyReference.Gradient(half.Select(h => (float)h).ToArray(), targets);
        for (int i = 0; i < g1.Length; i++)
        {
            // Both within a float16 rounding (plus float32 noise) of the float64 gradient.
            double tolerance = 1e-3 * Math.Abs(reference[i]) + 1e-7;
            Assert.Equal(reference[i], (double)g1[i], tolerance);
            Assert.Equal(reference[i], (double)g2[i], tolerance);
        }
    }

    [Fact]
    public void Gradient_And_Losses_RoundTripBitwiseToTheLibrary()
    {
        var run = CliRun.Run("loss", "--logits", LogitsF32(), "--targets", TargetsI64(), "--grad", dir["g.npy"], "--losses", dir["r.npy"], "--label-smoothing", "0.1");
        Assert.Equal(0, run.ExitCode);
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1f };
        var gradient = new float[logits.Length];
        float loss = CrossEntropy.LossAndGradient(logits, targets, gradient, options);
        var rows = new float[targets.Length];
        CrossEntropy.LossPerRow(logits, targets, rows, options);

        var grad = TestNpy.ReadF32(dir["g.npy"], out var gradShape);
        Assert.Equal(new long[] { B, T, V }, gradShape);
        Assert.Equal(Bits(gradient), Bits(grad));

        var losses = TestNpy.ReadF32(dir["r.npy"], out var lossShape);
        Assert.Equal(new long[] { B, T }, lossShape);
        Assert.Equal(Bits(rows), Bits(losses));
        Assert.Equal(0f, losses[4]);
        Assert.Contains($"loss: {loss.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}\n", run.Out, StringComparison.Ordinal);

        // Nothing but the two outputs was left in the folder (no temporary files).
        Assert.Equal(["g.npy", "l.npy", "r.npy", "t.npy"], dir.Files().Order().ToArray());
    }

    [Fact]
    public void EveryOption_MatchesReference()
    {
        var weights = Enumerable.Range(0, V).Select(c => 0.5f + (c % 5) * 0.25f).ToArray();
        var w = TestNpy.F32(dir["w.npy"], weights, V);
        var options = new CrossEntropyOptions { ClassWeights = weights, LabelSmoothing = 0.2f, ZLoss = 0.001f, SoftCap = 3, IgnoreIndex = 7, Reduction = Reduction.Sum };

        // With ignore index 7, -100 would be out of range: the ignored row gets 7 instead.
        var t = targets.Select(x => x == -100 ? 7 : x).ToArray();
        TestNpy.I64(dir["t.npy"], t.Select(x => (long)x).ToArray(), B, T);
        var json = Json("loss", "--logits", LogitsF32(), "--targets", dir["t.npy"], "--weights", w, "--label-smoothing", "0.2",
            "--z-loss", "0.001", "--soft-cap", "3", "--ignore-index", "7", "--reduction", "sum", "--json", "--threads", "1");
        double expected = CrossEntropyReference.Loss(logits, t, options);
        Assert.Equal(expected, json.GetProperty("loss").GetDouble(), Math.Abs(expected) * 1e-5);
        Assert.Equal("sum", json.GetProperty("reduction").GetString());
        Assert.True(json.GetProperty("weighted").GetBoolean());
    }

    [Fact]
    public void Json_HasTheDocumentedFields()
    {
        var json = Json("loss", "--logits", LogitsF32(), "--targets", TargetsI64(), "--json");
        Assert.Equal(6, json.GetProperty("rows").GetInt32());
        Assert.Equal(5, json.GetProperty("kept_rows").GetInt32());
        Assert.Equal(V, json.GetProperty("classes").GetInt32());
        Assert.Equal("mean", json.GetProperty("reduction").GetString());
        Assert.Equal([B, T, V], json.GetProperty("logits_shape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("grad_file").ValueKind);
    }

    [Fact]
    public void ReductionNone_PrintsOneLossPerRow()
    {
        var json = Json("loss", "--logits", LogitsF32(), "--targets", TargetsI64(), "--reduction", "none", "--json");
        var rows = json.GetProperty("loss").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var expected = CrossEntropyReference.RowLosses(logits, targets);
        Assert.Equal(targets.Length, rows.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal(expected[i], rows[i], 1e-5);
        }
    }

    [Fact]
    public void ReductionNone_GradientIsThatOfTheSum()
    {
        var run = CliRun.Run("loss", "--logits", LogitsF32(), "--targets", TargetsI64(), "--reduction", "none", "--grad", dir["g.npy"], "--z-loss", "0.01");
        Assert.True(run.ExitCode == 0, run.Error);
        var expected = new float[logits.Length];
        CrossEntropy.LossAndGradient(logits, targets, expected, new CrossEntropyOptions { Reduction = Reduction.Sum, ZLoss = 0.01f });
        Assert.Equal(Bits(expected), Bits(TestNpy.ReadF32(dir["g.npy"], out _)));
        Assert.StartsWith("losses (6 rows):\n", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroRows_LossIsNaN_OutputsAreEmptyArrays()
    {
        var l = TestNpy.F32(dir["l0.npy"], [], 0, V);
        var t = TestNpy.I64(dir["t0.npy"], [], 0);
        var json = Json("loss", "--logits", l, "--targets", t, "--json", "--grad", dir["g.npy"], "--losses", dir["r.npy"]);
        Assert.Equal("NaN", json.GetProperty("loss").GetString());
        Assert.Empty(TestNpy.ReadF32(dir["g.npy"], out var shape));
        Assert.Equal(new long[] { 0, V }, shape);
        Assert.Empty(TestNpy.ReadF32(dir["r.npy"], out _));
    }

    [Fact]
    public void RootHelp_ListsTheVerbs()
    {
        var run = CliRun.Run("--help");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("loss", run.Out, StringComparison.Ordinal);
        Assert.Contains("bench", run.Out, StringComparison.Ordinal);
        var bench = CliRun.Run("bench", "--help");
        Assert.Equal(0, bench.ExitCode);
        Assert.Contains("--iterations", bench.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void AllIgnored_LossIsNaN_AsAJsonString()
    {
        var t = TestNpy.I64(dir["t.npy"], Enumerable.Repeat(-100L, B * T).ToArray(), B, T);
        var json = Json("loss", "--logits", LogitsF32(), "--targets", t, "--json");
        Assert.Equal("NaN", json.GetProperty("loss").GetString());
    }

    [Fact]
    public void Rank1Logits_WithScalarTarget()
    {
        var l = TestNpy.F32(dir["l1.npy"], logits.AsSpan(0, V), V);
        var t = TestNpy.I64(dir["t0.npy"], [3L]);
        var json = Json("loss", "--logits", l, "--targets", t, "--json");
        Assert.Equal(CrossEntropyReference.Loss(logits.AsSpan(0, V), [3]), json.GetProperty("loss").GetDouble(), 1e-5);
    }

    [Fact]
    public void Help_DescribesEveryOption()
    {
        var run = CliRun.Run("loss", "--help");
        Assert.Equal(0, run.ExitCode);
        foreach (var option in new[] { "--logits", "--targets", "--input", "--weights", "--ignore-index", "--label-smoothing", "--z-loss", "--soft-cap", "--reduction", "--grad", "--losses", "--json", "--threads", "EXAMPLES" })
        {
            Assert.Contains(option, run.Out, StringComparison.Ordinal);
        }
    }

    private string LogitsF32() => TestNpy.F32(dir["l.npy"], logits, B, T, V);

    private string TargetsI64() => TestNpy.I64(dir["t.npy"], targets.Select(x => (long)x).ToArray(), B, T);

    private string TargetsI32() => TestNpy.I32(dir["t32.npy"], targets, B, T);

    private static JsonElement Json(params string[] args)
    {
        var run = CliRun.Run(args);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Single(run.Out.Trim().Split('\n'));
        return JsonDocument.Parse(run.Out).RootElement.Clone();
    }

    private static int[] Bits(float[] values) => MemoryMarshal.Cast<float, int>(values).ToArray();
}
