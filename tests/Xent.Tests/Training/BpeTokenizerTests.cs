using System.Text;
using Xent.Training.Data;

namespace Xent.Tests.Training;

public sealed class BpeTokenizerTests : IDisposable
{
    private const string English =
        "the cat sat on the mat. the dog sat on the log. a cat and a dog met on the mat and sat.\n" +
        "then the dog ran off the mat and the cat sat alone on the log by the mat. 42 cats, 7 dogs!\n";

    private readonly string testDir = Directory.CreateTempSubdirectory("xent-bpe-").FullName;

    public void Dispose() => Directory.Delete(testDir, recursive: true);

    [Fact]
    public void The_first_merge_is_the_most_frequent_pair_inside_a_piece()
    {
        // "aaab" x 3 and " ab": pieces "aaab" (3) and " ab" (1). Pairs: (a,a) 2 x 3 = 6, (a,b) 3 + 1 = 4, ( ,a) 1.
        var bpe = BpeTokenizer.Learn("aaab aaab aaab ab", 257);
        Assert.Equal([((int)'a', (int)'a')], bpe.Merges);
        Assert.Equal(257, bpe.VocabSize);

        // "aaab": the pair (a, a) is merged left to right without overlap: [aa, a, b].
        Assert.Equal([256, 'a', 'b'], bpe.Encode("aaab"));
    }

