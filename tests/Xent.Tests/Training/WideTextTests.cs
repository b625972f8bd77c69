using System.Text;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>
/// UTF-16 or UTF-32 saved without a byte-order mark: its ASCII characters are valid UTF-8 with NUL bytes between them,
/// which a --text run read and trained on as garbage (a NUL token every other byte). It is refused, saying what it
/// looks like and how to convert it; UTF-8 text, with or without a byte-order mark and with a stray NUL, still reads.
/// </summary>
public sealed class WideTextTests : IDisposable
{
    private const string Text = "The quick brown fox jumps over the lazy dog.\nPack my box with five dozen liquor jugs.\n";

    private readonly string testDir = Directory.CreateTempSubdirectory("xent-wide-").FullName;

    public void Dispose() => Directory.Delete(testDir, recursive: true);

    public static TheoryData<string, string> Wide => new()
    {
        { "UTF-16LE", Text },
        { "UTF-16BE", Text },
        { "UTF-32LE", Text },
        { "UTF-32BE", Text },
        { "UTF-16LE", "a" },
        { "UTF-16LE", "Grüße, café: " + Text },
    };

    [Theory]
    [MemberData(nameof(Wide))]
    public void Utf16Or32WithoutAByteOrderMarkIsRefusedNamingItAndTheConversion(string encoding, string text)
    {
        string path = Write(Encode(encoding, text));
        var e = Assert.Throws<TrainingInputException>(() => TextFile.Read(path));
        Assert.Contains($"'{path}' is not UTF-8 text", e.Message, StringComparison.Ordinal);
        Assert.Contains($"it looks like {encoding} saved without a byte-order mark", e.Message, StringComparison.Ordinal);
        Assert.Contains($"iconv -f {encoding} -t UTF-8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ManyNulBytesWithoutAPatternAreRefusedAsNotText()
    {
        var bytes = new byte[400];
        new Random(3).NextBytes(bytes);
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = i % 3 == 0 ? (byte)0 : (byte)('a' + (bytes[i] % 26));
        }

        string path = Write(bytes);
        var e = Assert.Throws<TrainingInputException>(() => TextFile.Read(path));
        Assert.Contains($"'{path}' is not UTF-8 text", e.Message, StringComparison.Ordinal);
        Assert.Contains("UTF-16 or UTF-32", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Utf8TextStillReadsWithOrWithoutAByteOrderMarkAndAStrayNul(bool mark)
    {
        string text = "Grüße, café, 日本語, emoji 😀.\0" + Text;
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        string path = Write(mark ? [0xEF, 0xBB, 0xBF, .. bytes] : bytes);
        Assert.Equal(text, TextFile.Read(path).Text);
    }

    private static byte[] Encode(string encoding, string text) => encoding switch
    {
        "UTF-16LE" => new UnicodeEncoding(bigEndian: false, byteOrderMark: false).GetBytes(text),
        "UTF-16BE" => new UnicodeEncoding(bigEndian: true, byteOrderMark: false).GetBytes(text),
        "UTF-32LE" => new UTF32Encoding(bigEndian: false, byteOrderMark: false).GetBytes(text),
        _ => new UTF32Encoding(bigEndian: true, byteOrderMark: false).GetBytes(text),
    };

    private string Write(byte[] bytes)
    {
        string path = Path.Combine(testDir, "text.txt");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
