namespace Xent.Tests.Core;

/// <summary>
/// Comparisons of float results with the float64 reference. Tolerances: the kernel computes each element in
/// float (exp to ~2 ulp, tanh to ~2 ulp), sums blocks of at most 4096 terms in float lanes and everything above
/// in double, so a loss is off by a few 1e-7 relative; 1e-5 leaves a margin of ~10x for long rows without
/// hiding a wrong formula (a wrong term moves the loss by far more). Gradient elements are compared with a
/// relative term plus an absolute floor scaled to the largest element of their row, because entries near 0
/// (p ~ 1e-9) carry the absolute error of p, not a relative one.
/// </summary>
internal static class Close
{
    public static void Scalar(double expected, double actual, double relative = 1e-5, double absolute = 1e-6, string? what = null)
    {
        if (IsClose(expected, actual, relative, absolute))
        {
            return; // fast path: the messages below are built only on failure
        }

        if (double.IsNaN(expected))
        {
            Assert.True(double.IsNaN(actual), $"{what}: expected NaN, got {actual}");
            return;
        }

        if (double.IsInfinity(expected))
        {
            Assert.True(expected == actual, $"{what}: expected {expected}, got {actual}");
            return;
        }

        double tolerance = (relative * Math.Abs(expected)) + absolute;
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: expected {expected:R}, got {actual:R} (|diff| {Math.Abs(expected - actual):E3} > {tolerance:E3})");
    }

    public static bool IsClose(double expected, double actual, double relative, double absolute) =>
        double.IsNaN(expected) ? double.IsNaN(actual)
        : double.IsInfinity(expected) ? expected == actual
        : Math.Abs(expected - actual) <= (relative * Math.Abs(expected)) + absolute;

    public static void Vector(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double relative = 1e-5, double absolute = 1e-6, string? what = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (!IsClose(expected[i], actual[i], relative, absolute))
            {
                Scalar(expected[i], actual[i], relative, absolute, $"{what}[{i}]");
            }
        }
    }

    /// <summary>Gradient [rows, classes] element-wise: relative plus <paramref name="floor"/> x the row's largest |element|.</summary>
    public static void Gradient(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, int classes, double relative = 1e-5, double floor = 1e-6, string? what = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int start = 0; start < expected.Length; start += classes)
        {
            double scale = 0;
            for (int c = 0; c < classes; c++)
            {
                if (double.IsFinite(expected[start + c]))
                {
                    scale = Math.Max(scale, Math.Abs(expected[start + c]));
                }
            }

            for (int c = 0; c < classes; c++)
            {
                if (!IsClose(expected[start + c], actual[start + c], relative, (floor * scale) + 1e-30))
                {
                    Scalar(expected[start + c], actual[start + c], relative, (floor * scale) + 1e-30, $"{what} grad[{start / classes}, {c}]");
                }
            }
        }
    }
}