    [Fact]
    public void One_tokenizer_encodes_on_several_threads_at_once_as_on_one()
    {
        // Its cache of encoded pieces was a plain Dictionary filled by Encode: threads encoding at once (a data loader
        // beside a server's requests) threw "Operations that change non-concurrent collections must have exclusive
        // access" or got other pieces' ids. Every round a fresh tokenizer, so that the threads fill its cache together.
        var random = new Random(1);
        string Word() => new([.. Enumerable.Range(0, random.Next(1, 9)).Select(_ => (char)('a' + random.Next(26)))]);
        var merges = BpeTokenizer.Learn(string.Join(' ', Enumerable.Range(0, 5000).Select(_ => Word())), 500).Merges;
        string[] texts = [.. Enumerable.Range(0, 32).Select(_ => string.Join(' ', Enumerable.Range(0, 300).Select(_ => Word())))];
        var alone = new BpeTokenizer(merges);
        int[][] expected = [.. texts.Select(alone.Encode)];
        for (int round = 0; round < 40; round++)
        {
            var shared = new BpeTokenizer(merges);
            var results = new int[4][][];
            var errors = new Exception?[4];
            using var start = new Barrier(4);
            Thread[] threads = [.. Enumerable.Range(0, 4).Select(t => new Thread(() =>
            {
                start.SignalAndWait();
                try
                {
                    results[t] = [.. texts.Select((_, i) => shared.Encode(texts[(i + (8 * t)) % texts.Length]))];
                }
                catch (Exception e)
                {
                    errors[t] = e;
                }
            }))];
            Array.ForEach(threads, thread => thread.Start());
            Array.ForEach(threads, thread => Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "An Encode never returned."));
            Assert.All(errors, Assert.Null);
            for (int t = 0; t < 4; t++)
            {
                for (int i = 0; i < texts.Length; i++)
                {
                    Assert.Equal(expected[(i + (8 * t)) % texts.Length], results[t][i]);
                }
            }
        }
    }

    [Fact]
    public void Encoding_keeps_the_ids_of_a_bounded_number_of_short_pieces_and_encodes_as_each_piece_alone()
    {
        var bpe = BpeTokenizer.Learn(English + " 12 123 1234 aaaa aaaa", 330);

        // More distinct pieces (" 0", " 1", ...) than are kept, and one far longer than is kept.
        string text = string.Join(' ', Enumerable.Range(0, BpeTokenizer.MaxCachedPieces + 1000)) + " "
            + new string('a', 200_000) + " " + English;
        int[] first = bpe.Encode(text);
        Assert.InRange(bpe.CachedPieces, 1, BpeTokenizer.MaxCachedPieces);
        Assert.Equal(first, bpe.Encode(text));

        var merger = bpe.Merger();
        var alone = new List<int>();
        foreach (var m in BpeTokenizer.Pieces().EnumerateMatches(text))
        {
            alone.AddRange(merger.Encode(Encoding.UTF8.GetBytes(text.Substring(m.Index, m.Length))));
        }

        Assert.Equal(alone, first);
    }

    [Fact]
    public void The_cache_keeps_the_pieces_a_text_uses_often_not_only_the_first_ones_met()
    {
        var bpe = BpeTokenizer.Learn(English, 300);

        // A first part of rare pieces (" 0", " 1", ...), each once and more than are kept, then a frequent word: it was
        // never kept (the first pieces met filled the cache for good) and each use merged again.
        string text = string.Join(' ', Enumerable.Range(0, BpeTokenizer.MaxCachedPieces + 1000))
            + string.Concat(Enumerable.Repeat(" mat", 1000));
        long before = bpe.CacheHits;
        int[] ids = bpe.Encode(text);
        Assert.Equal(999, bpe.CacheHits - before);
        Assert.InRange(bpe.CachedPieces, 1, BpeTokenizer.MaxCachedPieces);

        // A word used all along stays kept through a flood of rare pieces three times the cache's size.
        string flood = string.Concat(Enumerable.Range(0, 3 * BpeTokenizer.MaxCachedPieces).Select(i => i % 64 == 0 ? " dog" : $" {i + 1_000_000}"));
        before = bpe.CacheHits;
        int[] flooded = bpe.Encode(flood);
        Assert.Equal(3 * BpeTokenizer.MaxCachedPieces / 64 - 1, bpe.CacheHits - before);
        Assert.InRange(bpe.CachedPieces, 1, BpeTokenizer.MaxCachedPieces);

        // Kept or not, a piece's ids are its own merged alone.
        var merger = bpe.Merger();
        foreach (var (t, encoded) in new[] { (text, ids), (flood, flooded) })
        {
            var alone = new List<int>();
            foreach (var m in BpeTokenizer.Pieces().EnumerateMatches(t))
            {
                alone.AddRange(merger.Encode(Encoding.UTF8.GetBytes(t.Substring(m.Index, m.Length))));
            }

            Assert.Equal(alone, encoded);
        }
    }

    [Fact]
    public void Characters_outside_the_bmp_are_cut_into_pieces_as_gpt2s_pattern_cuts_code_points()
    {
        // GPT-2's pattern (Python's regex, over code points) cuts "𝐀's" into "𝐀" and "'s", as "A's": the merge of
        // (', s) applies. .NET's Regex on UTF-16 chars took the pair's halves for punctuation and cut "𝐀'" + "s".
        var bpe = BpeTokenizer.Learn("'s's's", 257);
        Assert.Equal([('\'', 's')], bpe.Merges);
        Assert.Equal([0xF0, 0x9D, 0x90, 0x80, 256], bpe.Encode("𝐀's"));

        // Learning cuts the same pieces: "𝐀'" never occurs in a piece, so (0x80, ') is no pair.
        var learned = BpeTokenizer.Learn("𝐀's 𝐀's 𝐀's 𝟎'd 𝟎'd", 300);
        Assert.DoesNotContain(learned.Merges, m => m.Right == '\'');
        Assert.Equal("𝐀's 𝟎'd", learned.Decode(learned.Encode("𝐀's 𝟎'd")));
    }

    [Fact]
    public void Learning_is_deterministic_and_stops_when_no_pair_repeats()
    {
        var a = BpeTokenizer.Learn(English, 400);
        var b = BpeTokenizer.Learn(English, 400);
        Assert.Equal(a.Merges, b.Merges);
        Assert.True(a.VocabSize < 400, "A text this short runs out of pairs that occur twice.");
        Assert.Equal(256, BpeTokenizer.Learn("abcdef", 300).VocabSize);
    }

    [Theory]
    [InlineData(English)]
    [InlineData("naïve café, 東京 and emoji 🙂🙂 — tabs\tand\r\nnew lines  ")]
    [InlineData("")]
    public void Decoding_gives_the_text_back_and_bytes_are_counted_exactly(string text)
    {
        var bpe = BpeTokenizer.Learn(English + "naïve café 東京 🙂🙂", 330);
        int[] ids = bpe.Encode(text);
        Assert.All(ids, id => Assert.InRange(id, 0, bpe.VocabSize - 1));
        Assert.Equal(text, bpe.Decode(ids));
        Assert.Equal(Encoding.UTF8.GetByteCount(text), bpe.ByteCount(ids));
        Assert.Equal(Encoding.UTF8.GetBytes(text), bpe.Bytes(ids));
    }

    [Fact]
    public void Bpe_dropout_gives_the_text_back_in_more_varying_pieces_and_is_reproducible()
    {
        var bpe = BpeTokenizer.Learn(English, 330);
        string text = English + "naïve café 東京 🙂🙂";
        int[] plain = bpe.Encode(text);
        Assert.Equal(plain, bpe.Encode(text, 0, 1));
        int[] a = bpe.Encode(text, 0.1, 1);
        Assert.Equal(a, bpe.Encode(text, 0.1, 1));
        Assert.NotEqual(a, bpe.Encode(text, 0.1, 2));
        Assert.Equal(text, bpe.Decode(a));
        Assert.True(a.Length > plain.Length, $"{a.Length} against {plain.Length} tokens");
        int[] bytes = bpe.Encode(text, 0.999999, 1);
        Assert.Equal(Encoding.UTF8.GetByteCount(text), bytes.Length);
    }

    [Theory]
    [InlineData(0x7FF8_0000_0000_0000)] // a NaN with the sign bit clear
    [InlineData(unchecked((long)0xFFF8_0000_0000_0000))] // double.NaN
    [InlineData(0x3FF0_0000_0000_0000)] // 1
    [InlineData(unchecked((long)0xBFF0_0000_0000_0000))] // -1
    public void Bpe_dropout_outside_0_to_1_is_refused(long bits)
    {
        // A NaN whose sign bit is clear passed both checks (not negative, not >= 1) and every merge was skipped: the
        // text came back as bytes.
        var bpe = BpeTokenizer.Learn(English, 300);
        double dropout = BitConverter.Int64BitsToDouble(bits);
        Assert.Throws<ArgumentOutOfRangeException>(() => bpe.Encode(English, dropout, 1));
    }

    [Fact]
    public void Merges_shorten_a_text_they_were_learned_on_and_no_token_spans_two_words()
    {
        var bpe = BpeTokenizer.Learn(English, 320);
        int[] ids = bpe.Encode(English);
        Assert.True(ids.Length < Encoding.UTF8.GetByteCount(English) * 0.6, $"{ids.Length} tokens");
        foreach (int id in ids)
        {
            string token = bpe.Decode([id]);
            Assert.False(token.TrimStart(' ').Contains(' ', StringComparison.Ordinal), $"'{token}' spans two words");
        }
    }

    [Fact]
    public void Merge_names_round_trip_and_malformed_ones_are_refused_naming_the_merge()
    {
        var bpe = BpeTokenizer.Learn(English, 300);
        var back = BpeTokenizer.FromMergeNames(bpe.MergeNames(), "test");
        Assert.Equal(bpe.Merges, back.Merges);
        Assert.Equal(bpe.Encode(English), back.Encode(English));

        var bad = Assert.Throws<TrainingInputException>(() => BpeTokenizer.FromMergeNames(["116 104", "x"], "config"));
        Assert.Contains("bpe merge 1 is 'x'", bad.Message, StringComparison.Ordinal);
        var future = Assert.Throws<TrainingInputException>(() => BpeTokenizer.FromMergeNames(["116 256"], "config"));
        Assert.Contains("Merge 0", future.Message, StringComparison.Ordinal);
        Assert.Throws<TrainingInputException>(() => BpeTokenizer.FromMergeNames(["116 104", "116 104"], "config"));
    }

    [Fact]
    public void A_text_file_is_split_on_a_word_boundary_and_the_merges_never_see_the_validation_text()
    {
        // The validation part (the last 10%) holds a word the training part never has.
        string text = string.Concat(Enumerable.Repeat(English, 9)) + "zyzzyva zyzzyva zyzzyva zyzzyva zyzzyva zyzzyva zyzzyva zyzzyva zyzzyva.\n";
        string path = Path.Combine(testDir, "t.txt");
        File.WriteAllText(path, text);
        var data = TokenDataset.FromTextFileBpe(path, 300, 16);
        var bpe = Assert.IsType<BpeTokenizer>(data.Tokenizer);
        Assert.Equal(text, bpe.Decode(data.Train) + bpe.Decode(data.Validation));
        Assert.True(char.IsWhiteSpace(bpe.Decode(data.Validation)[0]));
        Assert.DoesNotContain(bpe.Merges, m => bpe.Decode([m.Left, m.Right]).Contains("yz", StringComparison.Ordinal));

        // The same split from a stored encoding (a resumed run).
        var again = TokenDataset.FromTextFileBpe(path, bpe, 16);
        Assert.Equal(data.Train, again.Train);
        Assert.Equal(data.Validation, again.Validation);
    }

    [Fact]
    public void A_text_without_white_space_in_its_last_tenth_still_has_a_validation_part()
    {
        // Chinese on one line: no white space after 90% of the characters, where the split looks for one. The whole
        // text went to training and the run was refused as too short ("0 validation tokens... use a longer text").
        string text = string.Concat(Enumerable.Range(0, 400).Select(i => $"第{i}天，我们去公园散步。天气很好！"));
        string path = Path.Combine(testDir, "zh.txt");
        File.WriteAllText(path, text);
        var data = TokenDataset.FromTextFileBpe(path, 300, 16);
        var bpe = Assert.IsType<BpeTokenizer>(data.Tokenizer);
        Assert.Equal(text, bpe.Decode(data.Train) + bpe.Decode(data.Validation));
        Assert.InRange(bpe.Decode(data.Validation).Length, text.Length / 10, text.Length / 10 + 1);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n\r\n")]
    [InlineData(" （完）\n")]
    public void White_space_only_at_the_very_end_does_not_take_the_validation_part(string end)
    {
        // Chinese on one line, ending as most files do with a new line (or a short last word): the cut went to that
        // first white space past 90%, leaving a validation part of one or two tokens, and the run was refused as too
        // short although the text holds thousands.
        string text = string.Concat(Enumerable.Range(0, 400).Select(i => $"第{i}天，我们去公园散步。天气很好！")) + end;
        string path = Path.Combine(testDir, "zh.txt");
        File.WriteAllText(path, text);
        var data = TokenDataset.FromTextFileBpe(path, 300, 16);
        var bpe = Assert.IsType<BpeTokenizer>(data.Tokenizer);
        Assert.Equal(text, bpe.Decode(data.Train) + bpe.Decode(data.Validation));
        Assert.InRange(bpe.Decode(data.Validation).Length, text.Length / 10, text.Length / 10 + 1);
    }

    [Fact]
    public void Bpe_dropout_adds_stochastic_segmentations_of_the_training_text_only()
    {
        string text = string.Concat(Enumerable.Repeat(English, 10));
        string path = Path.Combine(testDir, "d.txt");
        File.WriteAllText(path, text);
        var plain = TokenDataset.FromTextFileBpe(path, 300, 16);
        var data = TokenDataset.FromTextFileBpe(path, 300, 16, 0.1);
        var bpe = Assert.IsType<BpeTokenizer>(data.Tokenizer);
        Assert.Same(plain.Train, plain.TrainSamples);
        Assert.Equal(0.1, data.BpeDropout);

        // Train (which the baseline counts) and the validation tokens are the deterministic encoding's.
        Assert.Equal(plain.Train, data.Train);
        Assert.Equal(plain.Validation, data.Validation);

        // The windows are drawn from the training text 1 + 8 times, in more tokens, each segmentation its own.
        string trainText = bpe.Decode(data.Train);
        Assert.Equal(string.Concat(Enumerable.Repeat(trainText, TokenDataset.BpeDropoutSegmentations + 1)), bpe.Decode(data.TrainSamples));
        Assert.True(data.TrainSamples.Length > (TokenDataset.BpeDropoutSegmentations + 1) * data.Train.Length);
        Assert.Equal(data.TrainSamples, TokenDataset.FromTextFileBpe(path, bpe, 16, 0.1).TrainSamples);
        Assert.Throws<TrainingInputException>(() => TokenDataset.FromTextFileBpe(path, bpe, 16, 1.0));
    }
}
