using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Xent.Training.Checkpoints;

/// <summary>
/// Which required field of a config.json is missing, named as the file spells it ("training.beta1"): .NET's message
/// for a missing required property names .NET types, and the fields are known from the same metadata the reader uses.
/// </summary>
internal static class ConfigFields
{
    /// <summary>The first required field <paramref name="json"/> leaves out, or null for none (or text that is not JSON).</summary>
    /// <param name="json">The config's text.</param>
    public static string? Missing(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return Missing(document.RootElement, TrainingJson.Default.CheckpointConfig, "");
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Missing(JsonElement value, JsonTypeInfo type, string prefix)
    {
        if (value.ValueKind != JsonValueKind.Object || type.Kind != JsonTypeInfoKind.Object)
        {
            return null;
        }

        foreach (JsonPropertyInfo property in type.Properties)
        {
            if (!value.TryGetProperty(property.Name, out JsonElement field))
            {
                if (property.IsRequired)
                {
                    return prefix + property.Name;
                }

                continue;
            }

            if (TrainingJson.Default.GetTypeInfo(property.PropertyType) is { } inner && Missing(field, inner, $"{prefix}{property.Name}.") is { } missing)
            {
                return missing;
            }
        }

        return null;
    }
}
