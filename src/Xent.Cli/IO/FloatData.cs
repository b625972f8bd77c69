using System.Runtime.InteropServices;

namespace Xent.Cli.IO;

/// <summary>
/// An input's values as float32, in unmanaged memory: the mapped file itself when it holds float32, otherwise a
/// native buffer converted from float16 / bfloat16 / float64 in chunks (never a managed array, so any size works).
/// </summary>
internal sealed unsafe class FloatData : IDisposable
{
    /// <summary>Elements converted per chunk: large enough to amortise the loop, small enough to spread over threads.</summary>
    private const int Chunk = 1 << 20;

    private readonly MappedArray source;
    private float* owned;

    private FloatData(MappedArray source, float* pointer, float* owned)
    {
        this.source = source;
        Pointer = pointer;
        this.owned = owned;
    }

    /// <summary>The first value.</summary>
    public float* Pointer { get; }

    /// <summary>Where the values come from.</summary>
    public ArrayInfo Info => source.Info;

    /// <summary>Number of values.</summary>
    public long Length => source.Info.Count;

    /// <summary>True when the values were converted from another type (so they are a copy, not the file).</summary>
    public bool Converted => owned != null;

    /// <summary>The values as a span; only for arrays under 2^31 elements.</summary>
    public ReadOnlySpan<float> Span => new(Pointer, checked((int)Length));

    /// <summary>Maps <paramref name="info"/> and presents it as float32 (takes ownership of nothing else).</summary>
    public static FloatData Open(ArrayInfo info)
    {
        var mapped = MappedArray.Open(info);
        try
        {
            if (info.Type == ElementType.Float32)
            {
                return new FloatData(mapped, (float*)mapped.Data, null);
            }

            long n = info.Count;
            float* buffer = (float*)NativeMemory.Alloc((nuint)Math.Max(1, n), sizeof(float));
            Convert(mapped.Data, info.Type, buffer, n);
            return new FloatData(mapped, buffer, buffer);
        }
        catch
        {
            mapped.Dispose();
            throw;
        }
    }

    /// <summary>Converts <paramref name="count"/> elements of <paramref name="type"/> at <paramref name="source"/> to float32.</summary>
    public static void Convert(byte* source, ElementType type, float* destination, long count)
    {
        long chunks = (count + Chunk - 1) / Chunk;
        nint src = (nint)source, dst = (nint)destination;
        Parallel.For(0L, chunks, c =>
        {
            long start = c * Chunk;
            int n = (int)Math.Min(Chunk, count - start);
            var to = new Span<float>((float*)dst + start, n);
            switch (type)
            {
                case ElementType.Float16:
                    var h = new ReadOnlySpan<Half>((Half*)src + start, n);
                    for (int i = 0; i < n; i++)
                    {
                        to[i] = (float)h[i];
                    }

                    break;
                case ElementType.BFloat16:
                    var b = new ReadOnlySpan<ushort>((ushort*)src + start, n);
                    for (int i = 0; i < n; i++)
                    {
                        to[i] = BitConverter.Int32BitsToSingle(b[i] << 16);
                    }

                    break;
                case ElementType.Float64:
                    var d = new ReadOnlySpan<double>((double*)src + start, n);
                    for (int i = 0; i < n; i++)
                    {
                        to[i] = (float)d[i];
                    }

                    break;
                case ElementType.Float32:
                    new ReadOnlySpan<float>((float*)src + start, n).CopyTo(to);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(type), type, "not a floating-point type");
            }
        });
    }

    public void Dispose()
    {
        if (owned != null)
        {
            NativeMemory.Free(owned);
            owned = null;
        }

        source.Dispose();
    }
}
