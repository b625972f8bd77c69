namespace Xent.Training.Data;

/// <summary>
/// Train and validation token streams with their tokenizer: the built-in Markov corpus or a UTF-8 text file.
/// </summary>
public sealed class TokenDataset
{
    /// <summary>Seed of the built-in corpus's transition table, fixed so that every run trains on the same source.</summary>
    public const long DefaultCorpusSeed = 20_241_129;

    /// <summary>Share of a text file's tokens held out for validation (the last part of the file).</summary>
    public const double ValidationFraction = 0.1;

    private TokenDataset(ITokenizer tokenizer, int[] train, int[] validation, string source, MarkovChain? chain,
        int[]? trainSamples = null)
    {
        Tokenizer = tokenizer;
        Train = train;
        TrainSamples = trainSamples ?? train;
        Validation = validation;
        Source = source;
        Chain = chain;
    }

    /// <summary>The tokenizer; its <see cref="ITokenizer.VocabSize"/> is the model's V.</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>Training tokens (N_train ids in [0, V)).</summary>
    public int[] Train { get; }

    /// <summary>
    /// The stream training windows are drawn from: <see cref="Train"/>, or with BPE-dropout <see cref="Train"/>
    /// followed by <see cref="BpeDropoutSegmentations"/> stochastic segmentations of the same training text (the
    /// validation tokens and <see cref="Train"/>, which the baseline counts, stay deterministic).
    /// </summary>
    public int[] TrainSamples { get; }

    /// <summary>Probability of skipping a merge in the segmentations of <see cref="TrainSamples"/> (0: none).</summary>
    public double BpeDropout { get; private init; }

    /// <summary>Stochastic segmentations of the training text made with BPE-dropout, each with its own seed.</summary>
    public const int BpeDropoutSegmentations = 8;

    /// <summary>Validation tokens (N_val ids in [0, V)), disjoint from the training tokens.</summary>
    public int[] Validation { get; }

    /// <summary>"markov" for the built-in corpus, otherwise the text file's full path.</summary>
    public string Source { get; }

    /// <summary>The text read (its SHA-256, whether it came from a pipe); null for the built-in corpus.</summary>
    public TextFile? Text { get; private init; }

    /// <summary>The source chain for the built-in corpus; null for a text file.</summary>
    public MarkovChain? Chain { get; }

    /// <summary>The entropy floor in nats per token (the chain's entropy rate); null for a text file.</summary>
    public double? EntropyFloor => Chain?.EntropyRate;

    /// <summary>
    /// The built-in corpus: a random order-2 Markov chain (see <see cref="MarkovChain.Create"/>) sampled into a
    /// training stream and an independent validation stream.
    /// </summary>
    /// <param name="corpusSeed">Seed of the chain and its samples.</param>
    /// <param name="trainTokens">N_train.</param>
    /// <param name="validationTokens">N_val.</param>
    /// <param name="symbols">V.</param>
    public static TokenDataset Markov(long corpusSeed = DefaultCorpusSeed, int trainTokens = 1_000_000,
        int validationTokens = 100_000, int symbols = 32)
    {
        var chain = MarkovChain.Create(corpusSeed, symbols);
        return new TokenDataset(new MarkovTokenizer(symbols), chain.Generate(trainTokens, corpusSeed, 1),
            chain.Generate(validationTokens, corpusSeed, 2), "markov", chain);
    }

    /// <summary>
    /// A UTF-8 text file, tokenized whole, split into the first 90% of tokens for training and the last 10%
    /// for validation. Throws <see cref="TrainingInputException"/> for a missing, empty, non-UTF-8 or too
    /// short file (each split needs at least one window of <paramref name="seq"/> + 1 tokens).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="kind"><see cref="TokenizerKind.Bytes"/> or <see cref="TokenizerKind.Gpt2"/>.</param>
    /// <param name="seq">Window length T the model trains on.</param>
    public static TokenDataset FromTextFile(string path, TokenizerKind kind, int seq) => FromText(TextFile.Read(path), kind, seq);

