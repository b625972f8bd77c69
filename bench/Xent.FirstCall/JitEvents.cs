using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace Xent.FirstCall;

/// <summary>
/// The runtime's own JIT events in this process (provider Microsoft-Windows-DotNETRuntime, keyword JIT): for each
/// method compiled between <see cref="Start"/> and <see cref="Stop"/>, the time from MethodJittingStarted to
/// MethodLoadVerbose on the same thread, and whether its ReadyToRun code was rejected. Used by first-call --jit to
/// say which compilations the first call's JIT time goes to.
/// </summary>
internal sealed class JitEvents : EventListener
{
    private const EventKeywords JitKeyword = (EventKeywords)0x10;
    private const int MethodJittingStarted = 145, MethodLoadVerbose = 143;
    private readonly ConcurrentDictionary<(long Thread, ulong Method), DateTime> started = new();
    private readonly ConcurrentQueue<(string Name, double Ms, int Tier, bool R2RRejected)> compiled = new();
    private volatile bool recording;
    private DateTime from, to = DateTime.MaxValue;

    public JitEvents()
    {
        // Compile the listener's own path (event decoding, this class, the collections) before anything is measured,
        // so that its compilations neither show in the list nor run beside the measured call.
        recording = true;
        for (int i = 0; i < 3; i++)
        {
            Warm(i);
        }

        // The collections' own paths too: the runtime's events may reach a new listener only after the warm-up above
        // (the first call's list showed the dictionary's TryAdd and TryRemove, compiled on the listener's thread).
        started[(-1, 0)] = DateTime.UtcNow;
        started.TryRemove((-1, 0), out _);
        compiled.Enqueue(("", 0, 0, false));

        Stop();
        Thread.Sleep(500);
        compiled.Clear();
    }

    /// <summary>Records compilations that start from now on.</summary>
    public void Start()
    {
        compiled.Clear();
        from = DateTime.UtcNow;
        to = DateTime.MaxValue;
        recording = true;
    }

    /// <summary>The compilations that started between <see cref="Start"/> and now.</summary>
    public List<(string Name, double Ms, int Tier, bool R2RRejected)> Stop()
    {
        to = DateTime.UtcNow;
        // The listener receives events on its own thread, a little after they happen.
        Thread.Sleep(500);
        recording = false;
        return [.. compiled];
    }

    private static void Warm(int i)
    {
        Func<int, string> f = x => (x * 3).ToString(CultureInfo.InvariantCulture);
        _ = f(i);
        Thread.Sleep(100);
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, JitKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!recording || e.Payload is null || e.PayloadNames is null)
        {
            return;
        }

        ulong method = Convert.ToUInt64(e.Payload[e.PayloadNames.IndexOf("MethodID")], CultureInfo.InvariantCulture);
        if (e.EventId == MethodJittingStarted && e.TimeStamp.ToUniversalTime() >= from && e.TimeStamp.ToUniversalTime() <= to)
        {
            started[(e.OSThreadId, method)] = e.TimeStamp;
        }
        else if (e.EventId == MethodLoadVerbose && started.TryRemove((e.OSThreadId, method), out DateTime start))
        {
            uint flags = Convert.ToUInt32(e.Payload[e.PayloadNames.IndexOf("MethodFlags")], CultureInfo.InvariantCulture);
            string name = $"{e.Payload[e.PayloadNames.IndexOf("MethodNamespace")]}:{e.Payload[e.PayloadNames.IndexOf("MethodName")]}";
            compiled.Enqueue((name, (e.TimeStamp - start).TotalMilliseconds, (int)((flags >> 7) & 7), (flags & 0x40) != 0));
        }
    }
}
