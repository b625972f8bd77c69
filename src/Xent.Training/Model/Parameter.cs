namespace Xent.Training.Model;

/// <summary>One named parameter tensor of a model, row-major, with its gradient beside it.</summary>
public sealed class Parameter
{
    internal Parameter(string name, params int[] shape)
    {
        Name = name;
        Shape = shape;
        long length = 1;
        foreach (int s in shape)
        {
            length *= s;
        }

        Data = new float[length];
        Grad = new float[length];
    }

    /// <summary>Stable name, e.g. "wte" or "h.0.attn.c_attn.weight" (see <see cref="GptModel.Parameters"/>).</summary>
    public string Name { get; }

    /// <summary>Shape, outermost first; the product is <see cref="Length"/>.</summary>
    public int[] Shape { get; }

    /// <summary>Values, row-major.</summary>
    public float[] Data { get; }

    /// <summary>Gradient of the last <see cref="GptModel.ForwardBackward"/>, same shape as <see cref="Data"/>.</summary>
    public float[] Grad { get; }

    /// <summary>Number of elements.</summary>
    public int Length => Data.Length;

    /// <inheritdoc />
    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}
