using System.Text;

namespace Xent.Training.Runs;

/// <summary>
/// Lines of text ended by a newline only, as an editor, grep or sed number them: <see cref="TextReader.ReadLine"/> also
/// ends a line at a lone carriage return, so a line of a log with one inside came back as two, each numbered.
/// </summary>
/// <param name="reader">The text, read from where it stands.</param>
internal sealed class NewlineReader(TextReader reader)
{
    private readonly char[] buffer = new char[4096];
    private readonly StringBuilder line = new();
    private int start, end;

    /// <summary>
    /// The next line, without its newline and one carriage return before it (a line ended by CR LF), or the last one's
    /// carriage return where it ends the text; null past the end. Any other carriage return stays in the line.
    /// </summary>
    /// <returns>The line, or null.</returns>
    public string? ReadLine()
    {
        line.Clear();
        while (true)
        {
            if (start == end)
            {
                start = 0;
                end = reader.Read(buffer, 0, buffer.Length);
                if (end == 0)
                {
                    return line.Length == 0 ? null : Take();
                }
            }

            int at = Array.IndexOf(buffer, '\n', start, end - start);
            if (at >= 0)
            {
                line.Append(buffer, start, at - start);
                start = at + 1;
                return Take();
            }

            line.Append(buffer, start, end - start);
            start = end;
        }
    }

    private string Take()
    {
        if (line.Length > 0 && line[^1] == '\r')
        {
            line.Length--;
        }

        return line.ToString();
    }
}
