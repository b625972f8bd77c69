namespace Xent.Reference;

/// <summary>
/// log(1 + x) and exp(x) - 1 that keep a small x: .NET's double.LogP1 is Log(x + 1) and double.ExpM1 is Exp(x) - 1,
/// which lose every x under 1.1e-16 and its relative precision well above, where a confident row's loss and the
/// target's gradient live.
/// </summary>
internal static class Float64Math
{
    /// <summary>log(1 + x), to a few ulps for small x (Kahan).</summary>
    public static double LogP1(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : double.IsPositiveInfinity(u) ? u : Math.Log(u) * x / (u - 1);
    }

    /// <summary>exp(x) - 1, to a few ulps for small x (Kahan's form for |x| &lt; 1, where the subtraction cancels).</summary>
    public static double ExpM1(double x)
    {
        if (!(Math.Abs(x) < 1))
        {
            return Math.Exp(x) - 1;
        }

        double u = Math.Exp(x);
        return u == 1 ? x : (u - 1) * x / Math.Log(u);
    }
}
