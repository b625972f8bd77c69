using Xent.Tests.Cli;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>
/// Every refusal of a tokenizer name lists the choices from the one table (<see cref="TokenizerNames"/>): every kind's
/// name, or every name a text takes, in the table's one order. The messages spelled their lists out, each in an order
/// of its own, where a new tokenizer could be left out.
/// </summary>
public sealed class TokenizerChoicesTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    // Every kind's name, in the order the table lists them (All), and those a text corpus takes: all but markov.
    private static string[] Names
    {
        get
        {
            string[] names = TokenizerNames.All.Split(", ");
            Assert.Equal(Enum.GetValues<TokenizerKind>().Select(TokenizerNames.Name).Order(), names.Order());
            return names;
        }
    }

    private static string AllChoices => Or(Names);

    private static string TextChoices => Or([.. Names.Where(n => n != TokenizerNames.Name(TokenizerKind.Markov))]);

    [Fact]
    public void A_config_with_an_unknown_tokenizer_is_refused_listing_every_name()
    {
        var e = Assert.Throws<TrainingInputException>(() => Check(RunConfigValidatorTests.Valid() with { Tokenizer = "sentencepiece" }));
        Assert.Contains($"\"tokenizer\" is 'sentencepiece'; it must be {AllChoices}.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_text_config_with_the_markov_tokenizer_is_refused_listing_every_text_name()
    {
        var valid = RunConfigValidatorTests.Valid();
        var e = Assert.Throws<TrainingInputException>(() => Check(valid with { Data = valid.Data! with { Source = "corpus.txt" } }));
        Assert.Contains($"it must be {TextChoices} (markov is the built-in corpus's)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_refuses_an_unknown_name_listing_every_text_name()
    {
        var e = Assert.Throws<TrainingInputException>(() => TokenizerNames.Parse("sentencepiece"));
        Assert.Equal($"Unknown tokenizer 'sentencepiece' (expected {TextChoices}).", e.Message);
    }

    [Fact]
    public void Train_refuses_a_tokenizer_a_text_does_not_take_listing_every_text_name()
    {
        File.WriteAllText(dir["t.txt"], "some text");
        CliRun.Run("train", "--out", dir["run"], "--text", dir["t.txt"], "--tokenizer", "markov")
            .AssertBadInput("--tokenizer", $"--tokenizer must be {TextChoices}, not 'markov'.");
    }

    private static void Check(CheckpointConfig config) =>
        RunConfigValidator.CheckTraining(config, RunConfigValidator.InFile("run/config.json"), resuming: true, available: 1L << 40);

    private static string Or(string[] names) => $"{string.Join(", ", names[..^1])} or {names[^1]}";
}
