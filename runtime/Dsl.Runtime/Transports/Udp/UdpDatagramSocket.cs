using System;
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.Udp;

/// <summary>
/// A UDP socket bound to one address (127.0.0.1 unless given another; <see cref="IPAddress.IPv6Any"/> serves IPv4
/// and IPv6 at once) that sends and receives whole datagrams, dropping any received datagram larger than
/// <see cref="MaxDatagramSize"/>. The building block of <see cref="UdpEndpoint"/>.
/// </summary>
/// <remarks>
/// Sends may run concurrently (each datagram goes out whole); receives must not. Failures are
/// <see cref="TransportException"/>s: <see cref="TransportError.Closed"/> once the socket is
/// disposed, <see cref="TransportError.MessageTooLarge"/> for a datagram the system refuses to send,
/// <see cref="TransportError.ConnectionReset"/> for any other socket error.
/// </remarks>
public sealed class UdpDatagramSocket : IAsyncDisposable
{
    /// <summary>The default of <see cref="MaxDatagramSize"/>: 8 KiB.</summary>
    public const int DefaultMaxDatagramSize = 8192;

    // The largest UDP payload over IPv4.
    private const int MaxUdpPayload = 65507;

    private readonly IPEndPoint _anyEndPoint;
    private readonly Socket _socket;
    private long _oversizedDropped;
    private int _disposed;

    /// <summary>Binds a UDP socket to 127.0.0.1.</summary>
    /// <param name="port">The UDP port, or 0 for any free port.</param>
    /// <param name="maxDatagramSize">The largest datagram, in bytes, accepted from a peer; larger ones are dropped.</param>
    /// <exception cref="SocketException">The port cannot be bound.</exception>
    public UdpDatagramSocket(int port = 0, int maxDatagramSize = DefaultMaxDatagramSize)
        : this(new IPEndPoint(IPAddress.Loopback, CheckPort(port)), maxDatagramSize)
    {
    }

    /// <summary>Binds a UDP socket to <paramref name="bind"/>: an IPv4 or IPv6 address, or any address (<see cref="IPAddress.Any"/>; <see cref="IPAddress.IPv6Any"/> takes IPv4 too).</summary>
    /// <param name="bind">The address and port; port 0 for any free port.</param>
    /// <param name="maxDatagramSize">The largest datagram, in bytes, accepted from a peer; larger ones are dropped.</param>
    /// <exception cref="SocketException">The address cannot be bound.</exception>
    public UdpDatagramSocket(IPEndPoint bind, int maxDatagramSize = DefaultMaxDatagramSize)
    {
        ArgumentNullException.ThrowIfNull(bind);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDatagramSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDatagramSize, MaxUdpPayload);
        MaxDatagramSize = maxDatagramSize;
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (OperatingSystem.IsWindows())
            {
                // SIO_UDP_CONNRESET off: an ICMP "port unreachable" from one peer must not fail the receive for all.
                _socket.IOControl(unchecked((int)0x9800000C), new byte[4], null);
            }
            // Any IPv6 address serves IPv4 peers too (as IPv4-mapped addresses, which PeerAddress turns back into IPv4).
            if (bind.AddressFamily == AddressFamily.InterNetworkV6 && bind.Address.Equals(IPAddress.IPv6Any)) _socket.DualMode = true;
            _socket.Bind(bind);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
        _anyEndPoint = new IPEndPoint(bind.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    private static int CheckPort(int port)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        return port;
    }

    /// <summary>The address and port the socket is bound to, with the port actually bound.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The largest datagram, in bytes, accepted from a peer.</summary>
    public int MaxDatagramSize { get; }

    /// <summary>How many received datagrams were dropped for being larger than <see cref="MaxDatagramSize"/>.</summary>
    public long OversizedDatagramsDropped => Interlocked.Read(ref _oversizedDropped);

