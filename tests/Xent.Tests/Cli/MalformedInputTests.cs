using System.Buffers.Binary;
using System.IO.Pipes;
using System.Text;
using Xent.Tests.Training.HuggingFace;
using Xent.Training.Checkpoints;

namespace Xent.Tests.Cli;

/// <summary>
/// Input files found by adversarial testing to end in an internal error, a huge allocation or silently wrong data:
/// each must be refused with exit 2 and one line naming the file.
/// </summary>
public sealed class MalformedInputTests : IDisposable
{
    private static readonly float[] Logits = [0.5f, -1f, 2f, 0.25f, 1f, -0.5f];
    private static readonly long[] Targets = [2, 0];
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void ASafeTensorsHeaderThatIsNotUtf8IsBadInput()
    {
        // 0xFF never occurs in UTF-8: JsonDocument accepts it inside a name and throws only when the name is read.
        string st = WriteRaw("bad.safetensors", "{\"logits\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, \"targets\xFF\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [24, 40]}}");
        CliRun.Run("loss", "--input", st).AssertBadInput(st, "not valid UTF-8");
    }

    [Fact]
    public void AnUnpairedSurrogateEscapeInASafeTensorsNameIsBadInput()
    {
        string st = WriteRaw("surrogate.safetensors", "{\"logits\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, \"\\ud800\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [24, 40]}}");
        CliRun.Run("loss", "--input", st).AssertBadInput(st, "not valid Unicode");
    }

    [Fact]
    public void OverlappingSafeTensorsAreRefusedNotReadAsEachOthersBytes()
    {
        // weights [3] at bytes [12, 24) are the logits' second row: a loss would come out, computed from wrong weights.
        string st = WriteRaw("overlap.safetensors", "{\"logits\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, \"targets\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [24, 40]}, \"weights\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [12, 24]}}");
        CliRun.Run("loss", "--input", st).AssertBadInput(st, "tensors 'logits' (data bytes [0, 24)) and 'weights' ([12, 24)) overlap");

        // Empty tensors hold no bytes: one at any offset overlaps nothing.
        string empty = WriteRaw("empty.safetensors", "{\"logits\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, \"targets\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [24, 40]}, \"none\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [4, 4]}}");
        var run = CliRun.Run("loss", "--input", empty);
        Assert.True(run.ExitCode == 0, run.Error);
    }

