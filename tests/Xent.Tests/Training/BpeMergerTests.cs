using System.Text;
using System.Text.RegularExpressions;
using Xent.Training.Data;

namespace Xent.Tests.Training;

public sealed class BpeMergerTests
{
    private const string Dna = "ACGT";

    private static readonly Lazy<BpeTokenizer[]> Vocabularies = new(() =>
    {
        var random = new Random(3);
        string english = "the cat sat on the mat. the dog sat on the log, naïve café 東京東京 🙂🙂 42 cats!\n";
        return
        [
            BpeTokenizer.Learn(string.Concat(Enumerable.Repeat(english, 10)) + new string('a', 2000) + " " + string.Concat(Enumerable.Repeat("abab abc ", 50)), 400),
            BpeTokenizer.Learn(Random(random, Dna, 8000) + " " + Random(random, "ab", 4000), 500),
        ];
    });

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.999999)]
    public void Ids_are_those_of_rescanning_the_piece_at_every_merge(double dropout)
    {
        // The merger's tree replaced a scan of the whole piece per merge (O(n^2) a piece); every id and, with
        // dropout, every draw of the random stream must be the scan's, so a seed gives the segmentation it gave.
        var random = new Random(11);
        string[] pool = ["a", "b", "e", " ", "  ", "\n", "1", ".", "'s", "é", "東", "🙂", "𝔸", "\uD800", "ab", "ba"];
        List<string> texts = ["", "a", "aa", "aaa", "\uD800\uDC00\uD800"];
        foreach (int n in new[] { 2, 3, 4, 7, 8, 9, 16, 17, 63, 64, 65, 130, 300 })
        {
            texts.AddRange([new string('a', n), " " + new string('a', n), string.Concat(Enumerable.Repeat("ab", n)), string.Concat(Enumerable.Repeat("aab", n))]);
        }

        for (int i = 0; i < 12; i++)
        {
            texts.Add(string.Concat(Enumerable.Range(0, random.Next(1, 200)).Select(_ => pool[random.Next(pool.Length)])));
            texts.Add(Random(random, Dna, random.Next(1, 700)));
            texts.Add(Random(random, "ab", random.Next(1, 400)));
        }

        texts.Add(string.Join(' ', texts));
        foreach (var bpe in Vocabularies.Value)
        {
            var rank = bpe.Merges.Select((m, i) => (Key: BpeTokenizer.Key(m.Left, m.Right), i)).ToDictionary(p => p.Key, p => p.i);
            foreach (string text in texts)
            {
                foreach (long seed in new long[] { 1, -7 })
                {
                    int[] expected = Rescanning(text, rank, dropout, seed);
                    Assert.Equal(expected, dropout == 0 ? bpe.Encode(text) : bpe.Encode(text, dropout, seed));
                }
            }
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    public void A_long_piece_takes_work_near_linear_in_its_length(double dropout)
    {
        // A 200,000-byte piece: the scan per merge did about n^2 / 2 = 2e10 pair look-ups (minutes); the tree's
        // visits are bounded by a multiple of n log n. Work, not time, so a loaded machine cannot fail it.
        var random = new Random(5);
        const int N = 200_000;
        double bound = 40.0 * N * Math.Log2(N);
        foreach (var (bpe, text) in new[] { (Vocabularies.Value[0], new string('a', N)), (Vocabularies.Value[1], Random(random, Dna, N)) })
        {
            var merger = bpe.Merger();
            var rng = SplitMix64.For(1, 0x42504544, 0);
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            int[] ids = dropout == 0 ? merger.Encode(bytes) : merger.Encode(bytes, dropout, ref rng);
            Assert.True(merger.Visits < bound, $"{merger.Visits} tree visits for {N} bytes (bound {bound})");
            Assert.Equal(bytes, bpe.Bytes(ids));
            Assert.True(ids.Length < N / 2, $"{ids.Length} ids: the merges were not applied");
        }
    }

    private static string Random(Random random, string alphabet, int n) =>
        new([.. Enumerable.Range(0, n).Select(_ => alphabet[random.Next(alphabet.Length)])]);

    // The algorithm the merger replaced, kept as the reference: per step, a scan of the whole piece. Without
    // dropout, the lowest-ranked pair is merged everywhere, left to right; with it, each mergeable pair ranked below
    // the best kept so far draws, and the last kept is merged.
    private static int[] Rescanning(string text, Dictionary<long, int> rank, double dropout, long seed)
    {
        var rng = SplitMix64.For(seed, 0x42504544, 0);
        var result = new List<int>();
        foreach (ValueMatch m in BpeTokenizer.Pieces().EnumerateMatches(BpeTokenizer.PairsAsTheirClass(text)))
        {
            var ids = Encoding.UTF8.GetBytes(text.Substring(m.Index, m.Length)).Select(b => (int)b).ToList();
            while (ids.Count > 1)
            {
                int best = int.MaxValue, at = -1;
                for (int i = 0; i + 1 < ids.Count; i++)
                {
                    if (rank.TryGetValue(BpeTokenizer.Key(ids[i], ids[i + 1]), out int r) && r < best && (dropout == 0 || rng.NextDouble() >= dropout))
                    {
                        (best, at) = (r, i);
                    }
                }

                if (at < 0)
                {
                    break;
                }

                for (int i = at; dropout == 0 ? i + 1 < ids.Count : i == at; i++)
                {
                    if (rank.TryGetValue(BpeTokenizer.Key(ids[i], ids[i + 1]), out int r) && r == best)
                    {
                        ids[i] = 256 + best;
                        ids.RemoveAt(i + 1);
                    }
                }
            }

            result.AddRange(ids);
        }

        return [.. result];
    }
}
