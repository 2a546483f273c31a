using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.Tcp;

/// <summary>
/// A TCP server (on 127.0.0.1 unless <see cref="Address"/> says otherwise) that runs a handshake handler for each
/// connection: create it with the handler, <see cref="Start"/> it and connect to <see cref="LocalEndPoint"/>.
/// </summary>
/// <remarks>
/// <para>Each accepted connection becomes a <see cref="TcpMessageTransport"/> handed to the handler on
/// a task of its own. Whatever the handler does, the transport is disposed after it returns (so a
/// handler that wants the peer to see a clean end calls <see cref="IMessageTransport.CloseAsync(CancellationToken)"/>
/// first). An exception from a handler is reported to the error callback and never reaches the
/// listener.</para>
/// <para>A connection from an address the <see cref="BlockList"/> refuses, or beyond
/// <see cref="MaxConnectionsPerAddress"/> from one IP address, is reset as soon as it is accepted, without running the
/// handler or holding a slot (see <see cref="RejectedConnections"/>). A connection holds no buffer and runs no handler
/// until its first byte arrives; one that sends nothing within <see cref="FirstByteTimeout"/> is reset
/// (<see cref="IdleConnectionsClosed"/>). When <see cref="MaxConcurrentConnections"/> are open, a connection from a new
/// address takes the slot of a silent connection from the address that holds the most, if it holds more than the
/// newcomer's address (<see cref="EvictedConnections"/>); otherwise it is reset. So a flood of silent connections from a
/// few addresses cannot shut out a client from another.</para>
/// <para><see cref="DisposeAsync"/> stops accepting, cancels the token every handler was given,
/// resets every open connection (so a handler blocked on its transport wakes up), and returns once
/// every handler has returned. A handler that ignores both its token and its transport holds up
/// disposal.</para>
/// </remarks>
public sealed class TcpHandshakeListener : IAsyncDisposable
{
    private readonly Func<IMessageTransport, CancellationToken, Task> _handler;
    private readonly int _port;
    private readonly TcpTransportOptions? _transportOptions;
    private readonly Action<Exception>? _onError;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();
    // Guarded by _gate; sized at Start, from the limits.
    private AddressSlots<Connection> _connections = new(0, 0);
    private Socket? _listenSocket;
    private IPEndPoint? _localEndPoint;
    private Task _acceptLoop = Task.CompletedTask;
    private long _rejectedConnections;
    private long _idleConnectionsClosed;
    private long _evictedConnections;
    private int _started;
    private int _disposed;

    /// <summary>Creates a listener; nothing listens until <see cref="Start"/>.</summary>
    /// <param name="handler">
    /// Runs the handshake over one connection. Its token is cancelled when the listener is disposed;
    /// the transport is disposed after it returns.
    /// </param>
    /// <param name="port">The TCP port on 127.0.0.1, or 0 for any free port.</param>
    /// <param name="transportOptions">Limits of each connection's transport; the defaults when <see langword="null"/>.</param>
    /// <param name="onError">
    /// Told of every exception a handler throws, except cancellation and transport failures caused by
    /// the listener shutting down. It must not throw (what it throws is ignored).
    /// </param>
    public TcpHandshakeListener(
        Func<IMessageTransport, CancellationToken, Task> handler, int port = 0,
        TcpTransportOptions? transportOptions = null, Action<Exception>? onError = null)
    {
        _handler = handler ?? throw new ArgumentNullException(nameof(handler));
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        _port = port;
        _transportOptions = transportOptions;
        _onError = onError;
    }

    /// <summary>How many connections may be open at once; more are reset when accepted.</summary>
    public int MaxConcurrentConnections { get; init; } = 1024;

    /// <summary>How many connections one IP address may have open at once; more are reset when accepted.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 64;

