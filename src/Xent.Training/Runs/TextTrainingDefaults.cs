using Xent.Training.Data;

namespace Xent.Training.Runs;

/// <summary>
/// The defaults of a run on a text file (<c>xent train --text FILE</c>), where <see cref="TrainingDefaults"/> (tuned
/// on the built-in Markov corpus) do not fit: a text is small against what a model can memorise, so the run is
/// regularised (dropout, weight decay), uses a gentler learning rate, trains for a wall-clock budget rather than
/// a step count, and takes its tokens and width from the text's size. Chosen by measurement on real texts
/// (docs/training.md, "Training on a text file").
/// </summary>
public static class TextTrainingDefaults
{
    /// <summary>Wall-clock budget of training (evaluations and checkpoints included), within 3 minutes on 2 cores.</summary>
    public static readonly TimeSpan TimeBudget = TimeSpan.FromSeconds(150);

    /// <summary>Peak learning rate: 2e-2 (the Markov default) leaves the loss near the unigram's on text; 3e-3 does not.</summary>
    public const double LearningRate = 3e-3;

    /// <summary>AdamW's decoupled weight decay (matrices and embeddings only).</summary>
    public const double WeightDecay = 0.1;

    /// <summary>Model width (D): at equal time D 128 ends lower than D 64 on every text measured.</summary>
    public const int Dim = 128;

    /// <summary>
    /// Texts of at least this many bytes get a byte-pair encoding learned on their training split; shorter ones are
    /// read as bytes: on 63 KB a learned encoding left so few training tokens that the network memorised them within
    /// a few hundred steps, while on 128 KB it ended below the byte model.
    /// </summary>
    public const long BpeMinBytes = 100_000;

    /// <summary>Texts of at least this many bytes get the larger vocabulary and the lighter dropout.</summary>
    public const long LongTextBytes = 500_000;

    /// <summary>
    /// V of the learned encoding of a long text: 2048 rather than 1024 brought the network from 6.2% to 3.3% above the
    /// baseline on 706 KB of Perl documentation at equal steps (4.0% at the steps of equal time; a step costs about
    /// 1.25x), and to 2.017 from 2.066 bits/byte on the whole validation text (docs/training.md).
    /// </summary>
    public const int LongTextVocabSize = 2048;

    /// <summary>V of the learned encoding of a text under <see cref="LongTextBytes"/> (measured on 128 KB).</summary>
    public const int ShortTextVocabSize = 512;

    /// <summary>Dropout of the embedding and residual branches on a text under <see cref="LongTextBytes"/>.</summary>
    public const float ShortTextDropout = 0.2f;

    /// <summary>Dropout on a long text, where the network sees each token fewer times.</summary>
    public const float LongTextDropout = 0.1f;

    /// <summary>
    /// BPE-dropout of a learned encoding of a text under <see cref="LongTextBytes"/>: the training windows are drawn
    /// from the deterministic encoding and <see cref="TokenDataset.BpeDropoutSegmentations"/> stochastic ones
    /// (docs/training.md, third round): at 4 500 steps, about what 2m30s buys on a quiet 2-core machine, it ended
    /// 1.7 to 4.5% below the defaults without it on two GNU manuals of 137 and 213 KB and on 183 KB of this
    /// repository's docs.
    /// </summary>
    public const double ShortTextBpeDropout = 0.1;

    /// <summary>The BPE-dropout for a text of <paramref name="textBytes"/> bytes (used when its tokenizer is bpe).</summary>
    /// <param name="textBytes">Size of the text file.</param>
    public static double BpeDropout(long textBytes) => textBytes >= LongTextBytes ? 0 : ShortTextBpeDropout;

    /// <summary>Steps between validation measurements and checkpoints (their time is inside the budget).</summary>
    public const int EvalEvery = 200;

    /// <summary>The tokenizer of a text of <paramref name="textBytes"/> bytes.</summary>
    /// <param name="textBytes">Size of the text file.</param>
    public static TokenizerKind Tokenizer(long textBytes) => textBytes >= BpeMinBytes ? TokenizerKind.Bpe : TokenizerKind.Bytes;

    /// <summary>V of the encoding learned on a text of <paramref name="textBytes"/> bytes.</summary>
    /// <param name="textBytes">Size of the text file.</param>
    public static int VocabSize(long textBytes) => textBytes >= LongTextBytes ? LongTextVocabSize : ShortTextVocabSize;

    /// <summary>The dropout for a text of <paramref name="textBytes"/> bytes.</summary>
    /// <param name="textBytes">Size of the text file.</param>
    public static float Dropout(long textBytes) => textBytes >= LongTextBytes ? LongTextDropout : ShortTextDropout;
}
