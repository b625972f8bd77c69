using System.Globalization;
using System.Text;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>
/// Texts far too long for the rescan of <see cref="BpeLearnTests"/> learn exactly the merges of the learner as it was
/// before its memory was cut (<see cref="BpeLearnerBefore"/>): the same pairs, in the same order, ties included.
/// </summary>
public sealed class BpeLearnScaleTests
{
    public static TheoryData<string, int> Texts => new()
    {
        { "prose", 3000 },
        { "line", 3000 },
        { "random", 2000 },
        { "runs", 600 },
        { "digits", 1500 },
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Long_texts_give_the_merges_of_the_learner_before(string shape, int vocabSize)
    {
        string text = Text(shape, 300_000, new Random(shape.Length));
        var merges = BpeTokenizer.Learn(text, vocabSize).Merges;
        Assert.Equal(BpeLearnerBefore.Learn(text, vocabSize), merges);
        Assert.True(merges.Count > (shape == "runs" ? 100 : vocabSize - 300), $"{merges.Count} merges");
    }

    [Fact]
    public void The_largest_vocabulary_gives_the_merges_of_the_learner_before()
    {
        // 65 536 ids leave no 16-bit value free for a separator: symbols are ints, learned to the end of the pairs
        // that repeat.
        string text = Text("random", 40_000, new Random(4));
        var merges = BpeTokenizer.Learn(text, 65_536).Merges;
        Assert.Equal(BpeLearnerBefore.Learn(text, 65_536), merges);
        Assert.True(merges.Count > 1000, $"{merges.Count} merges");
    }

    [Fact]
    public void Weighted_long_words_give_the_merges_of_the_learner_before()
    {
        var random = new Random(5);
        var words = new List<byte[]>();
        var weights = new List<int>();
        for (int w = 0; w < 300; w++)
        {
            int alphabet = 2 + random.Next(6);
            words.Add([.. Enumerable.Range(0, random.Next(2000)).Select(_ => (byte)('a' + random.Next(alphabet)))]);
            weights.Add(1 + random.Next(random.Next(2) == 0 ? 2 : 1000));
        }

        Assert.Equal(BpeLearnerBefore.Learn(words, weights, 2000), BpeLearner.Learn(words, weights, 2000));
    }

    [Fact]
    public void Learning_in_steps_gives_the_merges_of_learning_at_once()
    {
        byte[] line = Encoding.UTF8.GetBytes(Text("line", 200_000, new Random(9)));
        var learner = new BpeLearner([line], [1]);
        var merges = new List<(int Left, int Right)>();
        foreach (int step in (int[])[1, 10, 100, 1000])
        {
            merges.AddRange(learner.Learn(step));
        }

        Assert.Equal(BpeLearnerBefore.Learn([line], [1], 1111), merges);
    }

    /// <summary>Text of a shape: Zipf-distributed words in sentences, the same without anything but letters (one piece), random chars U+0000..U+00FF, runs of one or two letters, or numbers.</summary>
    internal static string Text(string shape, int length, Random random)
    {
        string[] vocabulary = [.. Enumerable.Range(0, 3000).Select(_ => new string([.. Enumerable.Range(0, 1 + random.Next(9)).Select(_ => "etaoinshrdlucmfwyp"[random.Next(18)])]))];
        var text = new StringBuilder(length + 100);
        while (text.Length < length)
        {
            // Rank r drawn with probability about 1 / r.
            string word = vocabulary[(int)Math.Exp(random.NextDouble() * Math.Log(vocabulary.Length)) - 1];
            _ = shape switch
            {
                "prose" => text.Append(random.Next(10) == 0 ? ". " : random.Next(20) == 0 ? ",\n" : " ").Append(word),
                "line" => text.Append(word),
                "random" => text.Append((char)random.Next(256)),
                "runs" => text.Append(random.Next(2) == 0 ? 'a' : 'b', random.Next(3) == 0 ? 1 + random.Next(5000) : 1 + random.Next(4)),
                "digits" => text.Append(random.Next(4) == 0 ? " " : string.Empty).Append(random.Next(1000).ToString(CultureInfo.InvariantCulture)),
                _ => throw new ArgumentException(shape),
            };
        }

        return text.ToString(0, length);
    }
}
