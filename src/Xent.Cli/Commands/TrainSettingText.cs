using System.Globalization;
using Xent.Training.Runs;

namespace Xent.Cli.Commands;

/// <summary>How `xent train` prints the settings of a run on its model line and its line of a resume's changes.</summary>
internal static class TrainSettingText
{
    /// <summary>
    /// A setting's value as people write it: whole numbers in full (12345 steps, not 1.234E+04), others as the
    /// shortest decimal of the float the run uses, with a lower-case exponent where one is needed (1e-08, as the
    /// flags take it). Four significant digits printed a beta2 of 0.99999 as 1.
    /// </summary>
    /// <param name="value">The value.</param>
    public static string Number(double value) => value == Math.Round(value) && Math.Abs(value) < 1e15
        ? value.ToString("0", CultureInfo.InvariantCulture)
        : ((float)value).ToString(CultureInfo.InvariantCulture).Replace('E', 'e');

    /// <summary>
    /// The AdamW betas and epsilon and the gradient clip of <paramref name="plan"/> that are not the defaults, each
    /// after ", " (empty for none); compared as the floats AdamW runs with, as a resume's changes are.
    /// </summary>
    /// <param name="plan">The run's plan.</param>
    public static string Optimizer(TrainingPlan plan)
    {
        var shown = new List<string>();
        foreach (var (name, value, usual) in (ReadOnlySpan<(string, double, double)>)[
            ("beta1", plan.Beta1, TrainingDefaults.Beta1), ("beta2", plan.Beta2, TrainingDefaults.Beta2), ("epsilon", plan.Epsilon, TrainingDefaults.Epsilon)])
        {
            if ((float)value != (float)usual)
            {
                shown.Add($"{name} {Number(value)}");
            }
        }

        if ((float)plan.GradClip != (float)TrainingDefaults.GradClip)
        {
            shown.Add(plan.GradClip == 0 ? "no gradient clipping" : $"gradient clip {Number(plan.GradClip)}");
        }

        return string.Concat(shown.Select(s => ", " + s));
    }
}
