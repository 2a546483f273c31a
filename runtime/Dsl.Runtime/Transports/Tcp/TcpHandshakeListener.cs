using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.Tcp;

/// <summary>
/// A TCP server on the loopback interface that runs a handshake handler for each connection:
/// create it with the handler, <see cref="Start"/> it and connect to <see cref="LocalEndPoint"/>.
/// </summary>
/// <remarks>
/// <para>Each accepted connection becomes a <see cref="TcpMessageTransport"/> handed to the handler on
/// a task of its own. Whatever the handler does, the transport is disposed after it returns (so a
/// handler that wants the peer to see a clean end calls <see cref="IMessageTransport.CloseAsync(CancellationToken)"/>
/// first). An exception from a handler is reported to the error callback and never reaches the
/// listener.</para>
/// <para>A connection beyond <see cref="MaxConcurrentConnections"/>, or beyond
/// <see cref="MaxConnectionsPerAddress"/> from one IP address, is reset as soon as it is accepted,
/// without running the handler (see <see cref="RejectedConnections"/>).</para>
/// <para><see cref="DisposeAsync"/> stops accepting, cancels the token every handler was given,
/// resets every open connection (so a handler blocked on its transport wakes up), and returns once
/// every handler has returned. A handler that ignores both its token and its transport holds up
/// disposal.</para>
/// </remarks>
public sealed class TcpHandshakeListener : IAsyncDisposable
{
    private const int Backlog = 512;

    private readonly Func<IMessageTransport, CancellationToken, Task> _handler;
    private readonly int _port;
    private readonly TcpTransportOptions? _transportOptions;
    private readonly Action<Exception>? _onError;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();
    // Guarded by _gate.
    private readonly HashSet<Connection> _connections = new();
    private readonly Dictionary<IPAddress, int> _connectionsPerAddress = new();
    private Socket? _listenSocket;
    private IPEndPoint? _localEndPoint;
    private Task _acceptLoop = Task.CompletedTask;
    private long _rejectedConnections;
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

    /// <summary>The address and port the listener is bound to, with the port actually bound.</summary>
    /// <exception cref="InvalidOperationException">The listener has not started.</exception>
    public IPEndPoint LocalEndPoint => _localEndPoint ?? throw new InvalidOperationException("The listener has not started.");

    /// <summary>How many connections are open now (their handlers are running).</summary>
    public int ActiveConnections
    {
        get { lock (_gate) return _connections.Count; }
    }

    /// <summary>How many connections were reset on arrival because a limit was reached.</summary>
    public long RejectedConnections => Interlocked.Read(ref _rejectedConnections);

    /// <summary>Binds to 127.0.0.1 and starts accepting connections.</summary>
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
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, _port));
            socket.Listen(Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _listenSocket = socket;
        _localEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync(socket);
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
            await connection.Transport.DisposeAsync().ConfigureAwait(false);
        await Task.WhenAll(connections.Select(c => c.Completion)).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listenSocket)
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listenSocket.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException exception)
            {
                // A connection reset while waiting in the backlog, or out of descriptors: the listener goes on.
                Report(exception);
                continue;
            }
            Admit(socket);
        }
    }

    private void Admit(Socket socket)
    {
        Connection? connection = null;
        try
        {
            socket.NoDelay = true;
            var address = PeerAddress.Normalize(((IPEndPoint)socket.RemoteEndPoint!).Address);
            lock (_gate)
            {
                _connectionsPerAddress.TryGetValue(address, out var fromAddress);
                if (_connections.Count < MaxConcurrentConnections && fromAddress < MaxConnectionsPerAddress)
                {
                    connection = new Connection(new TcpMessageTransport(socket, _transportOptions), address);
                    _connections.Add(connection);
                    _connectionsPerAddress[address] = fromAddress + 1;
                }
                else
                {
                    Interlocked.Increment(ref _rejectedConnections);
                }
            }
        }
        catch (Exception)
        {
            // The peer reset before we looked at it (the socket, or a stream over it, says it is not connected).
        }

        if (connection is null)
        {
            try
            {
                socket.LingerState = new LingerOption(enable: true, seconds: 0);
            }
            catch (Exception)
            {
                // Already gone; closing is all that is left.
            }
            socket.Dispose();
            return;
        }
        connection.Completion = Task.Run(() => RunAsync(connection));
    }

    private async Task RunAsync(Connection connection)
    {
        var stopping = _stopping.Token;
        try
        {
            await _handler(connection.Transport, stopping).ConfigureAwait(false);
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
                await connection.Transport.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                Report(exception);
            }
            lock (_gate)
            {
                _connections.Remove(connection);
                if (--_connectionsPerAddress[connection.Address] == 0) _connectionsPerAddress.Remove(connection.Address);
            }
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

    private sealed class Connection(TcpMessageTransport transport, IPAddress address)
    {
        public TcpMessageTransport Transport { get; } = transport;
        public IPAddress Address { get; } = address;
        public Task Completion { get; set; } = Task.CompletedTask;
    }
}
