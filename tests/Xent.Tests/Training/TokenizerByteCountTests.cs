using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>Every tokenizer's byte count refuses the ids its decoding refuses, rather than counting bytes no text has.</summary>
public sealed class TokenizerByteCountTests
{
    public static TheoryData<string> Names => ["bytes", "markov", "gpt2"];

    [Theory]
    [MemberData(nameof(Names))]
    public void An_id_outside_the_vocabulary_is_refused_by_ByteCount_as_by_Decode(string name)
    {
        ITokenizer tokenizer = name switch
        {
            "bytes" => ByteTokenizer.Instance,
            "markov" => new MarkovTokenizer(MarkovChain.Alphabet.Length),
            _ => Gpt2Tokenizer.Instance,
        };
        int v = tokenizer.VocabSize;
        Assert.Equal(2, tokenizer.ByteCount([0, 0]));
        foreach (int bad in new[] { -1, v, v + 1, int.MaxValue })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([0, bad]));
            Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.ByteCount([0, bad]));
        }
    }
}
