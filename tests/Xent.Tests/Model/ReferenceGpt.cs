using Xent.Training;
using Xent.Training.Model;

namespace Xent.Tests.Model;

/// <summary>
/// An independent float64 forward pass of the same network, written plainly from the GPT-2 equations (no shared
/// code with the model): the loss it computes is precise enough for central finite differences.
/// </summary>
internal sealed class ReferenceGpt
{
    private readonly GptConfig config;
    private readonly Dictionary<string, double[]> p;

    public ReferenceGpt(GptModel model)
    {
        config = model.Config;
        p = model.Parameters.ToDictionary(x => x.Name, x => x.Data.Select(v => (double)v).ToArray());
    }

    public double[] this[string name] => p[name];

    public double Loss(int[] tokens, int[] targets, int batch, int seq, int ignoreIndex = -100)
    {
        double total = 0;
        int kept = 0;
        for (int b = 0; b < batch; b++)
        {
            var x = Hidden(tokens.AsSpan(b * seq, seq));
            for (int t = 0; t < seq; t++)
            {
                int y = targets[(b * seq) + t];
                if (y == ignoreIndex)
                {
                    continue;
                }

                var z = Logits(x[t]);
                double max = z.Max();
                double lse = max + Math.Log(z.Sum(zc => Math.Exp(zc - max)));
                total += lse - z[y];
                kept++;
            }
        }

        return total / kept;
    }

    /// <summary>Logits [V] of the token after the sequence tokens [T].</summary>
    public double[] LastLogits(int[] tokens) => Logits(Hidden(tokens)[^1]);

    // The residual stream after the last block, [T][D].
    private double[][] Hidden(ReadOnlySpan<int> tokens)
    {
        int d = config.Dim, seq = tokens.Length;
        var x = new double[seq][];
        for (int t = 0; t < seq; t++)
        {
            int tok = tokens[t];
            x[t] = new double[d];
            for (int i = 0; i < d; i++)
            {
                x[t][i] = p["wte"][(tok * d) + i] + p["wpe"][(t * d) + i];
            }
        }

        for (int l = 0; l < config.Layers; l++)
        {
            x = Block(x, $"h.{l}.");
        }

        return x;
    }

    // ln_f, then the unembedding: z [V] from one row of the residual stream [D].
    private double[] Logits(double[] x)
    {
        int d = config.Dim, v = config.VocabSize;
        var w = config.TieEmbeddings ? p["wte"] : p["lm_head"];
        var h = LayerNorm(x, p["ln_f.weight"], p["ln_f.bias"]);
        var z = new double[v];
        for (int c = 0; c < v; c++)
        {
            for (int i = 0; i < d; i++)
            {
                z[c] += h[i] * w[(c * d) + i];
            }
        }

        return z;
    }

    private double[][] Block(double[][] x, string prefix)
    {
        int seq = x.Length, d = config.Dim, heads = config.Heads, hs = d / heads;
        var qkv = x.Select(r => Affine(LayerNorm(r, p[prefix + "ln_1.weight"], p[prefix + "ln_1.bias"]),
            p[prefix + "attn.c_attn.weight"], p[prefix + "attn.c_attn.bias"])).ToArray();
        var y = new double[seq][];
        for (int t = 0; t < seq; t++)
        {
            y[t] = new double[d];
            for (int h = 0; h < heads; h++)
            {
                var scores = new double[t + 1];
                for (int s = 0; s <= t; s++)
                {
                    for (int i = 0; i < hs; i++)
                    {
                        scores[s] += qkv[t][(h * hs) + i] * qkv[s][d + (h * hs) + i];
                    }

                    scores[s] /= Math.Sqrt(hs);
                }

                double max = scores.Max();
                var e = scores.Select(sc => Math.Exp(sc - max)).ToArray();
                double sum = e.Sum();
                for (int s = 0; s <= t; s++)
                {
                    for (int i = 0; i < hs; i++)
                    {
                        y[t][(h * hs) + i] += e[s] / sum * qkv[s][(2 * d) + (h * hs) + i];
                    }
                }
            }
        }

        var x2 = new double[seq][];
        var x3 = new double[seq][];
        for (int t = 0; t < seq; t++)
        {
            var a = Affine(y[t], p[prefix + "attn.c_proj.weight"], p[prefix + "attn.c_proj.bias"]);
            x2[t] = [.. x[t].Zip(a, (u, w) => u + w)];
            var hidden = Affine(LayerNorm(x2[t], p[prefix + "ln_2.weight"], p[prefix + "ln_2.bias"]),
                p[prefix + "mlp.c_fc.weight"], p[prefix + "mlp.c_fc.bias"]);
            var g = hidden.Select(u => 0.5 * u * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (u + (0.044715 * u * u * u))))).ToArray();
            var m = Affine(g, p[prefix + "mlp.c_proj.weight"], p[prefix + "mlp.c_proj.bias"]);
            x3[t] = [.. x2[t].Zip(m, (u, w) => u + w)];
        }

        return x3;
    }

    private static double[] LayerNorm(double[] x, double[] weight, double[] bias)
    {
        double mean = x.Average();
        double variance = x.Sum(u => (u - mean) * (u - mean)) / x.Length;
        double rstd = 1 / Math.Sqrt(variance + 1e-5);
        return [.. x.Select((u, i) => ((u - mean) * rstd * weight[i]) + bias[i])];
    }

    // y = W x + b with W [out, in].
    private static double[] Affine(double[] x, double[] weight, double[] bias)
    {
        var y = new double[bias.Length];
        for (int o = 0; o < y.Length; o++)
        {
            double s = bias[o];
            for (int i = 0; i < x.Length; i++)
            {
                s += weight[(o * x.Length) + i] * x[i];
            }

            y[o] = s;
        }

        return y;
    }
}
