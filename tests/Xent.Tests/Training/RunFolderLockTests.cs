using System.Diagnostics;
using Xent.Training.Checkpoints;

namespace Xent.Tests.Training;

/// <summary>One run per folder: a second lock names the holder; a released or killed holder frees the folder.</summary>
public sealed class RunFolderLockTests : IDisposable
{
    private readonly string testDir = Directory.CreateTempSubdirectory("xent-lock-").FullName;

    public void Dispose() => Directory.Delete(testDir, recursive: true);

    [Fact]
    public void A_second_run_is_refused_naming_the_holder_until_the_first_releases()
    {
        var first = RunFolderLock.Acquire(testDir, "xent train --out first");
        var e = Assert.Throws<RunFolderInUseException>(() => RunFolderLock.Acquire(testDir, "xent train --out second"));
        Assert.Equal(Environment.ProcessId, e.Owner!.Pid);
        Assert.Equal(Environment.MachineName, e.Owner.Host);
        Assert.InRange(DateTimeOffset.UtcNow - e.Owner.Started, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        Assert.Contains($"pid {Environment.ProcessId} on host {Environment.MachineName}, started ", e.Message, StringComparison.Ordinal);
        Assert.Contains("xent train --out first", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<IOException>(e);

        first.Dispose();
        using var second = RunFolderLock.Acquire(testDir, "xent train --out second");
        Assert.Equal(testDir, second.Directory);
    }

    [Fact]
    public void Describe_changes_what_the_next_run_is_told_and_keeps_the_holder()
    {
        using var held = RunFolderLock.Acquire(testDir, "preparing");
        var before = Assert.Throws<RunFolderInUseException>(() => RunFolderLock.Acquire(testDir, "second")).Owner!;
        held.Describe("training 40 steps");
        var after = Assert.Throws<RunFolderInUseException>(() => RunFolderLock.Acquire(testDir, "second")).Owner!;
        Assert.Equal("preparing", before.Command);
        Assert.Equal(before with { Command = "training 40 steps" }, after);
        Assert.DoesNotContain(Directory.GetFiles(testDir), f => TemporaryFiles.IsTemporary(Path.GetFileName(f)));
    }

    [Fact]
    public void A_killed_holder_leaves_no_stale_lock()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // Another process holds the same OS lock (flock(1) takes the lock .NET takes; --close keeps it out of
        // the sleep child) until it is killed with -9, which gives it no chance to release anything.
        string lockPath = Path.Combine(testDir, RunFolderLock.LockFile);
        using var holder = Process.Start(new ProcessStartInfo("flock", ["--close", lockPath, "sleep", "60"]))!;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        RunFolderInUseException? refused = null;
        while (refused is null && DateTime.UtcNow < deadline)
        {
            try
            {
                RunFolderLock.Acquire(testDir, "probe").Dispose();
                Thread.Sleep(20); // flock has not taken it yet
            }
            catch (RunFolderInUseException e)
            {
                refused = e;
            }
        }
        Assert.NotNull(refused);
        Assert.Null(refused.Owner); // flock(1) writes no owner file
        Assert.Contains("not readable", refused.Message, StringComparison.Ordinal);

        // The whole tree: flock's child holds the lock's descriptor for a moment after the fork, until --close
        // closes it; killing flock alone in that moment left the lock held by the child (seen under load).
        holder.Kill(entireProcessTree: true);
        holder.WaitForExit();
        using var taken = RunFolderLock.Acquire(testDir, "after the kill");
        Assert.True(File.Exists(Path.Combine(testDir, RunFolderLock.OwnerFile)));
    }
}