    /// <summary>A text already read, as <see cref="FromTextFile"/> reads its file.</summary>
    /// <param name="text">The text and the path it was read from.</param>
    /// <param name="kind"><see cref="TokenizerKind.Bytes"/>, <see cref="TokenizerKind.Gpt2"/> or <see cref="TokenizerKind.Bpe"/> (of the default size).</param>
    /// <param name="seq">Window length T the model trains on.</param>
    public static TokenDataset FromText(TextFile text, TokenizerKind kind, int seq) =>
        kind == TokenizerKind.Bpe ? FromTextBpe(text, DefaultBpeVocabSize, seq) : FromTextFixed(text, kind, seq);

    /// <summary>V of a learned encoding when none is given.</summary>
    public const int DefaultBpeVocabSize = 1024;

    /// <summary>
    /// A UTF-8 text file with a byte-pair encoding of <paramref name="vocabSize"/> tokens learned on its training
    /// split: the text is cut at the first white space after 90% of its characters (at 90% when none comes within the
    /// next 5%), the merges are learned on the part before (the validation text never influences them), and each part
    /// is tokenized on its own.
    /// Throws <see cref="TrainingInputException"/> as <see cref="FromTextFile"/> does.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="vocabSize">V of the learned encoding (256 bytes plus merges), &gt;= 256.</param>
    /// <param name="seq">Window length T the model trains on.</param>
    /// <param name="bpeDropout">
    /// BPE-dropout of the training windows in [0, 1): with p &gt; 0 they are drawn from the deterministic encoding
    /// and <see cref="BpeDropoutSegmentations"/> stochastic ones (<see cref="TrainSamples"/>).
    /// </param>
    public static TokenDataset FromTextFileBpe(string path, int vocabSize, int seq, double bpeDropout = 0) =>
        FromTextBpe(TextFile.Read(path), vocabSize, seq, bpeDropout);

    /// <summary>A text already read, as <see cref="FromTextFileBpe(string, int, int, double)"/> reads its file.</summary>
    /// <param name="text">The text and the path it was read from.</param>
    /// <param name="vocabSize">V of the learned encoding (256 bytes plus merges), &gt;= 256.</param>
    /// <param name="seq">Window length T the model trains on.</param>
    /// <param name="bpeDropout">BPE-dropout of the training windows, as in <see cref="FromTextFileBpe(string, int, int, double)"/>.</param>
    public static TokenDataset FromTextBpe(TextFile text, int vocabSize, int seq, double bpeDropout = 0)
    {
        ArgumentNullException.ThrowIfNull(text);
        // The training part is learned on in place: a copy of it held 2 bytes a char more while the merges were learned.
        var tokenizer = BpeTokenizer.Learn(text.Text, TrainingCut(text.Text), vocabSize);
        return Split(text, tokenizer, seq, bpeDropout);
    }

    /// <summary>
    /// A UTF-8 text file split as <see cref="FromTextFileBpe(string, int, int, double)"/> does, in a given learned
    /// encoding (a checkpoint's, when a run is resumed).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="tokenizer">The encoding.</param>
    /// <param name="seq">Window length T the model trains on.</param>
    /// <param name="bpeDropout">BPE-dropout of the training windows, as in <see cref="FromTextFileBpe(string, int, int, double)"/>.</param>
    public static TokenDataset FromTextFileBpe(string path, BpeTokenizer tokenizer, int seq, double bpeDropout = 0) =>
        FromTextBpe(TextFile.Read(path), tokenizer, seq, bpeDropout);

