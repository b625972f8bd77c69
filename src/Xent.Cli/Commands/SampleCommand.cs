using Spectre.Console.Cli;
using Xent.Cli.Terminal;
using Xent.Cli.Training;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;

namespace Xent.Cli.Commands;

/// <summary><c>xent sample</c>: generates text from a checkpoint with temperature and top-k sampling.</summary>
internal sealed class SampleCommand : Command<SampleSettings>
{
    private readonly CliConsoles io;

    public SampleCommand(CliConsoles io) => this.io = io;

    public static void Register(IConfigurator config) =>
        config.AddCommand<SampleCommand>("sample")
            .WithDescription("Generate text from a checkpoint (temperature, top-k). Markov-corpus checkpoints print symbols.")
            .WithExample("sample", "--checkpoint", "xent-run", "--tokens", "300", "--temperature", "0.8", "--top-k", "10");

    public override int Execute(CommandContext context, SampleSettings settings, CancellationToken cancellationToken)
    {
        try
        {
            return Sample(settings, cancellationToken);
        }
        catch (TrainingInputException e)
        {
            throw new XentCliException(e.Message, e);
        }
    }

    private int Sample(SampleSettings settings, CancellationToken cancellationToken)
    {
        var (model, tokenizer, prompt) = Load(settings);
        if (prompt.Length == 0)
            throw new XentCliException("The prompt has no tokens.");

        int context = model.Config.ContextLength;
        var tokens = new List<int>(prompt);
        var logits = new float[model.Config.VocabSize];
        var random = new Random(settings.Seed);
        for (int i = 0; i < settings.Tokens && !cancellationToken.IsCancellationRequested; i++)
        {
            int from = Math.Max(0, tokens.Count - context);
            model.NextTokenLogits(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens)[from..], logits);
            tokens.Add(TokenSampler.Sample(logits, settings.Temperature, settings.TopK, random));
        }
        io.WriteLine(tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens)));
        return ExitCodes.Ok;
    }

    // A Hugging Face GPT-2 folder (GPT-2's tokenizer, prompt <|endoftext|> by default) or a checkpoint of xent train.
    private static (GptModel Model, ITokenizer Tokenizer, int[] Prompt) Load(SampleSettings settings)
    {
        if (Gpt2Checkpoint.IsCheckpoint(settings.Checkpoint!))
        {
            var hf = Gpt2Checkpoint.Load(settings.Checkpoint!);
            var gpt2 = Gpt2Tokenizer.Instance;
            int[] ids = settings.Prompt is { } words ? gpt2.Encode(words) : [Math.Min(50256, hf.Config.VocabSize - 1)];
            int bad = Array.FindIndex(ids, t => t >= hf.Config.VocabSize);
            return bad < 0 ? (hf, gpt2, ids)
                : throw new XentCliException($"--prompt: its GPT-2 token {ids[bad]} is outside the checkpoint's vocabulary [0, {hf.Config.VocabSize}).");
        }

        var (model, checkpoint) = ModelCheckpoint.Load(settings.Checkpoint!);
        CheckpointConfig config = checkpoint.Config;
        ITokenizer tokenizer = CheckpointTokenizer.For(config);
        return (model, tokenizer, settings.Prompt is { } text ? tokenizer.Encode(text) : DefaultPrompt(config, tokenizer));
    }

    private static int[] DefaultPrompt(CheckpointConfig config, ITokenizer tokenizer) => tokenizer.Kind switch
    {
        // Two symbols drawn from the chain's own stationary distribution: a typical order-2 context.
        TokenizerKind.Markov => MarkovChain.Create(config.Data.CorpusSeed ?? TokenDataset.DefaultCorpusSeed, config.Model.VocabSize)
            .Generate(2, config.Seed, 3),
        TokenizerKind.Gpt2 => [50256],
        _ => tokenizer.Encode("\n"),
    };
}
