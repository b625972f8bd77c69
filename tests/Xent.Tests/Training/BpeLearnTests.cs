using System.Text;
using Xent.Training.Data;

namespace Xent.Tests.Training;

public sealed class BpeLearnTests
{
    public static TheoryData<string, int, int> RandomTexts => new()
    {
        // Alphabet, length, vocabulary: small alphabets make ties and overlapping runs ("aaaa") common.
        { "a ", 3000, 300 },
        { "a", 5000, 400 },
        { "ab ", 4000, 600 },
        { "ab", 3000, 256 },
        { "ab", 4000, 600 },
        { "abc  ", 6000, 1000 },
        { "aab \n", 8000, 2000 },
        { "abcdefghij ", 10000, 2000 },
        { "aé東 ", 6000, 800 },
        { "a𝐀🙂 '0", 6000, 800 },
        { "etaoin shrdlu cmfwyp.,", 12000, 3000 },
    };

    [Theory]
    [MemberData(nameof(RandomTexts))]
    public void Learning_gives_the_merges_of_a_rescan_of_every_word_for_every_merge(string alphabet, int length, int vocabSize)
    {
        for (int seed = 0; seed < 3; seed++)
        {
            var random = new Random(seed);
            var text = new StringBuilder(length);
            var letters = Letters(alphabet);
            while (text.Length < length)
            {
                text.Append(letters[random.Next(letters.Length)]);
            }

            Assert.Equal(Reference(text.ToString(), vocabSize), BpeTokenizer.Learn(text.ToString(), vocabSize).Merges);
        }
    }

    [Fact]
    public void Zipf_words_of_english_letters_give_the_merges_of_a_rescan()
    {
        var random = new Random(7);
        string[] vocabulary = [.. Enumerable.Range(0, 500).Select(_ => new string([.. Enumerable.Range(0, 1 + random.Next(9)).Select(_ => "etaoinshrdlucmfwyp"[random.Next(18)])]))];
        var text = new StringBuilder();
        while (text.Length < 40_000)
        {
            // Rank r drawn with probability about 1 / r.
            int rank = (int)Math.Floor(Math.Exp(random.NextDouble() * Math.Log(vocabulary.Length)));
            text.Append(random.Next(10) == 0 ? ". " : " ").Append(vocabulary[rank - 1]);
        }

        foreach (int vocabSize in (int[])[256, 257, 500, 2500])
        {
            Assert.Equal(Reference(text.ToString(), vocabSize), BpeTokenizer.Learn(text.ToString(), vocabSize).Merges);
        }
    }

    [Theory]
    [InlineData("aaaa aaaa aaa aaaaa aaaaaaaaaaaaaaaaa aa a", 300)]
    [InlineData("ab ba ab ba cd dc cd dc ef fe ef fe", 300)]
    [InlineData("aaab aaab aaab ab", 257)]
    [InlineData("abcdef", 300)]
    [InlineData("", 300)]
    [InlineData("𝐀's 𝐀's 𝐀's 𝟎'd 𝟎'd 🙂🙂🙂🙂 🙂🙂🙂", 400)]
    public void Ties_overlaps_and_texts_without_repeats_give_the_merges_of_a_rescan(string text, int vocabSize) =>
        Assert.Equal(Reference(text, vocabSize), BpeTokenizer.Learn(text, vocabSize).Merges);

    [Fact]
    public void Pairs_that_each_occur_equally_often_are_merged_smallest_first()
    {
        // Every two-letter word twice: hundreds of pairs tie at each count.
        var text = new StringBuilder();
        for (char a = 'a'; a <= 'z'; a++)
        {
            for (char b = 'a'; b <= 'z'; b++)
            {
                text.Append(' ').Append(a).Append(b).Append(' ').Append(b).Append(a).Append(a).Append(b);
            }
        }

        Assert.Equal(Reference(text.ToString(), 2000), BpeTokenizer.Learn(text.ToString(), 2000).Merges);
    }

    [Fact]
    public void Many_small_random_texts_give_the_merges_of_a_rescan()
    {
        // Short texts over one to three letters, with and without spaces: runs ("aaaaaa") whose pairs overlap, one
        // long piece or many short ones, ties everywhere, and learning that stops when no pair repeats.
        string[] alphabets = ["a", "ab", "aab", "abc", "a ", "ab ", "aab  ", "aé", "東a"];
        var random = new Random(11);
        for (int t = 0; t < 3000; t++)
        {
            var letters = Letters(alphabets[t % alphabets.Length]);
            var text = new StringBuilder();
            int length = 1 + random.Next(80);
            while (text.Length < length)
            {
                // Runs of one letter half the time, so that overlapping pairs are common.
                string letter = letters[random.Next(letters.Length)];
                text.Insert(text.Length, letter, random.Next(2) == 0 ? 1 : 1 + random.Next(8));
            }

            int vocabSize = 256 + random.Next(60);
            Assert.Equal(Reference(text.ToString(), vocabSize), BpeTokenizer.Learn(text.ToString(), vocabSize).Merges);
        }
    }