    /// <summary>Sends one datagram.</summary>
    /// <param name="datagram">The payload.</param>
    /// <param name="remote">Where to send it.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <exception cref="TransportException">The socket is disposed or failed, or the datagram is too large to send.</exception>
    public async ValueTask SendToAsync(ReadOnlyMemory<byte> datagram, IPEndPoint remote, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remote);
        ThrowIfDisposed();
        try
        {
            await _socket.SendToAsync(datagram, SocketFlags.None, _socket.DualMode && remote.AddressFamily == AddressFamily.InterNetwork ? new IPEndPoint(remote.Address.MapToIPv6(), remote.Port) : remote, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (Translate(exception) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// Sends one datagram now, on the calling thread (a UDP send does not wait for the peer); false if it could not go.
    /// For the few datagrams that must leave before anything sent after them (a flight sent again behind a cookie).
    /// </summary>
    internal bool TrySendNow(ReadOnlySpan<byte> datagram, IPEndPoint remote)
    {
        if (Volatile.Read(ref _disposed) != 0) return false;
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, _socket.DualMode && remote.AddressFamily == AddressFamily.InterNetwork ? new IPEndPoint(remote.Address.MapToIPv6(), remote.Port) : remote);
            return true;
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Receives the next datagram of at most <see cref="MaxDatagramSize"/> bytes, skipping larger ones.</summary>
    /// <param name="buffer">Where the datagram is copied; at least <see cref="MaxDatagramSize"/> bytes long.</param>
    /// <param name="cancellationToken">Cancels the receive.</param>
    /// <returns>The datagram's length and its sender.</returns>
    /// <exception cref="TransportException">The socket is disposed or failed.</exception>
    public async ValueTask<(int Length, IPEndPoint From)> ReceiveFromAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.Length < MaxDatagramSize)
            throw new ArgumentException($"The buffer must hold {MaxDatagramSize} bytes.", nameof(buffer));
        ThrowIfDisposed();
        // One byte more than the limit tells an oversized (truncated) datagram from one that fits.
        var rented = buffer.Length > MaxDatagramSize ? null : ArrayPool<byte>.Shared.Rent(MaxDatagramSize + 1);
        var target = rented is null ? buffer[..(MaxDatagramSize + 1)] : rented.AsMemory(0, MaxDatagramSize + 1);
        try
        {
            while (true)
            {
                SocketReceiveFromResult result;
                try
                {
                    result = await _socket.ReceiveFromAsync(target, SocketFlags.None, _anyEndPoint, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException exception) when (exception.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize)
                {
                    // An ICMP error about an earlier send, or a datagram too large for the buffer: not this receive's concern.
                    if (exception.SocketErrorCode == SocketError.MessageSize) Interlocked.Increment(ref _oversizedDropped);
                    continue;
                }
                if (result.ReceivedBytes > MaxDatagramSize)
                {
                    Interlocked.Increment(ref _oversizedDropped);
                    continue;
                }
                if (rented is not null) rented.AsSpan(0, result.ReceivedBytes).CopyTo(buffer.Span);
                return (result.ReceivedBytes, PeerAddress.Normalize((IPEndPoint)result.RemoteEndPoint));
            }
        }
        catch (Exception exception) when (Translate(exception) is { } translated)
        {
            throw translated;
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Closes the socket; a receive in progress fails with <see cref="TransportError.Closed"/>. Safe to call more than once.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _socket.Dispose();
        return default;
    }

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
            throw new TransportException(TransportError.Closed, "The socket is closed");
    }

    // What a failure of the socket means to the caller, or null to let it through unchanged (cancellation).
    private TransportException? Translate(Exception exception)
    {
        if (exception is TransportException) return null;
        if (Volatile.Read(ref _disposed) != 0)
            return new TransportException(TransportError.Closed, "The socket is closed", exception);
        if (exception is OperationCanceledException) return null;
        return exception switch
        {
            SocketException { SocketErrorCode: SocketError.MessageSize } =>
                new TransportException(TransportError.MessageTooLarge, $"The datagram is too large to send: {exception.Message}", exception),
            SocketException or ObjectDisposedException =>
                new TransportException(TransportError.ConnectionReset, $"The UDP socket failed: {exception.Message}", exception),
            _ => null,
        };
    }
}
