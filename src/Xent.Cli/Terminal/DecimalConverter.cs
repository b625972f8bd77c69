using System.ComponentModel;
using System.Globalization;
using System.Numerics;

namespace Xent.Cli.Terminal;

/// <summary>
/// Reads an integer option's value in decimal only (an optional sign, digits, white space around). .NET's own
/// integer converter, which Spectre uses, also read "0x10", "&amp;h10" and "#10" as hex: <c>--steps 0x10</c>
/// trained 16 steps where the user most likely mistyped. A value it refuses is reported as any other that is no integer.
/// </summary>
/// <typeparam name="T">int or long.</typeparam>
internal sealed class DecimalConverter<T> : TypeConverter
    where T : IBinaryInteger<T>
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
        sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    // A default value ([DefaultValue(20)]) arrives as the integer itself.
    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is T ? value
        : value is string text
            ? T.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out T? result)
                ? result
                : throw new FormatException($"{text} is not a decimal integer of {typeof(T).Name}.")
            : base.ConvertFrom(context, culture, value);
}
