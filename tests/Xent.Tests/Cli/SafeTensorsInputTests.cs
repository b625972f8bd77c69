using System.Runtime.InteropServices;
using System.Text.Json;
using Xent.Reference;

namespace Xent.Tests.Cli;

/// <summary>xent loss on safetensors files holding 'logits' and 'targets'.</summary>
public sealed class SafeTensorsInputTests : IDisposable
{
    private const int N = 6, V = 11;
    private readonly TempFolder dir = new();
    private readonly float[] logits;
    private readonly long[] targets = [0, 3, -100, 10, 5, 5];

    public SafeTensorsInputTests()
    {
        var rng = new Random(9);
        logits = Enumerable.Range(0, N * V).Select(_ => rng.NextSingle() * 6 - 3).ToArray();
    }

    public void Dispose() => dir.Dispose();

    private int[] Targets32 => targets.Select(t => (int)t).ToArray();

    [Fact]
    public void Input_MatchesTheNpyRunBitwise()
    {
        var st = TestSafeTensors.Write(dir["b.safetensors"], ("logits", "F32", [2, 3, V], Bytes(logits)), ("targets", "I64", [2, 3], Bytes(targets)));
        var l = TestNpy.F32(dir["l.npy"], logits, 2, 3, V);
        var t = TestNpy.I64(dir["t.npy"], targets, 2, 3);
        var fromSt = Json("loss", "--input", st, "--json").GetProperty("loss").GetSingle();
        var fromNpy = Json("loss", "--logits", l, "--targets", t, "--json").GetProperty("loss").GetSingle();
        Assert.Equal(BitConverter.SingleToInt32Bits(fromNpy), BitConverter.SingleToInt32Bits(fromSt));
        Assert.Equal(CrossEntropyReference.Loss(logits, Targets32), fromSt, 1e-5);
    }

    [Fact]
    public void LogitsSafeTensors_TargetsDefaultToTheSameFile_Bf16AndI32()
    {
        // bfloat16 keeps the top 16 bits of a float32.
        var bf = logits.Select(x => (ushort)(BitConverter.SingleToUInt32Bits(x) >> 16)).ToArray();
        var widened = bf.Select(b => BitConverter.UInt32BitsToSingle((uint)b << 16)).ToArray();
        var st = TestSafeTensors.Write(dir["x.safetensors"], ("targets", "I32", [N], Bytes(Targets32)), ("logits", "BF16", [N, V], Bytes(bf)));
        var loss = Json("loss", "--logits", st, "--json").GetProperty("loss").GetDouble();
        Assert.Equal(CrossEntropyReference.Loss(widened, Targets32), loss, 1e-5);
    }

    [Fact]
    public void Bf16_ReadInPlace_EqualsTheConvertedFloat32PathBitwise()
    {
        // In place the library's BFloat16 overloads widen as they read; converted, the float32 copy is read: the
        // same floats, the same arithmetic, so loss, losses and the float32 gradient agree to the bit.
        var bf = logits.Select(x => ((BFloat16)x).Bits).ToArray();
        var widened = bf.Select(b => (float)BFloat16.FromBits(b)).ToArray();
        var st = TestSafeTensors.Write(dir["b16.safetensors"], ("logits", "BF16", [N, V], Bytes(bf)), ("targets", "I64", [N], Bytes(targets)));
        var inPlace = Json("loss", "--input", st, "--json", "--grad", dir["g1.npy"], "--losses", dir["r1.npy"]);
        Xent.Cli.IO.LogitsData.HalfInPlaceLimit = 0;
        JsonElement converted;
        try
        {
            converted = Json("loss", "--input", st, "--json", "--grad", dir["g2.npy"], "--losses", dir["r2.npy"]);
        }
        finally
        {
            Xent.Cli.IO.LogitsData.HalfInPlaceLimit = int.MaxValue;
        }

        Assert.Equal(converted.GetProperty("loss").GetSingle(), inPlace.GetProperty("loss").GetSingle());
        Assert.Equal(TestNpy.ReadF32(dir["r2.npy"], out _), TestNpy.ReadF32(dir["r1.npy"], out _));
        var gradient = TestNpy.ReadF32(dir["g1.npy"], out var shape);
        Assert.Equal([N, V], shape);
        Assert.Equal(TestNpy.ReadF32(dir["g2.npy"], out _), gradient);
        Assert.Equal(CrossEntropyReference.Loss(widened, Targets32), inPlace.GetProperty("loss").GetDouble(), 1e-5);
    }

