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
        var weights = counts.Values.ToList();
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
