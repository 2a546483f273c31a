using System;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dsl.Runtime.AspNetCore;

/// <summary>
/// A Kestrel server on the loopback interface that serves handshake endpoints over WebSocket:
/// map endpoints with <see cref="MapHandshake"/>, then <see cref="StartAsync"/> and connect to
/// <see cref="BaseAddress"/>. Meant for tests and samples; an application with its own host uses
/// <see cref="HandshakeEndpointRouteBuilderExtensions.MapHandshake"/> directly.
/// </summary>
public sealed class HandshakeServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private Uri? _baseAddress;
    private int _started;
    private int _disposed;

    /// <summary>Builds the server; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="port">The TCP port on 127.0.0.1, or 0 for any free port.</param>
    /// <param name="configureLogging">
    /// Adjusts logging (add a provider, change levels). By default only warnings and errors are
    /// logged, to the console.
    /// </param>
    public HandshakeServer(int port = 0, Action<ILoggingBuilder>? configureLogging = null)
        : this(new HandshakeHostOptions { Port = port }, configureLogging)
    {
    }

    /// <summary>
    /// Builds the server on the address and port of <paramref name="options"/> (any address: <c>*</c> for every
    /// interface), taking at most <see cref="HandshakeHostOptions.MaxConcurrentHandshakes"/> connections at once and
    /// stopping within <see cref="HandshakeHostOptions.StopTimeout"/>; nothing listens until <see cref="StartAsync"/>.
    /// </summary>
    /// <param name="options">Where to listen and the limits.</param>
    /// <param name="configureLogging">Adjusts logging; by default only warnings and errors, to the console.</param>
    /// <exception cref="ArgumentOutOfRangeException">A limit is out of range.</exception>
    /// <exception cref="FormatException">The host is not an address.</exception>
    public HandshakeServer(HandshakeHostOptions options, Action<ILoggingBuilder>? configureLogging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var bind = options.EndPoint();
        ShutdownTimeout = options.StopTimeout;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(bind);
            kestrel.Limits.MaxConcurrentConnections = options.MaxConcurrentHandshakes;
            kestrel.Limits.MaxConcurrentUpgradedConnections = options.MaxConcurrentHandshakes;
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        configureLogging?.Invoke(builder.Logging);
        _app = builder.Build();
        _app.UseWebSockets();
        _loopbackName = bind.Address.Equals(IPAddress.Any) || bind.Address.Equals(IPAddress.IPv6Any) || IPAddress.IsLoopback(bind.Address)
            ? (bind.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !bind.Address.Equals(IPAddress.IPv6Any) ? "[::1]" : "127.0.0.1")
            : bind.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{bind.Address}]" : bind.Address.ToString();
    }

    // The host clients use in BaseAddress: loopback when listening on every interface.
    private readonly string _loopbackName;

    /// <summary>How long <see cref="DisposeAsync"/> lets open connections finish before aborting them.</summary>
    public TimeSpan ShutdownTimeout { get; init; }

    /// <summary>The address clients connect to, <c>ws://127.0.0.1:PORT/</c> (or the address listened on), with the port actually bound.</summary>
    /// <exception cref="InvalidOperationException">The server has not started.</exception>
    public Uri BaseAddress => _baseAddress ?? throw new InvalidOperationException("The server has not started.");

    /// <summary>The server's services (for example its logger factory).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The WebSocket address of an endpoint, relative to <see cref="BaseAddress"/>.</summary>
    /// <param name="path">The endpoint's path, for example <c>/handshake</c>.</param>
    public Uri GetUri(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new Uri(BaseAddress, path.TrimStart('/'));
    }

    /// <summary>Maps a handshake endpoint; see <see cref="HandshakeEndpointRouteBuilderExtensions.MapHandshake"/>.</summary>
    /// <param name="pattern">The route pattern, for example <c>/handshake</c>.</param>
    /// <param name="handler">Runs the handshake over each connection's transport.</param>
    /// <param name="options">Limits and framing of the transport; the defaults when <see langword="null"/>.</param>
    /// <returns>This server, to map more endpoints.</returns>
    /// <exception cref="InvalidOperationException">The server has already started.</exception>
    public HandshakeServer MapHandshake(
        string pattern, Func<IMessageTransport, HttpContext, CancellationToken, Task> handler,
        WebSocketTransportOptions? options = null)
    {
        if (Volatile.Read(ref _started) != 0)
            throw new InvalidOperationException("Endpoints must be mapped before the server starts.");
        _app.MapHandshake(pattern, handler, options);
        return this;
    }

    /// <summary>Starts listening and learns the bound port.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="InvalidOperationException">The server has already started.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("The server has already started.");
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        var addresses = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        var bound = new Uri(addresses.First());
        _baseAddress = new Uri($"ws://{_loopbackName}:{bound.Port}/");
    }

    /// <summary>Stops the server (within <see cref="ShutdownTimeout"/>) and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (Volatile.Read(ref _started) != 0)
        {
            using var timeout = new CancellationTokenSource(ShutdownTimeout);
            try
            {
                await _app.StopAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Connections that outlived the timeout were aborted; disposal goes on.
            }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
