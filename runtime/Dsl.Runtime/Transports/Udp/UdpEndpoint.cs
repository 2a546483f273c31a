using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.Udp;

/// <summary>
/// A UDP socket (127.0.0.1 unless bound elsewhere) shared by many peers: a receive loop hands each datagram to the
/// <see cref="UdpPeerTransport"/> of the address it came from, so a server can run many handshakes
/// at once over one port. A client uses <see cref="Connect"/>; a server uses <see cref="AcceptAsync"/>.
/// </summary>
/// <remarks>
/// <para>A datagram from an address with no transport is answered with a stateless retry (unless
/// <see cref="UdpEndpointOptions.ValidateAddresses"/> is off; see <see cref="RetriesSent"/>); the datagram sent again
/// behind its cookie creates a transport, which <see cref="AcceptAsync"/> yields; later datagrams from that address go to the same transport
/// until it is disposed (a datagram after that starts a new peer). New addresses beyond
/// <see cref="UdpEndpointOptions.MaxPeers"/> are ignored, as are empty datagrams (close signals)
/// from unknown addresses. Peers waiting to be accepted count towards the limit.</para>
/// <para>Datagrams carry no reliability: wrap a peer transport in <see cref="ReliableTransport"/> to
/// run a handshake over it. Disposing the endpoint ends the receive loop; every peer transport's
/// receives and sends then fail with <see cref="TransportError.Closed"/>.</para>
/// </remarks>
public sealed class UdpEndpoint : IAsyncDisposable
{
    private readonly UdpDatagramSocket _socket;
    private readonly UdpEndpointOptions _options;
    private readonly object _gate = new();
    // Guarded by _gate.
    private readonly Dictionary<IPEndPoint, UdpPeerTransport> _peers = new();
    // Written by the receive loop, and by a handshake handing over its linger (the datagrams that came meanwhile).
    private readonly Channel<UdpPeerTransport> _arrivals = Channel.CreateUnbounded<UdpPeerTransport>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _receiveLoop;
    private readonly RetryCookies? _cookies;
    // When set, datagrams go to it instead of to a transport per peer (a table of suspended handshakes).
    private readonly IDatagramHandler? _handler;
    // Completed handshakes that still answer their peer's repeats, guarded by _gate; in order of expiry (one linger
    // duration per manager, so insertion order), swept as datagrams arrive: no task or timer each.
    private readonly Dictionary<IPEndPoint, Lingering> _lingering = new();
    private readonly Queue<(IPEndPoint Peer, Lingering Entry)> _lingeringOrder = new();
    private long _lingerAnswers;
    private volatile bool _stopRequested;
    private long _datagramsDropped;
    private long _retriesSent;
    private bool _ended; // guarded by _gate: the receive loop has ended, no new peers
    private int _disposed;

    /// <summary>Binds to 127.0.0.1 and starts receiving.</summary>
    /// <param name="port">The UDP port, or 0 for any free port.</param>
    /// <param name="options">Limits; the defaults when <see langword="null"/>.</param>
    /// <exception cref="System.Net.Sockets.SocketException">The port cannot be bound.</exception>
    public UdpEndpoint(int port = 0, UdpEndpointOptions? options = null)
        : this(new IPEndPoint(IPAddress.Loopback, port), options)
    {
    }

    /// <summary>Binds to <paramref name="bind"/> (any IPv4 or IPv6 address; <see cref="IPAddress.IPv6Any"/> takes IPv4 too) and starts receiving.</summary>
    /// <param name="bind">The address and port; port 0 for any free port.</param>
    /// <param name="options">Limits; the defaults when <see langword="null"/>.</param>
    /// <exception cref="System.Net.Sockets.SocketException">The address cannot be bound.</exception>
    public UdpEndpoint(IPEndPoint bind, UdpEndpointOptions? options = null)
        : this(bind, options, handler: null)
    {
    }

