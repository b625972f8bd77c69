namespace Xent.Training.Runs;

/// <summary>
/// The defaults of a run on a text file (<c>xent train --text FILE</c>), where <see cref="TrainingDefaults"/> (tuned
/// on the built-in Markov corpus) do not fit: a text is small against what a model can memorise, so the run is
/// regularised (dropout, weight decay), uses a gentler learning rate, and trains for a wall-clock budget rather than
/// a step count. Chosen by measurement on real texts (docs/training.md, "Training on a text file").
/// </summary>
public static class TextTrainingDefaults
{
    /// <summary>Wall-clock budget of training (evaluations and checkpoints included), within 3 minutes on 2 cores.</summary>
    public static readonly TimeSpan TimeBudget = TimeSpan.FromSeconds(150);

    /// <summary>Peak learning rate: 2e-2 (the Markov default) leaves the loss near the unigram's on text; 3e-3 does not.</summary>
    public const double LearningRate = 3e-3;

    /// <summary>AdamW's decoupled weight decay (matrices and embeddings only).</summary>
    public const double WeightDecay = 0.1;

    /// <summary>Dropout of the embedding and residual branches: without it the validation loss turns up within the budget.</summary>
    public const float Dropout = 0.1f;

    /// <summary>Steps between validation measurements and checkpoints (their time is inside the budget).</summary>
    public const int EvalEvery = 200;
}
