using Xent.Training.Checkpoints;

namespace Xent.Tests.Training;

/// <summary>
/// The real file system, except for the lines appended to the file named <see cref="Name"/> (metrics.jsonl): opening
/// it fails (<see cref="Lines"/> below 0), or the write of the line after the first <see cref="Lines"/> fails as a full
/// disk or a refused permission does, half of it written; where <see cref="Stuck"/>, cutting that half off fails too.
/// </summary>
internal sealed class AppendFails(string name, int lines, bool diskFull = true, bool stuck = false) : IFileOperations
{
    private const int ReadOnlyFileSystem = 30;

    public string Name => name;

    public int Lines => lines;

    public bool Stuck => stuck;

    /// <summary>The error thrown, once it was.</summary>
    public Exception? Thrown { get; private set; }

    public Stream Create(string path, long size) => FileOperations.Real.Create(path, size);

    public void Move(string from, string to) => FileOperations.Real.Move(from, to);

    public void Delete(string path) => FileOperations.Real.Delete(path);

    public Stream Append(string path) =>
        Path.GetFileName(path) != name ? FileOperations.Real.Append(path)
        : lines < 0 ? throw Fail(path)
        : new FailingLines(FileOperations.Real.Append(path), this, path);

    private Exception Fail(string path) => Thrown = CreateFails.Error(diskFull, path);

    /// <summary>The appended file, failing at the write after the first <see cref="Lines"/>.</summary>
    private sealed class FailingLines(Stream file, AppendFails owner, string path) : Stream
    {
        private int writes;

        public override bool CanRead => false;

        public override bool CanSeek => file.CanSeek;

        public override bool CanWrite => true;

        public override long Length => file.Length;

        public override long Position { get => file.Position; set => file.Position = value; }

        public override void Flush() => file.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => file.Seek(offset, origin);

        public override void SetLength(long value)
        {
            if (owner.Stuck)
            {
                throw new IOException("Read-only file system", ReadOnlyFileSystem);
            }

            file.SetLength(value);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (writes++ < owner.Lines)
            {
                file.Write(buffer, offset, count);
                return;
            }

            file.Write(buffer, offset, count / 2);
            throw owner.Fail(path);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                file.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
