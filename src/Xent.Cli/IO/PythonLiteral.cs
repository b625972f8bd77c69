using System.Globalization;

namespace Xent.Cli.IO;

/// <summary>
/// Parses the small subset of Python literals that an .npy header dictionary uses: dicts, tuples and lists,
/// single- or double-quoted strings, ints, True, False and None. Throws <see cref="FormatException"/> on
/// anything else, naming the position.
/// </summary>
internal ref struct PythonLiteral
{
    private readonly ReadOnlySpan<char> text;
    private int pos;

    private PythonLiteral(ReadOnlySpan<char> text)
    {
        this.text = text;
        pos = 0;
    }

    /// <summary>Parses one literal spanning all of <paramref name="text"/> (whitespace around it allowed).</summary>
    /// <returns>string, bool, long, null, <see cref="List{T}"/> of values, or <see cref="Dictionary{TKey, TValue}"/> with string keys.</returns>
    public static object? Parse(ReadOnlySpan<char> text)
    {
        var p = new PythonLiteral(text);
        var value = p.Value();
        p.SkipSpace();
        if (p.pos != text.Length)
        {
            throw p.Error("unexpected text after the end of the literal");
        }

        return value;
    }

    private object? Value()
    {
        SkipSpace();
        if (pos >= text.Length)
        {
            throw Error("the text ends where a value was expected");
        }

        char c = text[pos];
        return c switch
        {
            '{' => Dict(),
            '(' => Sequence(')'),
            '[' => Sequence(']'),
            '\'' or '"' => String(),
            _ when c == '-' || char.IsAsciiDigit(c) => Integer(),
            _ => Word(),
        };
    }

    private Dictionary<string, object?> Dict()
    {
        pos++;
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (true)
        {
            SkipSpace();
            if (Peek() == '}')
            {
                pos++;
                return dict;
            }

            if (Value() is not string key)
            {
                throw Error("a dictionary key must be a string");
            }

            Expect(':');
            if (!dict.TryAdd(key, Value()))
            {
                throw Error($"the key '{key}' appears twice");
            }

            if (!Separator('}'))
            {
                throw Error("expected ',' or '}' in the dictionary");
            }
        }
    }

    private List<object?> Sequence(char close)
    {
        pos++;
        var items = new List<object?>();
        while (true)
        {
            SkipSpace();
            if (Peek() == close)
            {
                pos++;
                return items;
            }

            items.Add(Value());
            if (!Separator(close))
            {
                throw Error($"expected ',' or '{close}'");
            }
        }
    }

    /// <summary>After an item: consumes ',' (true) or peeks at the closing bracket (true); anything else is false.</summary>
    private bool Separator(char close)
    {
        SkipSpace();
        char c = Peek();
        if (c == ',')
        {
            pos++;
            return true;
        }

        return c == close;
    }

    private string String()
    {
        char quote = text[pos++];
        int start = pos;
        while (pos < text.Length && text[pos] != quote)
        {
            if (text[pos] == '\\')
            {
                throw Error("escape sequences in strings are not supported");
            }

            pos++;
        }

        if (pos >= text.Length)
        {
            throw Error("unterminated string");
        }

        return text[start..pos++].ToString();
    }

    private long Integer()
    {
        int start = pos;
        if (text[pos] == '-')
        {
            pos++;
        }

        while (pos < text.Length && char.IsAsciiDigit(text[pos]))
        {
            pos++;
        }

        var digits = text[start..pos];

        // Python 2 wrote long ints with an L suffix; old .npy files still carry it.
        if (pos < text.Length && text[pos] is 'L' or 'l')
        {
            pos++;
        }

        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            throw Error($"'{digits}' is not an integer that fits in 64 bits");
        }

        return value;
    }

    private object? Word()
    {
        int start = pos;
        while (pos < text.Length && char.IsAsciiLetter(text[pos]))
        {
            pos++;
        }

        return text[start..pos] switch
        {
            "True" => true,
            "False" => false,
            "None" => null,
            _ => throw Error($"unexpected '{(pos > start ? text[start..pos].ToString() : text[start].ToString())}'"),
        };
    }

    private void Expect(char c)
    {
        SkipSpace();
        if (Peek() != c)
        {
            throw Error($"expected '{c}'");
        }

        pos++;
    }

    private readonly char Peek() => pos < text.Length ? text[pos] : '\0';

    private void SkipSpace()
    {
        while (pos < text.Length && char.IsWhiteSpace(text[pos]))
        {
            pos++;
        }
    }

    private readonly FormatException Error(string problem) => new($"{problem} at character {pos}");
}
