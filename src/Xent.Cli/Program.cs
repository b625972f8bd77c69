
namespace Xent.Cli;

internal static class Program
{
    public static int Main(string[] args) => XentApp.Create().Run(args);
}
