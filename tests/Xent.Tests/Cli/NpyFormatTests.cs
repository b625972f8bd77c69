using System.Runtime.InteropServices;
using Xent.Cli.IO;

namespace Xent.Tests.Cli;

/// <summary>The .npy reader on headers numpy (old and new) writes, and the writer against the format rules.</summary>
public sealed class NpyFormatTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")]
    [InlineData(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")]
    [InlineData(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")]
    [InlineData(1, "{'descr':'<f4','fortran_order':False,'shape':(2,3)}")]
    [InlineData(1, "{\"shape\": (2L, 3L), \"descr\": \"<f4\", \"fortran_order\": False}")]
    [InlineData(1, "  { 'fortran_order' : False ,\n 'shape' : (2, 3) , 'descr' : '<f4' , }  ")]
    public void AcceptsHeaderVariants(int major, string dict)
    {
        var values = Enumerable.Range(0, 6).Select(i => i * 0.5f).ToArray();
        File.WriteAllBytes(dir["a.npy"], TestNpy.File(dict, MemoryMarshal.AsBytes(values.AsSpan()), major));
        var info = NpyFormat.ReadHeader(dir["a.npy"]);
        Assert.Equal(ElementType.Float32, info.Type);
        Assert.Equal(new long[] { 2, 3 }, info.Shape);
        Assert.Equal(0, info.DataOffset % 64);
        Assert.Equal(new FileInfo(dir["a.npy"]).Length - 24, info.DataOffset);
    }

    [Theory]
    [InlineData("<f2", "Float16")]
    [InlineData("<f4", "Float32")]
    [InlineData("<f8", "Float64")]
    [InlineData("<i4", "Int32")]
    [InlineData("<i8", "Int64")]
    public void ReadsEveryDtype(string descr, string typeName)
    {
        var type = Enum.Parse<ElementType>(typeName);
        File.WriteAllBytes(dir["a.npy"], TestNpy.File(TestNpy.Dict(descr, 5), new byte[5 * type.Size()]));
        Assert.Equal(type, NpyFormat.ReadHeader(dir["a.npy"]).Type);
    }

    [Fact]
    public void FortranOrder_IsAcceptedWhenTheLayoutIsTheSame()
    {
        // (1, 5, 1) has one axis above 1: Fortran and C order are the same bytes.
        File.WriteAllBytes(dir["a.npy"], TestNpy.File("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 5, 1), }", new byte[20]));
        Assert.Equal(new long[] { 1, 5, 1 }, NpyFormat.ReadHeader(dir["a.npy"]).Shape);
    }

    [Theory]
    [InlineData(new long[] { })]
    [InlineData(new long[] { 0 })]
    [InlineData(new long[] { 7 })]
    [InlineData(new long[] { 2, 3, 5 })]
    [InlineData(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2 })]
    public void Writer_FollowsTheFormat(long[] shape)
    {
        var header = NpyFormat.Header(ElementType.Float32, shape);
        Assert.Equal(0, header.Length % 64);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        File.WriteAllBytes(dir["w.npy"], [.. header, .. new byte[count * 4]]);

        // Read back both by the independent test reader and by the CLI's own.
        var (descr, readShape, data) = TestNpy.Read(dir["w.npy"]);
        Assert.Equal("<f4", descr);
        Assert.Equal(shape, readShape);
        Assert.Equal(count * 4, data.Length);
        Assert.Equal(shape, NpyFormat.ReadHeader(dir["w.npy"]).Shape);
    }

    [Fact]
    public void Writer_UsesPythonTupleSyntax()
    {
        var text = System.Text.Encoding.ASCII.GetString(NpyFormat.Header(ElementType.Int64, [5]));
        Assert.Contains("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", text, StringComparison.Ordinal);
        Assert.Equal(1, NpyFormat.Header(ElementType.Int64, [5])[6]);
        Assert.EndsWith(" \n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("(1, 2,)", "(1, 2)")]
    [InlineData("()", "()")]
    [InlineData("(7)", "7")]
    [InlineData("[1, 2]", "[1, 2]")]
    [InlineData("{'a': (3,), 'b': True, 'c': None}", "{a: (3), b: True, c: }")]
    [InlineData("{'a': 1, 'a': 2}", "{a: 2}")]
    [InlineData("99999999999999999999", "99999999999999999999")]
    [InlineData("0x_ff", "255")]
    [InlineData("-0o17", "-15")]
    [InlineData("'a' \"b\" r'\\x'", "ab\\x")]
    [InlineData("'\\x41\\101\\u0041\\n'", "AAA\n")]
    [InlineData("1_000", "1000")]
    [InlineData("'\\N{LESS-THAN SIGN}\\N{latin small letter f}\\N{Digit Four}\\N{SPACE}\\N{TILDE}'", "<f4 ~")]
    [InlineData("# comment\n{'k': 1} # comment", "{k: 1}")]
    public void PythonLiteral_Parses(string text, string expected)
    {
        Assert.Equal(expected, Show(PythonLiteral.Parse(text)));
    }

    [Theory]
    [InlineData("(1, 2")]
    [InlineData("{'a' 1}")]
    [InlineData("{'a': 1} x")]
    [InlineData("'abc")]
    [InlineData("true")]
    [InlineData("--2")]
    [InlineData("-(-2)")]
    [InlineData("01")]
    [InlineData("0_3")]
    [InlineData("2L")]
    [InlineData("1__0")]
    [InlineData("'a' b'b'")]
    [InlineData("f'a'")]
    [InlineData("{'a': 1}\v")]
    [InlineData("{'a': 1}\u00a0")]
    [InlineData("{1: 2}")]
    [InlineData("'\\x4'")]
    [InlineData("'a\nb'")]
    [InlineData("  \n  {}")]
    public void PythonLiteral_RejectsMalformed(string text) =>
        Assert.Throws<FormatException>(() => PythonLiteral.Parse(text));

    [Theory]
    [InlineData("'\\N{GREEK SMALL LETTER ALPHA}'", "the escape \\N{GREEK SMALL LETTER ALPHA} is not supported")]
    [InlineData("'\\N{NO SUCH NAME}f4'", "the escape \\N{NO SUCH NAME} is not supported")]
    [InlineData("'\\Nf4'", "malformed \\N{...} escape")]
    [InlineData("'\\N{}f4'", "malformed \\N{...} escape")]
    [InlineData("'\\N{SPACE'", "malformed \\N{...} escape")]
    public void PythonLiteral_NamedEscape_RefusedNamingTheEscape(string text, string message) =>
        Assert.Contains(message, Assert.Throws<FormatException>(() => PythonLiteral.Parse(text)).Message, StringComparison.Ordinal);

    [Fact]
    public void PythonLiteral_LongSuffix_OnlyWhenAsked()
    {
        Assert.Equal("(2, 3)", Show(PythonLiteral.Parse("(2L, 3)", longSuffix: true)));
        Assert.Throws<FormatException>(() => PythonLiteral.Parse("(2L, 3)"));
    }

    [Fact]
    public void BytesAfterTheData_AreIgnored_AsNumPyDoes()
    {
        File.WriteAllBytes(dir["a.npy"], TestNpy.File(TestNpy.Dict("<f4", 2), new byte[12]));
        var info = NpyFormat.ReadHeader(dir["a.npy"]);
        Assert.Equal(new long[] { 2 }, info.Shape);
        Assert.Equal(8, info.ByteLength);
    }

    private static string Show(object? value) => value switch
    {
        List<object?> list => "[" + string.Join(", ", list.Select(Show)) + "]",
        PythonTuple tuple => "(" + string.Join(", ", tuple.Items.Select(Show)) + ")",
        Dictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => $"{kv.Key}: {Show(kv.Value)}")) + "}",
        _ => value?.ToString() ?? "",
    };
}
