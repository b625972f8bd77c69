using Xent.Distributed;
using Xent.Distributed.MpiCheck;

// The checks the test suite runs under mpirun (mpirun -np K dotnet Xent.Distributed.MpiCheck.dll [agree | fault R]):
// "agree" checks the vocabulary-parallel loss against one process on every rank and exits 0 when all agree;
// "fault R" makes rank R throw before a collective the others wait in, to show that the job ends, not hangs;
// "differ" makes the last rank pass other options, V, hidden states or a call, which every rank must refuse alike;
// "bench SHAPE MODE STEPS THREADS" times training steps (docs/distributed.md's table, see StepBench).
string verb = args.Length > 0 ? args[0] : "agree";
return DistributedJob.Run(world =>
{
    if (verb == "bench")
    {
        return StepBench.Run(world, args);
    }

    if (verb == "differ")
    {
        return Differ.Run(world);
    }

    if (verb == "fault")
    {
        int failing = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        if (world.Rank == failing)
        {
            throw new InvalidOperationException("injected fault on purpose");
        }

        var x = new float[4];
        world.AllReduce<float>(x, ReduceOperation.Sum);
        Console.WriteLine($"rank {world.Rank}: the collective returned although rank {failing} failed");
        return 3;
    }

    int failures = 0;
    foreach (var problem in Problem.All())
    {
        foreach (var failure in Agreement.Check(world, problem))
        {
            Console.WriteLine($"rank {world.Rank} of {world.Size}: {failure}");
            failures++;
        }
    }

    // Every rank must hold bitwise the same loss (and so the same dh): gather one and compare.
    var first = Problem.All()[0];
    var slice = Xent.Distributed.Vocabulary.VocabularySlice.For(first.V, world);
    float loss = Xent.Distributed.Vocabulary.VocabParallelCrossEntropy.Loss(world,
        Agreement.Columns(first.Logits, first.N, first.V, slice.Offset, slice.Width), first.V, first.Targets, first.Loss);
    var losses = new float[world.Size];
    world.AllGather<float>([loss], losses);
    if (losses.Any(l => BitConverter.SingleToInt32Bits(l) != BitConverter.SingleToInt32Bits(loss)))
    {
        Console.WriteLine($"rank {world.Rank} of {world.Size}: the ranks' losses differ: {string.Join(", ", losses)}");
        failures++;
    }

    var total = new[] { failures };
    world.AllReduce<int>(total, ReduceOperation.Sum);
    if (world.Rank == 0)
    {
        Console.WriteLine(total[0] == 0
            ? $"agree: {Problem.All().Count} problems, {world.Size} ranks: sharded CrossEntropy and LinearCrossEntropy agree with one process"
            : $"agree: {total[0]} failures on {world.Size} ranks");
    }

    return total[0] == 0 ? 0 : 1;
});
