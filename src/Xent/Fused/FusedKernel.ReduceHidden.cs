using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xent.Kernels;
using Xent.LinearAlgebra;

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
            ParallelWork.For(chunks, threads, new HiddenChunks(this, chunks));
        }

        /// <summary>Chunk c of <paramref name="chunks"/> of the hidden units.</summary>
        private void ReduceHiddenChunk(int c, int chunks)
        {
            int k0 = (int)((long)p.D * c / chunks), k1 = (int)((long)p.D * (c + 1) / chunks);
            AddTransposedPartials(k0, k1);
            if (dHiddenRows != null)
            {
                AddRowPartials(k0, k1);
            }
        }

        private readonly struct HiddenChunks(Runner<TL, TV> runner, int chunks) : IWorkItems
        {
            public void Run(int item) => runner.ReduceHiddenChunk(item, chunks);
        }

        /// <summary>
        /// Hidden units [k0, k1) of the groups' transposed partials [D, TB]: blocks of 8 units x 8 tokens transposed in
        /// registers and added to dh's rows (where AVX is), the rest one unit (a column of dh) at a time. Either way
        /// each element is dh + the groups' partials added one by one in group order: the same bits. A column at a time
        /// for every unit, the strided loads and stores took a third of the default model's loss head (D 64, V 32).
        /// </summary>
        private void AddTransposedPartials(int k0, int k1)
        {
            float* dst = p.DHidden + ((nint)t0 * p.D);
            int k = k0;
            if (Transpose8.IsSupported)
            {
                for (; k + 8 <= k1; k += 8)
                {
                    AddTransposedBlock(dst, k);
                }
            }

            for (; k < k1; k++)
            {
                AddColumn(dst, k, 0);
            }
        }

        /// <summary>dh's units [k, k + 8) of the block's tokens: 8 x 8 blocks in registers, the last tokens by column.</summary>
        private void AddTransposedBlock(float* dst, int k)
        {
            int d = p.D, t = 0;
            for (; t + 8 <= tbn; t += 8)
            {
                float* rows = dst + ((nint)t * d) + k;
                Vector256<float> a0 = Avx.LoadVector256(rows), a1 = Avx.LoadVector256(rows + d), a2 = Avx.LoadVector256(rows + (2 * d));
                Vector256<float> a3 = Avx.LoadVector256(rows + (3 * d)), a4 = Avx.LoadVector256(rows + (4 * d)), a5 = Avx.LoadVector256(rows + (5 * d));
                Vector256<float> a6 = Avx.LoadVector256(rows + (6 * d)), a7 = Avx.LoadVector256(rows + (7 * d));
                for (int g = 0; g < groups; g++)
                {
                    // Units k .. k + 7 of tokens t .. t + 7 (rows TB apart), transposed: q_j is token t + j's.
                    Transpose8.Load(dHidden + ((long)g * TB * d) + ((long)k * TB) + t, TB, 8,
                        out var q0, out var q1, out var q2, out var q3, out var q4, out var q5, out var q6, out var q7);
                    a0 = Avx.Add(a0, q0);
                    a1 = Avx.Add(a1, q1);
                    a2 = Avx.Add(a2, q2);
                    a3 = Avx.Add(a3, q3);
                    a4 = Avx.Add(a4, q4);
                    a5 = Avx.Add(a5, q5);
                    a6 = Avx.Add(a6, q6);
                    a7 = Avx.Add(a7, q7);
                }

                Avx.Store(rows, a0);
                Avx.Store(rows + d, a1);
                Avx.Store(rows + (2 * d), a2);
                Avx.Store(rows + (3 * d), a3);
                Avx.Store(rows + (4 * d), a4);
                Avx.Store(rows + (5 * d), a5);
                Avx.Store(rows + (6 * d), a6);
                Avx.Store(rows + (7 * d), a7);
            }

            for (int u = k; t < tbn && u < k + 8; u++)
            {
                AddColumn(dst, u, t);
            }
        }

        /// <summary>Unit k of dh (a column, D apart) for the block's tokens from <paramref name="from"/>: + each group's partial in order.</summary>
        private void AddColumn(float* dst, int k, int from)
        {
            int d = p.D, n = tbn - from;
            float* column = stackalloc float[TB];
            var sum = new Span<float>(column, n);
            for (int t = 0; t < n; t++)
            {
                column[t] = dst[((nint)(from + t) * d) + k];
            }

            for (int g = 0; g < groups; g++)
            {
                Elementwise.Add(sum, new ReadOnlySpan<float>(dHidden + ((long)g * TB * d) + ((long)k * TB) + from, n), sum);
            }

            for (int t = 0; t < n; t++)
            {
                dst[((nint)(from + t) * d) + k] = column[t];
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
