using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>Options of <c>xent bench</c>.</summary>
internal sealed class BenchSettings : CommandSettings
{
    [CommandOption("--rows <N>")]
    [Description("Rows N (tokens). Giving --rows or --vocab benchmarks that one shape instead of the two defaults [[256, 50257]] and [[2048, 32000]].")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Rows { get; set; }

    [CommandOption("--vocab <V>")]
    [Description("Vocabulary V (classes). Default with --rows: 50257.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Vocab { get; set; }

    [CommandOption("--threads <T>")]
    [Description("Threads for Xent and the scalar baseline; -1 = every core (the default), and more than the cores is every core, as Xent itself runs. The memory limits try this and every core, and keep the faster.")]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int? Threads { get; set; }

    [CommandOption("--iterations <K>")]
    [Description("Timed runs per case, after warm-up runs until its time is steady (a case stops early, after at least 3 runs, once it has taken 3 s).")]
    [DefaultValue(7)]
    [TypeConverter(typeof(DecimalConverter<int>))]
    public int Iterations { get; set; } = 7;

    [CommandOption("--json")]
    [Description("Print one JSON object with every case instead of the table.")]
    public bool Json { get; set; }

    /// <summary>The shapes to run, [N, V] each.</summary>
    internal (int Rows, int Vocab)[] Shapes => Rows is null && Vocab is null
        ? [(256, 50257), (2048, 32000)]
        : [(Rows ?? 256, Vocab ?? 50257)];

    /// <summary>
    /// The threads timed: at most the core count, as CrossEntropy itself caps them, which would otherwise time Xent on
    /// every core against baselines dealt into as many parts as asked (minutes of empty parts for 99999999).
    /// </summary>
    internal int ThreadCount => Threads is null or -1 ? Environment.ProcessorCount : Math.Min(Threads.Value, Environment.ProcessorCount);

    /// <summary>Whether --threads asked for more threads than <see cref="ThreadCount"/> gives.</summary>
    internal bool ThreadsCapped => Threads > Environment.ProcessorCount;

    public override ValidationResult Validate()
    {
        if (Rows is < 1 || Vocab is < 1)
        {
            return ValidationResult.Error("--rows and --vocab must be >= 1.");
        }

        if ((long)(Rows ?? 256) * (Vocab ?? 50257) > Array.MaxLength)
        {
            return ValidationResult.Error($"--rows x --vocab must be at most {Array.MaxLength} elements (the benchmark keeps its arrays in managed memory).");
        }

        if (Threads is 0 or < -1)
        {
            return ValidationResult.Error($"--threads must be -1 (every core) or >= 1, not {Threads}.");
        }

        if (Iterations < 1)
        {
            return ValidationResult.Error("--iterations must be >= 1.");
        }

        return ValidationResult.Success();
    }
}
