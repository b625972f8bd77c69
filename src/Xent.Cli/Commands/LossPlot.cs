using System.Globalization;
using ScottPlot;
using Xent.Cli.IO;
using Xent.Training.Baselines;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Cli.Commands;

/// <summary>loss.png: training and validation loss per step, with the entropy floor when the source has one.</summary>
internal static class LossPlot
{
    public const string FileName = "loss.png";

    /// <summary>Draws the curve into <paramref name="path"/>, xent train's last write, after the run's other files.</summary>
    /// <param name="path">loss.png in the run's folder.</param>
    /// <param name="records">metrics.jsonl's records.</param>
    /// <param name="initialVal">The validation loss before the run's first step.</param>
    /// <param name="entropyFloor">The corpus's entropy floor, where known.</param>
    /// <param name="title">The plot's title.</param>
    /// <param name="checkpointStep">The step of the checkpoint the run saved (none: null), for a failure's message.</param>
    /// <param name="baseline">The n-gram baseline of a text corpus, or null.</param>
    /// <exception cref="TrainingInputException">
    /// An I/O error (a full disk, no permission): the message names loss.png and says what the run saved; the error is
    /// the inner exception, and an earlier loss.png is as it was.
    /// </exception>
    public static void Save(string path, IReadOnlyList<MetricRecord> records, (long Step, double Loss)? initialVal, double? entropyFloor, string title,
        long? checkpointStep, NGramBaseline? baseline = null)
    {
        var plot = new Plot();
        if (records.Count > 0)
        {
            double[] steps = [.. records.Select(r => (double)r.Step)];
            double[] losses = [.. records.Select(r => r.Loss)];
            var train = plot.Add.ScatterLine(steps, losses);
            train.LegendText = "train loss (batch)";
            train.LineWidth = 1;

            // The validation loss before the first step of this run (step 0, or the step resumed from) starts the curve.
            var points = records.Where(r => r.ValLoss is { } v && double.IsFinite(v)).Select(r => (Step: (double)r.Step, Loss: r.ValLoss!.Value)).ToList();
            if (initialVal is { } first && double.IsFinite(first.Loss) && !points.Any(pt => pt.Step == first.Step))
            {
                points.Add((first.Step, first.Loss));
                points.Sort((a, b) => a.Step.CompareTo(b.Step));
            }
            if (points.Count > 0)
            {
                var val = plot.Add.Scatter(points.Select(pt => pt.Step).ToArray(), points.Select(pt => pt.Loss).ToArray());
                val.LegendText = "validation loss";
                val.LineWidth = 2;
                val.MarkerSize = 6;
            }
        }
        if (entropyFloor is { } floor)
        {
            var line = plot.Add.HorizontalLine(floor);
            line.LegendText = $"entropy floor {floor:0.0000}";
            line.LinePattern = LinePattern.Dashed;
            line.LineWidth = 2;
        }
        if (baseline is not null)
        {
            var line = plot.Add.HorizontalLine(baseline.NatsPerToken);
            line.LegendText = $"{baseline.Order}-gram baseline {baseline.NatsPerToken:0.0000}";
            line.LinePattern = LinePattern.Dotted;
            line.LineWidth = 2;
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel("cross-entropy (nats/token)");
        plot.ShowLegend(Alignment.UpperRight);

        // As every output: a uniquely named temporary file renamed over the target, so a reader never sees half a
        // picture and two runs (or a killed one) never share a fixed NAME.tmp; a killed run's leftover goes first.
        TemporaryFiles.RemoveStale(path);
        BytesOutput.Write(path, plot.GetImageBytes(960, 600, ImageFormat.Png), (e, at) =>
        {
            // Said as the run's other files' failures are: the path as given, the file as it was (read only now).
            string checkpoint = checkpointStep is { } step ? $"its checkpoint of step {step.ToString(CultureInfo.InvariantCulture)}, " : "";
            string earlier = File.Exists(path) ? $" (the earlier {FileName} there is as it was)" : "";
            return CheckpointSaveFailure.OfFile(e, at with { Path = path }, "the run", "drawing the loss curve",
                $"The run is over and {checkpoint}{MetricsLog.FileName} and {RunSummary.FileName} are saved; {FileName} was not written{earlier}.");
        });
    }
}