    /// <summary>
    /// The address to listen on: 127.0.0.1 by default; <see cref="IPAddress.Any"/> or <see cref="IPAddress.IPv6Any"/>
    /// (which takes IPv4 too) for every interface, or one interface's address.
    /// </summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>
    /// How long a new connection may stay silent before its handler runs: until its first byte arrives it holds no
    /// buffer and can give its slot to a newcomer; after this long it is reset. For protocols whose client speaks first
    /// (every spec whose responder starts by receiving); <see langword="null"/> runs the handler at once, for a server
    /// that speaks first.
    /// </summary>
    public TimeSpan? FirstByteTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Addresses refused at accept, before they hold a slot (the spec's <c>address_block_list</c> store, shared with the handshakes).</summary>
    public Services.IAddressBlockList? BlockList { get; init; }

    /// <summary>The clock the block list is asked at.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The address and port the listener is bound to, with the port actually bound.</summary>
    /// <exception cref="InvalidOperationException">The listener has not started.</exception>
    public IPEndPoint LocalEndPoint => _localEndPoint ?? throw new InvalidOperationException("The listener has not started.");

    /// <summary>How many connections are open now (their handlers are running).</summary>
    public int ActiveConnections
    {
        get { lock (_gate) return _connections.Count; }
    }

    /// <summary>How many connections were reset on arrival: a limit was reached, or the block list refused the address.</summary>
    public long RejectedConnections => Interlocked.Read(ref _rejectedConnections);

    /// <summary>How many connections were reset for sending nothing within <see cref="FirstByteTimeout"/>.</summary>
    public long IdleConnectionsClosed => Interlocked.Read(ref _idleConnectionsClosed);

    /// <summary>How many silent connections gave their slot to a connection from a less busy address.</summary>
    public long EvictedConnections => Interlocked.Read(ref _evictedConnections);

    /// <summary>Binds to <see cref="Address"/> and starts accepting connections.</summary>
    /// <exception cref="InvalidOperationException">The listener has already started.</exception>
    /// <exception cref="ObjectDisposedException">The listener is disposed.</exception>
    /// <exception cref="SocketException">The port cannot be bound.</exception>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxConcurrentConnections);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxConnectionsPerAddress);
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("The listener has already started.");
        var socket = TcpAccept.Listen(Address, _port);
        _connections = new AddressSlots<Connection>(MaxConcurrentConnections, MaxConnectionsPerAddress);
        _listenSocket = socket;
        _localEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync(socket);
    }