    /// <summary>Binds as <see cref="UdpEndpoint(IPEndPoint, UdpEndpointOptions?)"/>, handing every datagram to <paramref name="handler"/> (when given) instead of to a transport per peer.</summary>
    internal UdpEndpoint(IPEndPoint bind, UdpEndpointOptions? options, IDatagramHandler? handler)
    {
        ArgumentNullException.ThrowIfNull(bind);
        _handler = handler;
        _options = options ?? new UdpEndpointOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxPeers, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.PeerQueueCapacity, nameof(options));
        _cookies = _options.ValidateAddresses ? new RetryCookies(_options.RetryKey, _options.TimeProvider) : null;
        _socket = new UdpDatagramSocket(bind, _options.MaxDatagramSize);
        _receiveLoop = ReceiveLoopAsync();
    }

    /// <summary>The address and port the endpoint is bound to, with the port actually bound.</summary>
    public IPEndPoint LocalEndPoint => _socket.LocalEndPoint;

    /// <summary>The addresses that have a live transport (connected, accepted or waiting to be accepted).</summary>
    public IReadOnlyCollection<IPEndPoint> Peers
    {
        get { lock (_gate) return _peers.Keys.ToArray(); }
    }

    /// <summary>
    /// How many received datagrams were dropped: too large, from a new address beyond
    /// <see cref="UdpEndpointOptions.MaxPeers"/>, or beyond a peer's <see cref="UdpEndpointOptions.PeerQueueCapacity"/>.
    /// </summary>
    public long DatagramsDropped => Interlocked.Read(ref _datagramsDropped) + _socket.OversizedDatagramsDropped;

    /// <summary>How many stateless retries were sent to new addresses (each answered a datagram, and nothing was kept for it).</summary>
    public long RetriesSent => Interlocked.Read(ref _retriesSent);

    /// <summary>How many completed handshakes still answer their peer's repeats of its last flight.</summary>
    public int LingeringCount
    {
        get { lock (_gate) return _lingering.Count; }
    }

    /// <summary>How many times a lingering handshake sent its last flight again for a repeat of the peer's.</summary>
    public long LingerAnswers => Interlocked.Read(ref _lingerAnswers);

    /// <summary>Opens a transport to <paramref name="remote"/> (the client side); the datagrams it sends back come to this transport.</summary>
    /// <param name="remote">The peer's address and port.</param>
    /// <returns>The transport; disposing it frees the address for a new one.</returns>
    /// <exception cref="InvalidOperationException">The address already has a transport.</exception>
    /// <exception cref="ObjectDisposedException">The endpoint is disposed.</exception>
    public UdpPeerTransport Connect(IPEndPoint remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        remote = PeerAddress.Normalize(remote);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            if (_peers.ContainsKey(remote))
                throw new InvalidOperationException($"There is already a transport for {remote}.");
            var peer = CreatePeer(remote, accepted: false);
            _peers.Add(remote, peer);
            return peer;
        }
    }

    /// <summary>Waits for a datagram from an address with no transport and returns the transport made for it (the server side).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The new peer's transport; its first receive returns the datagram that announced it.</returns>
    /// <exception cref="TransportException"><see cref="TransportError.Closed"/>: the endpoint is disposed.</exception>
    public async ValueTask<UdpPeerTransport> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _arrivals.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException exception)
        {
            throw new TransportException(TransportError.Closed, "The endpoint is closed", exception.InnerException ?? exception);
        }
    }

    /// <summary>Stops the receive loop and closes the socket; every peer transport fails from then on. Safe to call more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Wake the receive loop with an empty datagram to itself, so it ends without a failed receive; if that does not
        // reach it in time, cancel the receive.
        _stopRequested = true;
        try
        {
            var self = LocalEndPoint.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, LocalEndPoint.Port)
                : LocalEndPoint.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, LocalEndPoint.Port)
                : LocalEndPoint;
            await _socket.SendToAsync(ReadOnlyMemory<byte>.Empty, self).ConfigureAwait(false);
            await Task.WhenAny(_receiveLoop, Task.Delay(TimeSpan.FromMilliseconds(500))).ConfigureAwait(false);
        }
        catch (TransportException)
        {
            // The socket failed already: cancelling below ends the loop.
        }
        if (!_receiveLoop.IsCompleted) _stopping.Cancel();
        await _socket.DisposeAsync().ConfigureAwait(false);
        await _receiveLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    /// <summary>Leaves a completed handshake's end to the endpoint (see <see cref="UdpPeerTransport.Linger"/>).</summary>
    internal void Linger(UdpPeerTransport peer, byte[][] flight, byte[][] answered, TimeSpan duration)
    {
        lock (_gate)
        {
            if (_ended) return;
            if (_peers.TryGetValue(peer.RemoteEndPoint, out var current) && ReferenceEquals(current, peer)) _peers.Remove(peer.RemoteEndPoint);
            AddLingering(peer.RemoteEndPoint, new Lingering(flight, answered, _options.TimeProvider.GetUtcNow() + duration));
        }
        // What the peer sent between the handshake's end and now went to its transport: a repeat is answered from the
        // linger, anything else (a new handshake from the same port) starts anew, as it would have a moment later.
        foreach (var datagram in peer.DrainUnread()) Dispatch(datagram, peer.RemoteEndPoint);
    }

    /// <summary>Leaves a completed handshake of the <see cref="IDatagramHandler"/> to the endpoint: its last flight answers the peer's repeats of <paramref name="answered"/> until <paramref name="duration"/> ends.</summary>
    internal void Linger(IPEndPoint peer, byte[][] flight, byte[][] answered, TimeSpan duration)
    {
        if (flight.Length == 0) return;
        lock (_gate)
        {
            if (!_ended) AddLingering(peer, new Lingering(flight, answered, _options.TimeProvider.GetUtcNow() + duration));
        }
    }

    /// <summary>Files a lingering handshake; under <see cref="_gate"/>.</summary>
    private void AddLingering(IPEndPoint peer, Lingering entry)
    {
        _lingering[peer] = entry;
        _lingeringOrder.Enqueue((peer, entry));
        // Past the limit, the oldest stops answering first: a peer that lost its last answer that long ago gave up.
        while (_lingering.Count > _options.MaxLingering && _lingeringOrder.TryDequeue(out var oldest))
            if (_lingering.TryGetValue(oldest.Peer, out var held) && ReferenceEquals(held, oldest.Entry)) _lingering.Remove(oldest.Peer);
    }

    /// <summary>Sends one datagram now on the calling thread; false when it could not go (it is lost, as datagrams are).</summary>
    internal bool TrySendNow(ReadOnlySpan<byte> datagram, IPEndPoint remote) => _socket.TrySendNow(datagram, remote);

    internal ValueTask SendAsync(ReadOnlyMemory<byte> datagram, IPEndPoint remote, CancellationToken cancellationToken)
        => _socket.SendToAsync(datagram, remote, cancellationToken);

    internal void CountDropped() => Interlocked.Increment(ref _datagramsDropped);

    /// <summary>Sends datagrams now, in order, on the calling thread (see <see cref="UdpDatagramSocket.TrySendNow"/>).</summary>
    internal void SendNow(List<byte[]> datagrams, IPEndPoint remote)
    {
        foreach (var datagram in datagrams)
            if (!_socket.TrySendNow(datagram, remote)) return;
    }

    /// <summary>Forgets a disposed peer, so the next datagram from its address starts a new one.</summary>
    internal void Remove(UdpPeerTransport peer)
    {
        lock (_gate)
        {
            if (_peers.TryGetValue(peer.RemoteEndPoint, out var current) && ReferenceEquals(current, peer))
                _peers.Remove(peer.RemoteEndPoint);
        }
    }

    private UdpPeerTransport CreatePeer(IPEndPoint remote, bool accepted) => new(this, remote, _options.MaxDatagramSize, _options.PeerQueueCapacity, accepted);

    private async Task ReceiveLoopAsync()
    {
        await Task.Yield();
        var buffer = new byte[_options.MaxDatagramSize];
        Exception? error = null;
        try
        {
            while (true)
            {
                var (length, from) = await _socket.ReceiveFromAsync(buffer, _stopping.Token).ConfigureAwait(false);
                if (_stopRequested && length == 0) break;
                Dispatch(buffer.AsMemory(0, length), from);
            }
        }
        catch (Exception) when (_stopping.IsCancellationRequested)
        {
            // Disposed: the normal end.
        }
        catch (Exception exception)
        {
            error = exception;
        }
        finally
        {
            var failure = error is null
                ? new TransportException(TransportError.Closed, "The UDP endpoint is closed")
                : new TransportException(TransportError.ConnectionReset, $"The UDP endpoint failed: {error.Message}", error);
            UdpPeerTransport[] peers;
            lock (_gate)
            {
                // No new peer after this point: Connect sees the endpoint disposed, and this loop has ended.
                _ended = true;
                peers = _peers.Values.ToArray();
                _peers.Clear();
                _lingering.Clear();
                _lingeringOrder.Clear();
            }
            _arrivals.Writer.TryComplete(failure);
            // Peers that were never accepted are nobody's to dispose: drop them here.
            while (_arrivals.Reader.TryRead(out _)) { }
            foreach (var peer in peers) peer.Fail(failure);
        }
    }

    private void Dispatch(ReadOnlyMemory<byte> datagram, IPEndPoint from)
    {
        if (_handler is { } handler)
        {
            DispatchTo(handler, datagram, from);
            return;
        }
        UdpPeerTransport? peer;
        var isNew = false;
        byte[][]? answerAgain = null;
        lock (_gate)
        {
            SweepLingering();
            if (!_peers.TryGetValue(from, out peer) && _lingering.TryGetValue(from, out var lingering))
            {
                if (lingering.Answers(datagram.Span))
                {
                    answerAgain = lingering.Flight;
                }
                else
                {
                    // Not a repeat: the peer has finished with that handshake (it closed) or starts a new one from the
                    // same address and port, which goes on below as any new peer does.
                    _lingering.Remove(from);
                    if (datagram.IsEmpty) return;
                }
            }
            if (answerAgain is null && peer is null)
            {
                if (datagram.IsEmpty || _peers.Count >= _options.MaxPeers)
                {
                    Interlocked.Increment(ref _datagramsDropped);
                    return;
                }
                if (!Proves(ref datagram, from)) return;
                peer = CreatePeer(from, accepted: true);
                _peers.Add(from, peer);
                isNew = true;
            }
        }
        if (answerAgain is not null)
        {
            Interlocked.Increment(ref _lingerAnswers);
            _ = SendFlightAsync(answerAgain, from);
            return;
        }
        // Delivered before it is announced, so the accepted transport's first receive has the datagram.
        if (isNew) peer!.Deliver(datagram);
        else peer!.DeliverFromKnown(datagram);
        if (isNew) _arrivals.Writer.TryWrite(peer);
    }

    /// <summary>
    /// A datagram for the handler: a repeat a lingering handshake answers; one for a handshake the handler holds; or, from
    /// a new address, the same stateless retry as for a transport, and the datagram behind a valid cookie accepted.
    /// </summary>
    private void DispatchTo(IDatagramHandler handler, ReadOnlyMemory<byte> datagram, IPEndPoint from)
    {
        byte[][]? answerAgain = null;
        lock (_gate)
        {
            SweepLingering();
            if (_lingering.TryGetValue(from, out var lingering))
            {
                if (lingering.Answers(datagram.Span)) answerAgain = lingering.Flight;
                else _lingering.Remove(from);
            }
        }
        if (answerAgain is not null)
        {
            Interlocked.Increment(ref _lingerAnswers);
            foreach (var one in answerAgain) _socket.TrySendNow(one, from);
            return;
        }
        if (handler.TryReceive(from, datagram)) return;
        if (datagram.IsEmpty)
        {
            Interlocked.Increment(ref _datagramsDropped);
            return;
        }
        if (!Proves(ref datagram, from)) return;
        if (!handler.Accept(from, datagram)) Interlocked.Increment(ref _datagramsDropped);
    }

    /// <summary>
    /// Whether a datagram from a new address may start a peer: when addresses are validated, only one behind a valid
    /// cookie, which <paramref name="datagram"/> becomes (an unproven one gets a retry at most, and nothing is kept).
    /// </summary>
    private bool Proves(ref ReadOnlyMemory<byte> datagram, IPEndPoint from)
    {
        if (_cookies is null) return true;
        if (!_cookies.TryOpen(datagram, from, out var behindCookie))
        {
            // A datagram behind a stale cookie gets a fresh one; other control datagrams (a retry) get nothing, so two
            // endpoints never answer each other forever.
            Interlocked.Increment(ref _datagramsDropped);
            if ((!RetryCookies.IsControl(datagram.Span) || RetryCookies.IsEcho(datagram.Span)) && datagram.Length * 3 >= RetryCookies.RetryLength) SendRetry(from);
            return false;
        }
        // A close behind a cookie, from a peer that has none here: nothing to close.
        if (behindCookie.IsEmpty) return false;
        datagram = behindCookie;
        return true;
    }

    /// <summary>Forgets lingering handshakes whose time is up (those at the head of the queue); under <see cref="_gate"/>.</summary>
    private void SweepLingering()
    {
        if (_lingeringOrder.Count == 0) return;
        var now = _options.TimeProvider.GetUtcNow();
        while (_lingeringOrder.TryPeek(out var oldest) && oldest.Entry.Until <= now)
        {
            _lingeringOrder.Dequeue();
            if (_lingering.TryGetValue(oldest.Peer, out var held) && ReferenceEquals(held, oldest.Entry)) _lingering.Remove(oldest.Peer);
        }
    }

    private async Task SendFlightAsync(byte[][] flight, IPEndPoint to)
    {
        try
        {
            foreach (var datagram in flight) await _socket.SendToAsync(datagram, to, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Lost like the first time; the peer repeats again.
        }
    }

    /// <summary>A completed handshake's last flight, the digests of the peer flight it answers, and until when.</summary>
    private sealed class Lingering(byte[][] flight, byte[][] answered, DateTimeOffset until)
    {
        public byte[][] Flight { get; } = flight;
        public DateTimeOffset Until { get; } = until;

        /// <summary>Whether the datagram repeats the peer's flight this one answered (behind a cookie or not).</summary>
        public bool Answers(ReadOnlySpan<byte> datagram)
        {
            if (RetryCookies.IsEcho(datagram)) datagram = datagram[(2 + RetryCookies.CookieLength)..];
            if (datagram.IsEmpty) return false;
            Span<byte> digest = stackalloc byte[32];
            System.Security.Cryptography.SHA256.HashData(datagram, digest);
            // A digest given may be a prefix of the SHA-256 (the handshake table keeps 16 bytes).
            foreach (var one in answered)
                if (one.Length is > 0 and <= 32 && digest[..one.Length].SequenceEqual(one)) return true;
            return false;
        }
    }

    private void SendRetry(IPEndPoint to)
    {
        Interlocked.Increment(ref _retriesSent);
        var sending = _socket.SendToAsync(_cookies!.RetryFor(to), to, _stopping.Token);
        if (!sending.IsCompletedSuccessfully) _ = ObserveAsync(sending);

        static async Task ObserveAsync(ValueTask send)
        {
            try
            {
                await send.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // A retry is best effort, like the datagram it answers.
            }
        }
    }
}

/// <summary>
/// What takes an endpoint's datagrams itself instead of a transport per peer: a table of suspended handshakes. Called on
/// the endpoint's receive loop, one datagram at a time; the datagram's memory is the loop's and is reused after the call.
/// </summary>
internal interface IDatagramHandler
{
    /// <summary>Handles a datagram from a peer it holds a handshake with; false when it holds none (the address is then new to the endpoint).</summary>
    bool TryReceive(IPEndPoint from, ReadOnlyMemory<byte> datagram);

    /// <summary>A datagram from a new address that has shown it receives there (behind its cookie, when addresses are validated); false when refused.</summary>
    bool Accept(IPEndPoint from, ReadOnlyMemory<byte> datagram);
}
