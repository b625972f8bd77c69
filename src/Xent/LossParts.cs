namespace Xent;

/// <summary>
/// A reduced loss and its two parts: the cross-entropy term (with label smoothing and class weights) and the z-loss
/// term l lse^2. Under <see cref="Reduction.Mean"/> the first is divided by the kept rows' target weight and the
/// second by the kept row count (PyTorch's convention), so <see cref="Total"/> is their sum, each part reduced on
/// its own.
/// </summary>
/// <param name="Total">The loss, as <c>Loss</c> returns it.</param>
/// <param name="CrossEntropy">The cross-entropy part; NaN for a mean over no kept rows.</param>
/// <param name="ZLoss">The z-loss part; 0 when <see cref="CrossEntropyOptions.ZLoss"/> is 0.</param>
public readonly record struct LossParts(float Total, float CrossEntropy, float ZLoss);
