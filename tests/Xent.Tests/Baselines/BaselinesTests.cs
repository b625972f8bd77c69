using Xent.Baselines;

namespace Xent.Tests.Baselines;

/// <summary>The baselines of the benchmarks compute what they claim: a benchmark against a wrong baseline is worthless.</summary>
public sealed class BaselinesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ScalarCrossEntropy_MatchesTheLibrary_ForAnyThreadCount(int threads)
    {
        const int n = 5, v = 300;
        var rng = new Random(3);
        var logits = Enumerable.Range(0, n * v).Select(_ => (rng.NextSingle() * 10) - 5).ToArray();
        var targets = Enumerable.Range(0, n).Select(_ => rng.Next(v)).ToArray();
        var g = new float[n * v];
        var expected = new float[n * v];
        float loss = ScalarCrossEntropy.LossAndGradient(logits, targets, g, threads);
        float reference = CrossEntropy.LossAndGradient(logits, targets, expected);
        Assert.Equal(reference, loss, 1e-5f);
        Assert.Equal(reference, ScalarCrossEntropy.Loss(logits, targets, threads), 1e-5f);
        for (int i = 0; i < g.Length; i++)
        {
            Assert.Equal(expected[i], g[i], 1e-6f);
        }

        Assert.Equal(loss, ScalarCrossEntropy.Loss(logits, targets, 1)); // rows summed in order: no thread-count drift
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void MemoryLimits_ReadAndCopyEveryFloat_ByEveryMethod(int threads)
    {
        // Odd length, and a copy whose parts start unaligned: the streaming copy's aligned middle and both ends.
        var source = Enumerable.Range(0, 10_007).Select(i => (float)(i % 13)).ToArray();
        float expected = source.Sum();
        foreach (var method in Enum.GetValues<ReadMethod>())
        {
            Assert.Equal(expected, MemoryLimits.Read(source, threads, method));
        }

        foreach (var method in Enum.GetValues<CopyMethod>())
        {
            var destination = new float[source.Length + 1];
            if (method == CopyMethod.InPlace)
            {
                // The destination rewritten in place, each float negated: every float written, none past the length.
                source.CopyTo(destination, 0);
                destination[^1] = 5f;
                MemoryLimits.Copy(source, destination, threads, method);
                Assert.Equal(source.Select(v => -v), destination.AsSpan(0, source.Length).ToArray());
                Assert.Equal(5f, destination[^1]);
                continue;
            }

            MemoryLimits.Copy(source, destination, threads, method);
            Assert.Equal(source, destination.AsSpan(0, source.Length).ToArray());
            Assert.Equal(0f, destination[^1]);
        }
    }

    public static TheoryData<int, int, int> Layouts => new()
    {
        // threads, prefetch bytes, chunk bytes: contiguous parts, chunks of odd float counts (4100 bytes: 1025 floats),
        // chunks longer than the buffer, chunks shorter than a vector loop, and the methods' own list below.
        { 1, 0, 0 },
        { 2, 2048, 0 },
        { 3, 8192, 4100 },
        { 2, 64, 256 << 10 },
        { 4, 32768, 36 },
        { 2, 0, 2 }, // below one float: one float per chunk
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void MemoryLimits_ReadAndCopyEveryFloat_AnyPrefetchAndDealing(int threads, int prefetchBytes, int chunkBytes)
    {
        // Integers below 2^24 in every partial sum: exact in float in any order.
        var values = Enumerable.Range(0, 10_019).Select(i => (float)(i % 13)).ToArray();
        foreach (int offset in new[] { 0, 1, 3, 16 })
        {
            foreach (int length in new[] { 0, 1, 7, 129, 2_053, 10_019 - 16 })
            {
                var source = values.AsMemory(offset, length);
                float expected = source.ToArray().Sum();
                foreach (var read in Enum.GetValues<ReadMethod>())
                {
                    Assert.Equal(expected, MemoryLimits.Read(source, threads, MemoryMethod.Reading(read, prefetchBytes, chunkBytes)));
                }

                foreach (var copy in Enum.GetValues<CopyMethod>())
                {
                    // Destination offsets other than the source's: streaming stores align to the destination. In place,
                    // the destination holds the source's values first and their negations after.
                    var destination = new float[length + 8];
                    bool inPlace = copy == CopyMethod.InPlace;
                    if (inPlace)
                    {
                        source.CopyTo(destination.AsMemory(5));
                    }

                    MemoryLimits.Copy(source, destination.AsMemory(5, length + 1), threads, MemoryMethod.Copying(copy, prefetchBytes, chunkBytes));
                    Assert.Equal(source.ToArray().Select(v => inPlace ? -v : v), destination.AsSpan(5, length).ToArray());
                    Assert.All(destination.AsSpan(0, 5).ToArray().Concat(destination.AsSpan(5 + length).ToArray()), v => Assert.Equal(0f, v));
                }
            }
        }
    }

    [Fact]
    public void MemoryLimits_EveryListedMethod_ReadsAndCopiesEveryFloat()
    {
        var source = Enumerable.Range(0, 300_007).Select(i => (float)(i % 7)).ToArray().AsMemory(1);
        float expected = source.ToArray().Sum();
        foreach (int threads in new[] { 1, 2 })
        {
            foreach (var method in MemoryLimits.ReadMethods)
            {
                Assert.Equal(expected, MemoryLimits.Read(source, threads, method));
            }

            foreach (var method in MemoryLimits.CopyMethods)
            {
                var destination = new float[source.Length];
                if (method.Copy == CopyMethod.InPlace)
                {
                    source.CopyTo(destination);
                    MemoryLimits.Copy(source, destination, threads, method);
                    Assert.True(source.ToArray().Select(v => -v).SequenceEqual(destination), method.CopyName);
                    continue;
                }

                MemoryLimits.Copy(source, destination, threads, method);
                Assert.True(source.Span.SequenceEqual(destination), method.CopyName);
            }
        }
    }

    [Fact]
    public void MemoryLimits_RejectNegativePrefetchOrChunk()
    {
        var source = new float[16];
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryLimits.Read(source, 1, MemoryMethod.Reading(ReadMethod.EightWideSums, -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryLimits.Copy(source, new float[16], 1, MemoryMethod.Copying(CopyMethod.SpanCopy, 0, -64)));
    }

    // Two cores whatever the machine's: on one core the rankings' 2 threads ran (and counted) as 1, and the expected
    // counts of candidates were off by every chunked method (DOTNET_PROCESSOR_COUNT=1: 6 reads timed, not 14).
    private static IDisposable TwoCores() => Parts.OverrideCores(2);

    // The limits a ranking gives: its fastest read and fastest copy.
    private static (MemoryLimit Read, MemoryLimit Copy) First((IReadOnlyList<MemoryLimit> Reads, IReadOnlyList<MemoryLimit> Copies) ranked) =>
        (ranked.Reads[0], ranked.Copies[0]);

    [Fact]
    public void MemoryLimits_Ranked_PutsTheFastestOfEveryMethodAndThreadCountFirst()
    {
        using var cores = TwoCores();
        var source = MemoryLimits.Touched(4096);
        var destination = MemoryLimits.Touched(4096);
        // Chunked methods run only on more than one thread (on one they are the contiguous read again).
        int reads1 = MemoryLimits.ReadMethods.Count(m => m.ChunkBytes == 0), copies1 = MemoryLimits.CopyMethods.Count(m => m.ChunkBytes == 0);
        int fastRead = reads1 + MemoryLimits.ReadMethods.Count; // reads first: the last read method on 2 threads
        int fastCopy = reads1 + MemoryLimits.ReadMethods.Count + 1; // then copies: the first copy method on 1 thread
        int call = 0;
        // A fake timer: every measurement gets its own time; those two are the fastest.
        var (read, copy) = First(MemoryLimits.Ranked(source, destination, [1, 2, 1], a =>
        {
            a();
            call++;
            return new Timing([call == fastRead || call == fastCopy ? 0.001 : 1.0 + call]);
        }));
        Assert.Equal(reads1 + copies1 + MemoryLimits.ReadMethods.Count + MemoryLimits.CopyMethods.Count, call);
        Assert.Equal(2, read.Threads);
        Assert.Equal(MemoryLimits.ReadMethods[^1], read.How);
        Assert.Equal(MemoryLimits.ReadMethods[^1].ReadName, read.Method);
        Assert.Equal(0.001, read.Timing.Median);
        Assert.Equal(4096 * 4L, read.Bytes);
        Assert.Equal(2 * 4096 * 4L, copy.Bytes);
        Assert.Equal(1, copy.Threads);
        Assert.Equal(MemoryLimits.CopyMethods[0], copy.How);
        Assert.Equal(0.001, copy.Timing.Median);
    }

    [Fact]
    public void MemoryLimits_Ranked_Screened_TimesTheFinalistsAgain_AndPutsTheBestOfAllFirst()
    {
        using var cores = TwoCores();
        var source = MemoryLimits.Touched(4096);
        var destination = MemoryLimits.Touched(4096);
        int reads = MemoryLimits.ReadMethods.Count(m => m.ChunkBytes == 0) + MemoryLimits.ReadMethods.Count;
        int copies = MemoryLimits.CopyMethods.Count(m => m.ChunkBytes == 0) + MemoryLimits.CopyMethods.Count;
        int screened = 0, timed = 0;
        // Screening: the third read and the second copy are fastest; timing them again (as finalists) gives slower
        // medians, so the screened ones stay the limits. Every other screened time is slower still.
        var (read, copy) = First(MemoryLimits.Ranked(source, destination, [1, 2], a =>
        {
            a();
            timed++;
            return new Timing([0.5]);
        }, a =>
        {
            a();
            screened++;
            return new Timing([screened == 3 || screened == reads + 2 ? 0.001 : 0.1 + (0.01 * screened)]);
        }, finalists: 2));
        Assert.Equal(reads + copies, screened);
        Assert.Equal(4, timed); // 2 reads and 2 copies again
        Assert.Equal(0.001, read.Timing.Median);
        Assert.Equal(MemoryLimits.ReadMethods[2], read.How);
        Assert.Equal(1, read.Threads);
        Assert.Equal(0.001, copy.Timing.Median);
        Assert.Equal(MemoryLimits.CopyMethods[1], copy.How);

        // A finalist that runs faster the second time sets the limit.
        int call = 0;
        var again = First(MemoryLimits.Ranked(source, destination, [2], a =>
        {
            a();
            return new Timing([call++ == 0 ? 0.0001 : 0.5]);
        }, a =>
        {
            a();
            return new Timing([0.01]);
        }, finalists: 1));
        Assert.Equal(0.0001, again.Read.Timing.Median);
        Assert.Equal(0.01, again.Copy.Timing.Median);
    }

    [Fact]
    public void MemoryLimits_Ranked_ListsEveryCandidateOnceFastestFirst()
    {
        using var cores = TwoCores();
        var source = MemoryLimits.Touched(4096);
        var destination = MemoryLimits.Touched(4096);
        int reads = MemoryLimits.ReadMethods.Count(m => m.ChunkBytes == 0) + MemoryLimits.ReadMethods.Count;
        int copies = MemoryLimits.CopyMethods.Count(m => m.ChunkBytes == 0) + MemoryLimits.CopyMethods.Count;
        int call = 0;
        // Screened times rise with each call; the two finalists of each kind, timed again, come out faster still.
        var (rankedReads, rankedCopies) = MemoryLimits.Ranked(source, destination, [1, 2], a =>
        {
            a();
            return new Timing([0.0001 * ++call]);
        }, a =>
        {
            a();
            return new Timing([1.0 + (0.01 * ++call)]);
        }, finalists: 2);
        Assert.Equal(reads, rankedReads.Count);
        Assert.Equal(copies, rankedCopies.Count);
        Assert.Equal(reads, rankedReads.Select(l => (l.Threads, l.How)).Distinct().Count());
        Assert.True(rankedReads.Zip(rankedReads.Skip(1)).All(p => p.First.BytesPerSecond >= p.Second.BytesPerSecond));
        Assert.True(rankedCopies.Zip(rankedCopies.Skip(1)).All(p => p.First.BytesPerSecond >= p.Second.BytesPerSecond));
        // The first screened reads were the fastest, so they were the finalists; timed again, they lead.
        Assert.True(rankedReads[0].Timing.Median < 0.01);
        Assert.True(rankedReads[1].Timing.Median < 0.01);
        Assert.True(rankedReads[2].Timing.Median > 1);
    }

    [Fact]
    public void MemoryLimits_Ranked_LabelsEachLimitWithTheThreadsThatRan_AndTimesEachCountOnce()
    {
        // Thread counts above the cores run on the cores: a limit labelled with the count asked for would claim
        // threads that never ran, and two counts that both become the cores would be timed twice.
        var source = MemoryLimits.Touched(4096);
        var destination = MemoryLimits.Touched(4096);
        int cores = Environment.ProcessorCount;
        int timed = 0;
        var (reads, copies) = MemoryLimits.Ranked(source, destination, [cores, cores + 1, 1 << 20], a =>
        {
            a();
            return new Timing([0.001 * ++timed]);
        });
        Assert.All(reads.Concat(copies), l => Assert.Equal(cores, l.Threads));
        Assert.Equal(reads.Count, reads.Select(l => l.How).Distinct().Count());
        Assert.Equal(copies.Count, copies.Select(l => l.How).Distinct().Count());
        Assert.All(MemoryLimits.RankedReads(source, [1 << 20], a => new Timing([1.0])), l => Assert.Equal(cores, l.Threads));
    }

    [Fact]
    public void MemoryLimits_RankedReads_TimesOnlyReads_AsRankedDoes()
    {
        using var cores = TwoCores();
        var source = MemoryLimits.Touched(4096);
        int reads = MemoryLimits.ReadMethods.Count(m => m.ChunkBytes == 0) + MemoryLimits.ReadMethods.Count;
        int timed = 0;
        var ranked = MemoryLimits.RankedReads(source, [1, 2], a =>
        {
            a();
            return new Timing([0.001 * ++timed]);
        });
        Assert.Equal(reads, timed); // no copy timed
        Assert.Equal(reads, ranked.Count);
        Assert.All(ranked, l => Assert.Equal(4096 * 4L, l.Bytes));
        Assert.Equal(0.001, ranked[0].Timing.Median);
        Assert.Throws<ArgumentException>(() => MemoryLimits.RankedReads(source, [], a => new Timing([1.0])));
    }

    [Fact]
    public void LimitReruns_RunTheFastestThreeAgain_AndTheLimitIsTheFastestOfAll()
    {
        static MemoryLimit Limit(int tag, double seconds) =>
            new($"m{tag}", 2, new Timing([seconds]), 4096 * 4, MemoryMethod.Reading(ReadMethod.EightWideSums, tag));
        IReadOnlyList<MemoryLimit> ranked = [Limit(1, 1.0), Limit(2, 1.1), Limit(3, 1.2), Limit(4, 1.3)];
        var leaders = LimitReruns.Leaders(ranked);
        Assert.Equal(["m1", "m2", "m3"], leaders.Select(l => l.Method));

        // Each rerun reads every float of its own buffer, by its own method.
        var source = MemoryLimits.Touched(4096);
        var destination = new float[4096];
        Assert.Equal(3, LimitReruns.Reads(leaders, source).Length);
        var copies = LimitReruns.Copies([new MemoryLimit("copy", 2, new Timing([1.0]), 2 * 4096 * 4, MemoryMethod.Copying(CopyMethod.NonTemporalStores))], source, destination);
        copies[0]();
        Assert.Equal(source, destination);

        // Beside the kernel the third method read twice as fast as the first had: it is the limit, at its own bytes.
        var limit = LimitReruns.Fastest(ranked, leaders, [new Timing([1.5]), new Timing([1.4]), new Timing([0.25])], 2048 * 4);
        Assert.Equal("m3", limit.Method);
        Assert.Equal(0.25, limit.Timing.Median);
        Assert.Equal(2048 * 4, limit.Bytes);
        // Slower reruns leave the ranking's best.
        Assert.Same(ranked[0], LimitReruns.Fastest(ranked, leaders, [new Timing([2.0]), new Timing([2.0]), new Timing([2.0])], 4096 * 4));
        Assert.Throws<ArgumentException>(() => LimitReruns.Fastest(ranked, leaders, [new Timing([1.0])], 4096 * 4));

        // Out of place and in place beside one set: the three fastest of all, and of the copies between two buffers.
        static MemoryLimit Copy(CopyMethod how, int threads, double seconds) =>
            new(how.ToString(), threads, new Timing([seconds]), 4096 * 8, MemoryMethod.Copying(how));
        IReadOnlyList<MemoryLimit> copiesRanked =
            [Copy(CopyMethod.InPlace, 2, 1.0), Copy(CopyMethod.InPlace, 1, 1.1), Copy(CopyMethod.NonTemporalStores, 2, 1.2), Copy(CopyMethod.SpanCopy, 2, 1.3), Copy(CopyMethod.NonTemporalStores, 1, 1.4), Copy(CopyMethod.SpanCopy, 1, 1.5)];
        Assert.Equal(["InPlace x2", "InPlace x1", "NonTemporalStores x2", "SpanCopy x2", "NonTemporalStores x1"],
            LimitReruns.Describe(LimitReruns.CopyAndInPlaceLeaders(copiesRanked)).Split("; "));
        Assert.Equal([copiesRanked[2], copiesRanked[3], copiesRanked[4]], MemoryLimits.OutOfPlace(copiesRanked).Take(3));

        // As xent bench takes them: the copy limit the fastest copy between two buffers of the ranking and the reruns, the
        // in-place limit the fastest of all, the ranking's back-to-back runs included (stream-compare once took the
        // reruns alone: 0.46 ms where xent bench's in-place limit of the same buffer was 0.21).
        var (copyLimit, inPlaceLimit) = LimitReruns.FastestCopyAndInPlace(copiesRanked, [copiesRanked[0], copiesRanked[2]],
            [new Timing([1.05, 1.1, 1.2]), new Timing([0.6, 1.0, 1.1])], 4096 * 8);
        Assert.Equal((CopyMethod.NonTemporalStores, 2, 1.0), (copyLimit.How.Copy, copyLimit.Threads, copyLimit.Timing.Median));
        Assert.Same(copiesRanked[0], inPlaceLimit);
        var (_, rerunInPlace) = LimitReruns.FastestCopyAndInPlace(copiesRanked, [copiesRanked[0], copiesRanked[2]],
            [new Timing([0.5]), new Timing([2.0])], 4096 * 8);
        Assert.Equal((CopyMethod.InPlace, 0.5), (rerunInPlace.How.Copy, rerunInPlace.Timing.Median));
        Assert.Throws<ArgumentException>(() => LimitReruns.FastestCopyAndInPlace(copiesRanked, [copiesRanked[0]], [], 4096 * 8));

        // A round's limit is its fastest method's time.
        Assert.Equal([1.0, 2.0, 0.5], LimitReruns.PerRound([[1.0, 3.0, 0.5], [2.0, 2.0, 0.7], [1.5, 2.5, 0.9]]));
        Assert.Throws<ArgumentException>(() => LimitReruns.PerRound([[1.0], [1.0, 2.0]]));
        Assert.Throws<ArgumentException>(() => LimitReruns.PerRound([]));
    }

    [Fact]
    public void Timing_Interleaved_RunsEveryCaseOncePerRound_AfterWarmingEach()
    {
        var order = new List<int>();
        var t = Timing.Interleaved([() => order.Add(0), () => order.Add(1)], 5, 10);
        Assert.Equal(2, t.Length);
        Assert.All(t, x => Assert.Equal(5, x.Seconds.Length));
        var timed = order.TakeLast(10).ToArray();
        Assert.Equal([0, 1, 0, 1, 0, 1, 0, 1, 0, 1], timed);
        Assert.True(order.Count(i => i == 0) >= 5 + 3, "at least 3 warm-up runs of each case come first");
    }

    [Fact]
    public void Timing_Interleaved_RunsEachCasesLeadUntimed_BeforeThatCaseOnly()
    {
        // Case 0 has a lead that takes 2 ms, each case takes 1 ms (on a clock of the test's own, so that no pause of
        // the test's thread counts; a case that took no time on it would never warm up): a lead inside the timed span,
        // or before the wrong case, shows.
        var order = new List<int>();
        var clock = new FakeClock();
        void Lead()
        {
            order.Add(-1);
            clock.Advance(2e-3);
        }

        Action Case(int tag) => () =>
        {
            order.Add(tag);
            clock.Advance(1e-3);
        };

        var t = Timing.InterleavedOn(clock.Sources, [Case(0), Case(1)], 3, 10, 0, [Lead, null]);
        Assert.Equal([-1, 0, 1, -1, 0, 1, -1, 0, 1], order.TakeLast(9).ToArray());
        Assert.All(t, x => Assert.True(x.Min >= 0.9e-3 && x.Max < 1.1e-3, $"a case timed {x.Min * 1e3:F2}-{x.Max * 1e3:F2} ms, not 1 ms: the lead counted"));
        Assert.Throws<ArgumentException>(() => Timing.Interleaved([() => { }, () => { }], 1, 1, leads: [null]));
    }

    [Fact]
    public void LimitReruns_Beside_LeadsTheKernelsTurnsAndThePoolLimits_NeverAOneThreadLimits()
    {
        // Three leaders, the first on one thread: the kernel's lead must come right before every kernel run, a limit
        // lead before each run of the limits on 2 threads (the first follows a one-thread limit, which left the pool's
        // worker asleep), and no lead before the one-thread limit.
        static MemoryLimit Limit(int threads, int tag) =>
            new("m", threads, new Timing([1.0, 1.0, 1.0]), 8, MemoryMethod.Reading(ReadMethod.EightWideSums, tag));
        IReadOnlyList<MemoryLimit> limits = [Limit(1, 0), Limit(2, 1), Limit(2, 2), Limit(1, 3)];
        var order = new List<string>();
        var (kernel, limit) = LimitReruns.Beside(() => order.Add("kernel"), limits,
            leaders => [.. leaders.Select((_, i) => (Action)(() => order.Add($"limit {i}")))], 8, 4, 10, 0, () => order.Add("lead"),
            threads => () => order.Add($"limit lead x{threads}"));
        Assert.Equal(4, kernel.Seconds.Length);
        string[] round = ["lead", "kernel", "limit 0", "limit lead x2", "limit 1", "limit lead x2", "limit 2"];
        Assert.Equal([.. round, .. round, .. round, .. round], order.TakeLast(4 * round.Length).ToArray());
        Assert.All(Enumerable.Range(0, order.Count).Where(i => order[i] == "lead"), i => Assert.Equal("kernel", order[i + 1]));
        Assert.DoesNotContain("limit 3", order); // only the fastest three run again
        Assert.True(limit.BytesPerSecond > 0);
    }

    [Fact]
    public void Timing_TimesAsManyRunsAsAsked_AfterWarmingUp()
    {
        int runs = 0;
        var t = Timing.Measure(() => runs++, 4, 10);
        Assert.Equal(4, t.Seconds.Length);
        Assert.True(runs >= 4 + 3, $"{runs} runs: at least 3 warm-up runs come first");
        Assert.InRange(t.Median, t.Min, t.Max);
    }

    [Fact]
    public void Timing_WarmsAFastUnsteadyCase_PastTierUp_NotOnlyAHundredRuns()
    {
        // Runs that alternate between nothing and 40 us are never steady; each is far shorter than 3 ms, so a hundred
        // of them end long before tiered compilation would have optimised a real case (0.3 s). On a clock of the
        // test's own: a pause of the test's thread between the clock's start and the first run cannot shorten it.
        var clock = new FakeClock();
        var calls = new List<double>();
        void Unsteady()
        {
            calls.Add(clock.Seconds);
            clock.Advance(calls.Count % 2 == 0 ? 40e-6 : 0);
        }

        double WarmSeconds(int timed) => calls[^timed] - calls[0];

        var t = Timing.MeasureOn(clock.Sources, Unsteady, 3, 10, 0);
        Assert.Equal(3, t.Seconds.Length);
        Assert.True(WarmSeconds(3) >= 0.3, $"warmed {WarmSeconds(3):F3} s in {calls.Count - 3} runs");

        calls.Clear();
        Timing.InterleavedOn(clock.Sources, [Unsteady], 3, 10, 0, null);
        Assert.True(WarmSeconds(3) >= 0.3, $"interleaved: warmed {WarmSeconds(3):F3} s in {calls.Count - 3} runs");
    }

    [Fact]
    public void Timing_TimesNoRunUntilTheJitHasBeenQuietForAWhile()
    {
        // For its first 0.5 s the case compiles a method every 50 calls (as tiered compilation promotes a real case's
        // methods in batches) and is otherwise steady, 1 ms a call: timing must wait 0.4 s past the last compilation.
        // The clock and the compile count are the test's own: on the machine's, a loaded machine that paused the test
        // for the case's first 0.5 s left it nothing to compile at all.
        foreach (bool interleaved in new[] { false, true })
        {
            var clock = new FakeClock();
            double lastCompile = -1;
            var ends = new List<double>();
            void Case()
            {
                if (clock.Seconds < 0.5 && ends.Count % 50 == 0)
                {
                    clock.Compiled++;
                    lastCompile = clock.Seconds;
                }

                clock.Advance(1e-3);
                ends.Add(clock.Seconds);
            }

            var t = interleaved ? Timing.InterleavedOn(clock.Sources, [Case], 5, 10, 0, null)[0] : Timing.MeasureOn(clock.Sources, Case, 5, 10, 0);
            Assert.Equal(5, t.Seconds.Length);
            double timedFrom = ends[^6]; // the last warm-up run's end
            Assert.True(lastCompile >= 0.45, $"the case compiled until {lastCompile:F3} s");
            Assert.True(timedFrom - lastCompile >= 0.4 - 1e-9, $"interleaved {interleaved}: timed from {timedFrom:F3} s, the last compilation at {lastCompile:F3} s");
        }
    }

    /// <summary>
    /// The bench tools that time rounds of their own (stream-compare, recompute-compare) warmed their cases for the
    /// first shape only: a later shape's rounds ran code it reached first at tier 0 and compiled ~40 methods in them.
    /// They warm each shape as Interleaved does: nothing returns until the JIT has been quiet for a while, each lead
    /// before its case only, and no longer than asked where it never is.
    /// </summary>
    [Fact]
    public void Timing_WarmInterleaved_ReturnsOnceTheJitHasBeenQuiet_LeadsBeforeTheirCase_WithinItsTime()
    {
        var clock = new FakeClock();
        double lastCompile = -1;
        var order = new List<int>();
        Action Case(int tag, double compilingFor) => () =>
        {
            if (clock.Seconds < compilingFor && order.Count % 50 == 0)
            {
                clock.Compiled++;
                lastCompile = clock.Seconds;
            }

            order.Add(tag);
            clock.Advance(1e-3);
        };
        void Lead() => order.Add(-1);

        Timing.WarmInterleavedOn(clock.Sources, [Case(0, 0.5), Case(1, 0.5)], 10, [null, Lead]);
        Assert.True(lastCompile >= 0.45, $"the cases compiled until {lastCompile:F3} s");
        Assert.True(clock.Seconds - lastCompile >= 0.4 - 1e-9, $"warm at {clock.Seconds:F3} s, the last compilation at {lastCompile:F3} s");
        Assert.True(order.Count(t => t == 0) >= 40, "each case runs until steady");
        Assert.Contains(-1, order);
        Assert.All(Enumerable.Range(0, order.Count).Where(i => order[i] == -1), i => Assert.Equal(1, order[i + 1]));

        // A case that never stops compiling is warmed for the time given, then left.
        clock = new FakeClock();
        order.Clear();
        Timing.WarmInterleavedOn(clock.Sources, [Case(0, double.PositiveInfinity)], 2, null);
        Assert.InRange(clock.Seconds, 2, 2.01);
        Assert.Throws<ArgumentException>(() => Timing.WarmInterleaved([() => { }], 1, [null, null]));
    }

    /// <summary>A clock that moves only when told to, and a compile count, for <see cref="Timing"/>.</summary>
    private sealed class FakeClock
    {
        private long ticks;

        public FakeClock() => Sources = new(() => ticks, () => Compiled);

        public TimingSources Sources { get; }

        public long Compiled { get; set; }

        public double Seconds => ticks / (double)System.Diagnostics.Stopwatch.Frequency;

        public void Advance(double seconds) => ticks += (long)Math.Round(seconds * System.Diagnostics.Stopwatch.Frequency);
    }
}
