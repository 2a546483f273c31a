using System;
using System.Buffers;
using System.Collections.Generic;
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
    private readonly object _retryGate = new();
    private int _closed;
    private int _disposed;
    // A connecting side's retry state, guarded by _retryGate: the cookie the peer asked for, and what was sent before
    // the peer answered (to send again behind it), until the first datagram that is not a retry arrives.
    private byte[]? _cookie;
    private List<byte[]>? _unanswered;
    private bool _answered;
    // What a connecting side keeps to send again behind a cookie: a first flight, not a stream.
    private const int MaxUnanswered = 16;

    internal UdpPeerTransport(UdpEndpoint endpoint, IPEndPoint remoteEndPoint, int maxMessageSize, int queueCapacity, bool accepted)
    {
        // An accepted peer has shown its address (or the endpoint does not ask): nothing to send again behind a cookie.
        _answered = accepted;
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
        await _endpoint.SendAsync(Outgoing(message), RemoteEndPoint, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The datagram for a message (or the close signal): behind the peer's cookie while the peer has not answered, and kept to send again if it asks.</summary>
    private ReadOnlyMemory<byte> Outgoing(ReadOnlyMemory<byte> message)
    {
        if (Volatile.Read(ref _answered)) return message;
        lock (_retryGate)
        {
            if (_answered) return message;
            _unanswered ??= new List<byte[]>();
            if (_unanswered.Count < MaxUnanswered) _unanswered.Add(message.ToArray());
            return _cookie is null ? message : RetryCookies.Wrap(_cookie, message.Span);
        }
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
            await _endpoint.SendAsync(Outgoing(ReadOnlyMemory<byte>.Empty), RemoteEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Best effort, like the datagram itself.
        }
    }

    /// <summary>
    /// Stops receiving and frees the peer's address at the endpoint; sends nothing to the peer. A receive waiting at
    /// that moment returns <see langword="false"/>; a later one fails. Safe to call more than once.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return default;
        _endpoint.Remove(this);
        _inbound.Writer.TryComplete();
        return default;
    }

    /// <summary>
    /// Leaves the end of a completed handshake to the endpoint: until <paramref name="duration"/> has passed, a datagram
    /// from the peer whose SHA-256 is one of <paramref name="answered"/> (the peer's last flight, sent again because this
    /// side's answer was lost) is answered with <paramref name="flight"/> again. The transport is to be disposed next.
    /// </summary>
    internal void Linger(byte[][] flight, byte[][] answered, TimeSpan duration) => _endpoint.Linger(this, flight, answered, duration);

    /// <summary>
    /// A datagram from the peer of a live transport: a retry (the peer asks this side to prove its address) is answered
    /// by sending the last message again behind the cookie; a datagram behind a cookie (the peer's first message sent
    /// again) is the datagram; anything else is delivered, and shows the peer answered.
    /// </summary>
    internal void DeliverFromKnown(ReadOnlyMemory<byte> datagram)
    {
        if (RetryCookies.IsRetry(datagram.Span))
        {
            lock (_retryGate)
            {
                var cookie = datagram.Span.Slice(2);
                // A retry for each datagram of the flight: the first one is enough to send the flight again.
                if (_answered || (_cookie is not null && cookie.SequenceEqual(_cookie))) return;
                _cookie = cookie.ToArray();
                // Sent before the lock is left, so nothing this side sends behind the cookie afterwards (its close, say)
                // can overtake the flight it follows.
                if (_unanswered is not null && Volatile.Read(ref _disposed) == 0)
                    _endpoint.SendNow(_unanswered.ConvertAll(m => RetryCookies.Wrap(_cookie, m)), RemoteEndPoint);
            }
            return;
        }
        if (RetryCookies.IsEcho(datagram.Span)) datagram = datagram[(2 + RetryCookies.CookieLength)..];
        if (!Volatile.Read(ref _answered))
        {
            lock (_retryGate)
            {
                _answered = true;
                _unanswered = null;
                _cookie = null;
            }
        }
        Deliver(datagram);
    }

    /// <summary>The datagrams queued and not yet received, taken out of the queue.</summary>
    internal List<byte[]> DrainUnread()
    {
        var unread = new List<byte[]>();
        while (_inbound.Reader.TryRead(out var datagram)) unread.Add(datagram);
        return unread;
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
