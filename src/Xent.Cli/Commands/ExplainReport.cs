using System.Globalization;
using Spectre.Console;
using Xent.Cli.Terminal;
using Xent.Reference;

namespace Xent.Cli.Commands;

/// <summary>Prints a <see cref="CrossEntropyRowTrace"/> as the steps of a course note: one table per class, one of the scalars.</summary>
internal static class ExplainReport
{
    /// <summary>The factor of the overflow demonstration: the same logits x 1000.</summary>
    public const float Scale = 1000f;

    public static void Write(CliConsoles io, ExplainInput input, CrossEntropyRowTrace trace, CrossEntropyRowTrace? scaled, int top)
    {
        var o = trace.Options;
        io.WriteLine($"Cross-entropy of one row step by step: {input.Source}, V = {trace.Logits.Length}, target y = {trace.Target}.");
        io.Out.Write(ClassTable(trace, input.Weights is not null, top));
        io.Out.Write(StepTable(trace));
        if (trace.Ignored)
        {
            io.WriteLine($"y = {trace.Target} is the ignore index: this row adds nothing to the loss, to the mean's denominator or to the gradient.");
        }

        io.WriteLine($"loss = {Number(trace.Loss)}");
        if (!trace.Ignored && (input.Weights is not null || o.ZLoss > 0))
        {
            io.WriteLine($"mean over this one row = (log-likelihood + smoothing) / w[y] + z-loss = {Number(trace.MeanLoss)}");
        }

        WriteOverflow(io, trace, scaled);
    }

    private static Table ClassTable(CrossEntropyRowTrace t, bool weighted, int top)
    {
        var o = t.Options;
        bool capped = o.SoftCap > 0;
        var table = new Table().Border(TableBorder.Rounded).Title("per class c");
        table.AddColumn(new TableColumn("c").RightAligned());
        table.AddColumn(new TableColumn("logit x").RightAligned());
        if (capped)
        {
            table.AddColumn(new TableColumn($"z = {Short(o.SoftCap)} tanh(x/{Short(o.SoftCap)})").RightAligned());
        }

        string z = capped ? "z" : "x";
        table.AddColumn(new TableColumn($"{z} - m").RightAligned());
        table.AddColumn(new TableColumn($"exp({z} - m)").RightAligned());
        table.AddColumn(new TableColumn($"log p = {z} - lse").RightAligned());
        table.AddColumn(new TableColumn("p = exp(log p)").RightAligned());
        if (weighted)
        {
            table.AddColumn(new TableColumn("weight w").RightAligned());
        }

        table.AddColumn(new TableColumn("target").Centered());
        table.AddColumn(new TableColumn(GradientHeader(o)).RightAligned());
        foreach (int c in Shown(t, top))
        {
            var row = new List<string> { c.ToString(CultureInfo.InvariantCulture), Number(t.Logits[c]) };
            if (capped)
            {
                row.Add(Number(t.Capped[c]));
            }

            row.AddRange([Number(t.Shifted[c]), Number(t.Exponentials[c]), Number(t.LogProbabilities[c]), Number(t.Probabilities[c])]);
            if (weighted)
            {
                row.Add(Number(o.ClassWeights.Span[c]));
            }

            row.Add(c == t.Target ? "<- y" : string.Empty);
            row.Add(Number(t.Gradient[c]));
            table.AddRow(row.Select(Markup.Escape).ToArray());
        }

        int hidden = t.Logits.Length - Shown(t, top).Count;
        if (hidden > 0)
        {
            table.Caption($"{hidden} less probable classes not shown (--top)");
        }

        return table;
    }

    private static Table StepTable(CrossEntropyRowTrace t)
    {
        var o = t.Options;
        string z = o.SoftCap > 0 ? "z" : "x";
        var table = new Table().Border(TableBorder.Rounded).Title("steps")
            .AddColumn("step").AddColumn("formula").AddColumn(new TableColumn("value").RightAligned());
        void Add(string step, string formula, double value) => table.AddRow(Markup.Escape(step), Markup.Escape(formula), Number(value));
        Add("max", $"m = max_c {z}[c]", t.Max);
        Add("sum of exponentials", $"s = sum_c exp({z}[c] - m)", t.SumExp);
        Add("log-sum-exp", "lse = m + ln s", t.LogSumExp);
        if (t.Ignored)
        {
            return table;
        }

        Add("target logit", $"{z}[y]", t.Capped[t.Target]);
        Add("log-probability of y", $"log p[y] = {z}[y] - lse", t.LogProbabilities[t.Target]);
        Add("probability of y", "p[y]", t.Probabilities[t.Target]);
        string factor = (t.Smoothing > 0 ? "(1 - e) " : string.Empty) + (o.ClassWeights.IsEmpty ? string.Empty : "w[y] ");
        Add("negative log-likelihood", $"{factor}(lse - {z}[y])", t.Nll);
        if (t.Smoothing > 0)
        {
            Add($"label smoothing e = {Short(t.Smoothing)}", $"(e / V) sum_c {(o.ClassWeights.IsEmpty ? string.Empty : "w[c] ")}(lse - {z}[c])", t.SmoothingTerm);
        }

        if (o.ZLoss > 0)
        {
            Add($"z-loss l = {Short(o.ZLoss)}", "l lse^2", t.ZTerm);
        }

        Add("loss", "sum of the terms above", t.Loss);
        return table;
    }

