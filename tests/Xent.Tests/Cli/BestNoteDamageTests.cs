using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Xent.Training.Runs;

namespace Xent.Tests.Cli;

/// <summary>
/// best/best.json damaged on disk or edited by hand. A resume trusted any valid JSON there (a lower loss kept a worse
/// checkpoint in best/ for good, a higher one let a worse one in), and took a note that was not JSON for no best at
/// all, replacing best/'s checkpoint at its next evaluation whatever its loss. The note now carries a checksum of its
/// step and loss, and a resume refuses one that is damaged: exit 2, one line naming it, nothing written.
/// </summary>
public sealed class BestNoteDamageTests : IDisposable
{
    private const string NotJson = "it is not JSON of a whole step and a finite validation loss";

    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    public static TheoryData<string> Damages => new()
    {
        "a flipped bit in the loss",
        "a flipped bit in the brace",
        "cut short",
        "a lower loss by hand",
        "another step by hand",
        "a negative step, unchecked",
        "no loss, unchecked",
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void A_resume_refuses_a_damaged_best_json_naming_it_and_writes_nothing(string damage)
    {
        string dir = Trained();
        string note = Path.Combine(dir, BestCheckpoint.Folder, BestCheckpoint.InfoFile);
        string text = File.ReadAllText(note);
        var (step, loss) = BestCheckpoint.Read(dir) ?? throw new InvalidOperationException("no best checkpoint");
        string lossText = loss.ToString("R", CultureInfo.InvariantCulture);
        Assert.Contains($"\"val_loss\":{lossText}", text, StringComparison.Ordinal);

        string damaged;
        string why;
        switch (damage)
        {
            case "a flipped bit in the loss":
                // The loss's first decimal with its lowest bit flipped: still a digit, so still JSON, of a loss 0.1 away.
                int at = text.IndexOf($"\"val_loss\":{lossText}", StringComparison.Ordinal) + "\"val_loss\":".Length + lossText.IndexOf('.', StringComparison.Ordinal) + 1;
                damaged = text[..at] + (char)(text[at] ^ 1) + text[(at + 1)..];
                why = $"its checksum does not match its step {step} and validation loss {LossIn(damaged)} (edited by hand, or damaged on disk)";
                break;
            case "a flipped bit in the brace":
                damaged = (char)(text[0] ^ 1) + text[1..];
                why = NotJson;
                break;
            case "cut short":
                damaged = text[..(text.Length / 2)];
                why = NotJson;
                break;
            case "a lower loss by hand":
                damaged = text.Replace($"\"val_loss\":{lossText}", "\"val_loss\": 0.5", StringComparison.Ordinal);
                why = $"its checksum does not match its step {step} and validation loss 0.5 (edited by hand, or damaged on disk)";
                break;
            case "another step by hand":
                damaged = text.Replace($"\"step\":{step},", $"\"step\":{step - 2},", StringComparison.Ordinal);
                why = $"its checksum does not match its step {step - 2} and validation loss {lossText} (edited by hand, or damaged on disk)";
                break;
            case "a negative step, unchecked":
                damaged = $"{{\"step\": -2, \"val_loss\": {lossText}}}";
                why = $"it gives step -2 and validation loss {lossText}, which no run measures";
                break;
            default:
                damaged = $"{{\"step\": {step}}}";
                why = "it is not the note xent writes, {\"step\": ..., \"val_loss\": ..., \"xxh3\": ...}";
                break;
        }

        Assert.NotEqual(text, damaged);
        File.WriteAllText(note, damaged);
        var before = Snapshot(dir);

        var run = CliRun.Run("train", "--resume", dir, "--steps", "8", "--eval-every", "2");
        run.AssertBadInput($"'{note}' is damaged: {why}. ", "Nothing was written and the run did not start: copy best.json back from a backup, or delete it");
        Assert.Equal(before, Snapshot(dir));
    }

    [Fact]
    public void The_note_carries_its_checksum_and_one_written_before_it_is_still_read()
    {
        string dir = Trained();
        string note = Path.Combine(dir, BestCheckpoint.Folder, BestCheckpoint.InfoFile);
        var written = (JsonObject)JsonNode.Parse(File.ReadAllText(note))!;
        var best = BestCheckpoint.Read(dir) ?? throw new InvalidOperationException("no best checkpoint");
        Assert.Equal(16, written["xxh3"]!.GetValue<string>().Length);

        // As an earlier xent wrote it: no checksum, read as it says.
        written.Remove("xxh3");
        File.WriteAllText(note, written.ToJsonString(), Encoding.UTF8);
        Assert.Equal(best, BestCheckpoint.Read(dir));
        var run = CliRun.Run("train", "--resume", dir, "--steps", "6", "--eval-every", "2");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.NotNull(BestCheckpoint.Read(dir));
    }

    private string Trained()
    {
        string dir = temp["run"];
        var trained = TrainCommandTests.Train(dir, "--steps", "4", "--eval-every", "2");
        Assert.True(trained.ExitCode == 0, trained.Error);
        return dir;
    }

    private static string LossIn(string note) =>
        JsonNode.Parse(note)!["val_loss"]!.GetValue<double>().ToString("R", CultureInfo.InvariantCulture);

    // Every file of the folder (temporary ones included) with its bytes in hex.
    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), f => Convert.ToHexString(File.ReadAllBytes(f)));
}
