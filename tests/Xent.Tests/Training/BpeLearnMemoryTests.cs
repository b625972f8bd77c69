using System.Globalization;
using System.Text;
using Xent.Training.Data;

namespace Xent.Tests.Training;

/// <summary>
/// What learning a BPE holds per byte of a line without white space (one piece, the worst case: every byte is a
/// symbol of its own). It held about 34 bytes per byte: a 1 GB text needed 34 GB.
/// Whole-process heap sizes: measured with no other test running (<see cref="RunsAloneCollection"/>).
/// </summary>
[Collection(nameof(RunsAloneCollection))]
public sealed class BpeLearnMemoryTests
{
    private const int N = 1_000_000;

    [Fact]
    public void The_learner_holds_at_most_fourteen_bytes_per_byte_while_it_learns()
    {
        // Measured with the learner alive after a full collection, between rounds of merges: its symbols (4 bytes a
        // byte here, ints as it was made for any number of merges) and where each pair occurs (4 bytes an occurrence,
        // stale ones dropped), not the line it was given. Pairs counted twice or more (60 bytes each, with their heap
        // entries) grow to a few percent of the bytes as merges join whole words.
        byte[] line = Encoding.UTF8.GetBytes(BpeLearnScaleTests.Text("line", N, new Random(2)));
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var learner = new BpeLearner([line], [1]);
        var held = new List<double> { GC.GetTotalMemory(forceFullCollection: true) - before };
        int learned = 0;
        foreach (int step in (int[])[10, 40, 150])
        {
            learned += learner.Learn(step).Count;
            held.Add(GC.GetTotalMemory(forceFullCollection: true) - before);
        }

        GC.KeepAlive(learner);
        GC.KeepAlive(line);
        Assert.Equal(200, learned);
        // 8.0-9.7 measured (2026-12-06); the learner before held up to 19.5. The margin is for the process's other
        // live objects, which a full collection counts too.
        Assert.True(held.Max() <= 14.0 * N, $"bytes per byte held: {string.Join(", ", held.Select(h => (h / N).ToString("F1", CultureInfo.InvariantCulture)))}");
    }

    [Fact]
    public void Learning_on_a_text_allocates_no_copy_of_its_pieces()
    {
        // The distinct pieces are found in the text itself and written once, as the learner's symbols: a copy of
        // each piece as a string and as UTF-8 bytes took 3 bytes a byte more, all alive at once.
        string text = BpeLearnScaleTests.Text("line", N, new Random(3));
        _ = BpeTokenizer.Learn(text[..1000], 257);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var learned = BpeTokenizer.Learn(text, 257);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Single(learned.Merges);
        Assert.True(allocated <= 10L * N, string.Create(CultureInfo.InvariantCulture, $"{allocated / (double)N:F1} bytes allocated per byte"));
    }

    [Fact]
    public void Merges_allocate_each_new_list_once_at_its_size()
    {
        // A merge's new pairs get their occurrences in lists made once the merge is done: lists grown by doubling,
        // then cut to size, allocated three times what they kept (34.6 bytes per byte here in all, now 22.3), and
        // the garbage raised the peak.
        string text = BpeLearnScaleTests.Text("line", N, new Random(4));
        _ = BpeTokenizer.Learn(text[..1000], 300);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var learned = BpeTokenizer.Learn(text, 256 + 300);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(300, learned.Merges.Count);
        Assert.True(allocated <= 28L * N, string.Create(CultureInfo.InvariantCulture, $"{allocated / (double)N:F1} bytes allocated per byte"));
    }
}