    [Fact]
    public void OverlappingTensorsOfAHuggingFaceCheckpointAreRefused()
    {
        // wpe pointing at wte's bytes loaded without a word: a model with the wrong position embedding.
        string hf = dir["hf"];
        var model = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 1);
        TestHfCheckpoint.Write(hf, model);
        string path = Path.Combine(hf, "model.safetensors");
        byte[] file = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = System.Text.Json.Nodes.JsonNode.Parse(file.AsSpan(8, n))!.AsObject();
        var wte = header["transformer.wte.weight"]!["data_offsets"]!.AsArray();
        var wpe = header["transformer.wpe.weight"]!["data_offsets"]!.AsArray();
        long length = (long)wpe[1]! - (long)wpe[0]!;
        header["transformer.wpe.weight"]!["data_offsets"] = new System.Text.Json.Nodes.JsonArray((long)wte[0]!, (long)wte[0]! + length);
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString().PadRight(n));
        Assert.Equal(n, json.Length);
        json.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        CliRun.Run("sample", "--checkpoint", hf, "--tokens", "2").AssertBadInput("model.safetensors", "overlap");
    }

    [Theory]
    [InlineData("n_layer", 1_000_000_000, "the config does not match the tensors")]
    [InlineData("n_positions", 1 << 24, "the config does not match the tensors")]
    [InlineData("n_positions", int.MaxValue, "ContextLength x Dim (2147483647 x 64) is too large for one array")]
    public void AHuggingFaceConfigFarLargerThanItsTensorsIsRefusedBeforeAllocating(string key, int value, string problem)
    {
        // n_layer 10^9 allocated 4.7 GB before "not enough memory"; n_positions 2^31 - 1 overflowed (an internal error).
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 2), editConfig: c => c[key] = value);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        CliRun.Run("sample", "--checkpoint", hf, "--tokens", "2").AssertBadInput("config.json", problem);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 256L << 20, "allocated more than 256 MB");
    }

    [Fact]
    public void APipeAsAnInputArrayIsBadInput()
    {
        // `xent loss --logits <(python make.py)`: the shell passes /dev/fd/N, a pipe that cannot be seeked or mapped.
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string targets = TestNpy.I64(dir["t.npy"], Targets, 2);
        byte[] logits = File.ReadAllBytes(TestNpy.F32(dir["l.npy"], Logits, 2, 3));
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.None);
        pipe.Write(logits);
        pipe.Flush();
        string path = $"/proc/self/fd/{pipe.ClientSafePipeHandle.DangerousGetHandle()}";
        CliRun.Run("loss", "--logits", path, "--targets", targets).AssertBadInput(path, "is a pipe, not a file");
    }

    [Theory]
    [InlineData("config.json")]
    [InlineData("model.safetensors")]
    public void AnUnreadableFileOfAHuggingFaceCheckpointIsOneLineInOurWords(string name)
    {
        // config.json was read with File.ReadAllText, whose failure reached the user as .NET's "Access to the path ...".
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 3));
        CliRun run;
        using (CheckpointFiles.Use(new Unreadable(name)))
        {
            run = CliRun.Run("sample", "--checkpoint", hf, "--tokens", "2");
        }

        run.AssertBadInput($"cannot read '{Path.Combine(hf, name)}', loading the checkpoint: permission denied.", "Make it readable by this user and run again.");
        Assert.DoesNotContain("Access to the path", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void AFolderInPlaceOfTheRunsLockFileIsNamedNotBlamedOnPermissions()
    {
        // It was "cannot write into the folder 'run': permission denied." for a folder anyone may write into.
        string run = dir["run"];
        Directory.CreateDirectory(Path.Combine(run, ".xent.lock"));
        CliRun.Run("train", "--out", run, "--steps", "1").AssertBadInput(Path.Combine(run, ".xent.lock"), "is a folder; the run keeps its lock file there");
    }

    [Fact]
    public void SamplingFromACheckpointWithNonFiniteWeightsIsRefusedNotPrintedAsText()
    {
        // A NaN final layer norm made every logit NaN: xent sample printed the last token of the vocabulary again and again.
        string hf = dir["hf"];
        var model = TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 4);
        TestHfCheckpoint.Write(hf, model, editTensors: t => [.. t.Select(x => x.Name == "transformer.ln_f.weight"
            ? (x.Name, x.DType, x.Shape, Enumerable.Repeat(BitConverter.GetBytes(float.NaN), x.Data.Length / 4).SelectMany(b => b).ToArray()) : x)]);
        CliRun.Run("sample", "--checkpoint", hf, "--tokens", "3").AssertBadInput("next-token logits hold NaN", "weights are not finite");
    }

    [Theory]
    [InlineData("5", "\"model_type\" is 5, not a string")]
    [InlineData("{\"a\": 1}", "\"model_type\" is {\"a\":1}, not a string")]
    [InlineData("\"llama\"", "model_type 'llama' is not gpt2")]
    public void AHuggingFaceConfigWithABadModelTypeAndNoNEmbdIsBadInput(string modelType, string problem)
    {
        // Telling the layout cast model_type to a string: a number or an object was an internal error, and "llama"
        // was taken for a checkpoint of xent train ("has no step in its metadata").
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 5), editConfig: c =>
        {
            c.Remove("n_embd");
            c["model_type"] = System.Text.Json.Nodes.JsonNode.Parse(modelType);
        });
        CliRun.Run("sample", "--checkpoint", hf, "--tokens", "2").AssertBadInput("config.json", problem);
    }

    [Fact]
    public void AHuggingFaceFolderWhoseConfigIsNotJsonIsNotCalledAnXentCheckpoint()
    {
        // It said only "has no step in its metadata: not written by xent train", of a folder never meant to be one.
        string hf = dir["hf"];
        TestHfCheckpoint.Write(hf, TestHfCheckpoint.RandomModel(TestHfCheckpoint.Small, 6));
        File.WriteAllText(Path.Combine(hf, "config.json"), "{");
        CliRun.Run("sample", "--checkpoint", hf, "--tokens", "2").AssertBadInput("model.safetensors", "nor is its folder a Hugging Face GPT-2 one (a config.json of JSON with n_embd or model_type)");
    }

    [Theory]
    [InlineData("weights", float.NaN)]
    [InlineData("second moments", float.PositiveInfinity)]
    public void ResumingACheckpointHoldingANonFiniteValueIsRefusedAsDamaged(string which, float value)
    {
        // A NaN weight made a resumed run stop at its first step with "Try a lower --lr" (eval reports the NaN loss such
        // weights give, and sample refuses their logits).
        string run = dir["run"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);
        var (_, c) = ModelCheckpoint.Load(run);
        SafeTensor[] Tensors(IReadOnlyDictionary<string, SafeTensor> all, string kind) => [.. c.Weights.Keys.Select(k =>
            kind == which && k == "wte" ? all[k] with { Data = [value, .. all[k].Data.AsSpan(1)] } : all[k])];
        CheckpointStore.Save(run, c.Config, Tensors(c.Weights, "weights"), Tensors(c.M, "first moments"), Tensors(c.V, "second moments"), c.OptimizerStep);
        string damaged = $"holds {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} at element 0";
        CliRun.Run("train", "--resume", run, "--steps", "2").AssertBadInput("model.safetensors", damaged);
    }

    [Fact]
    public void AFolderWhereTheRunSavesAFileIsRefusedBeforeTraining()
    {
        // A folder in place of config.json: --resume read the config from model.safetensors' metadata, trained, and
        // failed only at its first save, the steps lost.
        string run = dir["run"];
        Assert.Equal(0, TrainCommandTests.Train(run, "--steps", "1", "--eval-every", "10").ExitCode);
        string config = Path.Combine(run, CheckpointStore.ConfigFile);
        File.Delete(config);
        Directory.CreateDirectory(config);
        var before = File.ReadAllBytes(Path.Combine(run, CheckpointStore.ModelFile));
        // Besides the note that the config was read from model.safetensors.
        var resumed = CliRun.Run("train", "--resume", run, "--steps", "3");
        Assert.Equal(2, resumed.ExitCode);
        Assert.Contains($"xent: error: '{config}' is a folder, where the run saves its config.json", resumed.Error);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(run, CheckpointStore.ModelFile)));
    }

    private string WriteRaw(string name, string header)
    {
        byte[] json = Encoding.Latin1.GetBytes(header);
        var data = new MemoryStream();
        foreach (float x in Logits)
        {
            data.Write(BitConverter.GetBytes(x));
        }

        foreach (long t in Targets)
        {
            data.Write(BitConverter.GetBytes(t));
        }

        string path = dir[name];
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        file.Write(length);
        file.Write(json);
        file.Write(data.ToArray());
        return path;
    }

    /// <summary>The real file system, except that opening a file named <paramref name="name"/> is refused (no permission).</summary>
    private sealed class Unreadable(string name) : IFileOperations
    {
        public FileStream OpenRead(string path) => Path.GetFileName(path) == name
            ? throw new UnauthorizedAccessException($"Access to the path '{path}' is denied.")
            : FileOperations.Real.OpenRead(path);

        public Stream Create(string path, long size) => FileOperations.Real.Create(path, size);

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string path) => FileOperations.Real.Delete(path);
    }
}
