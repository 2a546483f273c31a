using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.Udp;

/// <summary>
/// A UDP socket on 127.0.0.1 shared by many peers: a receive loop hands each datagram to the
/// <see cref="UdpPeerTransport"/> of the address it came from, so a server can run many handshakes
/// at once over one port. A client uses <see cref="Connect"/>; a server uses <see cref="AcceptAsync"/>.
/// </summary>
/// <remarks>
/// <para>The first datagram from an address with no transport creates one, which
/// <see cref="AcceptAsync"/> yields; later datagrams from that address go to the same transport
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
    private readonly Channel<UdpPeerTransport> _arrivals = Channel.CreateUnbounded<UdpPeerTransport>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _receiveLoop;
    private long _datagramsDropped;
    private bool _ended; // guarded by _gate: the receive loop has ended, no new peers
    private int _disposed;

    /// <summary>Binds to 127.0.0.1 and starts receiving.</summary>
    /// <param name="port">The UDP port, or 0 for any free port.</param>
    /// <param name="options">Limits; the defaults when <see langword="null"/>.</param>
    /// <exception cref="System.Net.Sockets.SocketException">The port cannot be bound.</exception>
    public UdpEndpoint(int port = 0, UdpEndpointOptions? options = null)
    {
        _options = options ?? new UdpEndpointOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxPeers, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.PeerQueueCapacity, nameof(options));
        _socket = new UdpDatagramSocket(port, _options.MaxDatagramSize);
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
            var peer = CreatePeer(remote);
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
        _stopping.Cancel();
        await _socket.DisposeAsync().ConfigureAwait(false);
        await _receiveLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    internal ValueTask SendAsync(ReadOnlyMemory<byte> datagram, IPEndPoint remote, CancellationToken cancellationToken)
        => _socket.SendToAsync(datagram, remote, cancellationToken);

    internal void CountDropped() => Interlocked.Increment(ref _datagramsDropped);

    /// <summary>Forgets a disposed peer, so the next datagram from its address starts a new one.</summary>
    internal void Remove(UdpPeerTransport peer)
    {
        lock (_gate)
        {
            if (_peers.TryGetValue(peer.RemoteEndPoint, out var current) && ReferenceEquals(current, peer))
                _peers.Remove(peer.RemoteEndPoint);
        }
    }

    private UdpPeerTransport CreatePeer(IPEndPoint remote) => new(this, remote, _options.MaxDatagramSize, _options.PeerQueueCapacity);

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
            }
            _arrivals.Writer.TryComplete(failure);
            // Peers that were never accepted are nobody's to dispose: drop them here.
            while (_arrivals.Reader.TryRead(out _)) { }
            foreach (var peer in peers) peer.Fail(failure);
        }
    }

    private void Dispatch(ReadOnlyMemory<byte> datagram, IPEndPoint from)
    {
        UdpPeerTransport? peer;
        var isNew = false;
        lock (_gate)
        {
            if (!_peers.TryGetValue(from, out peer))
            {
                if (datagram.IsEmpty || _peers.Count >= _options.MaxPeers)
                {
                    Interlocked.Increment(ref _datagramsDropped);
                    return;
                }
                peer = CreatePeer(from);
                _peers.Add(from, peer);
                isNew = true;
            }
        }
        // Delivered before it is announced, so the accepted transport's first receive has the datagram.
        peer.Deliver(datagram);
        if (isNew) _arrivals.Writer.TryWrite(peer);
    }
}
