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
        Options(services, name, configure);
        services.AddKeyedSingleton(name, (provider, _) =>
        {
            var log = provider.GetService<ILoggerFactory>()?.CreateLogger("Dsl.Runtime.Hosting." + name);
            return new TcpHandshakeHost(provider.GetRequiredService<IOptionsMonitor<HandshakeHostOptions>>().Get(name), handler(provider),
                blockList?.Invoke(provider), exception => log?.LogError(exception, "A handshake handler of {Host} threw", name));
        });
        services.AddSingleton<IHostedService>(provider => new HostedHandshakes(
            provider.GetRequiredKeyedService<TcpHandshakeHost>(name).StartAsync,
            provider.GetRequiredKeyedService<TcpHandshakeHost>(name).StopAsync));
        return services;
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
        Options(services, name, configure);
        services.AddKeyedSingleton(name, (provider, _) => new UdpHandshakeHost<TResult>(
            provider.GetRequiredService<IOptionsMonitor<HandshakeHostOptions>>().Get(name), run(provider), blockList: blockList?.Invoke(provider)));
        services.AddSingleton<IHostedService>(provider => new HostedHandshakes(
            provider.GetRequiredKeyedService<UdpHandshakeHost<TResult>>(name).StartAsync,
            provider.GetRequiredKeyedService<UdpHandshakeHost<TResult>>(name).StopAsync));
        return services;
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
        Options(services, name, configure);
        services.AddKeyedSingleton(name, (provider, _) => new UdpHandshakeTable<TMessage, TResult>(
            provider.GetRequiredService<IOptionsMonitor<HandshakeHostOptions>>().Get(name), createResponder(provider), codec,
            completed?.Invoke(provider), blockList?.Invoke(provider)));
        services.AddSingleton<IHostedService>(provider => new HostedHandshakes(
            provider.GetRequiredKeyedService<UdpHandshakeTable<TMessage, TResult>>(name).StartAsync,
            provider.GetRequiredKeyedService<UdpHandshakeTable<TMessage, TResult>>(name).StopAsync));
        return services;
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
        Options(services, name, configure);
        services.AddKeyedSingleton(name, (provider, _) => new TcpHandshakeTable<TMessage, TResult>(
            provider.GetRequiredService<IOptionsMonitor<HandshakeHostOptions>>().Get(name), createResponder(provider), codec,
            completed?.Invoke(provider), blockList?.Invoke(provider)));
        services.AddSingleton<IHostedService>(provider => new HostedHandshakes(
            provider.GetRequiredKeyedService<TcpHandshakeTable<TMessage, TResult>>(name).StartAsync,
            provider.GetRequiredKeyedService<TcpHandshakeTable<TMessage, TResult>>(name).StopAsync));
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
