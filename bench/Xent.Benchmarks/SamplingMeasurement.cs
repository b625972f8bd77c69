using System.Diagnostics;
using System.Globalization;
using Xent.Training.Model;
using Xent.Training.Sampling;

namespace Xent.Benchmarks;

/// <summary>
/// `xent sample`'s generation with and without the KV cache, side by side in one process on the same model and
/// prompt: tokens/s of each (wall and process CPU time) and their ratio, with the load average, for the default
/// `xent train` model (V 32, T 128, L 2, D 64, H 4) and GPT-2 small's shape (V 50257, T 1024, L 12, D 768, H 12;
/// random weights). Each side generates after a warm-up of its own past tiered compilation (JIT, buffers). Without the cache GPT-2
/// small recomputes up to 1024 positions per token (several seconds of CPU a token), so that side generates fewer
/// tokens, from a prompt that already fills the context: its tokens/s is then the steady rate past the context.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- sample [default|gpt2] [tokens] [uncached tokens] [threads]
/// </summary>
internal static class SamplingMeasurement
{
    public static void Run(string[] args)
    {
        string shape = args.Length > 0 ? args[0] : "default";
        int tokens = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000;
        bool small = shape == "gpt2";
        int uncached = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : small ? 4 : tokens;
        int threads = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2;
        var config = small
            ? new GptConfig { VocabSize = 50257, ContextLength = 1024, Layers = 12, Heads = 12, Dim = 768 }
            : new GptConfig();
        var model = new GptModel(config, seed: 1) { MaxDegreeOfParallelism = threads };
        var random = new Random(2);

        // A prompt of 16 tokens; the uncached GPT-2 side starts from a full context instead (see above).
        int[] prompt = [.. Enumerable.Range(0, 16).Select(_ => random.Next(config.VocabSize))];
        int[] fullPrompt = [.. Enumerable.Range(0, config.ContextLength).Select(_ => random.Next(config.VocabSize))];
        Console.WriteLine($"{shape}: V {config.VocabSize}, T {config.ContextLength}, L {config.Layers}, D {config.Dim}, H {config.Heads}, " +
            $"{model.ParameterCount:N0} params, {threads} thread(s), load average {LoadAverage()}");

        var (cachedWall, cachedCpu) = Measure(model, prompt, tokens, useCache: true, warmTokens: small ? 8 : 2 * config.ContextLength);
        double cachedRate = tokens / cachedWall;
        Console.WriteLine($"| {shape} | KV cache | {tokens} | {cachedWall:F2} s | {cachedRate:F1} tokens/s | {tokens / cachedCpu:F1} tokens/CPU-s |");
        var (plainWall, plainCpu) = Measure(model, small ? fullPrompt : prompt, uncached, useCache: false, warmTokens: small ? 8 : 2 * config.ContextLength);
        double plainRate = uncached / plainWall;
        Console.WriteLine($"| {shape} | recompute | {uncached} | {plainWall:F2} s | {plainRate:F2} tokens/s | {uncached / plainCpu:F2} tokens/CPU-s |");
        Console.WriteLine($"  cache / recompute: {cachedRate / plainRate:F1}x tokens/s (wall), {tokens / cachedCpu / (uncached / plainCpu):F1}x per CPU second; " +
            $"load average now {LoadAverage()}");
    }

    private static (double Wall, double Cpu) Measure(GptModel model, int[] prompt, int count, bool useCache, int warmTokens)
    {
        // Past tiered compilation: up to 40 short generations (at most 2 s of them), then a pause. One was the warm-up
        // before, which left the per-token code at tier 0 for the first part of the timed generation; the uncached
        // GPT-2 side, seconds a token, still gets one. At the default size the warm-ups run two contexts' worth of
        // tokens, so that the code of a full context (the cache's restarts, a forward over the last T/2 tokens every
        // T/2 tokens; the recompute's forward over T tokens) is past tier 0 too: with 8-token warm-ups the timed 2,000
        // cached tokens took 0.11-0.13 s where later generations in the same process took 0.04 s. GPT-2 small's restart
        // is a forward over 512 tokens, whose kernels are optimised from their first call and dwarf their tier-0 drivers.
        TierUp.WarmCapped([() => TokenSampler.Generate(model, prompt, Math.Min(count, warmTokens), 1.0, 0, seed: 3, useCache)], capSeconds: 2);
        Console.Out.Flush();
        var compiled = TierUp.Compiled();
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        long start = Stopwatch.GetTimestamp();
        TokenSampler.Generate(model, prompt, count, 1.0, 0, seed: 4, useCache);
        double wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Console.WriteLine($"  {(useCache ? "KV cache" : "recompute")}: {TierUp.CompiledSince(compiled)}");
        process.Refresh();
        return (wall, (process.TotalProcessorTime - cpu0).TotalSeconds);
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
