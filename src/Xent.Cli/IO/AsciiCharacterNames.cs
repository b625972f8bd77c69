using System.Collections.Frozen;

namespace Xent.Cli.IO;

/// <summary>
/// The Unicode names (and the usual aliases of the control characters) of the ASCII characters, for Python's
/// <c>\N{NAME}</c> string escape. .NET carries no table of Unicode names; a valid .npy header is ASCII, so its
/// dictionary can only spell ASCII characters this way. Matched case-insensitively, as Python matches them.
/// </summary>
internal static class AsciiCharacterNames
{
    private static readonly string[] Punctuation =
    [
        "SPACE", "EXCLAMATION MARK", "QUOTATION MARK", "NUMBER SIGN", "DOLLAR SIGN", "PERCENT SIGN", "AMPERSAND",
        "APOSTROPHE", "LEFT PARENTHESIS", "RIGHT PARENTHESIS", "ASTERISK", "PLUS SIGN", "COMMA", "HYPHEN-MINUS",
        "FULL STOP", "SOLIDUS",
    ];

    private static readonly string[] Digits = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"];

    private static readonly string[] Between =
    [
        "COLON", "SEMICOLON", "LESS-THAN SIGN", "EQUALS SIGN", "GREATER-THAN SIGN", "QUESTION MARK", "COMMERCIAL AT",
    ];

    private static readonly string[] Brackets =
    [
        "LEFT SQUARE BRACKET", "REVERSE SOLIDUS", "RIGHT SQUARE BRACKET", "CIRCUMFLEX ACCENT", "LOW LINE", "GRAVE ACCENT",
    ];

    private static readonly string[] Braces = ["LEFT CURLY BRACKET", "VERTICAL LINE", "RIGHT CURLY BRACKET", "TILDE"];

    private static readonly FrozenDictionary<string, char> ByName = Build();

    /// <summary>The character named <paramref name="name"/>; false when it names no ASCII character.</summary>
    public static bool TryFind(string name, out char c) => ByName.TryGetValue(name, out c);

    private static FrozenDictionary<string, char> Build()
    {
        var names = new Dictionary<string, char>(StringComparer.OrdinalIgnoreCase)
        {
            ["NULL"] = '\0',
            ["ALERT"] = '\a',
            ["BACKSPACE"] = '\b',
            ["CHARACTER TABULATION"] = '\t',
            ["LINE FEED"] = '\n',
            ["LINE TABULATION"] = '\v',
            ["FORM FEED"] = '\f',
            ["CARRIAGE RETURN"] = '\r',
            ["ESCAPE"] = '\x1B',
            ["DELETE"] = '\x7F',
        };
        Add(names, Punctuation, ' ');
        for (int i = 0; i < Digits.Length; i++)
        {
            names["DIGIT " + Digits[i]] = (char)('0' + i);
        }

        Add(names, Between, ':');
        for (char c = 'A'; c <= 'Z'; c++)
        {
            names["LATIN CAPITAL LETTER " + c] = c;
            names["LATIN SMALL LETTER " + c] = char.ToLowerInvariant(c);
        }

        Add(names, Brackets, '[');
        Add(names, Braces, '{');
        return names.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    private static void Add(Dictionary<string, char> names, string[] run, char first)
    {
        for (int i = 0; i < run.Length; i++)
        {
            names[run[i]] = (char)(first + i);
        }
    }
}
