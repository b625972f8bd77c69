namespace Xent.Distributed.Vocabulary;

/// <summary>Which vocabulary-parallel call a rank makes: they differ in their collectives or in what they compute.</summary>
internal enum VocabularyCall
{
    CrossEntropy,
    CrossEntropyGradient,
    LinearLoss,
    LinearGradients,
    LinearPartialGradients,
}
