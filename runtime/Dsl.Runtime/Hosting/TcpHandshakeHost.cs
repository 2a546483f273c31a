using System;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;

namespace Dsl.Runtime.Hosting;

/// <summary>
/// Serves a handshake over TCP on any address, with the limits of <see cref="HandshakeHostOptions"/>: the host shape
/// every transport shares (<see cref="StartAsync"/>, <see cref="StopAsync"/>, <see cref="LocalEndPoint"/>). Each
/// connection runs <c>handler</c> (typically a responder's <c>RunAsync</c>); see <see cref="TcpHandshakeListener"/> for
/// what happens to connections at the limits.
/// </summary>
public sealed class TcpHandshakeHost : IAsyncDisposable
{
    private readonly HandshakeHostOptions _options;
    private readonly TcpHandshakeListener _listener;
    private int _started;

    /// <summary>Makes the host; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Where to listen and the limits.</param>
    /// <param name="handler">Runs the handshake over one connection; its token is cancelled when the host stops.</param>
    /// <param name="blockList">Addresses refused at accept, before they hold a slot; usually the spec's block list store.</param>
    /// <param name="onError">Told of an exception a handler throws (it must not throw itself).</param>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    /// <exception cref="FormatException">The host is not an address.</exception>
    public TcpHandshakeHost(HandshakeHostOptions options, Func<IMessageTransport, CancellationToken, Task> handler, IAddressBlockList? blockList = null, Action<Exception>? onError = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        var bind = options.EndPoint();
        _listener = new TcpHandshakeListener(handler, bind.Port, new TcpTransportOptions { MaxMessageSize = options.MaxFrameSize }, onError)
        {
            Address = bind.Address,
            MaxConcurrentConnections = options.MaxConcurrentHandshakes,
            MaxConnectionsPerAddress = options.MaxHandshakesPerAddress,
            FirstByteTimeout = options.FirstByteTimeout,
            BlockList = blockList,
        };
    }

    /// <summary>Where the host listens, with the port actually bound.</summary>
    /// <exception cref="InvalidOperationException">The host has not started.</exception>
    public IPEndPoint LocalEndPoint => _listener.LocalEndPoint;

    /// <summary>The listener underneath, for its counters (connections open, refused, idle, evicted).</summary>
    public TcpHandshakeListener Listener => _listener;

    /// <summary>Binds and starts accepting.</summary>
    /// <exception cref="System.Net.Sockets.SocketException">The address cannot be bound.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) == 0) _listener.Start();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops gracefully: no new connection is accepted, the handshakes under way have up to
    /// <see cref="HandshakeHostOptions.StopTimeout"/> (or until <paramref name="cancellationToken"/> is cancelled) to
    /// finish, then the rest are cancelled and their connections reset.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _listener.StopAsync(_options.StopTimeout, cancellationToken);

    /// <summary>Stops gracefully (see <see cref="StopAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
