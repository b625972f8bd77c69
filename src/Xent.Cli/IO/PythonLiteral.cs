using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;

namespace Xent.Cli.IO;

/// <summary>
/// Python literals as <c>ast.literal_eval</c> (Python 3.10+) reads them, for .npy header dictionaries: dicts,
/// tuples, lists, sets, strings (quotes, triple quotes, r/u/b prefixes, escapes, adjacent strings joined), ints
/// (decimal, 0x, 0o, 0b, underscores), floats, imaginary numbers, a sign before a number, True, False, None;
/// Python's whitespace rules (space, tab, form feed; newlines only inside brackets or around the whole value),
/// comments and backslash continuations. Anything Python rejects throws <see cref="FormatException"/>, naming
/// the position. Binary operators (<c>1+2j</c>) are not read: no .npy header that NumPy accepts uses them;
/// <c>\N{NAME}</c> escapes are read for the names of ASCII characters only (see <see cref="AsciiCharacterNames"/>).
/// </summary>
/// <remarks>
/// Values: <see cref="string"/>, <see cref="byte"/>[] (bytes), <see cref="BigInteger"/>, <see cref="double"/>,
/// <see cref="Complex"/>, <see cref="bool"/>, null (None), <see cref="PythonTuple"/>, <see cref="List{T}"/> (list),
/// <see cref="PythonSet"/>, <see cref="Dictionary{TKey, TValue}"/> with string keys (the last of repeated keys
/// wins, as in Python; a key that is not a string is refused, as no .npy header has one).
/// </remarks>
internal sealed partial class PythonLiteral
{
    private readonly string text;
    private readonly bool longSuffix;
    private int pos;

    private PythonLiteral(string text, bool longSuffix)
    {
        this.text = text;
        this.longSuffix = longSuffix;
    }

    /// <summary>Parses one literal spanning all of <paramref name="text"/>.</summary>
    /// <param name="text">The source text.</param>
    /// <param name="longSuffix">Accept Python 2's <c>L</c> after an int (NumPy strips it from headers of format 1.0 and 2.0 only).</param>
    public static object? Parse(string text, bool longSuffix = false)
    {
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            throw new FormatException("the text contains a null byte");
        }

        var p = new PythonLiteral(text, longSuffix);
        p.SkipLeading();
        var value = p.Value(0).Value;
        p.SkipTrailing();
        if (p.pos != text.Length)
        {
            throw p.Error("unexpected text after the end of the literal");
        }

