using System.Diagnostics;
using System.Globalization;
using Spectre.Console.Cli;
using Xent.Cli.IO;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary><c>xent loss</c>: the cross-entropy of saved arrays, with optional gradient and per-row losses.</summary>
internal sealed unsafe class LossCommand : Command<LossSettings>
{
    private readonly CliConsoles io;

    public LossCommand(CliConsoles io) => this.io = io;

    public static void Register(IConfigurator config) =>
        config.AddCommand<LossCommand>("loss")
            .WithDescription("Cross-entropy loss (PyTorch semantics) of logits and targets saved as .npy or safetensors; optionally writes the gradient and per-row losses as .npy.")
            .WithExample("loss", "--logits", "logits.npy", "--targets", "targets.npy")
            .WithExample("loss", "--logits", "logits.npy", "--targets", "targets.npy", "--label-smoothing", "0.1", "--grad", "grad.npy", "--json")
            .WithExample("loss", "--input", "batch.safetensors", "--reduction", "none", "--losses", "losses.npy");

    public override int Execute(CommandContext context, LossSettings settings, CancellationToken cancellationToken)
    {
        var inputs = LossInputs.Load(settings);
        CheckOutputs(settings, inputs);
        using var logits = LogitsData.Open(inputs.Logits);
        var options = settings.LossOptions with
        {
            Reduction = settings.ParsedReduction,
            ClassWeights = inputs.Weights,
            MaxDegreeOfParallelism = settings.Threads,
        };

        // Before the computation: a float16 gradient may be computed in place in the converted logits.
        var nonFinite = NonFiniteLogits.Scan(logits);
        var clock = Stopwatch.StartNew();
        var result = Compute(settings, inputs, logits, options);
        double seconds = clock.Elapsed.TotalSeconds;
        LossReport.Warn(io, inputs, result, nonFinite);
        try
        {
            LossReport.Write(io, settings, inputs, result, nonFinite, seconds);
        }
        catch (XentCliException e) when (e.InnerException is IOException or UnauthorizedAccessException && Written(settings) is { } files)
        {
            // Standard output failed (StandardStreamWriter) after the files were renamed into place: the exit code
            // stays that of a failed output, but the line must not read as if they were lost too.
            throw new XentCliException($"{e.Message} {files} whole; only the summary is lost.", e);
        }

        return ExitCodes.Ok;
    }

    // "--grad G and --losses L were written", or null where the command writes no file.
    private static string? Written(LossSettings settings)
    {
        (string Option, string? Path)[] outputs = [("--grad", settings.Grad), ("--losses", settings.Losses)];
        string[] files = [.. outputs.Where(f => f.Path is not null).Select(f => $"{f.Option} {f.Path}")];
        return files.Length == 0 ? null : $"{string.Join(" and ", files)} {(files.Length == 1 ? "was" : "were")} written";
    }

    /// <summary>Before any work: each output a writable file name, none the same file as an input or as the other output.</summary>
    private static void CheckOutputs(LossSettings settings, LossInputs inputs)
    {
        if (settings.Grad is not null)
        {
            OutputDestination.Check(settings.Grad, "--grad");
        }

        if (settings.Losses is not null)
        {
            OutputDestination.Check(settings.Losses, "--losses");
        }

        var files = new List<(string Option, string Path)>
        {
            (settings.Input is null ? "--logits" : "--input", inputs.Logits.Path),
            (settings.Targets is null ? (settings.Input is null ? "--logits" : "--input") : "--targets", inputs.TargetsInfo.Path),
        };
        if (inputs.WeightsPath is not null)
        {
            files.Add((settings.Weights is null ? "--input" : "--weights", inputs.WeightsPath));
        }

        DistinctFiles.Check(files, [("--grad", settings.Grad), ("--losses", settings.Losses)]);
    }

    /// <summary>Computes everything, writes every output to its temporary file, and renames them into place only when all succeeded.</summary>
    private static LossResult Compute(LossSettings settings, LossInputs inputs, LogitsData logits, CrossEntropyOptions options)
    {
        var targets = inputs.Targets;
        float[]? rowLosses = null;
        float loss = float.NaN;

        // Per-row losses first: the gradient may overwrite a converted copy of the logits (see LossKernels).
        if (options.Reduction == Reduction.None || settings.Losses is not null)
        {
            rowLosses = new float[targets.Length];
            LossKernels.LossPerRow(logits, targets, rowLosses, options);
        }

        using var lossFile = settings.Losses is null ? null : NpyOutput.Create(settings.Losses, ElementType.Float32, inputs.TargetsInfo.Shape);
        if (lossFile is not null)
        {
            rowLosses.AsSpan().CopyTo(new Span<float>(lossFile.Data, rowLosses!.Length));
        }

        using var grad = settings.Grad is null ? null : NpyOutput.Create(settings.Grad, LossKernels.GradientType(inputs.Logits), inputs.Logits.Shape);
        if (grad is not null)
        {
            // With no reduction the gradient is that of sum(losses): upstream gradient 1 per row, as
            // torch's loss.backward(torch.ones_like(loss)).
            var gradOptions = options.Reduction == Reduction.None ? options with { Reduction = Reduction.Sum } : options;
            loss = LossKernels.LossAndGradient(logits, targets, grad, gradOptions);
        }
        else if (options.Reduction != Reduction.None)
        {
            loss = LossKernels.Loss(logits, targets, options);
        }

        // Both whole on disk before either replaces an earlier file; the rename of --losses follows --grad's (see WriteAll).
        NpyOutput.WriteAll([grad, lossFile]);
        return new LossResult(options.Reduction == Reduction.None ? null : loss, rowLosses);
    }
}

/// <summary>What <c>xent loss</c> computed: the reduced loss (null for no reduction) and the per-row losses when asked.</summary>
internal sealed record LossResult(float? Loss, float[]? RowLosses)
{
    public static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);
}
