using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Xent.Training.Data;

/// <summary>
/// A byte-level byte-pair encoding learned on a text (<see cref="Learn(string, int)"/>): ids 0..255 are the bytes, id 256 + i
/// is merge i, the pair of ids (left, right) joined. Text is first cut into pieces with GPT-2's pattern (a word with
/// its leading space, a number, a run of punctuation, white space), so no token spans two words; each piece's
/// UTF-8 bytes are then merged in the order the merges were learned. Every text can be encoded (unseen pieces fall
/// back to shorter tokens, at worst bytes), and decoding gives the bytes back exactly. One tokenizer may encode and
/// decode on several threads at once.
/// </summary>
public sealed partial class BpeTokenizer : ITokenizer
{
    /// <summary>The most pieces <see cref="Encode(string)"/> keeps the ids of.</summary>
    internal const int MaxCachedPieces = 1 << 16;

    /// <summary>The longest piece, in chars, whose ids <see cref="Encode(string)"/> keeps.</summary>
    internal const int MaxCachedPieceLength = 64;

    private readonly (int Left, int Right)[] merges;
    private readonly Dictionary<long, int> rank = new(PairKeyComparer.Instance);
    private readonly byte[][] bytesOf;

    // Pieces already encoded, filled by Encode: concurrent, as one tokenizer may encode on several threads at once (a
    // plain Dictionary there threw or returned another piece's ids); looking up takes no lock. Bounded, as entries
    // live as long as the tokenizer (unbounded, every distinct piece of a 100 MB text stayed, a 200 000-char run of
    // spaces as a key): at most MaxCachedPieces pieces of at most MaxCachedPieceLength chars. Which ones is decided by
    // a CLOCK (second chance) over the slots in `clock`: a full cache gives the slot of the first piece the hand finds
    // unused since it last passed to the new one. Keeping the first pieces met instead left a text whose first part
    // had many rare words with no room for its frequent later ones, which were merged again at every use.
    private readonly ConcurrentDictionary<string, CachedPiece> cache = new(StringComparer.Ordinal);
    private readonly List<CachedPiece> clock = [];
    private readonly Lock keeping = new();
    private int hand;
    private long cacheHits;

    /// <summary>A tokenizer of the given merges (from <see cref="Learn(string, int)"/> or a checkpoint).</summary>
    /// <param name="merges">Merge i joins (Left, Right) into id 256 + i; both ids below 256 + i.</param>
    public BpeTokenizer(IReadOnlyList<(int Left, int Right)> merges)
    {
        ArgumentNullException.ThrowIfNull(merges);
        this.merges = [.. merges];
        bytesOf = new byte[256 + this.merges.Length][];
        for (int b = 0; b < 256; b++)
        {
            bytesOf[b] = [(byte)b];
        }

        for (int i = 0; i < this.merges.Length; i++)
        {
            var (left, right) = this.merges[i];
            int id = 256 + i;
            if ((uint)left >= (uint)id || (uint)right >= (uint)id)
            {
                throw new ArgumentException($"Merge {i} joins ({left}, {right}): both ids must be in [0, {id}).", nameof(merges));
            }

            if (!rank.TryAdd(Key(left, right), i))
            {
                throw new ArgumentException($"Merge {i} repeats the pair ({left}, {right}).", nameof(merges));
            }

            bytesOf[id] = [.. bytesOf[left], .. bytesOf[right]];
        }
    }

    /// <summary>The merges as checkpoints store them: "LEFT RIGHT" each, in order.</summary>
    public string[] MergeNames() =>
        [.. merges.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Left} {m.Right}"))];

