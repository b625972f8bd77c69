namespace Xent.Baselines;

/// <summary>Splits a length into contiguous, nearly equal parts, one per thread.</summary>
internal static class Parts
{
    public static (int Start, int End) Range(int length, int parts, int p) =>
        ((int)((long)length * p / parts), (int)((long)length * (p + 1) / parts));
}
