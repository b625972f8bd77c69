using Spectre.Console.Cli;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;

namespace Xent.Cli.Commands;

/// <summary><c>xent export --format hf</c>: a checkpoint of xent train as a Hugging Face GPT-2 folder.</summary>
internal sealed class ExportCommand : Command<ExportSettings>
{
    private readonly CliConsoles io;

    public ExportCommand(CliConsoles io) => this.io = io;

    public static void Register(IConfigurator config) =>
        config.AddCommand<ExportCommand>("export")
            .WithDescription("Write a checkpoint of xent train as a Hugging Face GPT-2 folder (config.json + model.safetensors) that GPT2LMHeadModel.from_pretrained loads.")
            .WithExample("export", "--format", "hf", "--checkpoint", "xent-run", "--out", "xent-run-hf");

    public override int Execute(CommandContext context, ExportSettings settings, CancellationToken cancellationToken)
    {
        try
        {
            var (model, checkpoint) = ModelCheckpoint.Load(settings.Checkpoint!);
            Gpt2Checkpoint.Save(settings.Out!, model);
            string tokenizer = checkpoint.Config.Tokenizer;
            io.WriteLine($"wrote {Path.Combine(settings.Out!, Gpt2Checkpoint.ConfigFile)} and {Gpt2Checkpoint.ModelFile}: {model.Config.Layers} layers, n_embd {model.Config.Dim}, vocab {model.Config.VocabSize}, {(model.Config.TieEmbeddings ? "tied" : "untied")} embeddings; tokenizer {tokenizer}{(tokenizer == "gpt2" ? string.Empty : " (not GPT-2's: feed Hugging Face the same token ids xent used)")}.");
            return ExitCodes.Ok;
        }
        catch (TrainingInputException e)
        {
            throw new XentCliException(e.Message, e);
        }
    }
}