        return value;
    }

    [GeneratedRegex(@"\G(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*\.(?:[eE][+-]?[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*[eE][+-]?[0-9](?:_?[0-9])*)[jJ]?|\G[0-9](?:_?[0-9])*[jJ]")]
    private static partial Regex FloatLiteral();

    [GeneratedRegex(@"\G(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?[0-9])*|0+(?:_?0)*)")]
    private static partial Regex IntLiteral();

    /// <summary>A value and whether it came from a sign applied to a number (Python refuses a sign on that again).</summary>
    private readonly record struct Parsed(object? Value, bool Signed);

    private Parsed Value(int depth)
    {
        Skip(depth);
        char c = Peek();
        switch (c)
        {
            case '{':
                return new(Braces(depth + 1), false);
            case '[':
                return new(List(depth + 1), false);
            case '(':
                return Parentheses(depth + 1);
            case '+' or '-':
                pos++;
                Skip(depth);
                var operand = Value(depth);
                if (operand.Signed || operand.Value is not (BigInteger or double or Complex))
                {
                    throw Error("a sign must be followed by a number");
                }

                return new(c == '+' ? operand.Value : Negate(operand.Value), true);
            case '\'' or '"':
                return new(Strings(depth), false);
            case '.' or (>= '0' and <= '9'):
                return new(Number(), false);
            case '\0' when pos >= text.Length:
                throw Error("the text ends where a value was expected");
            default:
                if (char.IsAsciiLetter(c) || c == '_')
                {
                    return new(Word(depth), false);
                }

                throw Error($"unexpected '{Printable(c)}'");
        }
    }

    private static object Negate(object? value) => value switch
    {
        BigInteger i => -i,
        double d => -d,
        _ => -(Complex)value!,
    };

    private object Braces(int depth)
    {
        pos++;
        Skip(depth);
        if (Peek() == '}')
        {
            pos++;
            return new Dictionary<string, object?>(StringComparer.Ordinal);
        }

        var first = Value(depth).Value;
        Skip(depth);
        if (Peek() != ':')
        {
            var items = new List<object?> { first };
            Items(depth, '}', items);
            return new PythonSet(items);
        }

        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        object? key = first;
        while (true)
        {
            Expect(':', depth);
            var value = Value(depth).Value;
            dict[key as string ?? throw Error("a dictionary key that is not a string")] = value;
            Skip(depth);
            if (Peek() == ',')
            {
                pos++;
                Skip(depth);
            }
            else if (Peek() != '}')
            {
                throw Error("expected ',' or '}' in the dictionary");
            }

            if (Peek() == '}')
            {
                pos++;
                return dict;
            }

            key = Value(depth).Value;
        }
    }

    private List<object?> List(int depth)
    {
        pos++;
        var items = new List<object?>();
        Skip(depth);
        if (Peek() == ']')
        {
            pos++;
            return items;
        }

        items.Add(Value(depth).Value);
        Items(depth, ']', items);
        return items;
    }

    /// <summary>"(x)" is x itself; "()", "(x,)" and "(x, y)" are tuples.</summary>
    private Parsed Parentheses(int depth)
    {
        pos++;
        Skip(depth);
        if (Peek() == ')')
        {
            pos++;
            return new(new PythonTuple([]), false);
        }

        var first = Value(depth);
        Skip(depth);
        if (Peek() == ')')
        {
            pos++;
            return first;
        }

        var items = new List<object?> { first.Value };
        Items(depth, ')', items);
        return new(new PythonTuple(items), false);
    }

    /// <summary>After the first item: (',' item)* [','] close.</summary>
    private void Items(int depth, char close, List<object?> items)
    {
        while (true)
        {
            Skip(depth);
            char c = Peek();
            if (c == close)
            {
                pos++;
                return;
            }

            if (c != ',')
            {
                throw Error($"expected ',' or '{close}'");
            }

            pos++;
            Skip(depth);
            if (Peek() == close)
            {
                pos++;
                return;
            }

            items.Add(Value(depth).Value);
        }
    }

    /// <summary>One or more adjacent string literals, joined (all str or all bytes).</summary>
    private object Strings(int depth, string prefix = "")
    {
        var (first, isBytes) = StringLiteral(prefix);
        var joined = new StringBuilder(first);
        while (true)
        {
            int save = pos;
            Skip(depth);
            string nextPrefix = "";
            int start = pos;
            while (char.IsAsciiLetter(Peek()))
            {
                pos++;
            }

            nextPrefix = text[start..pos];
            if (Peek() is not ('\'' or '"') || !IsStringPrefix(nextPrefix))
            {
                pos = save;
                break;
            }

            var (more, moreBytes) = StringLiteral(nextPrefix);
            if (moreBytes != isBytes)
            {
                throw Error("cannot join bytes and str literals");
            }

            joined.Append(more);
        }

        return isBytes ? Encoding.Latin1.GetBytes(joined.ToString()) : joined.ToString();
    }

    private static bool IsStringPrefix(string prefix) =>
        prefix.ToLowerInvariant() is "" or "r" or "u" or "b" or "br" or "rb";

    private (string Value, bool IsBytes) StringLiteral(string prefix)
    {
        string lower = prefix.ToLowerInvariant();
        if (!IsStringPrefix(prefix))
        {
            throw Error($"'{prefix}' strings are not literals");
        }

        bool raw = lower.Contains('r', StringComparison.Ordinal), isBytes = lower.Contains('b', StringComparison.Ordinal);
        char quote = text[pos];
        bool triple = pos + 2 < text.Length && text[pos + 1] == quote && text[pos + 2] == quote;
        pos += triple ? 3 : 1;
        var value = new StringBuilder();
        while (true)
        {
            if (pos >= text.Length)
            {
                throw Error("unterminated string");
            }

            char c = text[pos];
            if (c == quote && (!triple || (pos + 2 < text.Length && text[pos + 1] == quote && text[pos + 2] == quote)))
            {
                pos += triple ? 3 : 1;
                return (value.ToString(), isBytes);
            }

            if (!triple && c is '\n' or '\r')
            {
                throw Error("unterminated string (a newline inside quotes)");
            }

            if (isBytes && c > 127)
            {
                throw Error("bytes can only contain ASCII characters");
            }

            if (c != '\\')
            {
                value.Append(c);
                pos++;
                continue;
            }

            if (pos + 1 >= text.Length)
            {
                throw Error("unterminated string");
            }

            if (raw)
            {
                // In a raw string a backslash keeps the next character (even a quote) and itself.
                value.Append(c).Append(text[pos + 1]);
                pos += 2;
                continue;
            }

            pos++;
            Escape(value, isBytes);
        }
    }

    private void Escape(StringBuilder value, bool isBytes)
    {
        char e = text[pos++];
        switch (e)
        {
            case '\n':
                return;
            case '\r':
                if (Peek() == '\n')
                {
                    pos++;
                }

                return;
            case '\\' or '\'' or '"':
                value.Append(e);
                return;
            case 'a': value.Append('\a'); return;
            case 'b': value.Append('\b'); return;
            case 'f': value.Append('\f'); return;
            case 'n': value.Append('\n'); return;
            case 'r': value.Append('\r'); return;
            case 't': value.Append('\t'); return;
            case 'v': value.Append('\v'); return;
            case >= '0' and <= '7':
                int octal = e - '0';
                for (int i = 0; i < 2 && Peek() is >= '0' and <= '7'; i++)
                {
                    octal = (octal * 8) + (text[pos++] - '0');
                }

                value.Append((char)octal);
                return;
            case 'x':
                value.Append((char)Hex(2));
                return;
            case 'u' when !isBytes:
                value.Append((char)Hex(4));
                return;
            case 'U' when !isBytes:
                int code = Hex(8);
                value.Append(code is >= 0xD800 and <= 0xDFFF ? ((char)code).ToString() : char.ConvertFromUtf32(code));
                return;
            case 'N' when !isBytes:
                value.Append(NamedCharacter());
                return;
            default:
                // Python keeps an unknown escape as it is (with a warning).
                value.Append('\\').Append(e);
                return;
        }
    }

    /// <summary>The character of a <c>\N{NAME}</c> escape, <c>pos</c> just after the N.</summary>
    private char NamedCharacter()
    {
        int close = Peek() == '{' ? text.IndexOf('}', pos) : -1;
        if (close <= pos + 1)
        {
            throw Error("malformed \\N{...} escape");
        }

        string name = text[(pos + 1)..close];
        if (!AsciiCharacterNames.TryFind(name, out char c))
        {
            throw Error($"the escape \\N{{{string.Concat(name.Select(Printable))}}} is not supported (only names of ASCII characters are read)");
        }

        pos = close + 1;
        return c;
    }

    private int Hex(int digits)
    {
        if (pos + digits > text.Length || text.AsSpan(pos, digits).ContainsAnyExcept("0123456789abcdefABCDEF"))
        {
            throw Error($"a \\x, \\u or \\U escape needs {digits} hex digits");
        }

        long v = long.Parse(text.AsSpan(pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        pos += digits;
        return v <= 0x10FFFF ? (int)v : throw Error("an escape beyond U+10FFFF");
    }

    private object Number()
    {
        var f = FloatLiteral().Match(text, pos);
        var i = IntLiteral().Match(text, pos);
        object value;
        if (f.Success && f.Length >= (i.Success ? i.Length : 0))
        {
            string s = f.Value.Replace("_", "", StringComparison.Ordinal);
            pos += f.Length;
            value = s[^1] is 'j' or 'J'
                ? new Complex(0, double.Parse(s[..^1], NumberStyles.Float, CultureInfo.InvariantCulture))
                : double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        else if (i.Success)
        {
            string s = i.Value.Replace("_", "", StringComparison.Ordinal);
            pos += i.Length;
            value = s.Length > 1 && s[0] == '0' && char.IsAsciiLetter(s[1]) ? Based(s[2..], char.ToLowerInvariant(s[1])) : BigInteger.Parse(s, CultureInfo.InvariantCulture);
            if (longSuffix && Peek() == 'L')
            {
                pos++;
            }
        }
        else
        {
            throw Error("invalid number");
        }

        if (char.IsAsciiLetterOrDigit(Peek()) || Peek() == '_' || Peek() == '.')
        {
            throw Error("invalid number literal");
        }

        return value;
    }

    private static BigInteger Based(string digits, char kind)
    {
        int radix = kind switch { 'x' => 16, 'o' => 8, _ => 2 };
        var value = BigInteger.Zero;
        foreach (char d in digits)
        {
            value = (value * radix) + Convert.ToInt32(d.ToString(), 16);
        }

        return value;
    }

    private object? Word(int depth)
    {
        int start = pos;
        while (char.IsAsciiLetterOrDigit(Peek()) || Peek() == '_')
        {
            pos++;
        }

        string word = text[start..pos];
        if (Peek() is '\'' or '"')
        {
            return Strings(depth, word);
        }

        return word switch
        {
            "True" => true,
            "False" => false,
            "None" => null,
            _ => throw Error($"unexpected name '{word}'"),
        };
    }

    private void Expect(char c, int depth)
    {
        Skip(depth);
        if (Peek() != c)
        {
            throw Error($"expected '{c}'");
        }

        pos++;
    }

    private char Peek() => pos < text.Length ? text[pos] : '\0';

    /// <summary>
    /// Whitespace between tokens: spaces, tabs, form feeds, comments and backslash continuations everywhere;
    /// newlines only inside brackets (<paramref name="depth"/> &gt; 0), as Python's tokenizer.
    /// </summary>
    private void Skip(int depth)
    {
        while (pos < text.Length)
        {
            char c = text[pos];
            if (c is ' ' or '\t' or '\f' || (depth > 0 && c is '\n' or '\r'))
            {
                pos++;
            }
            else if (c == '#')
            {
                while (pos < text.Length && text[pos] is not ('\n' or '\r'))
                {
                    pos++;
                }
            }
            else if (c == '\\' && pos + 1 < text.Length && text[pos + 1] is '\n' or '\r')
            {
                pos += text[pos + 1] == '\r' && pos + 2 < text.Length && text[pos + 2] == '\n' ? 3 : 2;
            }
            else
            {
                return;
            }
        }
    }

    /// <summary>
    /// Before the value: literal_eval strips spaces and tabs; then blank or comment-only lines may come, but the
    /// line holding the value must not be indented (Python: "unexpected indent").
    /// </summary>
    private void SkipLeading()
    {
        while (Peek() is ' ' or '\t')
        {
            pos++;
        }

        bool firstLine = true;
        while (true)
        {
            int indent = 0;
            while (Peek() is ' ' or '\t' or '\f')
            {
                indent = Peek() == '\f' ? 0 : indent + 1;
                pos++;
            }

            Skip(0);
            if (Peek() is '\n' or '\r')
            {
                pos += Peek() == '\r' && pos + 1 < text.Length && text[pos + 1] == '\n' ? 2 : 1;
                firstLine = false;
                continue;
            }

            if (!firstLine && indent > 0 && pos < text.Length)
            {
                throw Error("unexpected indent");
            }

            return;
        }
    }

    /// <summary>After the value: whitespace, comments, continuations and newlines (NumPy pads with spaces and "\n").</summary>
    private void SkipTrailing()
    {
        while (true)
        {
            Skip(0);
            if (Peek() is not ('\n' or '\r'))
            {
                return;
            }

            pos++;
        }
    }

    private static string Printable(char c) => c is >= ' ' and < (char)127 ? c.ToString() : $"\\x{(int)c:x2}";

    private FormatException Error(string problem) => new($"{problem} at character {pos}");
}

/// <summary>A Python tuple (a list is <see cref="List{T}"/>).</summary>
internal sealed record PythonTuple(IReadOnlyList<object?> Items);

/// <summary>A Python set.</summary>
internal sealed record PythonSet(IReadOnlyList<object?> Items);
