using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Spectre.Console.Cli;
using Xent.Cli.Commands;
using Xent.Training.Runs;

namespace Xent.Tests.Docs;

/// <summary>
/// The defaults of <c>xent train</c> as docs/training.md's option table and <c>xent train --help</c> state them are
/// the constants the run takes (<see cref="TrainingDefaults"/>, and <see cref="TextTrainingDefaults"/> for a text).
/// </summary>
public sealed class TrainDefaultsDocTests
{
    private static string G(double x) => x.ToString("0.###", CultureInfo.InvariantCulture);

    private static string E(double x) => x.ToString("0e+0", CultureInfo.InvariantCulture).Replace("e+", "e", StringComparison.Ordinal);

    // option, the built-in corpus's default, the text's (null: the same)
    public static TheoryData<string, string, string?> Defaults() => new()
    {
        { "--batch", G(TrainingDefaults.Batch), null },
        { "--seq", G(TrainingDefaults.Seq), null },
        { "--layers", G(TrainingDefaults.Layers), null },
        { "--heads", G(TrainingDefaults.Heads), null },
        { "--seed", G(TrainingDefaults.Seed), null },
        { "--dim", G(TrainingDefaults.Dim), G(TextTrainingDefaults.Dim) },
        { "--lr", E(TrainingDefaults.LearningRate), E(TextTrainingDefaults.LearningRate) },
        { "--weight-decay", G(TrainingDefaults.WeightDecay), G(TextTrainingDefaults.WeightDecay) },
        { "--eval-every", G(TrainingDefaults.EvalEvery), G(TextTrainingDefaults.EvalEvery) },
        { "--beta1", G(TrainingDefaults.Beta1), null },
        { "--beta2", G(TrainingDefaults.Beta2), null },
        { "--eps", E(TrainingDefaults.Epsilon), null },
        { "--grad-clip", G(TrainingDefaults.GradClip), null },
    };

    [Theory]
    [MemberData(nameof(Defaults))]
    public void The_training_docs_table_gives_the_defaults_the_run_takes(string option, string markov, string? text)
    {
        string doc = File.ReadAllText(Path.Combine(ReadmeTests.RepositoryRoot(), "docs", "training.md"));
        string row = doc.Split('\n').Single(l => l.StartsWith($"| `{option} ", StringComparison.Ordinal));
        string cell = row.Split('|')[2].Trim();
        Assert.Equal(text is null ? markov : $"{markov} (text: {text})", cell);
    }

    [Theory]
    [MemberData(nameof(Defaults))]
    public void The_help_of_xent_train_gives_the_defaults_the_run_takes(string option, string markov, string? text)
    {
        var property = typeof(TrainSettings).GetProperties()
            .Single(p => p.GetCustomAttribute<CommandOptionAttribute>()?.LongNames.Contains(option[2..]) == true);
        string help = property.GetCustomAttribute<DescriptionAttribute>()!.Description;
        Assert.Contains(text is null ? $"Default {markov}." : $"Default {markov} (built-in corpus), {text} (--text).", help, StringComparison.Ordinal);
    }
}
