using System.Runtime.InteropServices;

namespace Xent.Cli.IO;

/// <summary>
/// The logits in unmanaged memory, in the form the library reads: the mapped file itself for float32, and for
/// float16 and bfloat16 under 2^31 elements (the library's Half and BFloat16 overloads read them as they are);
/// otherwise (float64, or 16-bit beyond those overloads' span length) a native float32 buffer converted in chunks. Never a managed
/// array, so any size works.
/// </summary>
internal sealed unsafe class LogitsData : IDisposable
{
    /// <summary>Elements converted per chunk: large enough to amortise the loop, small enough to spread over threads.</summary>
    private const int Chunk = 1 << 20;

    private readonly MappedArray source;
    private float* owned;

    private LogitsData(MappedArray source, void* pointer, bool isHalf, float* owned, bool isBFloat16 = false)
    {
        this.source = source;
        Pointer = pointer;
        IsHalf = isHalf;
        IsBFloat16 = isBFloat16;
        this.owned = owned;
    }

    /// <summary>Largest float16 or bfloat16 array read in place (the overloads take spans); internal so tests can force the converted path.</summary>
    internal static long HalfInPlaceLimit { get; set; } = int.MaxValue;

    /// <summary>The first value: float* or, when <see cref="IsHalf"/>, Half*.</summary>
    public void* Pointer { get; }

    /// <summary>True when <see cref="Pointer"/> points at float16 values (the file's own bytes).</summary>
    public bool IsHalf { get; }

    /// <summary>True when <see cref="Pointer"/> points at bfloat16 values (the file's own bytes).</summary>
    public bool IsBFloat16 { get; }

    /// <summary>True when <see cref="Pointer"/> is a float32 copy owned by this object, which may be overwritten.</summary>
    public bool IsConvertedCopy => owned != null;

    /// <summary>Where the values come from.</summary>
    public ArrayInfo Info => source.Info;

    /// <summary>Number of values.</summary>
    public long Length => source.Info.Count;

    /// <summary>The float32 values (not for <see cref="IsHalf"/>).</summary>
    public float* Floats => IsHalf || IsBFloat16 ? throw new InvalidOperationException("16-bit logits") : (float*)Pointer;

    /// <summary>The float16 values as a span (only for <see cref="IsHalf"/>).</summary>
    public ReadOnlySpan<Half> Halves => IsHalf ? new((Half*)Pointer, checked((int)Length)) : throw new InvalidOperationException("not float16");

    /// <summary>The bfloat16 values as a span (only for <see cref="IsBFloat16"/>).</summary>
    public ReadOnlySpan<BFloat16> BFloat16s => IsBFloat16 ? new((BFloat16*)Pointer, checked((int)Length)) : throw new InvalidOperationException("not bfloat16");

    /// <summary>Maps <paramref name="info"/> and presents it as float32 or float16.</summary>
    public static LogitsData Open(ArrayInfo info)
    {
        var mapped = MappedArray.Open(info);
        try
        {
            if (info.Type == ElementType.Float32)
            {
                return new LogitsData(mapped, mapped.Data, false, null);
            }

            if (info.Type == ElementType.Float16 && info.Count <= HalfInPlaceLimit)
            {
                return new LogitsData(mapped, mapped.Data, true, null);
            }

            if (info.Type == ElementType.BFloat16 && info.Count <= HalfInPlaceLimit)
            {
                return new LogitsData(mapped, mapped.Data, false, null, isBFloat16: true);
            }

            long n = info.Count;
            float* buffer = (float*)NativeMemory.Alloc((nuint)Math.Max(1, n), sizeof(float));
            Convert(mapped.Data, info.Type, buffer, n);
            return new LogitsData(mapped, buffer, false, buffer);
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
                    BFloat16.ConvertToSingle(new ReadOnlySpan<BFloat16>((BFloat16*)src + start, n), to);
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

    /// <summary>Rounds <paramref name="count"/> floats to float16, in chunks over threads.</summary>
    public static void ToHalf(float* source, Half* destination, long count)
    {
        long chunks = (count + Chunk - 1) / Chunk;
        nint src = (nint)source, dst = (nint)destination;
        Parallel.For(0L, chunks, c =>
        {
            long start = c * Chunk;
            int n = (int)Math.Min(Chunk, count - start);
            var from = new ReadOnlySpan<float>((float*)src + start, n);
            var to = new Span<Half>((Half*)dst + start, n);
            for (int i = 0; i < n; i++)
            {
                to[i] = (Half)from[i];
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
