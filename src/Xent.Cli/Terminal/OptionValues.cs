using System.Collections.Frozen;
using System.Reflection;
using Spectre.Console.Cli;

namespace Xent.Cli.Terminal;

/// <summary>
/// Spectre.Console.Cli reads any word that starts with '-' and a non-digit as short options, so the value of
/// <c>--logits -Infinity,1</c> or <c>--prompt -x</c> was refused ("Short option does not have a valid name") though
/// it can only be that option's value: no xent verb has a short option but Spectre's own -h, -? and -v. Such a word
/// right after a long option that takes a value is joined to it, <c>--logits=-Infinity,1</c>, which Spectre reads
/// as that option's value.
/// </summary>
internal static class OptionValues
{
    private static readonly FrozenSet<string> BuiltIn = FrozenSet.Create(StringComparer.Ordinal, "-h", "-?", "-v");

    /// <summary>Long names (without "--") of the options that take a value in every verb that has them.</summary>
    private static readonly FrozenSet<string> TakingValues = Collect();

    /// <summary>The command line with each "--option -value" pair of a value-taking option written "--option=-value".</summary>
    public static string[] Join(IEnumerable<string> args)
    {
        var list = args.ToList();
        var joined = new List<string>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            string word = list[i];
            if (word == "--")
            {
                // Everything after "--" is an argument, as the user wrote it.
                joined.AddRange(list.Skip(i));
                break;
            }

            if (i + 1 < list.Count && IsValueOption(word) && IsDashValue(list[i + 1]))
            {
                joined.Add(word + "=" + list[i + 1]);
                i++;
                continue;
            }

            joined.Add(word);
        }

        return [.. joined];
    }

    private static bool IsValueOption(string word) =>
        word.StartsWith("--", StringComparison.Ordinal) && !word.Contains('=', StringComparison.Ordinal) && TakingValues.Contains(word[2..]);

    private static bool IsDashValue(string word) =>
        word.Length >= 2 && word[0] == '-' && word[1] != '-' && !BuiltIn.Contains(word);

    // A name that is a flag in one verb and takes a value in another is left out: joining could then turn a flag
    // and the next word into one wrong option.
    private static FrozenSet<string> Collect()
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        var settings = typeof(OptionValues).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(CommandSettings)));
        foreach (var property in settings.SelectMany(t => t.GetProperties()))
        {
            if (property.GetCustomAttribute<CommandOptionAttribute>() is not { } option)
            {
                continue;
            }

            bool takesValue = option.ValueName is not null && !option.ValueIsOptional;
            (takesValue ? values : flags).UnionWith(option.LongNames);
        }

        values.ExceptWith(flags);
        return values.ToFrozenSet(StringComparer.Ordinal);
    }
}
