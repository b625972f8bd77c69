using System.Globalization;
using Spectre.Console;
using Xent.Cli.Terminal;
using Xent.Reference;

namespace Xent.Cli.Commands;

/// <summary>
/// <c>xent explain --intuition</c>: what loss numbers mean. Each value is the reference loss of a row built for the
/// purpose, so the table shows what the library computes: logits (ln p, ln(1 - p)) with target 0 give -ln p, and
/// V equal logits give ln V, the loss of a uniform guess (where training from scratch starts).
/// </summary>
internal static class ExplainIntuition
{
    private static readonly double[] Probabilities = [0.9, 0.5, 0.25, 0.1, 0.05, 0.01, 1e-3, 1e-4];

    private static readonly (int Vocabulary, string Model)[] Vocabularies =
    [
        (32_000, "Llama 2, Mistral 7B"),
        (50_257, "GPT-2"),
        (128_256, "Llama 3"),
        (151_936, "Qwen2"),
        (262_144, "Gemma 3"),
    ];

    public static void Write(CliConsoles io)
    {
        var byProbability = new Table().Border(TableBorder.Rounded).Title("loss of a target predicted with probability p")
            .AddColumn(new TableColumn("p").RightAligned()).AddColumn(new TableColumn("-ln p (nats)").RightAligned())
            .AddColumn(new TableColumn("bits = nats / ln 2").RightAligned()).AddColumn(new TableColumn("perplexity e^loss").RightAligned());
        foreach (double p in Probabilities)
        {
            double loss = CrossEntropyReference.Loss([(float)Math.Log(p), (float)Math.Log(1 - p)], [0]);
            byProbability.AddRow(p.ToString("G", CultureInfo.InvariantCulture), ExplainReport.Number(loss),
                ExplainReport.Number(loss / Math.Log(2)), Math.Exp(loss).ToString("F1", CultureInfo.InvariantCulture));
        }

        io.Out.Write(byProbability);
        var uniform = new Table().Border(TableBorder.Rounded).Title("loss of a uniform guess over V tokens: ln V")
            .AddColumn(new TableColumn("V").RightAligned()).AddColumn("vocabulary of").AddColumn(new TableColumn("ln V (nats)").RightAligned());
        foreach (var (v, model) in Vocabularies)
        {
            double loss = CrossEntropyReference.Loss(new float[v], [0]);
            uniform.AddRow(v.ToString("N0", CultureInfo.InvariantCulture), Markup.Escape(model), ExplainReport.Number(loss));
        }

        io.Out.Write(uniform);
        io.WriteLine("A model that has learned nothing predicts every token equally: its loss is ln V, where training from scratch starts.");
        io.WriteLine("Perplexity e^loss is the number of equally likely tokens the model is as unsure as.");
    }
}
