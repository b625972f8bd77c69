using System.Text.Json;
using Xent.Cli.Terminal;

namespace Xent.Tests.Cli;

/// <summary>
/// Which exceptions are the user's bad input (exit 2) and which are xent's bugs (exit 1, "please report"): an
/// ArgumentException is bad input only when one of xent's libraries threw it checking what it was given.
/// </summary>
public sealed class ErrorClassificationTests
{
    [Fact]
    public void A_library_argument_check_is_bad_input()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => CrossEntropy.Loss(new float[6], [5, 0], new CrossEntropyOptions()));
        var (code, message) = ErrorReporter.Classify(e);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.DoesNotContain("internal error", message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_argument_exception_from_dotnet_outside_the_libraries_is_an_internal_error()
    {
        // What xent bench's JSON once hit: .NET's JSON writer refuses infinity with an ArgumentException.
        var e = Assert.ThrowsAny<ArgumentException>(() =>
        {
            using var writer = new Utf8JsonWriter(Stream.Null);
            writer.WriteNumberValue(double.PositiveInfinity);
        });
        var (code, message) = ErrorReporter.Classify(e);
        Assert.Equal(ExitCodes.InternalError, code);
        Assert.Contains("internal error (ArgumentException)", message, StringComparison.Ordinal);
        Assert.Contains("Please report", message, StringComparison.Ordinal);
    }
}
