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
                Number(r.GigabytesPerSecond, "F1"),
                r.VsScalar is double x ? Number(x, "F1") + "x" : "",
                r.OfLimit is double f ? Percent(f) : "");
        }

        io.Out.Write(table);
        int runs = rows.Max(r => r.Timing.Seconds.Length);
        foreach (var (shape, _, read, copy, inPlace) in limits)
        {
            io.WriteLine($"Memory limits measured in this run for {shape}: read {Number(read.BytesPerSecond / 1e9, "F1")} GB/s (the limit of Loss; {read.Method}), copy {Number(copy.BytesPerSecond / 1e9, "F1")} GB/s read + write (of LossAndGradient; {copy.Method}), in place {Number(inPlace.BytesPerSecond / 1e9, "F1")} GB/s (of LossAndGradient in place; {inPlace.Method}).");
        }

        io.WriteLine($"Each shape's limit is the best of every method and thread count tried on its own logits and on larger buffers (never a smaller one, which the last-level cache may partly hold), and of the three fastest methods rerun beside each Xent case; its row gives the time to read (copy) that shape's bytes at that speed. GB/s counts N x V x 4 bytes read, twice that with the gradient written. Median and min-max of up to {runs} runs, each case warmed until steady.");
        io.WriteLine("Scalar: a plain float32 loop on as many threads as Xent (two passes per row, a third for the gradient). \"vs scalar\": scalar median / Xent median.");
        io.WriteLine("Loss+Grad writes the gradient into its own buffer (with streaming stores from 16 MB at 512 bits; otherwise the CPU reads its lines before it writes them, a third more traffic than the copy), against the fastest copy between two buffers; in place it overwrites the logits, the copy's bytes exactly, against the fastest way to read and write them: a copy, or the buffer rewritten in place, whose lines are in the cache when they are written.");
    }

    // A ratio of times that are not measurable (a zero time) is not a number to print; the timer batches runs so
    // that none should be (Timing.RunsPerSample), and this keeps a table honest if one is anyway.
    private static string Number(double value, string format) =>
        double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "-";

    // A tiny shape reaches a small fraction of the limit, which "0%" would misstate as none at all.
    private static string Percent(double fraction) =>
        !double.IsFinite(fraction) ? "-"
        : fraction > 0 && fraction < 0.005 ? "<1%"
        : (100 * fraction).ToString("F0", CultureInfo.InvariantCulture) + "%";

    // Digits to the microsecond, to the nanosecond for the tiny shapes' few-nanosecond times.
    private static string Ms(double seconds) => (seconds * 1e3).ToString(seconds < 1e-5 ? "F6" : seconds < 0.01 ? "F3" : "F1", CultureInfo.InvariantCulture);

    // The top-level limits are the largest shape's (the one alone, with --rows or --vocab); each shape's own are its
    // "memory read", "memory copy" and "memory in place" cases.
    private static string Json(List<BenchRow> rows, IReadOnlyList<(string Shape, long Bytes, MemoryLimit Read, MemoryLimit Copy, MemoryLimit InPlace)> limits)
    {
        var (_, _, read, copy, inPlace) = limits.MaxBy(l => l.Bytes);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            Number(w, "read_gb_per_s", Rounded(read.BytesPerSecond / 1e9, 3));
            w.WriteString("read_method", read.Method);
            w.WriteNumber("read_threads", read.Threads);
            Number(w, "copy_gb_per_s", Rounded(copy.BytesPerSecond / 1e9, 3));
            w.WriteString("copy_method", copy.Method);
            w.WriteNumber("copy_threads", copy.Threads);
            Number(w, "in_place_gb_per_s", Rounded(inPlace.BytesPerSecond / 1e9, 3));
            w.WriteString("in_place_method", inPlace.Method);
            w.WriteNumber("in_place_threads", inPlace.Threads);
            w.WriteStartArray("cases");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteString("case", r.Case);
                w.WriteString("shape", r.Shape);
                w.WriteNumber("threads", r.Threads);
                Number(w, "median_ms", Rounded(r.Timing.Median * 1e3, 4));
                Number(w, "min_ms", Rounded(r.Timing.Min * 1e3, 4));
                Number(w, "max_ms", Rounded(r.Timing.Max * 1e3, 4));
                w.WriteNumber("runs", r.Timing.Seconds.Length);
                Number(w, "gb_per_s", Rounded(r.GigabytesPerSecond, 3));
                if (r.VsScalar is double x)
                {
                    Number(w, "x_vs_scalar", Rounded(x, 3));
                }

                if (r.OfLimit is double f)
                {
                    Number(w, "fraction_of_memory_limit", Rounded(f, 4));
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    // To the decimals asked, and at least 4 significant digits: a tiny shape's times are a few nanoseconds, which
    // the decimals alone would round to 0 (or to one digit, and ratios of them far off).
    private static double Rounded(double value, int decimals)
    {
        if (value == 0 || !double.IsFinite(value))
        {
            return value;
        }

        int significant = 3 - (int)Math.Floor(Math.Log10(Math.Abs(value)));
        return Math.Round(value, Math.Clamp(Math.Max(decimals, significant), 0, 15));
    }

    // JSON has no infinity or NaN: written by name, as every verb's JSON does (JsonNumbers), never a failed run.
    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        w.WritePropertyName(name);
        JsonNumbers.Write(w, value);
    }
}
