using Xent.Cli.IO;
using Xent.Cli.Terminal;

namespace Xent.Cli.Commands;

/// <summary>
/// The validated inputs of <c>xent loss</c>: headers of logits (mapped later), targets and weights read and
/// checked against the logits' shape, with every problem reported as one message naming the file.
/// </summary>
internal sealed class LossInputs
{
    private LossInputs(ArrayInfo logits, ArrayInfo targetsInfo, int[] targets, float[]? weights, string? weightsPath)
    {
        WeightsPath = weightsPath;
        Logits = logits;
        TargetsInfo = targetsInfo;
        Targets = targets;
        Weights = weights;
    }

    public ArrayInfo Logits { get; }

    public ArrayInfo TargetsInfo { get; }

    public int[] Targets { get; }

    public float[]? Weights { get; }

    /// <summary>The file the class weights came from, if any.</summary>
    public string? WeightsPath { get; }

    /// <summary>V, the last axis of the logits.</summary>
    public int Classes => (int)Logits.Shape[^1];

    public int Rows => Targets.Length;

    public static LossInputs Load(LossSettings s)
    {
        string logitsPath = s.Input ?? s.Logits!;
        var logits = ArrayFiles.Open(logitsPath, "logits");
        bool logitsSafeTensors = ArrayFiles.IsSafeTensors(logitsPath);
        string targetsPath = s.Targets ?? (logitsSafeTensors
            ? logitsPath
            : throw new XentCliException("--targets FILE is required (it may be omitted only when --logits is a safetensors file holding 'targets')."));

        CheckLogits(logits);
        var (targetsInfo, targets) = ReadTargets(targetsPath, logits, s.IgnoreIndex);
        string? weightsPath = s.Weights ?? (s.Input is not null && HasTensor(s.Input, "weights") ? s.Input : null);
        float[]? weights = weightsPath is null ? null : ReadWeights(weightsPath, logits.Shape[^1]);
        return new LossInputs(logits, targetsInfo, targets, weights, weightsPath);
    }

    // The checks below are also xent explain's, so that both accept and refuse the same files with the same words.

    /// <summary>Logits [..., V]: floating-point, at least one axis, 1 to 2^31 - 1 classes.</summary>
    internal static void CheckLogits(ArrayInfo logits)
    {
        if (!logits.Type.IsFloat())
        {
            throw XentCliException.InFile(logits.Path, $"logits must be floating-point (float16, float32 or float64), not {logits.Type.Name()}.");
        }

        if (logits.Shape.Length == 0)
        {
            throw XentCliException.InFile(logits.Path, "logits must have at least one axis [..., V], but this is a scalar.");
        }

        long v = logits.Shape[^1];
        if (v == 0)
        {
            throw XentCliException.InFile(logits.Path, $"logits of shape {logits.ShapeText} have no classes (V = 0).");
        }

        if (v > int.MaxValue)
        {
            throw XentCliException.InFile(logits.Path, $"V = {v} classes exceeds int32.");
        }
    }

    /// <summary>
    /// The targets of <paramref name="logits"/> (checked by <see cref="CheckLogits"/>): of the logits' shape without
    /// the vocabulary axis, each in [0, V) or the ignore index.
    /// </summary>
    internal static (ArrayInfo Info, int[] Targets) ReadTargets(string path, ArrayInfo logits, int ignoreIndex)
    {
        var info = ArrayFiles.Open(path, "targets");
        var expected = logits.Shape[..^1];
        if (!info.Shape.AsSpan().SequenceEqual(expected))
        {
            throw XentCliException.InFile(path, $"targets of shape {info.ShapeText} do not match the logits {logits.ShapeText} in {logits.Path}: expected shape {ArrayInfo.FormatShape(expected)} (the logits' shape without the vocabulary axis).");
        }

        var targets = SmallArrays.ReadTargets(info);
        CheckTargets(info, targets, (int)logits.Shape[^1], ignoreIndex);
        return (info, targets);
    }

    /// <summary>Class weights of shape (V,) for logits with <paramref name="classes"/> = V classes.</summary>
    internal static float[] ReadWeights(string path, long classes)
    {
        var w = ArrayFiles.Open(path, "weights");
        if (w.Shape.Length != 1 || w.Shape[0] != classes)
        {
            throw XentCliException.InFile(path, $"class weights of shape {w.ShapeText} do not match the vocabulary: expected ({classes},).");
        }

        return SmallArrays.ReadFloats(w);
    }

    private static void CheckTargets(ArrayInfo info, int[] targets, int classes, int ignoreIndex)
    {
        for (int i = 0; i < targets.Length; i++)
        {
            int t = targets[i];
            if (t != ignoreIndex && (uint)t >= (uint)classes)
            {
                throw XentCliException.InFile(info.Path, $"target {t} at index {SmallArrays.Index(info.Shape, i)} is outside [0, {classes}) and is not the ignore index {ignoreIndex}.");
            }
        }
    }

    private static bool HasTensor(string path, string name) =>
        ArrayFiles.IsSafeTensors(path) && SafeTensorsFormat.TensorNames(path).Contains(name);
}
