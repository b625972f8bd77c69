using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

namespace Xent.Cli.Training;

/// <summary>The tokenizer a checkpoint was trained with.</summary>
internal static class CheckpointTokenizer
{
    public static ITokenizer For(CheckpointConfig config) => TrainingPlan.ParseTokenizer(config.Tokenizer) switch
    {
        TokenizerKind.Markov => new MarkovTokenizer(config.Model.VocabSize),
        TokenizerKind.Bytes => ByteTokenizer.Instance,
        TokenizerKind.Gpt2 => Gpt2Tokenizer.Instance,
        _ => throw new XentCliException($"Unknown tokenizer '{config.Tokenizer}' in the checkpoint."),
    };
}