    [Fact]
    public void Weighted_words_of_any_bytes_give_the_merges_of_a_rescan()
    {
        var random = new Random(12);
        for (int t = 0; t < 1000; t++)
        {
            int alphabet = 1 + random.Next(4);
            byte first = (byte)random.Next(256 - alphabet);
            var words = new List<byte[]>();
            var weights = new List<int>();
            for (int w = random.Next(6); w >= 0; w--)
            {
                words.Add([.. Enumerable.Range(0, random.Next(40)).Select(_ => (byte)(first + random.Next(alphabet)))]);
                weights.Add(1 + random.Next(random.Next(2) == 0 ? 3 : 1000));
            }

            int maxMerges = random.Next(50);
            var expected = Reference(
                [.. words.Select(w => w.Select(b => (int)b).ToList())], [.. weights], 256 + maxMerges);
            Assert.Equal(expected, BpeLearner.Learn(words, weights, maxMerges));
        }
    }

    [Theory]
    [InlineData("a")]
    [InlineData("ab")]
    [InlineData("acgt")]
    public void A_long_piece_takes_work_linear_in_its_length(string alphabet)
    {
        // A 1,000,000-byte line without white space is one piece: rescanning it for each of 500 merges read 5e8
        // symbols (the 40 s of a 10 MB line). A merge reads only its own occurrences, each made by the initial text
        // or by a merge beside it, so all merges together read at most 3 per byte. Work, not time.
        const int N = 1_000_000;
        var random = new Random(3);
        byte[] line = [.. Enumerable.Range(0, N).Select(_ => (byte)alphabet[random.Next(alphabet.Length)])];
        var learner = new BpeLearner([line], [1]);
        var merges = learner.Learn(500);
        Assert.True(learner.Visits <= 3L * N, $"{learner.Visits} occurrences read for {N} bytes");
        Assert.True(merges.Count >= (alphabet.Length == 1 ? 19 : 500), $"{merges.Count} merges");
    }

    private static string[] Letters(string alphabet)
    {
        var letters = new List<string>();
        for (int i = 0; i < alphabet.Length; i += char.IsSurrogatePair(alphabet, i) ? 2 : 1)
        {
            letters.Add(char.ConvertFromUtf32(char.ConvertToUtf32(alphabet, i)));
        }

        return [.. letters];
    }

    // Learning as it was first written, slow: every word's pairs recounted for every merge.
    private static List<(int Left, int Right)> Reference(string text, int vocabSize)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var m in BpeTokenizer.Pieces().EnumerateMatches(BpeTokenizer.PairsAsTheirClass(text)))
        {
            string piece = text.Substring(m.Index, m.Length);
            counts[piece] = counts.GetValueOrDefault(piece) + 1;
        }

        var words = counts.Select(p => Encoding.UTF8.GetBytes(p.Key).Select(b => (int)b).ToList()).ToList();
        return Reference(words, [.. counts.Values], vocabSize);
    }

    private static List<(int Left, int Right)> Reference(List<List<int>> words, List<int> weights, int vocabSize)
    {
        var learned = new List<(int Left, int Right)>();
        while (256 + learned.Count < vocabSize)
        {
            var pairs = new Dictionary<(int, int), long>();
            for (int w = 0; w < words.Count; w++)
            {
                for (int i = 0; i + 1 < words[w].Count; i++)
                {
                    var pair = (words[w][i], words[w][i + 1]);
                    pairs[pair] = pairs.GetValueOrDefault(pair) + weights[w];
                }
            }

            if (pairs.Count == 0 || pairs.Values.Max() < 2)
            {
                break;
            }

            long most = pairs.Values.Max();
            var (left, right) = pairs.Where(p => p.Value == most).Select(p => p.Key).Min();
            learned.Add((left, right));
            foreach (var word in words)
            {
                for (int i = 0; i + 1 < word.Count; i++)
                {
                    if (word[i] == left && word[i + 1] == right)
                    {
                        word[i] = 256 + learned.Count - 1;
                        word.RemoveAt(i + 1);
                    }
                }
            }
        }

        return learned;
    }
}
