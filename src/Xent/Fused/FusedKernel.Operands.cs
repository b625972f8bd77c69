namespace Xent.Fused;

/// <summary>
/// Where the kernel reads h and W: in place when they are float; bfloat16 ones are widened (exactly) piece by piece as
/// the kernel reaches them, h one token block at a time and W one tile's class rows at a time, both into the call's
/// buffer (a tile's rows in its vocabulary group's own slot: a group runs on one thread at a time), so the float
/// copies never exceed [TB, D] plus [VocabBlock, D] per group whatever the thread count, and every product sees the
/// same float values as a float call on the widened inputs (bitwise the same results).
/// </summary>
internal static unsafe partial class FusedKernel
{
    private sealed partial class Runner<TL, TV>
    {
        // The current token block's rows of h [tbn, D], as floats.
        private float* blockHidden;

        // Per vocabulary group: the class rows of its current tile of a bfloat16 W, widened [VocabBlock, D].
        private float* weightRows;

        /// <summary>Floats of the call's buffer that hold the widened token block and tiles (bfloat16 h, W only).</summary>
        private long WidenedFloats => (p.HiddenBFloat16 == null ? 0 : (long)TB * p.D) + (p.WeightBFloat16 == null ? 0 : (long)groups * VocabBlock * p.D);

        /// <summary>Places the widened token block and the groups' tile slots at <paramref name="block"/> (WidenedFloats floats).</summary>
        private void AssignWidened(float* block)
        {
            hBlock = p.HiddenBFloat16 == null ? null : block;
            weightRows = p.WeightBFloat16 == null ? null : block + (p.HiddenBFloat16 == null ? 0 : (nint)TB * p.D);
        }

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
        /// Class rows [c, c + count) of W as floats [count, D] (count &lt;= VocabBlock, all in one vocabulary group): in
        /// place, or a bfloat16 W's rows widened into their group's slot, valid until the group's next call.
        /// </summary>
        private float* WeightRows(int c, int count)
        {
            int d = p.D;
            if (p.WeightBFloat16 == null)
            {
                return p.Weight + ((nint)c * d);
            }

            int g = 0;
            while (GroupStart(g + 1) <= c)
            {
                g++;
            }

            int length = checked(count * d);
            float* rows = weightRows + ((nint)g * VocabBlock * d);
            BFloat16.ConvertToSingle(new ReadOnlySpan<BFloat16>(p.WeightBFloat16 + ((nint)c * d), length), new Span<float>(rows, length));
            return rows;
        }
    }
}
