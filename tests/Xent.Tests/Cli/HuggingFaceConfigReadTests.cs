using Xent.Tests.Training.HuggingFace;
using Xent.Training.Checkpoints;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;

namespace Xent.Tests.Cli;

/// <summary>The commands that read a Hugging Face folder read its config.json once, and take everything from that reading.</summary>
public sealed class HuggingFaceConfigReadTests : IDisposable
{
    private const string Text = "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs! ";
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData("sample")]
    [InlineData("eval")]
    [InlineData("train")]
    public void A_command_on_a_bpe_export_opens_its_config_once(string verb)
    {
        // config.json was read up to six times (is it a folder of Hugging Face's, its tokenizer, the merges' keys, the
        // model to check the merges' vocabulary, the model to load): one re-exported in between gave a model of one
        // config with the tokenizer of another.
        File.WriteAllText(dir["t.txt"], string.Concat(Enumerable.Repeat(Text, 12)));
        string hf = dir["hf"];
        var learned = (BpeTokenizer)TokenDataset.FromTextFile(dir["t.txt"], TokenizerKind.Bpe, 8).Tokenizer;
        Gpt2Checkpoint.Save(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small with { VocabSize = learned.VocabSize }, 7), "bpe", learned);
        string[] args = verb switch
        {
            "sample" => ["sample", "--checkpoint", hf, "--tokens", "3"],
            "eval" => ["eval", "--checkpoint", hf, "--text", dir["t.txt"]],
            _ => ["train", "--init", hf, "--text", dir["t.txt"], "--out", dir["run"], "--steps", "1", "--batch", "1", "--seq", "8", "--eval-every", "1"],
        };

        var reads = new CountingReads(Path.Combine(hf, Gpt2Checkpoint.ConfigFile));
        CliRun run;
        using (CheckpointFiles.Use(reads))
        {
            run = CliRun.Run(args);
        }

        Assert.True(run.ExitCode == 0, run.Error + run.Out);
        Assert.Equal(1, reads.Opens);
    }

    /// <summary>The real file system, counting the opens of one file for reading.</summary>
    private sealed class CountingReads(string path) : IFileOperations
    {
        private int opens;

        public int Opens => opens;

        public FileStream OpenRead(string file)
        {
            if (file == path)
            {
                Interlocked.Increment(ref opens);
            }

            return FileOperations.Real.OpenRead(file);
        }

        public Stream Create(string file, long size) => FileOperations.Real.Create(file, size);

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string file) => FileOperations.Real.Delete(file);
    }
}
