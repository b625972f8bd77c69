using Xent.Kernels;

namespace Xent.Fused;

/// <summary>The last step of a token block's backward: the groups' partial dh added into dh in group order.</summary>
internal static unsafe partial class FusedKernel
{
    private sealed partial class Runner<TL, TV>
    {
        /// <summary>dh rows of the block = what was there (when accumulating) + the groups' partials in group order.</summary>
        private void ReduceHidden()
        {
            int chunks = (int)Math.Min(8, Math.Max(1, (long)tbn * p.D / 4096));
            ParallelWork.For(chunks, threads, c =>
            {
                int k0 = (int)((long)p.D * c / chunks), k1 = (int)((long)p.D * (c + 1) / chunks);
                AddTransposedPartials(k0, k1);
                if (dHiddenRows != null)
                {
                    AddRowPartials(k0, k1);
                }
            });
        }

        /// <summary>Hidden units [k0, k1) of the groups' transposed partials [D, TB], one unit (a column of dh) at a time.</summary>
        private void AddTransposedPartials(int k0, int k1)
        {
            int d = p.D, n = tbn;
            float* dst = p.DHidden + ((nint)t0 * d);
            float* column = stackalloc float[TB];
            var sum = new Span<float>(column, n);
            for (int k = k0; k < k1; k++)
            {
                for (int t = 0; t < n; t++)
                {
                    column[t] = dst[((nint)t * d) + k];
                }

                for (int g = 0; g < groups; g++)
                {
                    Elementwise.Add(sum, new ReadOnlySpan<float>(dHidden + ((long)g * TB * d) + ((long)k * TB), n), sum);
                }

                for (int t = 0; t < n; t++)
                {
                    dst[((nint)t * d) + k] = column[t];
                }
            }
        }

        /// <summary>
        /// Then the entry-by-entry updates of the filtered path, kept row-major (a transposed axpy would touch one
        /// cache line per hidden unit).
        /// </summary>
        private void AddRowPartials(int k0, int k1)
        {
            int d = p.D;
            float* dst = p.DHidden + ((nint)t0 * d);
            for (int t = 0; t < tbn; t++)
            {
                var row = new Span<float>(dst + ((nint)t * d) + k0, k1 - k0);
                for (int g = 0; g < groups; g++)
                {
                    Elementwise.Add(row, new ReadOnlySpan<float>(dHiddenRows + ((long)g * TB * d) + ((long)t * d) + k0, k1 - k0), row);
                }
            }
        }
    }
}
