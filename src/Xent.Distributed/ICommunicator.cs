using System.Numerics;

namespace Xent.Distributed;

/// <summary>
/// A group of K ranks (processes under <c>mpirun</c>, or threads of one process) that run the same program and meet
/// in collectives. Every rank must call the same collectives in the same order with the same lengths; each call
/// returns once every rank has made it. Element types: float, double, int and long (reductions); any unmanaged type
/// (gather, broadcast).
/// </summary>
/// <remarks>
/// Results of reductions are bitwise the same on every rank, and the same from run to run for the same K: the
/// in-process group folds ranks 0, 1, ..., K-1 in that order; Open MPI picks its algorithm from K and the length
/// only. A rank that fails makes the others' next collective throw (in process) or ends the job (MPI).
/// </remarks>
public interface ICommunicator : IDisposable
{
    /// <summary>This rank's index, 0 .. Size - 1.</summary>
    int Rank { get; }

    /// <summary>K, the number of ranks.</summary>
    int Size { get; }

    /// <summary>buffer[i] = op over the ranks of their buffer[i], in place, on every rank.</summary>
    /// <typeparam name="T">float, double, int or long.</typeparam>
    /// <param name="buffer">This rank's values [L] in, the reduced values [L] out; L the same on every rank.</param>
    /// <param name="operation">Sum or Max.</param>
    void AllReduce<T>(Span<T> buffer, ReduceOperation operation)
        where T : unmanaged, INumber<T>;

    /// <summary>receive = the send buffers of ranks 0, 1, ..., K-1 one after the other, on every rank.</summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="send">This rank's block [L]; L the same on every rank.</param>
    /// <param name="receive">Destination [K x L].</param>
    void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged;

    /// <summary>
    /// On the root, receive = the send buffers of ranks 0, 1, ..., K-1 one after the other; the other ranks receive
    /// nothing (what a writer collects, without every rank holding the whole).
    /// </summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="send">This rank's block [L]; L the same on every rank.</param>
    /// <param name="receive">Destination [K x L] on the root; ignored (may be empty) elsewhere.</param>
    /// <param name="root">The rank that receives.</param>
    void Gather<T>(ReadOnlySpan<T> send, Span<T> receive, int root)
        where T : unmanaged;

    /// <summary>receive = block r (this rank's) of the sum over the ranks of their send buffers.</summary>
    /// <typeparam name="T">float, double, int or long.</typeparam>
    /// <param name="send">This rank's values [K x L]: K blocks of L.</param>
    /// <param name="receive">Destination [L].</param>
    void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged, INumber<T>;

    /// <summary>Every rank's buffer becomes the root's.</summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="buffer">[L], the same L on every rank: the root's values in, everyone's out.</param>
    /// <param name="root">The rank whose values are sent.</param>
    void Broadcast<T>(Span<T> buffer, int root)
        where T : unmanaged;

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>
    /// Ends the whole group now, from this rank: under MPI every process of the job exits with
    /// <paramref name="exitCode"/>; in process every other rank's next collective throws. Never returns.
    /// </summary>
    /// <param name="exitCode">The exit code of the job (MPI).</param>
    /// <param name="reason">Why, as the other ranks should report it.</param>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    void Abort(int exitCode, string reason);
}
