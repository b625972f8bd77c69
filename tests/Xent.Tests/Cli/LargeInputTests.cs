using Xent.Cli.Commands;

namespace Xent.Tests.Cli;

/// <summary>Logits over 2^31 elements: memory-mapped, handed to the library's pointer overloads when it has them.</summary>
public sealed class LargeInputTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>
    /// An 8.6 GB float32 file of zeros, made sparse (SetLength) so it costs no disk or time to create: every row is
    /// uniform, so the loss is ln V. Without the pointer overloads the CLI must refuse clearly, not crash.
    /// Slow when the overloads exist (it reads 8.6 GB of mapped zero pages): dotnet test --filter Category=Slow.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void OverTwoToThe31Elements()
    {
        const int v = 32768, n = 65537;
        var l = dir["big.npy"];
        var header = TestNpy.File(TestNpy.Dict("<f4", n, v), []);
        using (var f = File.Create(l))
        {
            f.Write(header);
            f.SetLength(header.Length + (long)n * v * 4);
        }

        var t = TestNpy.I32(dir["t.npy"], new int[n], n);
        var run = CliRun.Run("loss", "--logits", l, "--targets", t);
        if (PointerOverloads.Library is null)
        {
            run.AssertBadInput(l, "the logits hold 2147516416 elements (over 2^31 - 1)");
        }
        else
        {
            Assert.True(run.ExitCode == 0, run.Error);
            Assert.Contains($"loss: {MathF.Log(v).ToString("R", System.Globalization.CultureInfo.InvariantCulture)[..6]}", run.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public unsafe void PointerOverloads_BindByExactSignature()
    {
        Assert.Null(PointerOverloads.Bind(typeof(string)));
        var bound = PointerOverloads.Bind(typeof(FakeLibrary));
        Assert.NotNull(bound);
        float x = 2;
        Assert.Equal(3f, bound.Loss(&x, 1, [1, 2], null));
        var losses = new float[1];
        bound.LossPerRow(&x, 1, [1], losses, null);
        Assert.Equal(2f, losses[0]);
        float g = 0;
        Assert.Equal(7f, bound.LossAndGradient(&x, 1, [1], &g, 1, null));
        Assert.Equal(2f, g);
    }

    private static unsafe class FakeLibrary
    {
        public static float Loss(float* logits, long logitsLength, ReadOnlySpan<int> targets, CrossEntropyOptions? options = null) =>
            logits[0] + targets.Length - 1 + logitsLength - 1 + (options is null ? 0 : 100);

        public static void LossPerRow(float* logits, long logitsLength, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions? options = null) =>
            losses[0] = logits[0] * targets[0] * logitsLength + (options is null ? 0 : 100);

        public static float LossAndGradient(float* logits, long logitsLength, ReadOnlySpan<int> targets, float* gradient, long gradientLength, CrossEntropyOptions? options = null)
        {
            gradient[0] = logits[0];
            return 7f * targets.Length * logitsLength * gradientLength + (options is null ? 0 : 100);
        }
    }
}
