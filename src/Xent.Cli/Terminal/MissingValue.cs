using Spectre.Console;

namespace Xent.Cli.Terminal;

/// <summary>
/// Spectre.Console.Cli quirk: an option left without a value at the end of the command line (<c>--grad</c>)
/// swallows the internal name of the default command, "__default_command", as its value. Verbs check their
/// string options with <see cref="Check"/> so the user sees "--grad needs a value" instead of a file of that name;
/// an empty value ("") is refused the same way, before .NET's path checks word it in their own terms.
/// </summary>
internal static class MissingValue
{
    public const string Marker = "__default_command";

    /// <summary>An error when any of <paramref name="options"/> holds the marker, else success.</summary>
    public static ValidationResult Check(params (string Option, string? Value)[] options)
    {
        foreach (var (option, value) in options)
        {
            if (value == Marker)
            {
                return ValidationResult.Error($"{option} needs a value.");
            }

            if (value is not null && string.IsNullOrWhiteSpace(value))
            {
                return ValidationResult.Error($"{option} needs a file name, not an empty string.");
            }
        }

        return ValidationResult.Success();
    }
}
