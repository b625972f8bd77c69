namespace Xent.Kernels;

/// <summary>A bool known when a generic method is compiled (<see cref="Yes"/> or <see cref="No"/>).</summary>
internal interface IConstant
{
    static abstract bool Value { get; }
}

/// <summary>true, as a type.</summary>
internal readonly struct Yes : IConstant
{
    public static bool Value => true;
}

/// <summary>false, as a type.</summary>
internal readonly struct No : IConstant
{
    public static bool Value => false;
}
