using System;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Dsl.Runtime.AspNetCore;

/// <summary>
/// Registers handshake hosts the .NET way: each a hosted service started and stopped (gracefully) with the
/// application, its <see cref="HandshakeHostOptions"/> bound from the configuration section <c>Handshakes:NAME</c>
/// (for example <c>"Handshakes": { "Mesh": { "Host": "*", "Port": 7000, "MaxHandshakesPerAddress": 16 } }</c>), then
/// adjusted by code; the host itself is a keyed singleton under NAME. WebSocket protocols use
/// <see cref="HandshakeEndpointRouteBuilderExtensions.MapHandshake"/> on the application's own Kestrel instead.
/// </summary>
public static class HandshakeHostServiceCollectionExtensions
{
    /// <summary>The configuration section a host named <paramref name="name"/> reads: <c>Handshakes:NAME</c>.</summary>
    public static string ConfigurationSection(string name) => "Handshakes:" + name;

    /// <summary>Registers a <see cref="TcpHandshakeHost"/> named <paramref name="name"/> running <paramref name="handler"/> for each connection.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="name">The host's name: its configuration section and its service key.</param>
    /// <param name="handler">Makes, from the application's services, what runs over each connection (a responder's <c>RunAsync</c>).</param>
    /// <param name="configure">Adjusts the options after configuration.</param>
    /// <param name="blockList">The store of refused addresses, from the application's services, if any.</param>
    public static IServiceCollection AddTcpHandshakeHost(this IServiceCollection services, string name,
        Func<IServiceProvider, Func<IMessageTransport, CancellationToken, Task>> handler,
        Action<HandshakeHostOptions>? configure = null, Func<IServiceProvider, IAddressBlockList?>? blockList = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(handler);
        return Register(services, name, configure, (provider, options) =>
        {
            var log = provider.GetService<ILoggerFactory>()?.CreateLogger("Dsl.Runtime.Hosting." + name);
            return new TcpHandshakeHost(options, handler(provider), blockList?.Invoke(provider),
                exception => log?.LogError(exception, "A handshake handler of {Host} threw", name));
        }, static (host, ct) => host.StartAsync(ct), static (host, ct) => host.StopAsync(ct));
    }

