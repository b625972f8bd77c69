namespace Xent.Tests.Cli;

/// <summary>
/// A number option's value that is not one says which kind of number it must be. Options that may be left out
/// (<c>--lr</c>, a double?) were named by Spectre as Nullable`1, which xent took for an integer: <c>--lr 0,001</c>
/// (a decimal comma, as de-DE writes it) said it was not an integer.
/// </summary>
public sealed class OptionNumberTests
{
    [Theory]
    [InlineData("--steps", "16", 16)]
    [InlineData("--steps", "+16", 16)]
    [InlineData("--seed", "-3", -3)]
    public void ADecimalValueIsTakenAsItWas(string option, string value, int expected)
    {
        var settings = new Xent.Cli.Commands.TrainSettings();
        var property = typeof(Xent.Cli.Commands.TrainSettings).GetProperties()
            .Single(p => p.GetCustomAttributes(typeof(Spectre.Console.Cli.CommandOptionAttribute), true)
                .Cast<Spectre.Console.Cli.CommandOptionAttribute>().Any(o => o.LongNames.Contains(option[2..])));
        var converter = System.ComponentModel.TypeDescriptor.GetProperties(settings)[property.Name]!.Converter;
        Assert.Equal(expected, converter.ConvertFromInvariantString(value));
    }

    public static TheoryData<string[], string> Values => new()
    {
        { ["train", "--lr", "0,001"], "Failed to convert '0,001' to a number." },
        { ["train", "--dropout", "x"], "Failed to convert 'x' to a number." },
        { ["train", "--weight-decay", "1e"], "Failed to convert '1e' to a number." },
        { ["train", "--bpe-dropout", "0,1"], "Failed to convert '0,1' to a number." },
        { ["train", "--steps", "1.5"], "Failed to convert '1.5' to an integer." },
        { ["eval", "--window", "x"], "Failed to convert 'x' to an integer." },
        { ["explain", "--row", "x"], "Failed to convert 'x' to an integer." },
        { ["sample", "--temperature", "0,8"], "Failed to convert '0,8' to a number." },
        { ["bench", "--rows", "x"], "Failed to convert 'x' to an integer." },

        // .NET's integer converter read 0x, &h and # as hex: --steps 0x10 trained 16 steps. A missing --text makes a
        // value taken fail fast instead of training.
        { ["train", "--steps", "0x10", "--text", "/nonexistent/t.txt"], "Failed to convert '0x10' to an integer." },
        { ["train", "--seed", "#10", "--text", "/nonexistent/t.txt"], "Failed to convert '#10' to an integer." },
        { ["sample", "--seed", "&h10"], "Failed to convert '&h10' to an integer." },
        { ["explain", "--row", "0x1"], "Failed to convert '0x1' to an integer." },
        { ["loss", "--ignore-index", "0x0"], "Failed to convert '0x0' to an integer." },
    };

    [Fact]
    public void EveryIntegerOptionIsReadInDecimal()
    {
        var integers = typeof(Xent.Cli.XentApp).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(Spectre.Console.Cli.CommandSettings)))
            .SelectMany(t => t.GetProperties())
            .Where(p => p.GetCustomAttributes(typeof(Spectre.Console.Cli.CommandOptionAttribute), true).Length > 0)
            .Where(p => (Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType) is var t && (t == typeof(int) || t == typeof(long)))
            .ToList();
        Assert.NotEmpty(integers);
        foreach (var p in integers)
        {
            var converter = p.GetCustomAttributes(typeof(System.ComponentModel.TypeConverterAttribute), true)
                .Cast<System.ComponentModel.TypeConverterAttribute>().SingleOrDefault();
            Assert.True(converter?.ConverterTypeName.Contains("DecimalConverter", StringComparison.Ordinal) == true, $"{p.DeclaringType!.Name}.{p.Name}");
        }
    }

    [Theory]
    [MemberData(nameof(Values))]
    public void SaysWhichKindOfNumber(string[] args, string message)
    {
        var run = CliRun.Run(args);
        Assert.Equal((2, $"xent: error: {message}"), (run.ExitCode, run.Error.Trim()));
    }
}
