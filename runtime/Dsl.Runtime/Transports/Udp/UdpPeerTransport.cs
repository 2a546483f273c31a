using System;
using System.Buffers;
using System.Net;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.Udp;

/// <summary>
/// One peer's channel of messages over a shared <see cref="UdpEndpoint"/>: each message is one
/// datagram. Sends go to <see cref="RemoteEndPoint"/>; the endpoint's receive loop delivers the
/// datagrams that come from it. Get one from <see cref="UdpEndpoint.Connect"/> or <see cref="UdpEndpoint.AcceptAsync"/>.
/// </summary>
/// <remarks>
/// <para>Like the network under it, the transport may lose, duplicate and reorder messages, and
/// drops what arrives while <see cref="UdpEndpointOptions.PeerQueueCapacity"/> datagrams already
/// wait for a receive. <see cref="ReliableTransport"/> on top makes a handshake survive that.</para>
/// <para>UDP has no connection to close, so an empty datagram stands for "closed":
/// <see cref="CloseAsync"/> sends one (once, and it may be lost), and a receive that meets one
/// returns <see langword="false"/> from then on. Messages therefore must not be empty. Disposing
/// sends nothing; the peer notices only through its own timeouts. A message larger than the peer's
/// <see cref="UdpEndpointOptions.MaxDatagramSize"/> is dropped by the peer.</para>
/// </remarks>
public sealed class UdpPeerTransport : IMessageTransport
{
    private readonly UdpEndpoint _endpoint;
    private readonly Channel<byte[]> _inbound;
    private int _closed;
    private int _disposed;

    internal UdpPeerTransport(UdpEndpoint endpoint, IPEndPoint remoteEndPoint, int maxMessageSize, int queueCapacity)
    {
        _endpoint = endpoint;
        RemoteEndPoint = remoteEndPoint;
        RemoteAddress = PeerAddress.Format(remoteEndPoint);
        MaxMessageSize = maxMessageSize;
        _inbound = Channel.CreateBounded<byte[]>(
            new BoundedChannelOptions(queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite },
            _ => endpoint.CountDropped());
    }

    /// <summary>The peer's address and port.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <inheritdoc />
    /// <remarks>The endpoint's <see cref="UdpEndpointOptions.MaxDatagramSize"/>: larger datagrams never reach the transport.</remarks>
    public int MaxMessageSize { get; }

    /// <inheritdoc />
    /// <remarks>The peer's <c>ip:port</c>.</remarks>
    public string? RemoteAddress { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The message is empty (an empty datagram means "closed").</exception>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        if (message.IsEmpty)
            throw new ArgumentException("An empty datagram is the close signal; messages must not be empty.", nameof(message));
        if (Volatile.Read(ref _closed) != 0 || Volatile.Read(ref _disposed) != 0)
            throw new TransportException(TransportError.Closed, "The transport is closed");
        await _endpoint.SendAsync(message, RemoteEndPoint, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Returns <see langword="false"/> once the peer's close signal (an empty datagram) has arrived.</remarks>
    public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var reader = _inbound.Reader;
        while (true)
        {
            if (Volatile.Read(ref _disposed) != 0)
                throw new TransportException(TransportError.Closed, "The transport is disposed");
            if (reader.TryRead(out var datagram))
            {
                destination.Write(datagram);
                return true;
            }
            bool more;
            try
            {
                more = await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (TransportException exception)
            {
                // The endpoint ended; a copy, so each caller gets its own stack trace.
                throw new TransportException(exception.Error, exception.Message, exception.InnerException);
            }
            if (!more) return false;
        }
    }

    /// <summary>Sends the close signal, an empty datagram, once; it may be lost. Sends fail from then on; receives go on. Never throws.</summary>
    public async ValueTask CloseAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0 || Interlocked.Exchange(ref _closed, 1) != 0) return;
        try
        {
            await _endpoint.SendAsync(ReadOnlyMemory<byte>.Empty, RemoteEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Best effort, like the datagram itself.
        }
    }

    /// <summary>Stops receiving and frees the peer's address at the endpoint; sends nothing to the peer. Safe to call more than once.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return default;
        _endpoint.Remove(this);
        _inbound.Writer.TryComplete(new TransportException(TransportError.Closed, "The transport is disposed"));
        return default;
    }

    /// <summary>Queues a datagram from the peer; an empty one is the peer's close signal.</summary>
    internal void Deliver(ReadOnlyMemory<byte> datagram)
    {
        if (datagram.IsEmpty) _inbound.Writer.TryComplete();
        else _inbound.Writer.TryWrite(datagram.ToArray());
    }

    /// <summary>Ends the transport because its endpoint ended.</summary>
    internal void Fail(TransportException failure) => _inbound.Writer.TryComplete(failure);
}