    /// <summary>Registers a <see cref="UdpHandshakeHost{TResult}"/> named <paramref name="name"/> answering every new peer with <paramref name="run"/>.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="name">The host's name: its configuration section and its service key.</param>
    /// <param name="run">Makes, from the application's services, what runs the responder over a peer's transport.</param>
    /// <param name="configure">Adjusts the options after configuration.</param>
    /// <param name="blockList">The store of refused addresses, from the application's services, if any.</param>
    public static IServiceCollection AddUdpHandshakeHost<TResult>(this IServiceCollection services, string name,
        Func<IServiceProvider, Func<IMessageTransport, CancellationToken, ValueTask<HandshakeOutcome<TResult>>>> run,
        Action<HandshakeHostOptions>? configure = null, Func<IServiceProvider, IAddressBlockList?>? blockList = null)
        where TResult : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(run);
        return Register(services, name, configure, (provider, options) => new UdpHandshakeHost<TResult>(options, run(provider), blockList: blockList?.Invoke(provider)),
            static (host, ct) => host.StartAsync(ct), static (host, ct) => host.StopAsync(ct));
    }

    /// <summary>
    /// Registers a <see cref="UdpHandshakeTable{TMessage, TResult}"/> named <paramref name="name"/>: every new peer's
    /// handshake a row of the table, stepped in place (the UDP host for a server that keeps many handshakes waiting).
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="name">The host's name: its configuration section and its service key.</param>
    /// <param name="createResponder">Makes, from the application's services, what makes a fresh responder machine for each new peer.</param>
    /// <param name="codec">The protocol's codec (for example <c>SttCodec.Instance</c>).</param>
    /// <param name="completed">Told of each handshake's outcome, from the application's services, if any.</param>
    /// <param name="configure">Adjusts the options after configuration.</param>
    /// <param name="blockList">The store of refused addresses, from the application's services, if any.</param>
    public static IServiceCollection AddUdpHandshakeTable<TMessage, TResult>(this IServiceCollection services, string name,
        Func<IServiceProvider, Func<IHandshakeMachine<TMessage, TResult>>> createResponder, IMessageCodec<TMessage> codec,
        Func<IServiceProvider, Action<System.Net.IPEndPoint, HandshakeOutcome<TResult>>>? completed = null,
        Action<HandshakeHostOptions>? configure = null, Func<IServiceProvider, IAddressBlockList?>? blockList = null)
        where TMessage : class
        where TResult : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(createResponder);
        ArgumentNullException.ThrowIfNull(codec);
        return Register(services, name, configure,
            (provider, options) => new UdpHandshakeTable<TMessage, TResult>(options, createResponder(provider), codec, completed?.Invoke(provider), blockList?.Invoke(provider)),
            static (table, ct) => table.StartAsync(ct), static (table, ct) => table.StopAsync(ct));
    }

    /// <summary>
    /// Registers a <see cref="TcpHandshakeTable{TMessage, TResult}"/> named <paramref name="name"/> (a keyed singleton),
    /// configured from the <c>Handshakes:{name}</c> section as the other hosts are, and started and stopped with the
    /// application: each connection a row, no task or transport per waiting handshake.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="name">The table's name: its configuration section and its service key.</param>
    /// <param name="createResponder">Makes, from the application's services, what makes a fresh responder machine for each connection.</param>
    /// <param name="codec">The protocol's codec (for example <c>MeshCodec.Instance</c>).</param>
    /// <param name="completed">Told of each handshake's outcome and given the connection on success, from the application's services, if any.</param>
    /// <param name="configure">Adjusts the options after configuration.</param>
    /// <param name="blockList">The store of refused addresses, from the application's services, if any.</param>
    public static IServiceCollection AddTcpHandshakeTable<TMessage, TResult>(this IServiceCollection services, string name,
        Func<IServiceProvider, Func<IHandshakeMachine<TMessage, TResult>>> createResponder, IMessageCodec<TMessage> codec,
        Func<IServiceProvider, Action<System.Net.IPEndPoint, HandshakeOutcome<TResult>, IMessageTransport?>>? completed = null,
        Action<HandshakeHostOptions>? configure = null, Func<IServiceProvider, IAddressBlockList?>? blockList = null)
        where TMessage : class
        where TResult : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(createResponder);
        ArgumentNullException.ThrowIfNull(codec);
        return Register(services, name, configure,
            (provider, options) => new TcpHandshakeTable<TMessage, TResult>(options, createResponder(provider), codec, completed?.Invoke(provider), blockList?.Invoke(provider)),
            static (table, ct) => table.StartAsync(ct), static (table, ct) => table.StopAsync(ct));
    }

    /// <summary>
    /// What every host's registration does: its options bound and checked, the host a keyed singleton made from them, and
    /// a hosted service that starts and stops it with the application.
    /// </summary>
    private static IServiceCollection Register<THost>(IServiceCollection services, string name, Action<HandshakeHostOptions>? configure,
        Func<IServiceProvider, HandshakeHostOptions, THost> create, Func<THost, CancellationToken, Task> start, Func<THost, CancellationToken, Task> stop)
        where THost : class
    {
        Options(services, name, configure);
        services.AddKeyedSingleton(name, (provider, _) => create(provider, provider.GetRequiredService<IOptionsMonitor<HandshakeHostOptions>>().Get(name)));
        services.AddSingleton<IHostedService>(provider =>
        {
            var host = provider.GetRequiredKeyedService<THost>(name);
            return new HostedHandshakes(ct => start(host, ct), ct => stop(host, ct));
        });
        return services;
    }

    private static void Options(IServiceCollection services, string name, Action<HandshakeHostOptions>? configure)
    {
        var options = services.AddOptions<HandshakeHostOptions>(name).BindConfiguration(ConfigurationSection(name));
        if (configure is not null) options.Configure(configure);
        options.ValidateOnStart();
        services.AddSingleton<IValidateOptions<HandshakeHostOptions>>(new HostOptionsValidation(name));
    }

    /// <summary>Refuses options that name no address or set a limit out of range, saying which and where, when the application starts.</summary>
    private sealed class HostOptionsValidation(string name) : IValidateOptions<HandshakeHostOptions>
    {
        public ValidateOptionsResult Validate(string? optionsName, HandshakeHostOptions options)
        {
            if (optionsName != name) return ValidateOptionsResult.Skip;
            try
            {
                options.Validate();
                _ = options.EndPoint();
                return ValidateOptionsResult.Success;
            }
            catch (Exception exception) when (exception is FormatException or ArgumentOutOfRangeException)
            {
                return ValidateOptionsResult.Fail($"{ConfigurationSection(name)}: {exception.Message}");
            }
        }
    }

    /// <summary>A host as the application's lifetime sees it.</summary>
    private sealed class HostedHandshakes(Func<CancellationToken, Task> start, Func<CancellationToken, Task> stop) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => start(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => stop(cancellationToken);
    }
}
