using ScottPlot;
using Xent.Cli.IO;
using Xent.Reference;

namespace Xent.Cli.Commands;

/// <summary>
/// <c>xent explain --plot</c>: the probabilities and the gradient of the row as bars, side by side per class; the
/// destination is checked by the command before anything is computed.
/// </summary>
internal static class ExplainPlot
{
    public static void Save(string path, CrossEntropyRowTrace trace)
    {
        var plot = new Plot();
        int v = trace.Logits.Length;
        var probabilities = new List<Bar>(v);
        var gradient = new List<Bar>(v);
        for (int c = 0; c < v; c++)
        {
            probabilities.Add(new Bar { Position = c - 0.2, Value = trace.Probabilities[c], Size = 0.4, FillColor = Colors.SteelBlue });
            gradient.Add(new Bar { Position = c + 0.2, Value = trace.Gradient[c], Size = 0.4, FillColor = Colors.OrangeRed });
        }

        plot.Add.Bars(probabilities).LegendText = "probability p";
        plot.Add.Bars(gradient).LegendText = "gradient dloss/dx";
        plot.Add.HorizontalLine(0).Color = Colors.Black;
        plot.Title($"softmax and gradient, target y = {trace.Target}, loss {ExplainReport.Number(trace.Loss)}");
        plot.XLabel("class c");
        if (v <= 40)
        {
            double[] positions = [.. Enumerable.Range(0, v).Select(c => (double)c)];
            string[] labels = [.. Enumerable.Range(0, v).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))];
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, labels);
        }

        plot.ShowLegend(Alignment.UpperRight);

        BytesOutput.Write(path, plot.GetImageBytes(Math.Clamp(80 * v, 640, 1920), 480, ImageFormat.Png));
    }
}
