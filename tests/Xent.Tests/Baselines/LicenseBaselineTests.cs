using System.Globalization;
using Xent.Training.Baselines;
using Xent.Training.Data;
using Xent.Training.Runs;

namespace Xent.Tests.Baselines;

/// <summary>The baseline README.md and docs/training.md quote for the license texts, recomputed where they exist.</summary>
public sealed class LicenseBaselineTests : IDisposable
{
    private static readonly string[] Licenses =
        ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0", "/usr/share/common-licenses/MPL-2.0"];

    private readonly string file = Path.Combine(Path.GetTempPath(), $"xent-licenses-{Environment.ProcessId}.txt");

    public void Dispose() => File.Delete(file);

    [Fact]
    public void The_quoted_license_baseline_is_what_the_library_computes()
    {
        if (!Licenses.All(File.Exists))
        {
            return; // Not a Debian-style system: nothing to compare with.
        }

        File.WriteAllBytes(file, [.. Licenses.SelectMany(File.ReadAllBytes)]);
        var data = TokenDataset.FromTextFile(file, TokenizerKind.Bytes, TrainingDefaults.Seq);
        if (data.Train.Length + data.Validation.Length != 63_233)
        {
            return; // Another version of the texts than the one measured.
        }

        var baseline = NGramBaseline.Fit(data.Train, data.Validation, 256, TrainingDefaults.Seq, TrainingDefaults.ValidationWindows(TrainingDefaults.Seq));
        string quoted = baseline.NatsPerToken.ToString("0.000", CultureInfo.InvariantCulture);
        string root = Docs.ReadmeTests.RepositoryRoot();
        Assert.Contains($"is {quoted} nats/byte (an {baseline.Order}-gram)", File.ReadAllText(Path.Combine(root, "README.md")), StringComparison.Ordinal);
        Assert.Contains($"**{quoted}** ({baseline.Order})", File.ReadAllText(Path.Combine(root, "docs", "training.md")), StringComparison.Ordinal);
    }
}