    /// <summary>A text already read, as <see cref="FromTextFileBpe(string, BpeTokenizer, int, double)"/> reads its file.</summary>
    /// <param name="text">The text and the path it was read from.</param>
    /// <param name="tokenizer">The encoding.</param>
    /// <param name="seq">Window length T the model trains on.</param>
    /// <param name="bpeDropout">BPE-dropout of the training windows, as in <see cref="FromTextFileBpe(string, int, int, double)"/>.</param>
    public static TokenDataset FromTextBpe(TextFile text, BpeTokenizer tokenizer, int seq, double bpeDropout = 0)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(tokenizer);
        return Split(text, tokenizer, seq, bpeDropout);
    }

    // Where the training text ends: at the first white space after 90% of the characters (a piece boundary) when it
    // comes within the first half of the last tenth, else at 90% itself (outside a surrogate pair). A text without
    // white space in its last tenth (Chinese or Japanese on one line) had no validation text and was called too
    // short; one that ended in a new line, as most files do, or a short last word, kept just those few characters.
    private static int TrainingCut(string text)
    {
        int at = Math.Min(text.Length, (int)(text.Length * (1 - ValidationFraction)));
        int last = at + ((text.Length - at) / 2);
        int cut = at;
        while (cut <= last && cut < text.Length && !char.IsWhiteSpace(text[cut]))
        {
            cut++;
        }

        if ((cut > last || cut == text.Length) && at > 0 && at < text.Length)
        {
            cut = char.IsLowSurrogate(text[at]) && char.IsHighSurrogate(text[at - 1]) ? at + 1 : at;
        }

        return cut;
    }

    private static TokenDataset Split(TextFile file, BpeTokenizer tokenizer, int seq, double bpeDropout)
    {
        (string path, string text) = (file.Path, file.Text);
        if (!(bpeDropout >= 0 && bpeDropout < 1))
        {
            throw new TrainingInputException($"The BPE dropout is {bpeDropout}; it must be in [0, 1).");
        }

        int cut = TrainingCut(text);
        string trainText = text[..cut];
        int[] train = tokenizer.Encode(trainText);
        int[] validation = tokenizer.Encode(text[cut..]);
        if (train.Length < seq + 1 || validation.Length < seq + 1)
        {
            throw new TrainingInputException(
                $"The text file '{path}' has {train.Length} training and {validation.Length} validation tokens (bpe), too " +
                $"short for training with context length {seq}: each needs at least {seq + 1} tokens. Use a longer text or a smaller --seq.");
        }

        int[]? samples = null;
        if (bpeDropout > 0)
        {
            var all = new List<int>(train.Length * (BpeDropoutSegmentations + 1) * 5 / 4);
            all.AddRange(train);
            for (int k = 1; k <= BpeDropoutSegmentations; k++)
            {
                all.AddRange(tokenizer.Encode(trainText, bpeDropout, k));
            }

            samples = [.. all];
        }

        return new TokenDataset(tokenizer, train, validation, Path.GetFullPath(path), null, samples) { BpeDropout = bpeDropout, Text = file };
    }

    private static TokenDataset FromTextFixed(TextFile text, TokenizerKind kind, int seq)
    {
        string path = text.Path;
        ITokenizer tokenizer = CreateTextTokenizer(kind);
        int[] tokens = tokenizer.Encode(text.Text);
        int validation = Math.Max(seq + 1, (int)(tokens.Length * ValidationFraction));
        int train = tokens.Length - validation;
        if (train < seq + 1)
        {
            throw new TrainingInputException(
                $"The text file '{path}' has {tokens.Length} tokens ({TokenizerNames.Name(kind)}), too short for training with context " +
                $"length {seq}: it needs at least {2 * (seq + 1)} tokens (one window of {seq + 1} for training and one " +
                "for validation). Use a longer text or a smaller --seq.");
        }

        return new TokenDataset(tokenizer, tokens[..train], tokens[train..], Path.GetFullPath(path), null) { Text = text };
    }

    /// <summary>Tokenizes a whole UTF-8 file with clear errors for a missing, empty or non-UTF-8 file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="kind"><see cref="TokenizerKind.Bytes"/> or <see cref="TokenizerKind.Gpt2"/>.</param>
    /// <param name="tokenizer">The tokenizer used.</param>
    public static int[] TokenizeFile(string path, TokenizerKind kind, out ITokenizer tokenizer)
    {
        string text = ReadText(path);
        tokenizer = CreateTextTokenizer(kind);
        return tokenizer.Encode(text);
    }

    /// <summary>The tokenizer for a text file.</summary>
    /// <param name="kind"><see cref="TokenizerKind.Bytes"/> or <see cref="TokenizerKind.Gpt2"/>.</param>
    public static ITokenizer CreateTextTokenizer(TokenizerKind kind) => kind switch
    {
        TokenizerKind.Bytes => ByteTokenizer.Instance,
        TokenizerKind.Gpt2 => Gpt2Tokenizer.Instance,
        _ => throw new TrainingInputException($"Tokenizer '{kind}' is not for text files; use bytes or gpt2."),
    };

    /// <summary>Reads a file as strict UTF-8 (a leading byte-order mark is dropped): <see cref="TextFile.Read"/>'s text.</summary>
    /// <param name="path">The file.</param>
    public static string ReadText(string path) => TextFile.Read(path).Text;
}
