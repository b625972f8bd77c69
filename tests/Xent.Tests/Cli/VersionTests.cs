namespace Xent.Tests.Cli;

public sealed class VersionTests
{
    [Fact]
    public void Version_IsThePackageVersion()
    {
        var run = CliRun.Run("--version");
        Assert.Equal(0, run.ExitCode);
        // The package is 0.1.0 (Directory.Build.props); a build from git may add "+commit".
        Assert.Matches(@"^0\.1\.0(\+[0-9a-f]+)?$", run.Out.Trim());
    }
}
