#if XENT_IN_PROCESS_RUNNER
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Xent.Tests.Runner;

/// <summary>
/// Runs this assembly's tests in its own process, without a test host: for a machine the tests only reach emulated
/// (Arm64 under qemu-user, tests/arm64/run), where vstest cannot start a test host of another architecture. Built
/// only with -p:XentInProcessRunner=true. Arguments: substrings of the test classes' full names to run (all if none).
/// Exit code 0 when every test ran passed (and at least one ran), 1 otherwise.
/// </summary>
internal static class InProcessRunner
{
    public static int Main(string[] args)
    {
        var assembly = typeof(InProcessRunner).Assembly;
        var messages = new Messages(args);
        using var sources = new NoSources();
        using var discoverer = new XunitTestFrameworkDiscoverer(Reflector.Wrap(assembly), sources, messages);
        discoverer.Find(includeSourceInformation: false, messages, new Options());
        messages.Discovered.WaitOne();
        Console.WriteLine($"{messages.Cases.Count} test cases in classes matching {(args.Length == 0 ? "anything" : string.Join(", ", args))}");
        using var executor = new XunitTestFrameworkExecutor(assembly.GetName(), sources, messages);
        executor.RunTests(messages.Cases, messages, new Options());
        messages.Finished.WaitOne();
        Console.WriteLine($"tests: {messages.Passed} passed, {messages.Failed} failed, {messages.Skipped} skipped");
        return messages.Failed == 0 && messages.Passed > 0 ? 0 : 1;
    }

    /// <summary>xunit's defaults for every option (classes in parallel, one thread per core).</summary>
    private sealed class Options : ITestFrameworkDiscoveryOptions, ITestFrameworkExecutionOptions
    {
        private readonly Dictionary<string, object?> values = [];

        public TValue GetValue<TValue>(string name) => values.TryGetValue(name, out var v) && v is TValue t ? t : default!;

        public void SetValue<TValue>(string name, TValue value) => values[name] = value;
    }

    private sealed class NoSources : LongLivedMarshalByRefObject, ISourceInformationProvider
    {
        public ISourceInformation GetSourceInformation(ITestCase testCase) => null!;

        public void Dispose()
        {
        }
    }

    /// <summary>Keeps the matching test cases, counts results and prints failures and a line per class.</summary>
    private sealed class Messages(string[] filters) : LongLivedMarshalByRefObject, IMessageSink
    {
        private int passed, failed, skipped;

        public List<ITestCase> Cases { get; } = [];

        public ManualResetEvent Discovered { get; } = new(false);

        public ManualResetEvent Finished { get; } = new(false);

        public int Passed => Volatile.Read(ref passed);

        public int Failed => Volatile.Read(ref failed);

        public int Skipped => Volatile.Read(ref skipped);

        public bool OnMessage(IMessageSinkMessage message)
        {
            switch (message)
            {
                case ITestCaseDiscoveryMessage d when filters.Length == 0 || filters.Any(f => d.TestCase.TestMethod.TestClass.Class.Name.Contains(f, StringComparison.Ordinal)):
                    Cases.Add(d.TestCase);
                    break;
                case IDiscoveryCompleteMessage:
                    Discovered.Set();
                    break;
                case ITestPassed:
                    Interlocked.Increment(ref passed);
                    break;
                case ITestFailed f:
                    Interlocked.Increment(ref failed);
                    Console.WriteLine($"FAILED {f.Test.DisplayName}: {string.Join(" | ", f.Messages)}\n{string.Join("\n", f.StackTraces)}");
                    break;
                case ITestSkipped:
                    Interlocked.Increment(ref skipped);
                    break;
                case ITestClassFinished c:
                    Console.WriteLine($"{c.TestClass.Class.Name}: {c.TestsRun} run, {c.TestsFailed} failed, {c.TestsSkipped} skipped, {c.ExecutionTime:0.0} s");
                    break;
                case ITestAssemblyFinished:
                    Finished.Set();
                    break;
            }

            return true;
        }
    }
}
#endif
