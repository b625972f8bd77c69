using BenchmarkDotNet.Running;

namespace Xent.Benchmarks;

internal static class Program
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "lce-memory")
        {
            LinearCrossEntropyMemory.Run(args[1..]);
            return;
        }

        if (args.Length > 0 && args[0] == "training-step")
        {
            TrainingStepMeasurement.Run(args[1..]);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
