using System;
using System.Buffers;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports;

/// <summary>
/// Two connected <see cref="IMessageTransport"/> endpoints in process memory, for tests and for
/// running both roles of a protocol in one process.
/// </summary>
/// <remarks>
/// <para>Each direction is an unbounded channel of whole messages; a send copies the bytes, so the
/// caller may reuse its buffer at once. A receive waiting for the message continues on the sender's thread (where
/// no synchronization context takes it), so two roles run in one process step on one thread, without a thread-pool
/// hop per message.</para>
/// <para>The size limit is checked by the receiver only (a sender may send anything, so tests can
/// send oversized messages): a message larger than the receiver's <see cref="IMessageTransport.MaxMessageSize"/>
/// is dropped without being copied into the destination and the receive throws
/// <see cref="TransportError.MessageTooLarge"/>; the next receive returns the next message.</para>
/// <para><see cref="IMessageTransport.CloseAsync(CancellationToken)"/> closes this side's sending direction: the peer
/// drains what was already sent, then its receives return <see langword="false"/>. This side may
/// still receive what the peer sends. Disposing without closing is an abrupt close: the peer drains
/// what was already sent, then its receives throw <see cref="TransportError.ConnectionReset"/>, and
/// its sends throw <see cref="TransportError.ConnectionReset"/> at once. After this side is closed
/// or disposed its sends throw <see cref="TransportError.Closed"/>; after it is disposed its
/// receives do too.</para>
/// </remarks>
public static class InMemoryTransport
{
    /// <summary>Creates two endpoints connected to each other.</summary>
    /// <param name="maxMessageSize">The largest message, in bytes, each endpoint accepts from the other.</param>
    /// <returns>The two endpoints; what one sends, the other receives.</returns>
    public static (IMessageTransport First, IMessageTransport Second) CreatePair(int maxMessageSize = 64 * 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxMessageSize);
        // A waiting receive continues on the sender's thread: both roles step on one thread, without a thread-pool hop
        // per message. A sender cannot be waiting to receive while it sends, so the inline receive never recurses.
        var options = new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true };
        var toSecond = Channel.CreateUnbounded<byte[]>(options);
        var toFirst = Channel.CreateUnbounded<byte[]>(options);
        return (new Endpoint(toFirst, toSecond.Writer, maxMessageSize),
                new Endpoint(toSecond, toFirst.Writer, maxMessageSize));
    }

    private sealed class Endpoint : IMessageTransport
    {
        // This side's inbound channel: the peer writes to it; this side completes its writer on
        // dispose too, to wake a pending receive.
        private readonly Channel<byte[]> _inbound;
        private readonly ChannelWriter<byte[]> _outbound;
        private int _closed;
        private int _disposed;

        public Endpoint(Channel<byte[]> inbound, ChannelWriter<byte[]> outbound, int maxMessageSize)
        {
            _inbound = inbound;
            _outbound = outbound;
            MaxMessageSize = maxMessageSize;
        }

        public int MaxMessageSize { get; }

        public string? RemoteAddress => "memory";

        public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
        {
            if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
            if (Volatile.Read(ref _closed) != 0)
                return ValueTask.FromException(new TransportException(TransportError.Closed, "The transport is closed"));
            if (!_outbound.TryWrite(message.ToArray()))
                return ValueTask.FromException(new TransportException(TransportError.ConnectionReset, "The peer is gone"));
            return default;
        }

        public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(destination);
            var reader = _inbound.Reader;
            while (true)
            {
                if (Volatile.Read(ref _disposed) != 0)
                    throw new TransportException(TransportError.Closed, "The transport is disposed");
                if (reader.TryRead(out var message))
                {
                    if (message.Length > MaxMessageSize)
                        throw new TransportException(TransportError.MessageTooLarge, $"Message exceeds the {MaxMessageSize}-byte limit");
                    destination.Write(message);
                    return true;
                }
                bool more;
                try
                {
                    more = await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    if (Volatile.Read(ref _disposed) != 0)
                        throw new TransportException(TransportError.Closed, "The transport is disposed", exception);
                    throw new TransportException(TransportError.ConnectionReset, "The peer went away without closing", exception);
                }
                if (!more) return false;
            }
        }

        public ValueTask CloseAsync(CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0) _outbound.TryComplete();
            return default;
        }

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return default;
            // Without a close first, the peer sees a reset rather than a clean end.
            if (Interlocked.Exchange(ref _closed, 1) == 0)
                _outbound.TryComplete(new ObjectDisposedException(nameof(IMessageTransport), "The peer was disposed without closing"));
            _inbound.Writer.TryComplete(new ObjectDisposedException(nameof(IMessageTransport)));
            return default;
        }
    }
}
