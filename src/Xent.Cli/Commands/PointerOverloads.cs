using System.Reflection;

namespace Xent.Cli.Commands;

/// <summary>
/// The library's pointer overloads for logits of more than 2^31 - 1 elements, bound at run time:
/// <c>CrossEntropy.Loss(float*, long, ReadOnlySpan&lt;int&gt;, CrossEntropyOptions?)</c>, <c>LossPerRow(float*, long, ...)</c>
/// and <c>LossAndGradient(float*, long, ReadOnlySpan&lt;int&gt;, float*, long, ...)</c>. They are being added to
/// the library in parallel with this CLI; binding by signature lets the CLI use them as soon as they ship.
/// Once they are on main, replace this class by direct calls in <see cref="LossKernels"/>.
/// </summary>
internal sealed unsafe class PointerOverloads
{
    public delegate float LossFn(float* logits, long logitsLength, ReadOnlySpan<int> targets, CrossEntropyOptions? options);

    public delegate void LossPerRowFn(float* logits, long logitsLength, ReadOnlySpan<int> targets, Span<float> losses, CrossEntropyOptions? options);

    public delegate float LossAndGradientFn(float* logits, long logitsLength, ReadOnlySpan<int> targets, float* gradient, long gradientLength, CrossEntropyOptions? options);

    private PointerOverloads(LossFn loss, LossPerRowFn lossPerRow, LossAndGradientFn lossAndGradient)
    {
        Loss = loss;
        LossPerRow = lossPerRow;
        LossAndGradient = lossAndGradient;
    }

    /// <summary>The overloads of <see cref="CrossEntropy"/>, or null when this build of the library lacks them.</summary>
    public static PointerOverloads? Library { get; } = Bind(typeof(CrossEntropy));

    public LossFn Loss { get; }

    public LossPerRowFn LossPerRow { get; }

    public LossAndGradientFn LossAndGradient { get; }

    /// <summary>Binds the three methods of <paramref name="type"/> by name and exact parameter types; null if any is missing.</summary>
    public static PointerOverloads? Bind(Type type)
    {
        var loss = Find<LossFn>(type, "Loss");
        var perRow = Find<LossPerRowFn>(type, "LossPerRow");
        var grad = Find<LossAndGradientFn>(type, "LossAndGradient");
        return loss is null || perRow is null || grad is null ? null : new PointerOverloads(loss, perRow, grad);
    }

    private static T? Find<T>(Type type, string name)
        where T : Delegate
    {
        var invoke = typeof(T).GetMethod("Invoke")!;
        var parameters = invoke.GetParameters().Select(p => p.ParameterType).ToArray();
        var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.Static, parameters);
        return method is not null && method.ReturnType == invoke.ReturnType ? method.CreateDelegate<T>() : null;
    }
}
