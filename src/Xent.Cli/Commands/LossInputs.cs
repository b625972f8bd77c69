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
        var targetsInfo = ArrayFiles.Open(targetsPath, "targets");
        var expected = logits.Shape[..^1];
        if (!targetsInfo.Shape.AsSpan().SequenceEqual(expected))
        {
            throw XentCliException.InFile(targetsPath, $"targets of shape {targetsInfo.ShapeText} do not match the logits {logits.ShapeText} in {logitsPath}: expected shape {ArrayInfo.FormatShape(expected)} (the logits' shape without the vocabulary axis).");
        }

        var targets = SmallArrays.ReadTargets(targetsInfo);
        CheckTargets(targetsInfo, targets, (int)logits.Shape[^1], s.IgnoreIndex);

        float[]? weights = null;
        string? weightsPath = s.Weights ?? (s.Input is not null && HasTensor(s.Input, "weights") ? s.Input : null);
        if (weightsPath is not null)
        {
            var w = ArrayFiles.Open(weightsPath, "weights");
            if (w.Shape.Length != 1 || w.Shape[0] != logits.Shape[^1])
            {
                throw XentCliException.InFile(weightsPath, $"class weights of shape {w.ShapeText} do not match the vocabulary: expected ({logits.Shape[^1]},).");
            }

            weights = SmallArrays.ReadFloats(w);
        }

        return new LossInputs(logits, targetsInfo, targets, weights, weightsPath);
    }

    private static void CheckLogits(ArrayInfo logits)
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
