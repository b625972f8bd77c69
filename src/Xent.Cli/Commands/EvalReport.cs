using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>What <c>xent eval</c> measured, printed as a table or one JSON object.</summary>
internal sealed record EvalReport(long Predicted, long Bytes, double TotalNats, double BitsPerByte)
{
    public double CrossEntropy => TotalNats / Predicted;

    /// <summary>Prints the report; <paramref name="extra"/> adds JSON fields (tokenizer, step, window, ...).</summary>
    public void Write(CliConsoles io, bool json, JsonObject extra)
    {
        if (json)
        {
            var o = new JsonObject
            {
                ["tokens"] = Predicted,
                ["bytes"] = Bytes,
                ["cross_entropy"] = JsonNumbers.Node(CrossEntropy),
                ["perplexity"] = JsonNumbers.Node(Math.Exp(CrossEntropy)),
                ["bits_per_byte"] = JsonNumbers.Node(BitsPerByte),
            };
            foreach (var (key, value) in extra.ToList())
            {
                extra.Remove(key);
                o[key] = value;
            }

            io.WriteLine(o.ToJsonString());
            return;
        }

        var table = new Table().Border(TableBorder.Rounded).AddColumn(string.Empty).AddColumn(new TableColumn(string.Empty).RightAligned()).HideHeaders();
        table.AddRow("predicted tokens", Predicted.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("bytes", Bytes.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("cross-entropy (nats/token)", CrossEntropy.ToString("0.0000", CultureInfo.InvariantCulture));
        table.AddRow("perplexity", Math.Exp(CrossEntropy).ToString("0.000", CultureInfo.InvariantCulture));
        table.AddRow("bits per byte", BitsPerByte.ToString("0.0000", CultureInfo.InvariantCulture));
        io.Out.Write(table);
    }
}
