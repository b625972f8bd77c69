using Xent.Training.Data;

namespace Xent.Training.Checkpoints;

/// <summary>The tokenizer, data and default prompt of a checkpoint, restored from its config.</summary>
public static class CheckpointTokenizer
{
    /// <summary>The tokenizer <paramref name="config"/>'s model was trained with.</summary>
    public static ITokenizer For(CheckpointConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return TokenizerNames.Parse(config.Tokenizer) switch
        {
            TokenizerKind.Markov => new MarkovTokenizer(config.Model.VocabSize),
            TokenizerKind.Bytes => ByteTokenizer.Instance,
            TokenizerKind.Bpe => Bpe(config),
            _ => Gpt2Tokenizer.Instance,
        };
    }

    /// <summary>
    /// The training and validation tokens of <paramref name="config"/>'s run: the built-in corpus regenerated from
    /// its seed and sizes, or its text file tokenized again.
    /// </summary>
    public static TokenDataset Dataset(CheckpointConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        CheckpointData d = config.Data;
        return d.Source == "markov"
            ? TokenDataset.Markov(d.CorpusSeed ?? TokenDataset.DefaultCorpusSeed, (int)d.TrainTokens, (int)d.ValidationTokens, config.Model.VocabSize)
            : TokenizerNames.Parse(config.Tokenizer) == TokenizerKind.Bpe
                ? TokenDataset.FromTextFileBpe(d.Source, Bpe(config), config.Model.ContextLength, d.BpeDropout)
                : TokenDataset.FromTextFile(d.Source, TokenizerNames.Parse(config.Tokenizer), config.Model.ContextLength);
    }

    // The learned encoding stored with the checkpoint (the text it was learned on may have moved or changed).
    private static BpeTokenizer Bpe(CheckpointConfig config) => BpeTokenizer.FromMergeNames(
        config.BpeMerges ?? throw new TrainingInputException("The checkpoint's tokenizer is bpe but its config has no bpe_merges."),
        "The checkpoint's config");

    /// <summary>A prompt for sampling when none is given: a typical start for the checkpoint's tokenizer.</summary>
    public static int[] DefaultPrompt(CheckpointConfig config, ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tokenizer);
        return tokenizer.Kind switch
        {
            // Two symbols drawn from the chain's own stationary distribution: a typical order-2 context.
            TokenizerKind.Markov => MarkovChain.Create(config.Data.CorpusSeed ?? TokenDataset.DefaultCorpusSeed, config.Model.VocabSize)
                .Generate(2, config.Seed, 3),
            TokenizerKind.Gpt2 => [50256],
            _ => tokenizer.Encode("\n"),
        };
    }
}
