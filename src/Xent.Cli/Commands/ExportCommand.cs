using Spectre.Console.Cli;
using Xent.Cli.IO;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Cli.Commands;

/// <summary><c>xent export --format hf</c>: a checkpoint of xent train as a Hugging Face GPT-2 folder.</summary>
internal sealed class ExportCommand : Command<ExportSettings>
{
    private readonly CliConsoles io;

    public ExportCommand(CliConsoles io) => this.io = io;

    public static void Register(IConfigurator config) =>
        config.AddCommand<ExportCommand>("export")
            .WithDescription("Write a checkpoint of xent train (its best one, DIR/best, unless --last) as a Hugging Face GPT-2 folder (config.json + model.safetensors) that GPT2LMHeadModel.from_pretrained loads.")
            .WithExample("export", "--format", "hf", "--checkpoint", "xent-run", "--out", "xent-run-hf");

    public override int Execute(CommandContext context, ExportSettings settings, CancellationToken cancellationToken)
    {
        try
        {
            CheckOut(settings.Out!, settings.Checkpoint!);
            string folder = BestCheckpoint.Resolve(settings.Checkpoint!, settings.Last);
            var (model, checkpoint) = ModelCheckpoint.Load(folder);
            if (checkpoint.Note is { } note)
            {
                io.Error.WriteLine($"xent: note: {note}");
            }

            string tokenizer = checkpoint.Config.Tokenizer;
            var merges = tokenizer == "bpe" ? (BpeTokenizer)CheckpointTokenizer.For(checkpoint.Config) : null;
            Gpt2Checkpoint.Save(settings.Out!, model, tokenizer, merges);
            string written = merges is null ? $" and {Gpt2Checkpoint.ModelFile}" : $", {Gpt2Checkpoint.ModelFile} and {Gpt2FolderTokenizer.MergesFile}";
            io.WriteLine($"wrote {Path.Combine(settings.Out!, Gpt2Checkpoint.ConfigFile)}{written} from step {checkpoint.Config.Step} of {folder}: {model.Config.Layers} layers, n_embd {model.Config.Dim}, vocab {model.Config.VocabSize}, {(model.Config.TieEmbeddings ? "tied" : "untied")} embeddings; tokenizer {tokenizer}{(tokenizer == "gpt2" ? string.Empty : " (not GPT-2's: feed Hugging Face the same token ids xent used)")}.");
            return ExitCodes.Ok;
        }
        catch (TrainingInputException e)
        {
            throw new XentCliException(e.Message, e);
        }
    }

    /// <summary>
    /// Before anything is read: --out must be able to become a folder, and the Hugging Face layout uses a checkpoint's
    /// own file names (config.json, model.safetensors), so exporting into a run's folder would replace its weights
    /// and optimizer state.
    /// </summary>
    private static void CheckOut(string output, string checkpoint)
    {
        if (OutputFolder.FileInTheWay(output) is { } file)
        {
            throw XentCliException.InFile(output, file == Path.TrimEndingDirectorySeparator(Path.GetFullPath(output))
                ? "--out is a file; it names the folder to write config.json and model.safetensors into (new or existing)."
                : $"--out cannot be created as a folder: '{file}' is a file.");
        }

        string other = Path.TrimEndingDirectorySeparator(output) + "-hf";
        if (Directory.Exists(output) && FileIdentity.Of(output).SameFileAs(FileIdentity.Of(checkpoint)))
        {
            throw XentCliException.InFile(output, $"--out is the --checkpoint folder: the Hugging Face files would replace the checkpoint of xent train there. Give another folder, e.g. --out {other}.");
        }

        if (CheckpointStore.IsTrainingCheckpoint(output))
        {
            throw XentCliException.InFile(output, $"--out holds a checkpoint of xent train ({CheckpointStore.ModelFile}): the Hugging Face files would replace it. Give another folder, e.g. --out {other}.");
        }
    }
}
