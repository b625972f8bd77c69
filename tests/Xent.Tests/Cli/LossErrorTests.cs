using System.Buffers.Binary;
using System.Text;

namespace Xent.Tests.Cli;

/// <summary>
/// Bad input to xent loss: exit code 2, one message on stderr naming the file and the problem, no stack trace,
/// and the output files neither created nor touched.
/// </summary>
public sealed class LossErrorTests : IDisposable
{
    private const int V = 7;
    private readonly TempFolder dir = new();
    private readonly string logits;
    private readonly string targets;
    private readonly byte[] data = new byte[2 * 3 * V * 4];

    public LossErrorTests()
    {
        logits = TestNpy.F32(dir["l.npy"], new float[2 * 3 * V], 2, 3, V);
        targets = TestNpy.I64(dir["t.npy"], [0L, 1, 2, 3, 4, 5], 2, 3);

        // A previous output that a failed run must leave exactly as it was.
        File.WriteAllText(dir["g.npy"], "old");
    }

    public void Dispose() => dir.Dispose();

    public static TheoryData<string, string, string> BadLogits => new()
    {
        { "not an .npy", "hello world, this is text", "not an .npy file" },
        { "empty", "", "truncated" },
        { "cut in the magic", "\u0093NUM", "truncated" },
        { "cut in the header", "HEADER_CUT", "truncated .npy header" },
        { "version 4.0", "VERSION4", "unsupported .npy format version 4.0" },
        { "unclosed dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 7), ", "malformed .npy header" },
        { "unclosed tuple", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 7 }", "malformed .npy header" },
        { "missing shape", "{'descr': '<f4', 'fortran_order': False, }", "'shape' is missing" },
        { "extra key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 7), 'x': 1, }", "unexpected key 'x'" },
        { "negative dim", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3, 7), }", "not a non-negative integer" },
        { "complex dtype", "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3, 7), }", "unsupported dtype '<c8'" },
        { "int16 dtype", "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3, 7), }", "unsupported dtype '<i2'" },
        { "big-endian", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3, 7), }", "big-endian" },
        { "structured", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3, 7), }", "structured" },
        { "fortran order", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 7), }", "Fortran (column-major) order" },
        { "data too short", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 8), }", "truncated data" },
        { "integer logits", "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3, 7), }", "logits must be floating-point" },
        { "scalar logits", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "at least one axis" },
        { "shape as a list (numpy refuses it)", "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3, 7], }", "not a list" },
    };

    [Theory]
    [MemberData(nameof(BadLogits))]
    public void MalformedLogitsFile(string name, string header, string problem)
    {
        _ = name;
        var bad = dir["bad.npy"];
        File.WriteAllBytes(bad, header switch
        {
            "HEADER_CUT" => TestNpy.File(TestNpy.Dict("<f4", 2, 3, V), data)[..40],
            "VERSION4" => Version4(),
            _ when header.StartsWith('{') => TestNpy.File(header, data),
            _ => Encoding.Latin1.GetBytes(header),
        });
        AssertRejected(bad, problem, "--logits", bad, "--targets", targets);
    }

    [Fact]
    public void MissingFile() => AssertRejected(dir["nope.npy"], "no such file", "--logits", dir["nope.npy"], "--targets", targets);

    [Fact]
    public void TargetsShapeMismatch()
    {
        var t = TestNpy.I64(dir["t24.npy"], new long[8], 2, 4);
        AssertRejected(t, "targets of shape (2, 4) do not match the logits (2, 3, 7)", "--logits", logits, "--targets", t);
    }

    [Fact]
    public void TargetOutOfRange_NamesTheIndex()
    {
        var t = TestNpy.I64(dir["t7.npy"], [0L, 1, 2, 7, 4, 5], 2, 3);
        AssertRejected(t, "target 7 at index [1, 0] is outside [0, 7)", "--logits", logits, "--targets", t);
    }

    [Fact]
    public void NegativeTarget_ThatIsNotTheIgnoreIndex()
    {
        var t = TestNpy.I32(dir["tneg.npy"], [0, 1, -1, 3, 4, 5], 2, 3);
        AssertRejected(t, "target -1 at index [0, 2]", "--logits", logits, "--targets", t);
    }

    [Fact]
    public void Int64TargetBeyondInt32()
    {
        var t = TestNpy.I64(dir["tbig.npy"], [0L, 1, 2, 3, 1L << 40, 5], 2, 3);
        AssertRejected(t, "does not fit in int32", "--logits", logits, "--targets", t);
    }

    [Fact]
    public void FloatTargets()
    {
        var t = TestNpy.F32(dir["tf.npy"], new float[6], 2, 3);
        AssertRejected(t, "targets must be int32 or int64", "--logits", logits, "--targets", t);
    }

    [Fact]
    public void WeightsOfTheWrongLength()
    {
        var w = TestNpy.F32(dir["w.npy"], new float[V + 1], V + 1);
        AssertRejected(w, "class weights of shape (8,) do not match the vocabulary", "--logits", logits, "--targets", targets, "--weights", w);
    }

    [Fact]
    public void OutputFolderMissing()
    {
        var run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad", dir["no/such/g.npy"]);
        run.AssertBadInput(dir["no/such/g.npy"], "does not exist");
    }

    [Theory]
    [InlineData("--reduction", "avg", "--reduction must be mean, sum or none")]
    [InlineData("--label-smoothing", "1.5", "--label-smoothing must be in [0, 1]")]
    [InlineData("--z-loss", "-1", "--z-loss must be")]
    [InlineData("--soft-cap", "-2", "--soft-cap must be")]
    [InlineData("--threads", "0", "--threads must be")]
    [InlineData("--bogus", "1", "bogus")]
    [InlineData("--ignore-index", "abc", "abc")]
    public void BadOption_IsExitCode2(string option, string value, string problem)
    {
        var run = CliRun.Run("loss", "--logits", logits, "--targets", targets, option, value, "--grad", dir["g.npy"]);
        run.AssertBadInput(option.TrimStart('-') == "bogus" ? "bogus" : problem, problem);
        Assert.Equal("old", File.ReadAllText(dir["g.npy"]));
    }

    [Fact]
    public void TrailingOptionWithoutValue_IsExitCode2_AndWritesNothing()
    {
        // Spectre hands such an option the default command's internal name; it must not become a file name.
        var run = CliRun.Run("loss", "--logits", logits, "--targets", targets, "--grad");
        run.AssertBadInput("--grad", "needs a value");
        Assert.DoesNotContain(dir.Files(), f => f.Contains("default", StringComparison.Ordinal));
        Assert.False(File.Exists("__default_command"));
        CliRun.Run("bench", "--rows").AssertBadInput("option", "has no value");
    }

    [Fact]
    public void NonNumericValue_SaysNumber() =>
        CliRun.Run("loss", "--logits", logits, "--targets", targets, "--z-loss", "x").AssertBadInput("'x'", "to a number");

    [Fact]
    public void NoLogits_IsExitCode2()
    {
        var run = CliRun.Run("loss", "--targets", targets);
        run.AssertBadInput("--logits", "required");
    }

    private void AssertRejected(string file, string problem, params string[] args)
    {
        var run = CliRun.Run(["loss", .. args, "--grad", dir["g.npy"], "--losses", dir["r.npy"]]);
        run.AssertBadInput(file, problem);
        Assert.Equal("old", File.ReadAllText(dir["g.npy"]));
        Assert.False(File.Exists(dir["r.npy"]));
        Assert.DoesNotContain(dir.Files(), f => f.EndsWith("tmp", StringComparison.Ordinal));
    }

    private byte[] Version4()
    {
        var bytes = TestNpy.File(TestNpy.Dict("<f4", 2, 3, V), data);
        bytes[6] = 4;
        return bytes;
    }

    [Fact]
    public void Version2HeaderLengthBeyondTheFile()
    {
        var bytes = TestNpy.File(TestNpy.Dict("<f4", 2, 3, V), data, major: 2);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 100_000);
        File.WriteAllBytes(dir["v2.npy"], bytes);
        AssertRejected(dir["v2.npy"], "truncated .npy header", "--logits", dir["v2.npy"], "--targets", targets);
    }
}
