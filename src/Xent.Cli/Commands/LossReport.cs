using System.Text;
using System.Text.Json;
using Xent.Cli.IO;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>Prints the result of <c>xent loss</c> as text or as one JSON object.</summary>
internal static class LossReport
{
    /// <summary>
    /// On stderr: where NaN or +inf logits are (they make their rows' losses non-finite), and, when the result is
    /// non-finite, where -inf logits are (a row whose target is masked, or that is masked entirely).
    /// </summary>
    public static void Warn(CliConsoles io, LossInputs inputs, LossResult result, NonFiniteLogits found)
    {
        var l = inputs.Logits;
        if (found.Poisoned > 0)
        {
            io.Error.WriteLine($"xent: warning: {l.Path}: {found.Poisoned} {(found.Poisoned == 1 ? "logit is" : "logits are")} not finite ({found.NaN} NaN, {found.PositiveInfinity} +inf), the first at {Position(inputs, found.FirstNaNOrPositive)}; the loss of each such row is NaN or inf, as in PyTorch.");
        }

        bool finite = result.Loss is float loss ? float.IsFinite(loss) : result.RowLosses!.All(float.IsFinite);
        if (!finite && found.Poisoned == 0 && found.NegativeInfinity > 0)
        {
            io.Error.WriteLine($"xent: warning: {l.Path}: {found.NegativeInfinity} {(found.NegativeInfinity == 1 ? "logit is" : "logits are")} -inf, the first at {Position(inputs, found.FirstNegative)}; a row whose target logit is -inf has an infinite loss, and one whose logits are all -inf a NaN loss, as in PyTorch.");
        }

        io.Error.Flush();
    }

    public static void Write(CliConsoles io, LossSettings s, LossInputs inputs, LossResult result, NonFiniteLogits nonFinite, double seconds)
    {
        int kept = inputs.Targets.Count(t => t != s.IgnoreIndex);
        string reduction = s.Reduction.ToLowerInvariant();
        if (s.Json)
        {
            io.WriteLine(Json(s, inputs, result, nonFinite, seconds, kept, reduction));
            return;
        }

        if (result.Loss is float loss)
        {
            io.WriteLine($"loss: {LossResult.Format(loss)}");
        }
        else
        {
            io.WriteLine($"losses ({inputs.Rows} rows):");
            foreach (float r in result.RowLosses!)
            {
                io.WriteLine(LossResult.Format(r));
            }
        }

        var l = inputs.Logits;
        string converted = l.Type == ElementType.Float32 ? "" : " (computed in float32)";
        io.WriteLine($"reduction: {reduction} over {kept} of {inputs.Rows} rows, {inputs.Classes} classes; logits {l.Type.Name()} {l.ShapeText}{converted}");
        if (s.Grad is not null)
        {
            io.WriteLine($"gradient: {s.Grad} ({LossKernels.GradientType(l).Name()} {l.ShapeText})");
        }

        if (s.Losses is not null)
        {
            io.WriteLine($"losses: {s.Losses} (float32 {inputs.TargetsInfo.ShapeText})");
        }
    }

    /// <summary>"row [1, 2], column 5": the index into the logits' leading axes, and the class.</summary>
    private static string Position(LossInputs inputs, long flat) => inputs.Logits.Shape.Length == 1
        ? $"column {flat}"
        : $"row {SmallArrays.Index(inputs.Logits.Shape.AsSpan(0, inputs.Logits.Shape.Length - 1), flat / inputs.Classes)}, column {flat % inputs.Classes}";

    private static string Json(LossSettings s, LossInputs inputs, LossResult result, NonFiniteLogits nonFinite, double seconds, int kept, string reduction)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (result.Loss is float loss)
            {
                w.WritePropertyName("loss");
                Number(w, loss);
            }
            else
            {
                w.WriteStartArray("loss");
                foreach (float r in result.RowLosses!)
                {
                    Number(w, r);
                }

                w.WriteEndArray();
            }

            w.WriteString("reduction", reduction);
            w.WriteNumber("rows", inputs.Rows);
            w.WriteNumber("kept_rows", kept);
            w.WriteNumber("classes", inputs.Classes);
            w.WriteString("logits_dtype", inputs.Logits.Type.Name());
            w.WriteStartArray("logits_shape");
            foreach (long d in inputs.Logits.Shape)
            {
                w.WriteNumberValue(d);
            }

            w.WriteEndArray();
            w.WriteNumber("ignore_index", s.IgnoreIndex);
            w.WriteNumber("label_smoothing", s.LabelSmoothing);
            w.WriteNumber("z_loss", s.ZLoss);
            w.WriteNumber("soft_cap", s.SoftCap);
            w.WriteBoolean("weighted", inputs.Weights is not null);
            Path(w, "grad_file", s.Grad);
            if (s.Grad is not null)
            {
                w.WriteString("grad_dtype", LossKernels.GradientType(inputs.Logits).Name());
            }

            Path(w, "losses_file", s.Losses);
            w.WriteStartObject("non_finite_logits");
            w.WriteNumber("nan", nonFinite.NaN);
            w.WriteNumber("posinf", nonFinite.PositiveInfinity);
            w.WriteNumber("neginf", nonFinite.NegativeInfinity);
            w.WriteEndObject();
            w.WriteNumber("seconds", Math.Round(seconds, 6));
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>A float32 loss as JSON (see <see cref="JsonNumbers"/>); float32 widened exactly, printed with its shortest digits.</summary>
    private static void Number(Utf8JsonWriter w, float value)
    {
        if (float.IsFinite(value))
        {
            w.WriteNumberValue(value);
        }
        else
        {
            JsonNumbers.Write(w, value);
        }
    }

    private static void Path(Utf8JsonWriter w, string name, string? path)
    {
        if (path is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, path);
        }
    }
}
