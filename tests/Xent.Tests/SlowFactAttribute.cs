namespace Xent.Tests;

/// <summary>
/// A fact that only runs when XENT_SLOW_TESTS=1: the default `dotnet test` (and CI) must stay fast and must not
/// need gigabytes of memory. Shows as skipped otherwise, with the way to run it.
/// </summary>
public sealed class SlowFactAttribute : FactAttribute
{
    public const string Variable = "XENT_SLOW_TESTS";

    public SlowFactAttribute()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "1")
        {
            Skip = $"Slow: run with {Variable}=1 dotnet test -c Release --filter Category=Slow";
        }
    }
}
