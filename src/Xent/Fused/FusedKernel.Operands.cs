using Xent.LinearAlgebra;

namespace Xent.Fused;

/// <summary>
/// Where the kernel reads h and W: in place when they are float; bfloat16 ones are widened (exactly) piece by piece as
/// the kernel reaches them, h one token block at a time into the call's buffer and W one tile's class rows at a time
/// into the thread's workspace, so the float copies never exceed [TB, D] and [VocabBlock, D] per thread and every
/// product sees the same float values as a float call on the widened inputs (bitwise the same results).
/// </summary>
internal static unsafe partial class FusedKernel
{
    private sealed partial class Runner<TL, TV>
    {
        // The current token block's rows of h [tbn, D], as floats.
        private float* blockHidden;

        /// <summary>Floats of the call's buffer that hold the widened token block (bfloat16 h only).</summary>
        private long WidenedHiddenFloats => p.HiddenBFloat16 == null ? 0 : (long)TB * p.D;

        /// <summary>The current token block's rows of h as floats [tbn, D]; a bfloat16 h is widened into the call's buffer.</summary>
        private float* BlockHidden()
        {
            if (p.HiddenBFloat16 == null)
            {
                blockHidden = p.Hidden + ((nint)t0 * p.D);
            }
            else
            {
                int length = checked(tbn * p.D);
                BFloat16.ConvertToSingle(new ReadOnlySpan<BFloat16>(p.HiddenBFloat16 + ((nint)t0 * p.D), length), new Span<float>(hBlock, length));
                blockHidden = hBlock;
            }

            return blockHidden;
        }

        /// <summary>
        /// Class rows [c, c + count) of W as floats [count, D] (count &lt;= VocabBlock): in place, or a bfloat16 W's rows
        /// widened into the calling thread's workspace, valid until its next call on this thread.
        /// </summary>
        private float* WeightRows(int c, int count)
        {
            int d = p.D;
            if (p.WeightBFloat16 == null)
            {
                return p.Weight + ((nint)c * d);
            }

            int length = checked(count * d);
            float* rows = Workspace.Current.Get(WorkspaceSlot.FusedWeightRows, (long)VocabBlock * d);
            BFloat16.ConvertToSingle(new ReadOnlySpan<BFloat16>(p.WeightBFloat16 + ((nint)c * d), length), new Span<float>(rows, length));
            return rows;
        }
    }
}
