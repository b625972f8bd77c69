using Spectre.Console.Cli;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Sampling;

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
        var (model, checkpoint) = ModelCheckpoint.Load(settings.Checkpoint!);
        CheckpointConfig config = checkpoint.Config;
        ITokenizer tokenizer = CheckpointTokenizer.For(config);
        int[] prompt = settings.Prompt is { } text ? tokenizer.Encode(text) : CheckpointTokenizer.DefaultPrompt(config, tokenizer);
        if (prompt.Length == 0)
        {
            throw new XentCliException("The prompt has no tokens.");
        }
        int[] tokens = TokenSampler.Generate(model, prompt, settings.Tokens, settings.Temperature, settings.TopK, settings.Seed, cancellationToken);
        io.WriteLine(tokenizer.Decode(tokens));
        return ExitCodes.Ok;
    }
}
