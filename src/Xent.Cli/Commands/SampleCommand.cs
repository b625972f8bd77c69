using Spectre.Console.Cli;
using Xent.Cli.Terminal;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;
using Xent.Training.Model;
using Xent.Training.Runs;
using Xent.Training.Sampling;

namespace Xent.Cli.Commands;

/// <summary><c>xent sample</c>: generates text from a checkpoint with temperature, top-k and top-p sampling.</summary>
internal sealed class SampleCommand : Command<SampleSettings>
{
    private readonly CliConsoles io;

    public SampleCommand(CliConsoles io) => this.io = io;

    public static void Register(IConfigurator config) =>
        config.AddCommand<SampleCommand>("sample")
            .WithDescription("Generate text from a checkpoint (temperature, top-k, top-p). Markov-corpus checkpoints print symbols.")
            .WithExample("sample", "--checkpoint", "xent-run", "--tokens", "300", "--temperature", "0.8", "--top-k", "10")
            .WithExample("sample", "--checkpoint", "gpt2", "--tokens", "50", "--temperature", "0.8", "--top-p", "0.9");

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
        KernelEnvironment.Check();
        var (model, tokenizer, prompt) = Load(settings);
        if (prompt.Length == 0)
        {
            throw new XentCliException("The prompt has no tokens.");
        }
        // A Hugging Face model's vocabulary may be padded past GPT-2's 50257 ids: the padding has no text to print.
        int[] tokens = TokenSampler.Generate(model, prompt, settings.Tokens, settings.Temperature, settings.TopK, settings.TopP, settings.Seed,
            useCache: true, Math.Min(model.Config.VocabSize, tokenizer.VocabSize), cancellationToken);
        io.WriteLine(tokenizer.Decode(tokens));
        return ExitCodes.Ok;
    }

    // A Hugging Face GPT-2 folder (GPT-2's tokenizer, prompt <|endoftext|> by default, or those of the run it was
    // exported from) or a checkpoint of xent train.
    private (GptModel Model, ITokenizer Tokenizer, int[] Prompt) Load(SampleSettings settings)
    {
        if (Gpt2Folder.TryRead(settings.Checkpoint!) is { } folder)
        {
            ITokenizer folderTokenizer = Gpt2FolderTokenizer.For(folder);
            var hf = Gpt2Checkpoint.Load(folder);
            int[] ids = settings.Prompt is { } words ? folderTokenizer.Encode(words)
                : folderTokenizer.Kind == TokenizerKind.Gpt2 ? [Math.Min(50256, hf.Config.VocabSize - 1)]
                : folderTokenizer.Encode("\n");
            int bad = Array.FindIndex(ids, t => t >= hf.Config.VocabSize);
            return bad < 0 ? (hf, folderTokenizer, ids)
                : throw new XentCliException($"--prompt: its {TokenizerNames.Name(folderTokenizer.Kind)} token {ids[bad]} is outside the checkpoint's vocabulary [0, {hf.Config.VocabSize}).");
        }

        var (model, checkpoint) = ModelCheckpoint.Load(BestCheckpoint.Resolve(settings.Checkpoint!, settings.Last));
        if (checkpoint.Note is { } note)
        {
            io.Error.WriteLine($"xent: note: {note}");
        }

        CheckpointConfig config = checkpoint.Config;
        ITokenizer tokenizer = CheckpointTokenizer.For(config);
        return (model, tokenizer, settings.Prompt is { } text ? CheckpointText.Encode(tokenizer, text) : CheckpointTokenizer.DefaultPrompt(config, tokenizer));
    }
}
