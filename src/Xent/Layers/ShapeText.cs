using System.Runtime.CompilerServices;

namespace Xent.Layers;

/// <summary>
/// A shape for <see cref="LayerChecks.AtLeast(int, long, string, ref ShapeText)"/>, formatted only when the check fails:
/// a KV-cache step checks each head's spans with shapes that name the position, and formatting them on every call
/// was most of a generated token's garbage.
/// </summary>
[InterpolatedStringHandler]
internal ref struct ShapeText
{
    private DefaultInterpolatedStringHandler text;

    public ShapeText(int literalLength, int formattedCount, int length, long expected, out bool needed)
    {
        needed = length < expected;
        text = needed ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    public void AppendLiteral(string value) => text.AppendLiteral(value);

    public void AppendFormatted<T>(T value) => text.AppendFormatted(value);

    public string ToStringAndClear() => text.ToStringAndClear();
}
