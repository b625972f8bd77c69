namespace Xent.Training.Model;

/// <summary>
/// Shape of a GPT-2 style decoder. The defaults are the built-in corpus run (`xent train` without options): 32
/// Markov symbols, T = 128, 2 layers of width 64 with 4 heads, about 0.1 M parameters.
/// Letters used in shape comments: V vocabulary, T sequence (at most <see cref="ContextLength"/>), L layers,
/// H heads, D model width (C in llm.c), hs = D / H head size, B batch.
/// </summary>
public sealed record GptConfig
{
    /// <summary>V: number of token ids; tokens and targets are in [0, V). Default 32.</summary>
    public int VocabSize { get; init; } = 32;

    /// <summary>Longest sequence T the position embedding covers. Default 128.</summary>
    public int ContextLength { get; init; } = 128;

    /// <summary>L: number of Transformer blocks. Default 2.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>H: attention heads per block; must divide <see cref="Dim"/>. Default 4.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>D: model width (residual stream size). Default 64.</summary>
    public int Dim { get; init; } = 64;

    /// <summary>
    /// Whether the unembedding of the loss head is the token embedding wte [V, D] itself (GPT-2); false gives the
    /// head its own matrix "lm_head" [V, D]. Default true.
    /// </summary>
    public bool TieEmbeddings { get; init; } = true;

    /// <summary>
    /// Dropout probability p in [0, 1) of the embedding output and of each residual branch (attention and MLP
    /// projections), applied only by <see cref="GptModel.ForwardBackward"/>
    /// (training); evaluation and sampling never drop. Default 0: none, and bitwise the same results as without it.
    /// </summary>
    public float Dropout { get; init; }

    /// <summary>hs = D / H, the width of one attention head.</summary>
    public int HeadSize => Dim / Heads;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent value.</summary>
    public void Validate()
    {
        if (VocabSize < 1)
        {
            throw new ArgumentException($"VocabSize must be >= 1, got {VocabSize}.", nameof(VocabSize));
        }

        if (ContextLength < 1)
        {
            throw new ArgumentException($"ContextLength must be >= 1, got {ContextLength}.", nameof(ContextLength));
        }

        if (Layers < 0)
        {
            throw new ArgumentException($"Layers must be >= 0, got {Layers}.", nameof(Layers));
        }

        if (Heads < 1)
        {
            throw new ArgumentException($"Heads must be >= 1, got {Heads}.", nameof(Heads));
        }

        if (Dim < 1 || Dim % Heads != 0)
        {
            throw new ArgumentException($"Dim must be >= 1 and a multiple of Heads ({Heads}), got {Dim}.", nameof(Dim));
        }

        if (!(Dropout >= 0 && Dropout < 1))
        {
            throw new ArgumentException($"Dropout must be in [0, 1), got {Dropout}.", nameof(Dropout));
        }

        if ((long)VocabSize * Dim > Array.MaxLength || 4L * Dim * Dim > Array.MaxLength)
        {
            throw new ArgumentException($"VocabSize x Dim ({VocabSize} x {Dim}) is too large for one array.", nameof(VocabSize));
        }

        if ((long)ContextLength * Dim > Array.MaxLength)
        {
            throw new ArgumentException($"ContextLength x Dim ({ContextLength} x {Dim}) is too large for one array.", nameof(ContextLength));
        }
    }
}
