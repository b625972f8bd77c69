using System.Text.RegularExpressions;
using Xent.Reference;

namespace Xent.Tests.Docs;

/// <summary>
/// The README's usage example is this file's <see cref="Example"/>, word for word: the test fails when either
/// changes without the other, and running it checks the number the README prints.
/// </summary>
public partial class ReadmeTests
{
    [Fact]
    public void ReadmeExample_IsTheCodeThatRunsHere()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        var block = CsharpBlock().Match(readme);
        Assert.True(block.Success, "README.md has no ```csharp block");

        string source = File.ReadAllText(Path.Combine(RepositoryRoot(), "tests", "Xent.Tests", "Docs", "ReadmeTests.cs"));
        int begin = source.IndexOf("// README" + " begin", StringComparison.Ordinal);
        int end = source.IndexOf("// README" + " end", StringComparison.Ordinal);
        string fromTest = source[(source.IndexOf('\n', begin) + 1)..source.LastIndexOf('\n', end)];

        Assert.Equal(Normalize(fromTest), Normalize(block.Groups[1].Value));
    }

    /// <summary>The library package's own readme (its page on a feed) shows the same example and the same output.</summary>
    [Fact]
    public void PackageReadme_ShowsTheReadmeExample()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        string package = File.ReadAllText(Path.Combine(RepositoryRoot(), "src", "Xent", "README.md"));
        var block = CsharpBlock().Match(package);
        Assert.True(block.Success, "src/Xent/README.md has no ```csharp block");
        Assert.Equal(Normalize(CsharpBlock().Match(readme).Groups[1].Value), Normalize(block.Groups[1].Value));

        var (_, _, output) = Example();
        Assert.True(package.Contains(output, StringComparison.Ordinal), $"src/Xent/README.md does not show the line the example prints: {output}");
    }

    [Fact]
    public void ReadmeExample_PrintsWhatTheReadmeSays()
    {
        var (loss, gradientRowSum, output) = Example();

        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        Assert.True(readme.Contains(output, StringComparison.Ordinal), $"README.md does not show the line the example prints: {output}");
        Assert.Equal(0, gradientRowSum, 1e-6);

        // The same numbers from the float64 reference, recomputed from the same seed.
        var (logits, targets) = ExampleInputs();
        Assert.Equal(CrossEntropyReference.Loss(logits, targets), loss, 1e-4);
    }

    private static (float Loss, double GradientRowSum, string Output) Example()
    {
        using var writer = new StringWriter();
        var console = Console.Out;
        Console.SetOut(writer);

        // README begin
        // Logits of a language model: batch 2 x sequence 128 positions, vocabulary 50 000.
        int rows = 2 * 128, vocab = 50_000;
        var logits = new float[rows * vocab];   // [N, V] row-major, N = batch x sequence
        var targets = new int[rows];            // [N] the true next tokens; -100 marks a position to ignore
        var random = new Random(42);
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = 4 * random.NextSingle() - 2;
        }

        for (int n = 0; n < rows; n++)
        {
            targets[n] = random.Next(vocab);
        }

        float loss = CrossEntropy.Loss(logits, targets);              // mean of -log softmax(logits)[target]
        var gradient = new float[logits.Length];                      // or `logits` itself: in place
        loss = CrossEntropy.LossAndGradient(logits, targets, gradient); // (softmax - onehot) / N
        float smoothed = CrossEntropy.Loss(logits, targets, new CrossEntropyOptions { LabelSmoothing = 0.1f });
        Console.WriteLine($"loss {loss:F4} (ln V = {MathF.Log(vocab):F4}), smoothed {smoothed:F4}");
        // README end

        Console.SetOut(console);
        double rowSum = 0;
        for (int c = 0; c < vocab; c++)
        {
            rowSum += gradient[c];
        }

        return (loss, rowSum, writer.ToString().Trim());
    }

    private static (float[] Logits, int[] Targets) ExampleInputs()
    {
        int rows = 2 * 128, vocab = 50_000;
        var logits = new float[rows * vocab];
        var targets = new int[rows];
        var random = new Random(42);
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = 4 * random.NextSingle() - 2;
        }

        for (int n = 0; n < rows; n++)
        {
            targets[n] = random.Next(vocab);
        }

        return (logits, targets);
    }

    [Fact]
    public void ReadmeCountsTheSlowTests()
    {
        int slow = typeof(ReadmeTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods())
            .Count(m => m.GetCustomAttributes(typeof(SlowFactAttribute), false).Length > 0);
        string[] words = ["No", "One", "Two", "Three", "Four", "Five"];
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        Assert.Contains($"{words[slow]} tests past 2^31 elements run only with `XENT_SLOW_TESTS=1`", readme, StringComparison.Ordinal);
    }

    private static string Normalize(string code) =>
        string.Join('\n', code.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("using ", StringComparison.Ordinal)));

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Xent.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Xent.slnx not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CsharpBlock();
}