    /// <summary>
    /// Stops gracefully: accepts no one from now on, lets the handshakes under way finish for up to
    /// <paramref name="drain"/> (or until <paramref name="cancellationToken"/> is cancelled), then ends the rest as
    /// <see cref="DisposeAsync"/> does. Silent connections (no first byte yet) are reset at once.
    /// </summary>
    public async Task StopAsync(TimeSpan drain, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        _listenSocket?.Dispose();
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Connection[] connections;
        lock (_gate) connections = _connections.ToArray();
        foreach (var silent in connections.Where(c => c.Silent && !c.HasData)) await silent.AbortAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(connections.Select(c => c.Completion)).WaitAsync(drain, TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
        {
            // The deadline: what is still running is cancelled below.
        }
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Stops accepting, cancels every handler's token, resets every open connection and waits for
    /// every handler to return. Safe to call more than once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        _listenSocket?.Dispose();
        // Once the loop has ended no connection is added, so the snapshot below is complete.
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        Connection[] connections;
        lock (_gate) connections = _connections.ToArray();
        foreach (var connection in connections)
            await connection.AbortAsync().ConfigureAwait(false);
        await Task.WhenAll(connections.Select(c => c.Completion)).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private Task AcceptLoopAsync(Socket listenSocket)
        => TcpAccept.LoopAsync(listenSocket, BlockList, TimeProvider, Report, () => Interlocked.Increment(ref _rejectedConnections), Admit, _stopping.Token);

    private void Admit(Socket socket, IPAddress address)
    {
        var connection = new Connection(socket, address, silent: FirstByteTimeout is not null);
        bool admitted;
        Connection? evicted;
        lock (_gate) admitted = _connections.TryAdmit(connection, out evicted);
        if (evicted is not null)
        {
            Interlocked.Increment(ref _evictedConnections);
            _ = evicted.AbortAsync().AsTask();
        }
        if (!admitted)
        {
            Interlocked.Increment(ref _rejectedConnections);
            TcpAccept.Reset(socket);
            return;
        }
        connection.Completion = Task.Run(() => RunAsync(connection));
    }

    private async Task RunAsync(Connection connection)
    {
        var stopping = _stopping.Token;
        if (FirstByteTimeout is { } firstByte && !await connection.WaitForFirstByteAsync(firstByte, stopping).ConfigureAwait(false))
        {
            // Silent past the timeout, closed by the peer, evicted or stopped: the handler never runs.
            var wasOpen = false;
            lock (_gate)
            {
                wasOpen = _connections.Contains(connection);
                _connections.Release(connection);
            }
            if (wasOpen && !stopping.IsCancellationRequested && connection.TimedOut) Interlocked.Increment(ref _idleConnectionsClosed);
            await connection.AbortAsync().ConfigureAwait(false);
            return;
        }
        TcpMessageTransport? opened = null;
        lock (_gate)
        {
            // Evicted just as its first byte came, it is off the books and does not run; reset meanwhile, neither.
            if (_connections.Contains(connection))
            {
                try
                {
                    opened = connection.Open(_transportOptions);
                }
                catch (Exception)
                {
                    _connections.Release(connection);
                }
            }
        }
        if (opened is not { } transport)
        {
            await connection.AbortAsync().ConfigureAwait(false);
            return;
        }
        try
        {
            await _handler(transport, stopping).ConfigureAwait(false);
        }
        catch (Exception exception) when (stopping.IsCancellationRequested && exception is OperationCanceledException or TransportException)
        {
            // The listener is shutting down; this is how handlers are told.
        }
        catch (Exception exception)
        {
            Report(exception);
        }
        finally
        {
            try
            {
                await transport.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                Report(exception);
            }
            lock (_gate) _connections.Release(connection);
        }
    }

    private void Report(Exception exception)
    {
        try
        {
            _onError?.Invoke(exception);
        }
        catch (Exception)
        {
            // A failing error callback must not take the listener down.
        }
    }

    /// <summary>An accepted connection: a bare socket until its first byte arrives, then a transport.</summary>
    private sealed class Connection(Socket socket, IPAddress address, bool silent) : IAddressSlot
    {
        private readonly CancellationTokenSource _abort = new();
        private TcpMessageTransport? _transport;

        public IPAddress Address { get; } = address;

        public Task Completion { get; set; } = Task.CompletedTask;

        /// <summary>Whether it has sent nothing yet (its handler has not run); guarded by the listener's gate.</summary>
        public bool Silent { get; set; } = silent;

        /// <summary>Whether bytes wait to be read (a first byte that arrived but was not yet seen).</summary>
        public bool HasData => TcpAccept.HasData(socket);

        /// <summary>Whether <see cref="WaitForFirstByteAsync"/> gave up for the time.</summary>
        public bool TimedOut { get; private set; }

        /// <summary>Waits, with no buffer, until a byte can be read; false when the time passes, the peer closes or the connection is aborted.</summary>
        public async Task<bool> WaitForFirstByteAsync(TimeSpan timeout, CancellationToken stopping)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stopping, _abort.Token);
            wait.CancelAfter(timeout);
            try
            {
                // A zero-byte receive completes when data is there, or when the peer has closed (nothing available then).
                await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, wait.Token).ConfigureAwait(false);
                return socket.Available > 0;
            }
            catch (OperationCanceledException)
            {
                TimedOut = !stopping.IsCancellationRequested && !_abort.IsCancellationRequested;
                return false;
            }
            catch (Exception)
            {
                return false;
            }
        }

        /// <summary>The connection's transport, from its first byte on; under the listener's gate.</summary>
        public TcpMessageTransport Open(TcpTransportOptions? options)
        {
            Silent = false;
            return _transport = new TcpMessageTransport(socket, options);
        }

        /// <summary>Resets the connection: the handler's transport fails, or the wait for a first byte ends.</summary>
        public async ValueTask AbortAsync()
        {
            _abort.Cancel();
            if (_transport is { } transport) await transport.DisposeAsync().ConfigureAwait(false);
            else TcpAccept.Reset(socket);
        }
    }
}