    /// <summary>
    /// The naive formula next to the stable one on the logits x 1000. Both sides are -ln p[y] alone, whatever the
    /// options: the naive formula has no weight, smoothing or z-loss term to compare with, and the row's loss (with
    /// them) is in the steps table above.
    /// </summary>
    private static void WriteOverflow(CliConsoles io, CrossEntropyRowTrace t, CrossEntropyRowTrace? scaled)
    {
        if (scaled is null)
        {
            io.WriteLine($"Why subtract the max: the logits x {Scale} overflow float32, so there is nothing to compare here.");
            return;
        }

        var o = t.Options;
        bool capped = o.SoftCap > 0;
        string z = capped ? "z" : "x";
        io.WriteLine(string.Empty);
        io.WriteLine($"Why subtract the max: exp overflows beyond 709 (float64) or 88 (float32). The same logits x {Scale}:");
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn(new TableColumn("c").RightAligned()).AddColumn(new TableColumn($"x {Scale}").RightAligned());
        if (capped)
        {
            table.AddColumn(new TableColumn($"z = {Short(o.SoftCap)} tanh(x/{Short(o.SoftCap)})").RightAligned());
        }

        table.AddColumn(new TableColumn($"naive exp({z})").RightAligned()).AddColumn(new TableColumn($"stable exp({z} - m)").RightAligned());
        string[] Row(string first, string x, string cap, string naive, string stable) =>
            [.. (capped ? new[] { first, x, cap, naive, stable } : [first, x, naive, stable]).Select(Markup.Escape)];
        foreach (int c in Shown(scaled, 20))
        {
            table.AddRow(Row(c.ToString(CultureInfo.InvariantCulture), Number(scaled.Logits[c]), Number(scaled.Capped[c]), Number(scaled.NaiveExponentials[c]), Number(scaled.Exponentials[c])));
        }

        table.AddRow(Row("sum", string.Empty, string.Empty, Number(scaled.NaiveSumExp), Number(scaled.SumExp)));
        if (scaled.Ignored)
        {
            io.Out.Write(table);
            io.WriteLine("(The row is ignored, so there is no loss to compare; the sums show the overflow.)");
            return;
        }

        table.AddRow(Row("-ln p[y]", string.Empty, string.Empty, Number(scaled.NaiveLoss), Number(MinusLogP(scaled))));
        io.Out.Write(table);
        io.WriteLine($"naive -ln(exp({z}[y]) / sum exp({z})) = {Number(scaled.NaiveLoss)}; stable lse - {z}[y] = {Number(MinusLogP(scaled))}. (On the original logits the naive formula gives {Number(t.NaiveLoss)}, the stable one {Number(MinusLogP(t))}.){OtherTerms(t)}");
    }

    /// <summary>-ln p[y] = lse - z[y], the log-likelihood term before any option weighs or adds to it.</summary>
    private static double MinusLogP(CrossEntropyRowTrace t) => -t.LogProbabilities[t.Target];

    /// <summary>What the loss adds to -ln p[y] with these options, as a sentence; empty when the loss is -ln p[y].</summary>
    private static string OtherTerms(CrossEntropyRowTrace t)
    {
        var o = t.Options;
        var terms = new List<string>();
        if (!o.ClassWeights.IsEmpty)
        {
            terms.Add("weight w[y]");
        }

        if (t.Smoothing > 0)
        {
            terms.Add("label smoothing");
        }

        if (o.ZLoss > 0)
        {
            terms.Add("z-loss");
        }

        return terms.Count == 0
            ? string.Empty
            : $" These are -ln p[y] alone, without the {string.Join(", ", terms[..^1])}{(terms.Count > 1 ? " and " : string.Empty)}{terms[^1]} of the loss {Number(t.Loss)} above.";
    }

    private static string GradientHeader(CrossEntropyOptions o) =>
        o.LabelSmoothing == 0 && o.ZLoss == 0 && o.SoftCap == 0 && o.ClassWeights.IsEmpty
            ? "gradient p - onehot"
            : "gradient dloss/dx";

    /// <summary>Every class for a short row; else the <paramref name="top"/> most probable and the target, in class order.</summary>
    private static List<int> Shown(CrossEntropyRowTrace t, int top)
    {
        int v = t.Logits.Length;
        if (v <= top)
        {
            return [.. Enumerable.Range(0, v)];
        }

        var chosen = Enumerable.Range(0, v).OrderByDescending(c => t.Probabilities[c]).ThenBy(c => c).Take(top).ToHashSet();
        if (!t.Ignored)
        {
            chosen.Add(t.Target);
        }

        return [.. chosen.Order()];
    }

    private static string Short(double x) => x.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>Four decimals where that is readable, else scientific: 0.6590, 2000.0000, 5.076e-44, inf, NaN.</summary>
    public static string Number(double x)
    {
        if (double.IsNaN(x))
        {
            return "NaN";
        }

        if (double.IsInfinity(x))
        {
            return x > 0 ? "inf" : "-inf";
        }

        if (x == 0)
        {
            // Also -0 (what -ln 1 gives): a sign on a zero only puzzles a learner.
            return "0.0000";
        }

        double a = Math.Abs(x);
        return a >= 1e-4 && a < 1e7
            ? x.ToString("F4", CultureInfo.InvariantCulture)
            : x.ToString("0.000e+0", CultureInfo.InvariantCulture);
    }
}
