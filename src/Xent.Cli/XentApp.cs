using Spectre.Console.Cli;

namespace Xent.Cli;

/// <summary>Builds the command tree; each verb lives in its own file under Commands/.</summary>
internal static class XentApp
{
    public static CommandApp Create()
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("xent");
            config.SetApplicationVersion(typeof(CrossEntropy).Assembly.GetName().Version?.ToString() ?? "0");
            // Verbs register here, one line each (see Commands/).
        });
        return app;
    }
}
