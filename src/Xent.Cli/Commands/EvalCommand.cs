using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Data;

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
        var (model, checkpoint) = ModelCheckpoint.Load(settings.Checkpoint!);
        if (settings.Threads is { } threads)
            model.MaxDegreeOfParallelism = threads;
        ITokenizer tokenizer = CheckpointTokenizer.For(checkpoint.Config);
        string text = TokenDataset.ReadText(settings.Text!);
        if (tokenizer.Kind == TokenizerKind.Markov)
            text = string.Concat(text.Where(c => !char.IsWhiteSpace(c))); // symbols may be wrapped over lines
        int[] tokens = tokenizer.Encode(text);
        int seq = model.Config.ContextLength;
        if (tokens.Length < seq + 1)
            throw new XentCliException(
                $"{settings.Text}: the text has {tokens.Length} tokens, shorter than one context window of {seq + 1} tokens of this checkpoint.");

        var (nats, predicted) = Evaluation.StreamLoss(model, tokens, seq, Batch);
        long bytes = tokenizer.ByteCount(tokens.AsSpan(1));
        double ce = nats / predicted;
        double bpb = Evaluation.BitsPerByte(nats, bytes);
        if (settings.Json)
        {
            var json = new JsonObject
            {
                ["tokens"] = predicted,
                ["bytes"] = bytes,
                ["cross_entropy"] = ce,
                ["perplexity"] = Math.Exp(ce),
                ["bits_per_byte"] = bpb,
                ["tokenizer"] = checkpoint.Config.Tokenizer,
                ["step"] = checkpoint.Config.Step,
            };
            io.WriteLine(json.ToJsonString());
            return ExitCodes.Ok;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn(new TableColumn("").RightAligned()).HideHeaders();
        table.AddRow("predicted tokens", predicted.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("bytes", bytes.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("cross-entropy (nats/token)", ce.ToString("0.0000", CultureInfo.InvariantCulture));
        table.AddRow("perplexity", Math.Exp(ce).ToString("0.000", CultureInfo.InvariantCulture));
        table.AddRow("bits per byte", bpb.ToString("0.0000", CultureInfo.InvariantCulture));
        io.Out.Write(table);
        return ExitCodes.Ok;
    }
}
