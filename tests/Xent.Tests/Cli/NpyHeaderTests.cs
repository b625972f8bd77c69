using System.Text.Json;
using Xent.Cli.IO;
using Xent.Cli.Terminal;

namespace Xent.Tests.Cli;

/// <summary>
/// The .npy reader accepts exactly the headers NumPy's np.load accepts: each case of Data/npy-headers.jsonl
/// (made by Data/npy_headers.py, which asked NumPy 1.24) is read by xent and must be accepted with NumPy's dtype
/// and shape, or refused with a message, as NumPy did. A dtype NumPy reads but xent does not compute with
/// (big-endian) may be refused, with a message saying so.
/// </summary>
public sealed class NpyHeaderTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var line in File.ReadLines(DataFile()))
        {
            data.Add(JsonDocument.Parse(line).RootElement.GetProperty("name").GetString()!);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AcceptsExactlyWhatNumPyAccepts(string name)
    {
        var c = File.ReadLines(DataFile()).Select(l => JsonDocument.Parse(l).RootElement).Single(e => e.GetProperty("name").GetString() == name);
        string path = dir["case.npy"];
        File.WriteAllBytes(path, [.. Convert.FromHexString(c.GetProperty("file_hex").GetString()!), .. new byte[24]]);
        ArrayInfo? info = null;
        XentCliException? refusal = null;
        try
        {
            info = NpyFormat.ReadHeader(path);
        }
        catch (XentCliException e)
        {
            refusal = e;
        }

        if (!c.GetProperty("accepted").GetBoolean())
        {
            Assert.True(refusal is not null, $"numpy refuses this header ({c.GetProperty("numpy_error").GetString()}) but xent read {info?.Type} {info?.ShapeText}");
            Assert.StartsWith(path + ": ", refusal.Message, StringComparison.Ordinal);
            return;
        }

        string dtype = c.GetProperty("dtype").GetString()!;
        if (dtype.StartsWith('>'))
        {
            Assert.Contains("big-endian", refusal?.Message ?? "", StringComparison.Ordinal);
            return;
        }

        Assert.True(refusal is null, $"numpy reads this header as {dtype}, but xent refused it: {refusal?.Message}");
        Assert.Equal(dtype, NpyFormat.Descr(info!.Type));
        Assert.Equal(c.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), info.Shape);
    }

    private static string DataFile() => Path.Combine(AppContext.BaseDirectory, "Cli", "Data", "npy-headers.jsonl");
}
