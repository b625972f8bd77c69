using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Xent.Baselines;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>Prints the benchmark as a Spectre table or one JSON object.</summary>
internal static class BenchReport
{
    /// <param name="io">Where to print.</param>
    /// <param name="settings">The command's settings (table or JSON).</param>
    /// <param name="rows">Every timed case, each shape's memory limits first.</param>
    /// <param name="limits">Each shape's read, copy and in-place limits (<see cref="BenchCommand"/>), in the order of the shapes.</param>
    public static void Write(CliConsoles io, BenchSettings settings, List<BenchRow> rows, IReadOnlyList<(string Shape, long Bytes, MemoryLimit Read, MemoryLimit Copy, MemoryLimit InPlace)> limits)
    {
        if (settings.Json)
        {
            io.WriteLine(Json(rows, limits));
            return;
        }

        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("Case").AddColumn("N x V").AddColumn(new TableColumn("Thr").RightAligned())
            .AddColumn(new TableColumn("Median ms").RightAligned()).AddColumn(new TableColumn("Min-max ms").RightAligned())
            .AddColumn(new TableColumn("GB/s").RightAligned())
            .AddColumn(new TableColumn("vs scalar").RightAligned()).AddColumn(new TableColumn("of limit").RightAligned());
        foreach (var r in rows)
        {
            var t = r.Timing;
            table.AddRow(
                Markup.Escape(r.Case),
                Markup.Escape(r.Shape),
                r.Threads.ToString(CultureInfo.InvariantCulture),
                Ms(t.Median),
                $"{Ms(t.Min)}-{Ms(t.Max)}",
                r.GigabytesPerSecond.ToString("F1", CultureInfo.InvariantCulture),
                r.VsScalar is double x ? x.ToString("F1", CultureInfo.InvariantCulture) + "x" : "",
                r.OfLimit is double f ? (100 * f).ToString("F0", CultureInfo.InvariantCulture) + "%" : "");
        }

        io.Out.Write(table);
        int runs = rows.Max(r => r.Timing.Seconds.Length);
        foreach (var (shape, _, read, copy, inPlace) in limits)
        {
            io.WriteLine($"Memory limits measured in this run for {shape}: read {read.BytesPerSecond / 1e9:F1} GB/s (the limit of Loss; {read.Method}), copy {copy.BytesPerSecond / 1e9:F1} GB/s read + write (of LossAndGradient; {copy.Method}), in place {inPlace.BytesPerSecond / 1e9:F1} GB/s (of LossAndGradient in place; {inPlace.Method}).");
        }

        io.WriteLine($"Each shape's limit is the best of every method and thread count tried on its own logits and on larger buffers (never a smaller one, which the last-level cache may partly hold), and of the three fastest methods rerun beside each Xent case; its row gives the time to read (copy) that shape's bytes at that speed. GB/s counts N x V x 4 bytes read, twice that with the gradient written. Median and min-max of up to {runs} runs, each case warmed until steady.");
        io.WriteLine("Scalar: a plain float32 loop on as many threads as Xent (two passes per row, a third for the gradient). \"vs scalar\": scalar median / Xent median.");
        io.WriteLine("Loss+Grad writes the gradient into its own buffer (with streaming stores from 16 MB at 512 bits; otherwise the CPU reads its lines before it writes them, a third more traffic than the copy), against the fastest copy between two buffers; in place it overwrites the logits, the copy's bytes exactly, against the fastest way to read and write them: a copy, or the buffer rewritten in place, whose lines are in the cache when they are written.");
    }

    private static string Ms(double seconds) => (seconds * 1e3).ToString(seconds < 0.01 ? "F3" : "F1", CultureInfo.InvariantCulture);

    // The top-level limits are the largest shape's (the one alone, with --rows or --vocab); each shape's own are its
    // "memory read", "memory copy" and "memory in place" cases.
    private static string Json(List<BenchRow> rows, IReadOnlyList<(string Shape, long Bytes, MemoryLimit Read, MemoryLimit Copy, MemoryLimit InPlace)> limits)
    {
        var (_, _, read, copy, inPlace) = limits.MaxBy(l => l.Bytes);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("read_gb_per_s", Math.Round(read.BytesPerSecond / 1e9, 3));
            w.WriteString("read_method", read.Method);
            w.WriteNumber("read_threads", read.Threads);
            w.WriteNumber("copy_gb_per_s", Math.Round(copy.BytesPerSecond / 1e9, 3));
            w.WriteString("copy_method", copy.Method);
            w.WriteNumber("copy_threads", copy.Threads);
            w.WriteNumber("in_place_gb_per_s", Math.Round(inPlace.BytesPerSecond / 1e9, 3));
            w.WriteString("in_place_method", inPlace.Method);
            w.WriteNumber("in_place_threads", inPlace.Threads);
            w.WriteStartArray("cases");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteString("case", r.Case);
                w.WriteString("shape", r.Shape);
                w.WriteNumber("threads", r.Threads);
                w.WriteNumber("median_ms", Math.Round(r.Timing.Median * 1e3, 4));
                w.WriteNumber("min_ms", Math.Round(r.Timing.Min * 1e3, 4));
                w.WriteNumber("max_ms", Math.Round(r.Timing.Max * 1e3, 4));
                w.WriteNumber("runs", r.Timing.Seconds.Length);
                w.WriteNumber("gb_per_s", Math.Round(r.GigabytesPerSecond, 3));
                if (r.VsScalar is double x)
                {
                    w.WriteNumber("x_vs_scalar", Math.Round(x, 3));
                }

                if (r.OfLimit is double f)
                {
                    w.WriteNumber("fraction_of_memory_limit", Math.Round(f, 4));
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
