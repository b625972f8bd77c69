using System.Globalization;
using Xent.Baselines;
using Xent.LinearAlgebra;

namespace Xent.Benchmarks;

/// <summary>
/// The one-row products of a cached decoding step (`xent sample` with the KV cache) against the memory read limit:
/// GPT-2 small's weights (12 layers of [2304, 768], [768, 768], [3072, 768] and [768, 3072], and the head [50257, 768],
/// each its own array as in the model: 498 MB) times one row, layer after layer as a token runs them, so every
/// weight comes from memory once per token. Prints the median token time, its bytes per second and its share of the
/// read limit of a buffer as large (the fastest read methods on the same threads, run again round by round beside it:
/// <see cref="LimitReruns"/>). With
/// XENT_AB=gemv the product before the column groups (one group of 8 columns at a time, MatMul's parallel threshold)
/// is timed beside it, rounds interleaved; with XENT_AB=gemvpf the groups without their prefetch.
/// Run: dotnet run -c Release --project bench/Xent.Benchmarks -- decode-limit [tokens] [threads]
/// </summary>
internal static class DecodeLimit
{
    public static void Run(string[] args)
    {
        int tokens = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 40;
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        const int d = 768, layers = 12, vocab = 50257;
        (int Out, int In)[] shapes = [(3 * d, d), (d, d), (4 * d, d), (d, 4 * d)];
        var weights = new List<(float[] W, int Out, int In)>();
        for (int l = 0; l < layers; l++)
        {
            weights.AddRange(shapes.Select(s => (Filled(s.Out * s.In, l), s.Out, s.In)));
        }

        weights.Add((Filled(vocab * d, layers), vocab, d));
        long bytes = weights.Sum(w => (long)w.W.Length * 4);
        var x = Filled(4 * d, 99);
        var y = new float[vocab];

        void Token()
        {
            foreach (var (w, rows, cols) in weights)
            {
                MatMul.Gemm(false, true, 1, rows, cols, 1f, x.AsSpan(0, cols), cols, w, cols, 0f, y.AsSpan(0, rows), rows, threads);
            }
        }

        var (source, reads) = ReadLimits(bytes, threads);
        var leaders = LimitReruns.Leaders(reads);
        Console.WriteLine($"decode: {weights.Count} one-row products, {bytes / 1e6:F0} MB of weights per token, {threads} thread(s); " +
            $"read methods run beside: {LimitReruns.Describe(leaders)}");

        string? which = Environment.GetEnvironmentVariable("XENT_AB");
        bool ab = which is "gemv" or "gemvpf";
        Action Setting(bool current) => () =>
        {
            Gemv.Grouped = current || which != "gemv";
            Gemv.Prefetching = current;
            Token();
        };
        Action[] kernels = ab ? [Setting(true), Setting(false)] : [Setting(true)];
        // The lead first (its time unused): after the read limits' own threads the pool's worker is asleep, and the first
        // kernel paid its wake-up where the second did not.
        var timings = Timing.Interleaved([PoolLead.Wake(threads), .. kernels, .. LimitReruns.Reads(leaders, source)], tokens, 30)[1..];
        Gemv.Grouped = true;
        Gemv.Prefetching = true;
        var read = LimitReruns.Fastest(reads, leaders, timings[kernels.Length..], bytes);
        double limit = read.BytesPerSecond;
        string[] names = ab ? ["current", which == "gemv" ? "one group" : "no prefetch"] : ["token"];
        for (int c = 0; c < names.Length; c++)
        {
            var t = timings[c];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{names[c],-10} {t.Median * 1e3:F2} ms [{t.Min * 1e3:F2}-{t.Max * 1e3:F2}]  {bytes / t.Median / 1e9:F1} GB/s  {bytes / t.Median / limit:P0} of the read limit ({limit / 1e9:F1} GB/s, {read.Method})"));
        }
    }

    /// <summary>
    /// A touched buffer of <paramref name="bytes"/> and the read methods on <paramref name="threads"/> over it, fastest
    /// first (<see cref="MemoryLimits.QuickRankedReads"/>), the fastest few to run again beside the kernels they bound.
    /// </summary>
    internal static (float[] Source, IReadOnlyList<MemoryLimit> Reads) ReadLimits(long bytes, int threads)
    {
        var source = MemoryLimits.Touched((int)(bytes / 4));
        return (source, MemoryLimits.QuickRankedReads(source, [threads]));
    }

    /// <summary>Floats uniform in [-0.5, 0.5) from <paramref name="seed"/>.</summary>
    internal static float[] Filled(int length, int seed)
    {
        var random = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (float)(random.NextDouble() - 0.5);
        }

        return a;
    }
}
