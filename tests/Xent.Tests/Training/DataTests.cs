using System.Text;
using Xent.Training.Data;

namespace Xent.Tests.Training;

public sealed class DataTests : IDisposable
{
    private readonly string testDir = Directory.CreateTempSubdirectory("xent-data-").FullName;

    public void Dispose() => Directory.Delete(testDir, recursive: true);

    private string WriteFile(string name, byte[] bytes)
    {
        string path = Path.Combine(testDir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Markov_dataset_is_deterministic_and_splits_are_independent()
    {
        var a = TokenDataset.Markov(11, 5000, 1000);
        var b = TokenDataset.Markov(11, 5000, 1000);
        Assert.Equal(a.Train, b.Train);
        Assert.Equal(a.Validation, b.Validation);
        Assert.NotEqual(a.Train[..1000], a.Validation);
        Assert.Equal(32, a.Tokenizer.VocabSize);
        Assert.All(a.Train, t => Assert.InRange(t, 0, 31));
        Assert.Equal(a.Chain!.EntropyRate, a.EntropyFloor);
    }

    [Fact]
    public void Batch_is_a_function_of_seed_and_step()
    {
        int[] stream = Enumerable.Range(0, 1000).ToArray();
        var s1 = new BatchSampler(stream, 8, 42);
        var s2 = new BatchSampler(stream, 8, 42);
        var s3 = new BatchSampler(stream, 8, 43);
        int[] x1 = new int[32], y1 = new int[32], x2 = new int[32], y2 = new int[32];
        s1.Fill(7, 4, x1, y1);
        s2.Fill(7, 4, x2, y2);
        Assert.Equal(x1, x2);
        Assert.Equal(y1, y2);
        for (int i = 0; i < 32; i++)
        {
            Assert.Equal(x1[i] + 1, y1[i]); // targets are the next tokens
        }

        for (int b = 0; b < 4; b++)
        {
            for (int t = 1; t < 8; t++)
            {
                Assert.Equal(x1[b * 8 + t - 1] + 1, x1[b * 8 + t]); // contiguous windows
            }
        }

        s2.Fill(8, 4, x2, y2);
        Assert.NotEqual(x1, x2);
        s3.Fill(7, 4, x2, y2);
        Assert.NotEqual(x1, x2);
    }

    [Fact]
    public void Sequential_windows_cover_the_stream_without_overlap()
    {
        int[] stream = Enumerable.Range(0, 35).ToArray();
        var (x, y, w) = BatchSampler.Sequential(stream, 8, 100);
        Assert.Equal(4, w);
        Assert.Equal(Enumerable.Range(0, 32), x);
        Assert.Equal(Enumerable.Range(1, 32), y);
    }

    [Fact]
    public void Byte_tokenizer_round_trips_any_text()
    {
        const string text = "héllo, wörld — 漢字 🎉\n";
        int[] ids = ByteTokenizer.Instance.Encode(text);
        Assert.Equal(Encoding.UTF8.GetByteCount(text), ids.Length);
        Assert.Equal(0xC3, ids[1]);
        Assert.Equal(text, ByteTokenizer.Instance.Decode(ids));
        Assert.Equal(ids.Length, ByteTokenizer.Instance.ByteCount(ids));
    }

    [Fact]
    public void Gpt2_tokenizer_matches_known_ids_and_round_trips()
    {
        var tok = Gpt2Tokenizer.Instance;
        Assert.Equal(50257, tok.VocabSize);
        // GPT-2's well-known encoding of "Hello world": "Hello" = 15496, " world" = 995.
        Assert.Equal(new[] { 15496, 995 }, tok.Encode("Hello world"));
        const string text = "The quick brown fox — jumps over 漢字 🎉\n  twice.";
        int[] ids = tok.Encode(text);
        Assert.All(ids, i => Assert.InRange(i, 0, 50256));
        Assert.Equal(text, tok.Decode(ids));
        Assert.Equal(Encoding.UTF8.GetByteCount(text), tok.ByteCount(ids));
    }

    [Fact]
    public void Gpt2_ByteCount_of_a_slice_counts_the_bytes_of_its_tokens()
    {
        // bits per byte of xent eval counts the predicted tokens, ids[1..]: a slice that starts or ends inside a
        // character must count its bytes, not 3 per U+FFFD of the decoded slice.
        var tok = Gpt2Tokenizer.Instance;
        const string text = "漢字 🎉 é<|endoftext|>";
        int[] ids = tok.Encode(text);
        long whole = tok.ByteCount(ids);
        Assert.Equal(Encoding.UTF8.GetByteCount(text), whole);
        long sum = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            sum += tok.ByteCount(ids.AsSpan(i, 1));
            Assert.Equal(whole, tok.ByteCount(ids.AsSpan(0, i)) + tok.ByteCount(ids.AsSpan(i)));
        }

        Assert.Equal(whole, sum);
        Assert.Equal(3, tok.ByteCount([128, 129, 130])); // three single-byte tokens that are no UTF-8 alone
    }

    [Fact]
    public void Gpt2_tokenizer_cuts_characters_outside_the_bmp_as_gpt2_does()
    {
        // Ids of GPT-2's own encoder (OpenAI's encoder.py: Python's regex over code points, merge ranks), computed with
        // an independent reference: a letter or digit outside the BMP ends its piece before "'s" or "'d", which stay
        // one token (338, 1549); the library's Regex on UTF-16 chars cut "𝐀'" + "s" (6, 82) and "𝟎'" + "d" (6, 67).
        var tok = Gpt2Tokenizer.Instance;
        Assert.Equal(new[] { 47728, 238, 222, 338 }, tok.Encode("𝐀's"));
        Assert.Equal(new[] { 47728, 253, 236, 1549 }, tok.Encode("𝟎'd"));
        Assert.Equal(new[] { 64, 50256, 47728, 238, 222, 338, 220, 47728, 238, 222, 338 }, tok.Encode("a<|endoftext|>𝐀's 𝐀's"));
        const string text = "𝐀's 👨‍👩‍👧 𝟎'd\r\n\t 𠀀'll";
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void Markov_tokenizer_prints_symbols_and_rejects_others()
    {
        var tok = new MarkovTokenizer(32);
        Assert.Equal("abz05", tok.Decode(tok.Encode("abz05")));
        var e = Assert.Throws<TrainingInputException>(() => tok.Encode("ab!"));
        Assert.Contains("'!'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ab😀", "'😀' (U+1F600) is not a symbol")]
    [InlineData("a\\0b", "U+0000 is not a symbol")]
    [InlineData("a\\nb", "U+000A is not a symbol")]
    [InlineData("ab\\uD83D", "U+D83D is not a symbol")]
    public void Markov_tokenizer_names_a_character_outside_its_symbols_whole_and_by_code_point(string text, string expected)
    {
        // The message showed the UTF-16 char: half of an emoji ('\uD83D', printed as '?'), or a raw NUL or new line.
        text = System.Text.RegularExpressions.Regex.Unescape(text);
        var e = Assert.Throws<TrainingInputException>(() => new MarkovTokenizer(32).Encode(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal(e.Message, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(e.Message))); // no half of a pair
        Assert.DoesNotContain(e.Message, char.IsControl);
    }

    [Theory]
    [InlineData(TokenizerKind.Bytes)]
    [InlineData(TokenizerKind.Gpt2)]
    public void Text_file_splits_last_tenth_for_validation(TokenizerKind kind)
    {
        string text = string.Concat(Enumerable.Repeat("The cat sat on the mat. ", 200));
        string path = WriteFile("t.txt", Encoding.UTF8.GetBytes(text));
        var data = TokenDataset.FromTextFile(path, kind, 16);
        int[] all = TokenDataset.CreateTextTokenizer(kind).Encode(text);
        Assert.Equal(all, data.Train.Concat(data.Validation));
        Assert.Equal((int)(all.Length * 0.1), data.Validation.Length);
        Assert.Null(data.EntropyFloor);
    }

    [Fact]
    public void Missing_empty_short_and_invalid_files_give_clear_messages()
    {
        var missing = Assert.Throws<TrainingInputException>(
            () => TokenDataset.FromTextFile(Path.Combine(testDir, "nope.txt"), TokenizerKind.Bytes, 8));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);

        var empty = Assert.Throws<TrainingInputException>(
            () => TokenDataset.FromTextFile(WriteFile("e.txt", [0xEF, 0xBB, 0xBF]), TokenizerKind.Bytes, 8));
        Assert.Contains("is empty", empty.Message, StringComparison.Ordinal);

        var shortText = Assert.Throws<TrainingInputException>(
            () => TokenDataset.FromTextFile(WriteFile("s.txt", Encoding.UTF8.GetBytes("hello world")), TokenizerKind.Bytes, 8));
        Assert.Contains("too short", shortText.Message, StringComparison.Ordinal);
        Assert.Contains("18 tokens", shortText.Message, StringComparison.Ordinal);
        Assert.Contains("11 tokens (bytes)", shortText.Message, StringComparison.Ordinal); // as --tokenizer names it

        var bad = Assert.Throws<TrainingInputException>(
            () => TokenDataset.FromTextFile(WriteFile("b.txt", [0x61, 0xFF, 0x62]), TokenizerKind.Bytes, 8));
        Assert.Contains("not valid UTF-8", bad.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0xFF, 0x62 }, "byte FF at offset 1")]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, 0x61, 0x62, 0xC0, 0xAF }, "byte C0 at offset 5")]
    [InlineData(new byte[] { 0x61, 0xE6, 0xBC }, "bytes E6 BC at offset 1")]
    [InlineData(new byte[] { 0xFF, 0xFE, 0x68, 0x00, 0x69, 0x00 }, "UTF-16")]
    [InlineData(new byte[] { 0xFE, 0xFF, 0x00, 0x68, 0x00, 0x69 }, "UTF-16")]
    [InlineData(new byte[] { 0xFF, 0xFE, 0x00, 0x00, 0x68, 0x00, 0x00, 0x00, 0x69, 0x00, 0x00, 0x00 }, "a UTF-32 byte-order mark (convert it, e.g. iconv -f UTF-32 -t UTF-8)")]
    [InlineData(new byte[] { 0x00, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x00, 0x68, 0x00, 0x00, 0x00, 0x69 }, "a UTF-32 byte-order mark (convert it, e.g. iconv -f UTF-32 -t UTF-8)")]
    public void A_file_that_is_not_utf8_is_refused_naming_where_in_the_file(byte[] bytes, string expected)
    {
        // The offset was the decoder's, counted after a byte-order mark it had not seen (2 for the C0 at byte 5), in
        // .NET's words ("Unable to translate bytes [C0] at index 2 from specified code page to Unicode"); a UTF-16
        // file was only "not valid UTF-8 ([FF] at index 0)".
        var e = Assert.Throws<TrainingInputException>(() => TextFile.Read(WriteFile("bad.txt", bytes)));
        Assert.Contains("not valid UTF-8", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("code page", e.Message, StringComparison.Ordinal);
    }
}
