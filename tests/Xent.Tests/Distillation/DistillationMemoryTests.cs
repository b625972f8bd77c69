using Xent.Distillation;

namespace Xent.Tests.Distillation;

/// <summary>
/// What one call allocates, measured: no N x V (or N x tile-of-V-per-row) buffer, only the per-group tiles the
/// kernel's <see cref="DistillationKernel.ScratchBytes"/> names. Alone in the run (<see cref="RunsAloneCollection"/>),
/// so that no other test's allocations are counted.
/// </summary>
[Collection(nameof(RunsAloneCollection))]
public class DistillationMemoryTests
{
    [Fact]
    public void AllocatesNothingProportionalToTokensTimesVocabulary()
    {
        var x = new DistillationData(1024, 20000, 32, 48, seed: 2);
        var dh = new float[x.N * x.D];
        var dw = new float[x.V * x.D];
        var o = new DistillationOptions { Beta = 0.5f, HardLossWeight = 0.5f, Temperature = 2f };
        x.LossAndGradients(o, dh, dw); // warm-up: JIT and the matrix kernel's per-thread packing buffers
        long before = GC.GetTotalAllocatedBytes(precise: true);
        x.LossAndGradients(o, dh, dw);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        long logits = (long)x.N * x.V * sizeof(float); // 82 MB
        long scratch = DistillationKernel.ScratchBytes(x.V, x.D); // 1.4 MB
        Assert.True(allocated < scratch + (2L << 20), $"allocated {allocated} bytes; scratch {scratch}, one logits matrix {logits}");
    }

    [Fact]
    public void RepeatedCallsReuseTheirBuffers()
    {
        // A training loop's calls: each fresh set of tiles (2 MB per running task) and partial dh was garbage in the
        // large object heap, which grew the process's committed memory call after call.
        var x = new DistillationData(1024, 20000, 32, 48, seed: 3);
        var dh = new float[x.N * x.D];
        var dw = new float[x.V * x.D];
        var o = new DistillationOptions { Beta = 0.5f, HardLossWeight = 0.5f, Temperature = 2f };
        x.LossAndGradients(o, dh, dw);
        x.LossAndGradients(o, dh, dw);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < 4; i++)
        {
            x.LossAndGradients(o, dh, dw);
        }

        // Nothing is left (0.3 MB a call while each call allocated its row constants; 5.4 MB before the buffers were
        // kept; a few KB while the sweeps ran on Parallel.For, and a 2 MB pair of tiles when more tasks ran at once than
        // before, where the tiles are now made before the call). The margin is for the test process's other threads.
        long allocated = (GC.GetTotalAllocatedBytes(precise: true) - before) / 4;
        Assert.True(allocated < 64 << 10, $"allocated {allocated} bytes a call; scratch {DistillationKernel.ScratchBytes(x.V, x.D)}");
    }
}
