using System;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Udp;

namespace Dsl.Runtime.Hosting;

/// <summary>
/// Serves a handshake over UDP on any address, with the limits of <see cref="HandshakeHostOptions"/>: the same host
/// shape as <see cref="TcpHandshakeHost"/>. Every new peer address is checked first (a stateless retry; see
/// <see cref="UdpEndpointOptions.ValidateAddresses"/>), then answered by <c>run</c> (typically a responder's
/// <c>RunAsync</c>) through a <see cref="UdpHandshakeManager"/>, with retransmission and a linger that holds no task.
/// </summary>
/// <typeparam name="TResult">The responder's result type.</typeparam>
public sealed class UdpHandshakeHost<TResult> : IAsyncDisposable where TResult : class
{
    private readonly HandshakeHostOptions _options;
    private readonly Func<IMessageTransport, CancellationToken, ValueTask<HandshakeOutcome<TResult>>> _run;
    private readonly Action<IPEndPoint, HandshakeOutcome<TResult>>? _completed;
    private readonly IAddressBlockList? _blockList;
    private readonly UdpHandshakeOptions _udp;
    private readonly UdpEndpointOptions _endpointOptions;
    private UdpEndpoint? _endpoint;
    private UdpHandshakeManager? _manager;
    private int _stopped;

    /// <summary>Makes the host; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Where to listen and the limits.</param>
    /// <param name="run">Runs the responder over a peer's transport.</param>
    /// <param name="completed">Told of each handshake's outcome.</param>
    /// <param name="blockList">Addresses whose new handshakes are ignored.</param>
    /// <param name="udp">Retransmission and linger; the defaults when <see langword="null"/>.</param>
    /// <param name="endpoint">The endpoint's own settings (the retry key of a fleet, say); limits come from <paramref name="options"/>.</param>
    public UdpHandshakeHost(HandshakeHostOptions options, Func<IMessageTransport, CancellationToken, ValueTask<HandshakeOutcome<TResult>>> run,
        Action<IPEndPoint, HandshakeOutcome<TResult>>? completed = null, IAddressBlockList? blockList = null,
        UdpHandshakeOptions? udp = null, UdpEndpointOptions? endpoint = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _ = options.EndPoint();
        _run = run ?? throw new ArgumentNullException(nameof(run));
        _completed = completed;
        _blockList = blockList;
        _udp = (udp ?? new UdpHandshakeOptions()) with
        {
            MaxHandshakes = options.MaxConcurrentHandshakes,
            MaxHandshakesPerAddress = options.MaxHandshakesPerAddress,
            BlockList = blockList,
        };
        _endpointOptions = (endpoint ?? new UdpEndpointOptions()) with
        {
            MaxDatagramSize = options.MaxDatagramSize,
            MaxPeers = options.MaxConcurrentHandshakes,
        };
    }

    /// <summary>Where the host listens, with the port actually bound.</summary>
    /// <exception cref="InvalidOperationException">The host has not started.</exception>
    public IPEndPoint LocalEndPoint => _endpoint?.LocalEndPoint ?? throw new InvalidOperationException("The host has not started.");

    /// <summary>The endpoint underneath, for its counters (retries sent, datagrams dropped, lingering handshakes).</summary>
    public UdpEndpoint Endpoint => _endpoint ?? throw new InvalidOperationException("The host has not started.");

    /// <summary>The manager underneath, for the handshakes under way.</summary>
    public UdpHandshakeManager Manager => _manager ?? throw new InvalidOperationException("The host has not started.");

    /// <summary>Binds and starts answering.</summary>
    /// <exception cref="System.Net.Sockets.SocketException">The address cannot be bound.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_endpoint is not null) return Task.CompletedTask;
        _endpoint = new UdpEndpoint(_options.EndPoint(), _endpointOptions);
        _manager = new UdpHandshakeManager(_endpoint, _udp);
        _manager.Serve(_run, _completed);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops gracefully: no new peer is answered, the handshakes under way have up to
    /// <see cref="HandshakeHostOptions.StopTimeout"/> (or until <paramref name="cancellationToken"/> is cancelled) to
    /// finish, then the rest are cancelled and the socket closed.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_manager is null || Interlocked.Exchange(ref _stopped, 1) != 0) return;
        await _manager.StopAsync(_options.StopTimeout, cancellationToken).ConfigureAwait(false);
        await _endpoint!.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops gracefully (see <see cref="StopAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
