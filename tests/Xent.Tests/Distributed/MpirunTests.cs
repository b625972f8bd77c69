namespace Xent.Tests.Distributed;

/// <summary>
/// The vocabulary-parallel loss across real processes: the MPI check program under mpirun with 2 and 3 ranks, and a
/// rank that throws. Few and short, for CI.
/// </summary>
public class MpirunTests
{
    [MpirunFact]
    public void TwoAndThreeRanks_AgreeWithOneProcess()
    {
        foreach (int ranks in new[] { 2, 3 })
        {
            var (code, stdout, stderr, _) = Mpirun.Run(ranks, 300, "agree");
            Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
            Assert.Contains($"12 problems, {ranks} ranks: sharded CrossEntropy and LinearCrossEntropy agree with one process", stdout, StringComparison.Ordinal);
        }
    }

    [MpirunFact]
    public void ArgumentsThatDifferBetweenRanks_AreRefusedOnEveryRank()
    {
        var (code, stdout, stderr, _) = Mpirun.Run(3, 120, "differ");
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("differ: label smoothing: every rank threw: The ranks passed different options.LabelSmoothing (one rank 0, another 0.1)", stdout, StringComparison.Ordinal);
        Assert.Contains("differ: calls: every rank threw: The ranks passed different calls", stdout, StringComparison.Ordinal);
        Assert.Contains("differ: rows: every rank threw: The ranks passed different row counts N (one rank 2, another 3)", stdout, StringComparison.Ordinal);
    }

    [MpirunFact]
    public void ARankThatThrows_EndsTheJob_NamingTheRankAndTheCause()
    {
        var (code, stdout, stderr, seconds) = Mpirun.Run(3, 120, "fault", "2");
        Assert.NotEqual(0, code);
        Assert.Contains("rank 2 of 3 failed: InvalidOperationException: injected fault on purpose", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("the collective returned", stdout, StringComparison.Ordinal);

        // The job's start (3 .NET processes) takes most of this; a hang would run into the 120 s limit above.
        Assert.True(seconds < 60, $"the job took {seconds:F0} s to end");
    }
}
