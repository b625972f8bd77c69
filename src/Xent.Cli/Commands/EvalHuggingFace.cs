using System.Text.Json.Nodes;
using Xent.Cli.IO;
using Xent.Cli.Terminal;
using Xent.Training.Checkpoints.HuggingFace;
using Xent.Training.Data;
using Xent.Training.Model;

namespace Xent.Cli.Commands;

/// <summary>
/// <c>xent eval</c> of a Hugging Face GPT-2 folder: the GPT-2 tokenizer (or that of the run of xent train it was
/// exported from, <see cref="Gpt2FolderTokenizer"/>), sliding windows of the checkpoint's context
/// length (or --window) every --stride tokens, one window in memory at a time, the fused loss head.
/// </summary>
internal static class EvalHuggingFace
{
    /// <param name="io">Where to print.</param>
    /// <param name="settings">The options.</param>
    /// <param name="folder">--checkpoint, its config.json read (the model and the tokenizer both come from that one reading).</param>
    public static int Run(CliConsoles io, EvalSettings settings, Gpt2Folder folder)
    {
        ITokenizer tokenizer = Gpt2FolderTokenizer.For(folder);
        var model = Gpt2Checkpoint.Load(folder);
        if (settings.Threads is { } threads)
        {
            model.MaxDegreeOfParallelism = threads;
        }

        int[] tokens = settings.Tokens is { } path ? ReadTokens(path) : tokenizer.Encode(TokenDataset.ReadText(settings.Text!));
        string source = settings.Tokens ?? settings.Text!;
        if (tokens.Length < 2)
        {
            throw XentCliException.InFile(source, $"{tokens.Length} tokens: at least 2 are needed (one to predict from, one to predict).");
        }

        int v = model.Config.VocabSize;
        int bad = Array.FindIndex(tokens, t => (uint)t >= (uint)v);
        if (bad >= 0)
        {
            throw XentCliException.InFile(source, $"token {tokens[bad]} at position {bad} is outside the checkpoint's vocabulary [0, {v}).");
        }

        // A vocabulary padded past GPT-2's (50304) has ids that stand for no bytes: bits per byte would count them as 0.
        int padded = Array.FindIndex(tokens, t => t >= tokenizer.VocabSize);
        if (padded >= 0)
        {
            string name = tokenizer.Kind == TokenizerKind.Gpt2 ? "GPT-2" : TokenizerNames.Name(tokenizer.Kind);
            throw XentCliException.InFile(source,
                $"token {tokens[padded]} at position {padded} is not a {name} token ({name}'s ids are [0, {tokenizer.VocabSize}); the checkpoint's vocabulary of {v} is padded past them), so it stands for no text.");
        }

        int window = settings.Window ?? model.Config.ContextLength;
        if (window > model.Config.ContextLength)
        {
            throw new XentCliException($"--window {window} is longer than the checkpoint's context (n_positions {model.Config.ContextLength}).");
        }

        int stride = settings.Stride ?? window;
        if (stride > window)
        {
            throw new XentCliException($"--stride {stride} is longer than the window of {window} tokens: tokens between windows would never be scored.");
        }

        if (settings.LogitsOut is { } logitsPath)
        {
            OutputDestination.Check(logitsPath, "--logits-out");
            DistinctFiles.Check(
                [("--checkpoint", Path.Combine(settings.Checkpoint!, "model.safetensors")), (settings.Tokens is null ? "--text" : "--tokens", source)],
                [("--logits-out", logitsPath)]);
            WriteLogits(logitsPath, model, tokens.AsSpan(0, Math.Min(window, tokens.Length)));
        }

        var (nats, predicted) = StridedEvaluation.Loss(model, tokens, window, stride);
        long bytes = tokenizer.ByteCount(tokens.AsSpan(1));
        var report = new EvalReport(predicted, bytes, nats, bytes > 0 ? Evaluation.BitsPerByte(nats, bytes) : double.NaN);
        report.Write(io, settings.Json, new JsonObject
        {
            ["tokenizer"] = TokenizerNames.Name(tokenizer.Kind),
            ["window"] = window,
            ["stride"] = stride,
            ["total_nats"] = nats,
        });
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Logits [L, V] of the first window's L positions, each from its own prefix (L forward passes: a check for small
    /// windows, not a fast path), as .npy float32.
    /// </summary>
    private static unsafe void WriteLogits(string path, GptModel model, ReadOnlySpan<int> window)
    {
        int v = model.Config.VocabSize;
        using var output = NpyOutput.Create(path, ElementType.Float32, [window.Length, v]);
        for (int t = 0; t < window.Length; t++)
        {
            model.NextTokenLogits(window[..(t + 1)], new Span<float>(output.Data + ((long)t * v * sizeof(float)), v));
        }

        NpyOutput.WriteAll([output]);
    }

    private static int[] ReadTokens(string path) => SmallArrays.ReadTargets(ArrayFiles.Open(path, "tokens"));
}
