using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Tests.Training;

/// <summary>
/// What MetricsLog takes from a metrics.jsonl: its records, whether it holds lines no run leaves (damage), and whether
/// it ends cleanly (every line a record, a newline last), which decides whether a resume replaces it or appends to it.
/// <c>Read(path, out damaged)</c> read a file with no record a second time to see whether it held any text, and a
/// resume's <c>Open</c> read the log three times (its records, its lines again, its last byte); each now reads it once.
/// </summary>
public sealed class MetricsLogReadTests : IDisposable
{
    // Lines as the first xent wrote them, before world_size and vocab_parallel were added: still records.
    private const string Step1 = "{\"step\":1,\"loss\":1,\"val_loss\":null,\"lr\":0.001,\"tokens_per_s\":10,\"grad_norm\":1}";
    private const string Step2 = "{\"step\":2,\"loss\":2,\"val_loss\":1.5,\"lr\":0.001,\"tokens_per_s\":10,\"grad_norm\":1}";

    private readonly string dir = Directory.CreateTempSubdirectory("xent-metrics-read-").FullName;

    private string Metrics => Path.Combine(dir, MetricsLog.FileName);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    public static TheoryData<string, int, bool, bool> Files => new()
    {
        // text, records, damaged, ends cleanly
        { "", 0, false, true },
        { "  \n\t\n", 0, false, true },
        { "\n \n  ", 0, false, false },
        { "{\"step\":1,\"lo", 0, false, false }, // its only line cut short, as a kill writing the first line leaves it
        { "not a record\n", 0, true, false }, // no record, and its only line not cut short: no kill leaves it
        { $"{Step1}\n{Step2}\n", 2, false, true },
        { $"{Step1}\n{Step2}", 2, false, false }, // no newline after the last record
        { $"{Step1}\n{{\"st", 1, false, false }, // a last line cut short, as a kill leaves it
        { $"not a record\n{Step1}\n", 1, true, false },
        { $"{Step1}\nnot a record\n", 1, true, false }, // a last line that ends in its newline: a kill leaves none
        { $"{Step1}\nnot a record\n\n", 1, true, false },
        { "null\n", 0, true, false }, // a line of JSON that is no record, alone
        { $"{Step1}\nnull\n", 1, true, false }, // a line of JSON that is no record, last
        { $"{Step1}\nnull\n{Step2}\n", 2, true, false }, // and before the last
        { $"{Step1}\nnull", 1, false, false }, // a last line cut short, whatever it reads
        // JSON objects that read as a record of step 0 and loss 0, or lack a field every line xent writes has.
        { "{}\n", 0, true, false },
        { $"{Step1}\n{{\"foo\":1}}\n{Step2}\n", 2, true, false },
        { $"{Step1}\n{{\"step\":0}}\n", 1, true, false },
        { $"{Step1.Replace("\"step\":1", "\"step\":0", StringComparison.Ordinal)}\n", 0, true, false },
        { $"{Step1}\n{{\"step\":2,\"loss\":2}}\n", 1, true, false },
        { $"{Step1}\n{Step2.Replace(",\"grad_norm\":1", "", StringComparison.Ordinal)}\n", 1, true, false },
        { $"{Step1}\n{Step2.Replace("\"val_loss\":1.5,", "", StringComparison.Ordinal)}\n", 1, true, false },
        { $"{Step1}\n{Step2.Replace("}", ",\"world_size\":2,\"vocab_parallel\":true}", StringComparison.Ordinal)}\n", 2, false, true },
        // Steps that repeat or go back (two logs in one file, an edit): no run writes them, so the later line is
        // damage; steps that skip some (lines lost to damage and dropped by an earlier resume) are a run's.
        { $"{Step1}\n{Step2}\n{Step1}\n{Step2}\n", 2, true, false },
        { $"{Step2}\n{Step1}\n", 1, true, false },
        { $"{Step1}\n{Step1}\n", 1, true, false },
        { $"{Step1}\n{Step2}\n{Step2}", 2, true, false }, // a whole record, no kill's, even last without its newline
        { $"{Step1}\n{Step1.Replace("\"step\":1", "\"step\":5", StringComparison.Ordinal)}\n", 2, false, true },
        // A carriage return ends no line xent writes, so a kill cannot leave one last: what it ends is damage.
        { $"{Step1}\n{{\"st\r", 1, true, false },
        { "{\"st\r", 0, true, false },
        { $"{Step1}\n{Step2}\r", 2, false, false }, // a record whatever ends it, rewritten with a newline
        // A log edited on Windows, its lines ended by CR LF: records all the same, kept as it is, and what a kill
        // leaves after it (no line end at all) still a line cut short.
        { $"{Step1}\r\n{Step2}\r\n", 2, false, true },
        { $"{Step1}\r\n{{\"st", 1, false, false },
        { $"{Step1}\r\nnot a record\r\n{Step2}\r\n", 2, true, false },
        // A carriage return inside a line (not before its newline, not the file's last byte): xent never writes one, so
        // the line is damage, dropped whole (not read as two lines), even where JSON would take it for blank space.
        { $"{Step1}\r{Step2}\n", 0, true, false },
        { $"{Step1}\n{Step2}\r{Step2}\n", 1, true, false },
        { $"{Step1}\r\r\n{Step2}\n", 1, true, false },
        { $"{Step1}\n{Step2.Replace(",", ",\r", StringComparison.Ordinal)}\n", 1, true, false },
        { $"{Step1}\n{Step2.Replace(",", ",\r", StringComparison.Ordinal)}", 1, true, false }, // no kill's cut: a kill leaves no carriage return
        { $"{Step1}\r\n{Step2}\r\n\r\r\n", 2, false, true }, // blank, whatever its blank space
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void Read_gives_the_records_and_damage_reading_the_file_once(string text, int records, bool damaged, bool clean)
    {
        _ = clean;
        File.WriteAllText(Metrics, text);
        var files = new CountedReads();
        List<MetricRecord> read;
        bool bad;
        using (CheckpointFiles.Use(files))
        {
            read = MetricsLog.Read(Metrics, out bad);
        }

        Assert.Equal(records, read.Count);
        Assert.Equal(damaged, bad);
        Assert.Equal(1, files.Opened);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void A_resume_keeps_a_log_that_ends_cleanly_and_replaces_any_other_reading_it_once(string text, int records, bool damaged, bool clean)
    {
        _ = damaged;
        File.WriteAllText(Metrics, text);
        var files = new CountedReads();
        using (CheckpointFiles.Use(files))
        {
            using var log = MetricsLog.Open(dir, keepThroughStep: 5);
            Assert.Equal(records, log.Records.Count);
        }

        // A log kept is appended to as it is; one replaced is written again from its records alone.
        Assert.Equal(clean, File.ReadAllText(Metrics) == text);
        Assert.Equal(records, MetricsLog.Read(Metrics).Count);
        Assert.Equal(1, files.Opened);
    }

    /// <summary>The real file system, counting the opens for reading.</summary>
    private sealed class CountedReads : IFileOperations
    {
        public int Opened { get; private set; }

        public FileStream OpenRead(string path)
        {
            Opened++;
            return FileOperations.Real.OpenRead(path);
        }

        public Stream Create(string path, long size) => FileOperations.Real.Create(path, size);

        public void Move(string from, string to) => FileOperations.Real.Move(from, to);

        public void Delete(string path) => FileOperations.Real.Delete(path);
    }
}
