using System.Text.Json.Nodes;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Cli.Commands;

/// <summary><c>xent eval</c>: cross-entropy, perplexity and bits per byte of a checkpoint on a text file.</summary>
internal sealed class EvalCommand : Command<EvalSettings>
{
    private const int Batch = 8;
    private readonly CliConsoles io;

    public EvalCommand(CliConsoles io) => this.io = io;

    public static void Register(IConfigurator config) =>
        config.AddCommand<EvalCommand>("eval")
            .WithDescription("Cross-entropy (nats/token), perplexity and bits per byte of a trained checkpoint on a text file.")
            .WithExample("eval", "--checkpoint", "xent-run", "--text", "held-out.txt");

    public override int Execute(CommandContext context, EvalSettings settings, CancellationToken cancellationToken)
    {
        try
        {
            return Evaluate(settings);
        }
        catch (TrainingInputException e)
        {
            throw new XentCliException(e.Message, e);
        }
    }

    private int Evaluate(EvalSettings settings)
    {
        KernelEnvironment.Check();
        if (Gpt2Folder.TryRead(settings.Checkpoint!) is { } folder)
        {
            return EvalHuggingFace.Run(io, settings, folder);
        }

        if (settings.Text is null || settings.Window is not null || settings.Stride is not null || settings.LogitsOut is not null)
        {
            throw new XentCliException("--tokens, --window, --stride and --logits-out are for Hugging Face checkpoints; a checkpoint of xent train takes --text.");
        }

        var (model, checkpoint) = ModelCheckpoint.Load(BestCheckpoint.Resolve(settings.Checkpoint!, settings.Last));
        if (checkpoint.Note is { } note)
        {
            io.Error.WriteLine($"xent: note: {note}");
        }

        if (settings.Threads is { } threads)
        {
            model.MaxDegreeOfParallelism = threads;
        }

        ITokenizer tokenizer = CheckpointTokenizer.For(checkpoint.Config);
        int[] tokens = CheckpointText.Encode(tokenizer, TokenDataset.ReadText(settings.Text!));
        int seq = model.Config.ContextLength;
        if (tokens.Length < seq + 1)
        {
            throw new XentCliException(
                $"{settings.Text}: the text has {tokens.Length} tokens, shorter than one context window of {seq + 1} tokens of this checkpoint.");
        }

        var (nats, predicted) = Evaluation.StreamLoss(model, tokens, seq, Batch);
        long bytes = tokenizer.ByteCount(tokens.AsSpan(1));
        new EvalReport(predicted, bytes, nats, Evaluation.BitsPerByte(nats, bytes)).Write(io, settings.Json, new JsonObject
        {
            ["tokenizer"] = checkpoint.Config.Tokenizer,
            ["step"] = checkpoint.Config.Step,
        });
        return ExitCodes.Ok;
    }
}
