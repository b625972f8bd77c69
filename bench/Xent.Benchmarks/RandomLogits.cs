using System.Globalization;

namespace Xent.Benchmarks;

/// <summary>The loss tools' inputs for a shape "NxV": logits uniform in [-4, 4) and uniform targets, seed 42.</summary>
internal static class RandomLogits
{
    public static (int Rows, int Classes, float[] Logits, int[] Targets) Create(string shape)
    {
        var parts = shape.Split('x');
        int rows = int.Parse(parts[0], CultureInfo.InvariantCulture), classes = int.Parse(parts[1], CultureInfo.InvariantCulture);
        var random = new Random(42);
        var logits = new float[(long)rows * classes];
        for (long i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)((random.NextDouble() * 8) - 4);
        }

        var targets = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
        return (rows, classes, logits, targets);
    }
}
