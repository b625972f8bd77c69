using System.Globalization;
using Xent.Baselines;
using Xent.Kernels;
using Xent.Layers;

namespace Xent.Benchmarks;

/// <summary>
/// The attention of one cached decoding step (`xent sample` with the KV cache) at GPT-2 small's shape: for every layer,
/// the 12 heads of the query at position t against keys and values 0..t, the heads on the threads as a step runs them.
/// Two layouts of the same keys and values, rounds interleaved: the cache's (keys in tiles of 32 positions per head,
/// values [T_max, hs] per head: <c>Attention.TiledRow</c>) and the row-major one before it (keys transposed [D, T_max],
/// values [T_max, D]: the public <c>Attention.Row</c>), with the read limit of as many bytes on the same threads
/// (an untimed <see cref="PoolLead"/> call opens each round).
/// Checks that both give the same bits. Run: dotnet run -c Release --project bench/Xent.Benchmarks -- decode-attention
/// [position] [rounds] [threads]
/// </summary>
internal static class DecodeAttention
{
    public static void Run(string[] args)
    {
        int t = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30;
        int threads = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
        const int layers = 12, heads = 12, hs = 64, d = heads * hs, capacity = 1024, tiled = capacity;
        if (t < 0 || t >= capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(args), $"the position must be in [0, {capacity}).");
        }

        var query = DecodeLimit.Filled(d, 1);
        var keys = new float[layers][];
        var values = new float[layers][];
        var keyTiles = new float[layers][];
        var valueRows = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            keys[l] = DecodeLimit.Filled(d * capacity, 2 + l);
            values[l] = DecodeLimit.Filled(capacity * d, 100 + l);
            keyTiles[l] = new float[d * tiled];
            valueRows[l] = new float[capacity * d];
            var key = new float[hs];
            for (int h = 0; h < heads; h++)
            {
                for (int s = 0; s < capacity; s++)
                {
                    for (int i = 0; i < hs; i++)
                    {
                        key[i] = keys[l][(((h * hs) + i) * capacity) + s];
                        valueRows[l][(((h * capacity) + s) * hs) + i] = values[l][(s * d) + (h * hs) + i];
                    }

                    Attention.StoreTiledKey(key, s, keyTiles[l].AsSpan(h * tiled * hs, tiled * hs));
                }
            }
        }

        var probabilities = new float[heads * tiled];
        float[] tiledOutput = new float[d], rowOutput = new float[d];
        void Tiled()
        {
            for (int l = 0; l < layers; l++)
            {
                int layer = l;
                ParallelWork.For(heads, threads, h => Attention.TiledRow(query.AsSpan(h * hs, hs), keyTiles[layer].AsSpan(h * tiled * hs, tiled * hs),
                    valueRows[layer].AsSpan(h * capacity * hs, capacity * hs), t, probabilities.AsSpan(h * tiled, tiled), tiledOutput.AsSpan(h * hs, hs)));
            }
        }

        void RowMajor()
        {
            for (int l = 0; l < layers; l++)
            {
                int layer = l;
                ParallelWork.For(heads, threads, h => Attention.Row(query.AsSpan(h * hs, hs), keys[layer].AsSpan(h * hs * capacity), capacity,
                    values[layer].AsSpan(h * hs), d, t, probabilities.AsSpan(h * tiled, t + 1), rowOutput.AsSpan(h * hs, hs)));
            }
        }

        long bytes = 2L * layers * d * (t + 1) * 4;
        var (source, reads) = DecodeLimit.ReadLimits(bytes, threads);
        var leaders = LimitReruns.Leaders(reads);
        // The lead first (its time unused): after the read limits' own threads the pool's worker is asleep, and the first
        // case paid its wake-up where the second did not.
        var timings = Timing.Interleaved([PoolLead.Wake(threads), Tiled, RowMajor, .. LimitReruns.Reads(leaders, source)], rounds, 30)[1..];
        Tiled();
        RowMajor();
        var read = LimitReruns.Fastest(reads, leaders, timings[2..], bytes);
        double limit = read.BytesPerSecond;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"decode attention: GPT-2 small, position {t}, {bytes / 1e6:F1} MB of keys and values, {threads} thread(s); read limit {limit / 1e9:F1} GB/s ({read.Method}); same bits: {tiledOutput.AsSpan().SequenceEqual(rowOutput)}"));
        string[] names = ["tiled", "row-major"];
        for (int c = 0; c < names.Length; c++)
        {
            var m = timings[c];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{names[c],-10} {m.Median * 1e3:F3} ms [{m.Min * 1e3:F3}-{m.Max * 1e3:F3}]  {bytes / m.Median / 1e9:F1} GB/s  {bytes / m.Median / limit:P0} of the read limit"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tiled / row-major: {timings[0].Median / timings[1].Median:F2}"));
    }
}
