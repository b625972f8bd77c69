using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xent.Training.Data;

namespace Xent.Benchmarks;

/// <summary>
/// Peak memory and time of learning a BPE (<see cref="BpeTokenizer.Learn(string, int)"/>) on a text of one shape, in a process of
/// its own: peak RSS (VmHWM, reset through /proc/self/clear_refs once the text exists) minus the RSS then, so the text
/// itself is not counted, per UTF-8 byte of the text; and a hash of the merges, so that two builds can be checked to
/// learn the same ones. The text is written straight into its string, leaving no copy behind to be reused.
/// Shapes: prose (Zipf-distributed made-up words in sentences and paragraphs), line (letters only: one piece, as a
/// line without white space is), random (random chars U+0000..U+00FF: short pieces, nearly all distinct), or
/// file:PATH (a UTF-8 file, repeated up to the size).
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- bpe-memory prose|line|random|file:PATH [MB [V]]
/// (MB: millions of chars, default 20; V: the vocabulary, default 2048 as xent train's for 500 000 bytes or more).
/// </summary>
internal static class BpeLearnMemory
{
    public static void Run(string[] args)
    {
        string shape = args.Length > 0 ? args[0] : "prose";
        int chars = (int)((args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 20) * 1e6);
        int vocab = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2048;
        _ = BpeTokenizer.Learn(Text(shape, 20_000), 300); // JIT the learner on a small text first
        string text = Text(shape, chars);
        long bytes = Encoding.UTF8.GetByteCount(text);
        GC.Collect(2, GCCollectionMode.Aggressive, true, true);
        File.WriteAllText("/proc/self/clear_refs", "5");
        long rss0 = LinearCrossEntropyMemory.Status("VmRSS");
        long allocated0 = GC.GetTotalAllocatedBytes(true);
        int collections0 = GC.CollectionCount(2);
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var bpe = BpeTokenizer.Learn(text, vocab);
        double seconds = sw.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        long peak = LinearCrossEntropyMemory.Status("VmHWM");
        double allocated = GC.GetTotalAllocatedBytes(true) - allocated0;
        int collections = GC.CollectionCount(2) - collections0;
        GC.KeepAlive(text);
        ulong hash = 14695981039346656037;
        foreach (var (left, right) in bpe.Merges)
        {
            hash = (hash ^ (uint)left) * 1099511628211;
            hash = (hash ^ (uint)right) * 1099511628211;
        }

        double extra = (peak - rss0) * 1024.0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{shape} {text.Length / 1e6:F1} M chars, {bytes / 1e6:F1} MB UTF-8, V={vocab}: {seconds:F2} s ({cpu:F2} CPU-s), peak RSS +{extra / 1e6:F0} MB = {extra / bytes:F2} bytes per text byte (the text's string: {2.0 * text.Length / bytes:F2} more), {allocated / bytes:F1} bytes allocated per byte in {collections} full collections, {bpe.Merges.Count} merges, hash {hash:x16}"));
    }

    private static string Text(string shape, int chars)
    {
        if (shape.StartsWith("file:", StringComparison.Ordinal))
        {
            string file = File.ReadAllText(shape["file:".Length..]);
            return string.Create(chars, file, (span, f) =>
            {
                for (int at = 0; at < span.Length; at += f.Length)
                {
                    f.AsSpan(0, Math.Min(f.Length, span.Length - at)).CopyTo(span[at..]);
                }
            });
        }

        var random = new Random(1);
        return shape switch
        {
            "prose" => string.Create(chars, Words(random), (span, words) => Prose(span, words, random)),
            "line" => string.Create(chars, Words(random), (span, words) => Prose(span, words, random, lettersOnly: true)),
            "random" => string.Create(chars, random, (span, r) =>
            {
                for (int i = 0; i < span.Length; i++)
                {
                    span[i] = (char)r.Next(256);
                }
            }),
            _ => throw new ArgumentException($"Unknown shape '{shape}': prose, line, random or file:PATH."),
        };
    }

    // 50 000 made-up words of one to four syllables; Zipf's law then makes a few thousand of them most of the text.
    private static string[] Words(Random random)
    {
        string[] onsets = ["", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "th", "w", "st", "ch", "sh", "tr"];
        string[] vowels = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "ee", "y"];
        string[] codas = ["", "", "n", "r", "s", "t", "l", "nd", "ng", "ck", "st", "rt"];
        return [.. Enumerable.Range(0, 50_000).Select(_ =>
        {
            var word = new StringBuilder();
            for (int s = 1 + (random.Next(10) / 4); s > 0; s--)
            {
                word.Append(onsets[random.Next(onsets.Length)]).Append(vowels[random.Next(vowels.Length)]).Append(codas[random.Next(codas.Length)]);
            }

            return word.ToString();
        })];
    }

    private static void Prose(Span<char> span, string[] words, Random random, bool lettersOnly = false)
    {
        int at = 0, inSentence = 0;
        while (at < span.Length)
        {
            // Rank r drawn with probability about 1 / r.
            string word = words[(int)Math.Exp(random.NextDouble() * Math.Log(words.Length)) - 1];
            for (int i = 0; i < word.Length && at < span.Length; i++)
            {
                span[at++] = inSentence == 0 && i == 0 ? char.ToUpperInvariant(word[i]) : word[i];
            }

            if (lettersOnly || at >= span.Length)
            {
                inSentence = 1;
                continue;
            }

            inSentence = random.Next(12) == 0 ? 0 : inSentence + 1;
            string after = inSentence == 0 ? (random.Next(8) == 0 ? ".\n" : ". ") : random.Next(10) == 0 ? ", " : " ";
            for (int i = 0; i < after.Length && at < span.Length; i++)
            {
                span[at++] = after[i];
            }
        }
    }
}
