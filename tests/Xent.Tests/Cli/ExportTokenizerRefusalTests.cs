using Xent.Tests.Training.HuggingFace;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;

namespace Xent.Tests.Cli;

/// <summary>An export's tokenizer name is read by one table: train --init, sample and eval refuse the same names in the same words.</summary>
public sealed class ExportTokenizerRefusalTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData("markov", "was exported by xent export from a run with the markov tokenizer: its token ids are the built-in Markov corpus's symbols, which no text encodes into.")]
    [InlineData("sentencepiece", "names the tokenizer 'sentencepiece' (xent_tokenizer), which is not one of xent's (bytes, bpe, gpt2, markov).")]
    public void Init_sample_and_eval_refuse_an_exports_tokenizer_for_the_same_reason(string tokenizer, string reason)
    {
        // Three maps of the names each worded the refusal their own way: --init said a Markov export's ids were "that
        // corpus's symbols, which no --text encodes into", sample and eval that it was "exported by xent export ...".
        string hf = dir["hf"];
        Gpt2Checkpoint.Save(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 7), tokenizer);
        File.WriteAllText(dir["t.txt"], "some text to score, long enough for a window or two of it.");

        CliRun.Run("train", "--init", hf, "--text", dir["t.txt"], "--out", dir["run"]).AssertBadInput($"--init {hf}", reason);
        CliRun.Run("sample", "--checkpoint", hf, "--tokens", "2").AssertBadInput(hf, reason);
        CliRun.Run("eval", "--checkpoint", hf, "--text", dir["t.txt"]).AssertBadInput(hf, reason);
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Fact]
    public void Every_kind_has_one_name_that_reads_back_as_it()
    {
        foreach (var kind in Enum.GetValues<TokenizerKind>())
        {
            Assert.Equal(kind, TokenizerNames.Find(TokenizerNames.Name(kind)));
        }

        Assert.Equal(Enum.GetValues<TokenizerKind>().Length, TokenizerNames.All.Split(", ").Distinct().Count());
        Assert.Null(TokenizerNames.Find("GPT2"));
        Assert.Null(TokenizerNames.Find("sentencepiece"));
    }
}
