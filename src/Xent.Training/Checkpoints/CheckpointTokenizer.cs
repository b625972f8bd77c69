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
    /// <param name="config">The checkpoint's config.</param>
    /// <param name="text">
    /// The text, read from another path than the checkpoint's source (a moved file, a pipe given again); null: read
    /// from the source.
    /// </param>
    /// <exception cref="TrainingInputException">
    /// The text is not the one the checkpoint was trained on (its SHA-256 differs: another text, or the file changed),
    /// or it came from a pipe, or its path names a FIFO, a socket or a device now, and none is given.
    /// </exception>
    public static TokenDataset Dataset(CheckpointConfig config, TextFile? text = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        CheckpointData d = config.Data;
        if (d.Source == "markov")
        {
            return TokenDataset.Markov(d.CorpusSeed ?? TokenDataset.DefaultCorpusSeed, (int)d.TrainTokens, (int)d.ValidationTokens, config.Model.VocabSize);
        }

        if (text is null && d.Piped)
        {
            throw new TrainingInputException($"The checkpoint's text was read from a pipe ('{d.Source}'), which cannot give it again: give the same text with --text (a file or a pipe).");
        }

        // A checkpoint written before data.piped was kept records a pipe's path as any other, and a path may name a
        // FIFO now: read by its path it would wait for a writer, perhaps for ever, or read another text.
        if (text is null && FileType.IsSpecial(d.Source))
        {
            throw new TrainingInputException($"The checkpoint's text '{d.Source}' is not a regular file (a FIFO, a socket or a device), which cannot be read again by its path: give the same text with --text (a file or a pipe).");
        }

        text ??= TextFile.Read(d.Source);
        if (d.TextSha256 is { } sha && !string.Equals(sha, text.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new TrainingInputException(
                $"'{text.Path}' is not the text the checkpoint was trained on (its SHA-256 {text.Sha256} is not the checkpoint's {sha}{(text.Path == d.Source ? ": the file changed since" : "")}); give that text with --text.");
        }

        TokenizerKind kind = TokenizerNames.Parse(config.Tokenizer);
        return kind == TokenizerKind.Bpe
            ? TokenDataset.FromTextBpe(text, Bpe(config), config.Model.ContextLength, d.BpeDropout)
            : TokenDataset.FromText(text, kind, config.Model.ContextLength);
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