    [Fact]
    public void Bf16_NonFiniteLogits_AreCountedAsBFloat16()
    {
        // Read in place, the scan for NaN and inf must step 2 bytes a logit: read as float32 it ran over twice the
        // bytes (past the end of a mapped file whose logits come last: an access violation) and took pairs of
        // bfloat16 for one float (the -inf below next to a 1 read as a NaN). The targets come after the logits here,
        // so that the old scan read garbage rather than crashing.
        var bf = logits.Select(x => ((BFloat16)x).Bits).ToArray();
        bf[0] = ((BFloat16)1f).Bits;
        bf[1] = BFloat16.NegativeInfinity.Bits;
        bf[(4 * V) + 7] = BFloat16.NaN.Bits;
        var st = TestSafeTensors.Write(dir["nf.safetensors"], ("logits", "BF16", [N, V], Bytes(bf)), ("targets", "I64", [N], Bytes(targets)));
        var run = CliRun.Run("loss", "--input", st, "--reduction", "none", "--json");
        Assert.Equal(0, run.ExitCode);
        var found = JsonDocument.Parse(run.Out).RootElement.GetProperty("non_finite_logits");
        Assert.Equal((1, 0, 1), (found.GetProperty("nan").GetInt64(), found.GetProperty("posinf").GetInt64(), found.GetProperty("neginf").GetInt64()));
        Assert.Contains("1 logit is not finite (1 NaN, 0 +inf), the first at row [4], column 7", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void WeightsTensor_IsUsed()
    {
        var w = Enumerable.Range(0, V).Select(c => 1f + c).ToArray();
        var st = TestSafeTensors.Write(dir["w.safetensors"], ("logits", "F64", [N, V], Bytes(logits.Select(x => (double)x).ToArray())),
            ("targets", "I64", [N], Bytes(targets)), ("weights", "F32", [V], Bytes(w)));
        var json = Json("loss", "--input", st, "--json");
        Assert.True(json.GetProperty("weighted").GetBoolean());
        Assert.Equal(CrossEntropyReference.Loss(logits, Targets32, new CrossEntropyOptions { ClassWeights = w }), json.GetProperty("loss").GetDouble(), 1e-5);
    }

    [Fact]
    public void MissingTensor_IsExitCode2()
    {
        var st = TestSafeTensors.Write(dir["m.safetensors"], ("logits", "F32", [N, V], Bytes(logits)));
        CliRun.Run("loss", "--input", st).AssertBadInput(st, "no tensor named 'targets' (the file holds: logits)");
    }

    [Fact]
    public void UnsupportedDType_IsExitCode2()
    {
        var st = TestSafeTensors.Write(dir["u.safetensors"], ("logits", "U8", [N, V], new byte[N * V]), ("targets", "I64", [N], Bytes(targets)));
        CliRun.Run("loss", "--input", st).AssertBadInput(st, "unsupported dtype 'U8'");
    }

    [Fact]
    public void WrongByteCount_IsExitCode2()
    {
        var st = TestSafeTensors.Write(dir["w.safetensors"], ("logits", "F32", [N, V + 1], Bytes(logits)), ("targets", "I64", [N], Bytes(targets)));
        CliRun.Run("loss", "--input", st).AssertBadInput(st, "needs 288 bytes but data_offsets span 264");
    }

    [Fact]
    public void TruncatedFile_IsExitCode2()
    {
        var st = TestSafeTensors.Write(dir["t.safetensors"], ("logits", "F32", [N, V], Bytes(logits)), ("targets", "I64", [N], Bytes(targets)));
        var bytes = File.ReadAllBytes(st);
        File.WriteAllBytes(st, bytes[..^10]);
        CliRun.Run("loss", "--input", st).AssertBadInput(st, "truncated data");
        File.WriteAllBytes(st, bytes[..40]);
        CliRun.Run("loss", "--logits", st).AssertBadInput(st, "truncated safetensors header");
    }

    [Fact]
    public void BadJson_IsExitCode2()
    {
        var st = dir["j.safetensors"];
        File.WriteAllBytes(st, [5, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'x', (byte)'y', (byte)'z', (byte)'}']);
        CliRun.Run("loss", "--input", st).AssertBadInput(st, "invalid JSON");
    }

    [Fact]
    public void InputWithLogits_IsExitCode2() =>
        CliRun.Run("loss", "--input", "a.safetensors", "--logits", "b.npy").AssertBadInput("--input", "do not combine");

    private static byte[] Bytes<T>(T[] values)
        where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    private static JsonElement Json(params string[] args)
    {
        var run = CliRun.Run(args);
        Assert.True(run.ExitCode == 0, run.Error);
        return JsonDocument.Parse(run.Out).RootElement.Clone();
    }
}
