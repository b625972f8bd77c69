namespace Xent.Training.Data;

/// <summary>The size of a byte-pair encoding learned on a text (<see cref="BpeTokenizer"/>).</summary>
public static class BpeVocabulary
{
    /// <summary>Stands for "choose V from the text's size" (<see cref="For"/>).</summary>
    public const int Default = 0;

    /// <summary>V for a training text of <paramref name="characters"/> characters.</summary>
    /// <param name="characters">Length of the training text.</param>
    public static int For(long characters) => 512;
}
