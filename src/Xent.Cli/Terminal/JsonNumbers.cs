using System.Text.Json;
using System.Text.Json.Nodes;

namespace Xent.Cli.Terminal;

/// <summary>
/// Numbers in xent's JSON output. JSON has no NaN or infinity, so those are written as the strings "NaN",
/// "Infinity" and "-Infinity" (as .NET and JavaScript name them; Python's float() reads them): the output is
/// always valid JSON, whatever the numbers.
/// </summary>
internal static class JsonNumbers
{
    /// <summary>Writes <paramref name="value"/> as a number, or as its name when not finite.</summary>
    public static void Write(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteStringValue(Name(value));
        }
    }

    /// <summary>A JSON node for <paramref name="value"/>: a number, or its name when not finite.</summary>
    public static JsonNode Node(double value) => double.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(Name(value));

    private static string Name(double value) => double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}