    /// <summary>
    /// The tokenizer of merges stored as <see cref="MergeNames"/> gives them; a <see cref="TrainingInputException"/>
    /// naming <paramref name="source"/> when one is malformed.
    /// </summary>
    /// <param name="names">"LEFT RIGHT" per merge.</param>
    /// <param name="source">Where the merges come from, for messages.</param>
    public static BpeTokenizer FromMergeNames(IReadOnlyList<string> names, string source)
    {
        ArgumentNullException.ThrowIfNull(names);
        var merges = new (int, int)[names.Count];
        for (int i = 0; i < merges.Length; i++)
        {
            string[] parts = (names[i] ?? string.Empty).Split(' ');
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int left)
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int right))
            {
                throw new TrainingInputException($"{source}: bpe merge {i} is '{names[i]}'; expected two token ids \"LEFT RIGHT\".");
            }

            merges[i] = (left, right);
        }

        try
        {
            return new BpeTokenizer(merges);
        }
        catch (ArgumentException e)
        {
            throw new TrainingInputException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>The merges, in the order they apply.</summary>
    public IReadOnlyList<(int Left, int Right)> Merges => merges;

    /// <inheritdoc/>
    public TokenizerKind Kind => TokenizerKind.Bpe;

    /// <summary>256 bytes plus one id per merge.</summary>
    public int VocabSize => 256 + merges.Length;

    /// <summary>
    /// Learns up to <paramref name="vocabSize"/> - 256 merges on <paramref name="text"/>: each time, the most frequent
    /// adjacent pair of ids inside a piece (ties: the smallest pair) becomes a new id, until the vocabulary is full or
    /// no pair occurs twice. Deterministic: the same text gives the same merges.
    /// </summary>
    /// <param name="text">The training text.</param>
    /// <param name="vocabSize">V &gt;= 256.</param>
    public static BpeTokenizer Learn(string text, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Learn(text, text.Length, vocabSize);
    }

    /// <summary>
    /// <see cref="Learn(string, int)"/> on <paramref name="text"/>[..<paramref name="length"/>], without a copy of it;
    /// <paramref name="length"/> must not cut a surrogate pair.
    /// </summary>
    /// <param name="text">The text.</param>
    /// <param name="length">How many of its chars to learn on.</param>
    /// <param name="vocabSize">V &gt;= 256.</param>
    internal static BpeTokenizer Learn(string text, int length, int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 256);
        return new BpeTokenizer(BpePieces.Learner(text, length, vocabSize - 256).Learn(vocabSize - 256));
    }

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length);
        BpeMerger? merger = null;
        long hits = 0;
        foreach (ValueMatch m in Pieces().EnumerateMatches(PairsAsTheirClass(text)))
        {
            string piece = text.Substring(m.Index, m.Length);
            int[] encoded;
            if (cache.TryGetValue(piece, out var kept))
            {
                // Written only when it changes: a store into a shared line on every hit would slow other threads' hits.
                if (!kept.Used)
                {
                    kept.Used = true;
                }

                encoded = kept.Ids;
                hits++;
            }
            else
            {
                merger ??= Merger();
                encoded = merger.Encode(Encoding.UTF8.GetBytes(piece));
                if (piece.Length <= MaxCachedPieceLength)
                {
                    Keep(piece, encoded);
                }
            }

            ids.AddRange(encoded);
        }

        Interlocked.Add(ref cacheHits, hits);
        return [.. ids];
    }

    // The new piece takes a free slot, or the first one the hand finds unused since its last pass (clearing the marks
    // it passes); after a whole turn of marks set again by other threads meanwhile, the one it is at.
    private void Keep(string piece, int[] ids)
    {
        lock (keeping)
        {
            // Another thread may have kept it since it was looked up: its ids are the same.
            if (cache.ContainsKey(piece))
            {
                return;
            }

            var added = new CachedPiece(piece, ids);
            if (clock.Count < MaxCachedPieces)
            {
                clock.Add(added);
            }
            else
            {
                for (int passed = 0; clock[hand].Used && passed < MaxCachedPieces; passed++)
                {
                    clock[hand].Used = false;
                    hand = (hand + 1) % MaxCachedPieces;
                }

                cache.TryRemove(clock[hand].Piece, out _);
                clock[hand] = added;
                hand = (hand + 1) % MaxCachedPieces;
            }

            cache[piece] = added;
        }
    }

    /// <summary>A kept piece and its ids; <see cref="Used"/> when found since the clock's hand last passed it.</summary>
    private sealed class CachedPiece(string piece, int[] ids)
    {
        public string Piece { get; } = piece;

        public int[] Ids { get; } = ids;

        public bool Used { get; set; }
    }

    /// <summary>
    /// A stochastic segmentation (BPE-dropout, Provilkov et al. 2020): each merge the deterministic encoding would
    /// apply is skipped with probability <paramref name="dropout"/> at each of its steps, so words come out in
    /// smaller, varying pieces. The same text, dropout and seed give the same ids.
    /// </summary>
    /// <param name="text">The text.</param>
    /// <param name="dropout">Probability of skipping a merge, in [0, 1).</param>
    /// <param name="seed">Seed of the skipped merges.</param>
    public int[] Encode(string text, double dropout, long seed)
    {
        ArgumentNullException.ThrowIfNull(text);

        // Not two checks: a NaN is neither negative nor >= 1 (unless its sign bit is set), and skipped every merge.
        if (!(dropout >= 0 && dropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "The dropout must be in [0, 1).");
        }

        if (dropout == 0)
        {
            return Encode(text);
        }

        var rng = SplitMix64.For(seed, 0x42504544, 0);
        var ids = new List<int>(text.Length);
        var merger = Merger();
        foreach (ValueMatch m in Pieces().EnumerateMatches(PairsAsTheirClass(text)))
        {
            ids.AddRange(merger.Encode(Encoding.UTF8.GetBytes(text.Substring(m.Index, m.Length)), dropout, ref rng));
        }

        return [.. ids];
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids) => Encoding.UTF8.GetString(Bytes(ids));

    /// <inheritdoc/>
    public long ByteCount(ReadOnlySpan<int> ids)
    {
        long total = 0;
        foreach (int id in ids)
        {
            total += BytesOf(id).Length;
        }

        return total;
    }

    /// <summary>The bytes the ids stand for, concatenated.</summary>
    /// <param name="ids">N ids in [0, V).</param>
    public byte[] Bytes(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (int id in ids)
        {
            bytes.AddRange(BytesOf(id));
        }

        return [.. bytes];
    }

    private byte[] BytesOf(int id) => (uint)id < (uint)bytesOf.Length
        ? bytesOf[id]
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token ids must be in [0, {VocabSize}).");

    /// <summary>How many pieces' ids <see cref="Encode(string)"/> keeps now.</summary>
    internal int CachedPieces => cache.Count;

    /// <summary>How many pieces <see cref="Encode(string)"/> has found kept, over the tokenizer's life.</summary>
    internal long CacheHits => Interlocked.Read(ref cacheHits);

    /// <summary>A merger of this tokenizer's merges, for one thread.</summary>
    internal BpeMerger Merger() => new(rank);

    internal static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>
    /// <paramref name="text"/> with each character outside the BMP (a surrogate pair) written as two BMP characters
    /// of its class (letter, number or other): the text itself when it has none. .NET's Regex reads UTF-16 chars, and
    /// neither half of a pair is a letter or number, so on the text itself GPT-2's pattern (which Python's regex runs
    /// over code points) cut "𝐀's" into "𝐀'" and "s" instead of "𝐀" and "'s", and "𝟎'd" likewise. The copy has the
    /// same length, its pieces are the text's under GPT-2's pattern, and no piece ends inside a pair (no white space
    /// lies outside the BMP, and "'a", "'0" or "'!" begins no contraction).
    /// </summary>
    /// <param name="text">The text to cut into pieces.</param>
    internal static string PairsAsTheirClass(string text)
    {
        int first = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (first < 0)
        {
            return text;
        }

        char[] chars = text.ToCharArray();
        for (int i = first; i + 1 < chars.Length; i++)
        {
            if (char.IsSurrogatePair(chars[i], chars[i + 1]))
            {
                char same = CharUnicodeInfo.GetUnicodeCategory(text, i) switch
                {
                    <= UnicodeCategory.OtherLetter => 'a',
                    UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => '0',
                    _ => '!',
                };
                chars[i] = chars[i + 1] = same;
                i++;
            }
        }

        return new string(chars);
    }

    // GPT-2's pre-tokenization: contractions, a word or number or punctuation run with its leading space, white space.
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")]
    internal static partial Regex Pieces();
}
