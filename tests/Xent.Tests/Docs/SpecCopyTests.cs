namespace Xent.Tests.Docs;

/// <summary>docs/spec holds copies of the team's shared specifications; they must not drift from the originals.</summary>
public class SpecCopyTests
{
    [Theory]
    [InlineData("cross-entropy.md")]
    [InlineData("linear-cross-entropy.md")]
    public void SpecCopy_EqualsTheSharedOriginal(string name)
    {
        string root = ReadmeTests.RepositoryRoot();
        string copy = Path.Combine(root, "docs", "spec", name);
        Assert.True(File.Exists(copy), $"{copy} is missing");

        // The shared folder sits beside the checkout on the team's machines and in CI; elsewhere there is nothing
        // to compare against, and the copy is the spec.
        string original = Path.Combine(root, "..", "shared", "spec", name);
        if (File.Exists(original))
        {
            Assert.Equal(File.ReadAllText(original), File.ReadAllText(copy));
        }
    }
}
