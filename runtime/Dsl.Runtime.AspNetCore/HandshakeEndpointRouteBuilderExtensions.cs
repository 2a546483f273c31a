using System;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dsl.Runtime.AspNetCore;

/// <summary>Maps WebSocket endpoints that hand each connection to a handshake.</summary>
public static partial class HandshakeEndpointRouteBuilderExtensions
{
    /// <summary>The logger category under which failures of handshake handlers are logged.</summary>
    public const string LoggerCategory = "Dsl.Runtime.AspNetCore";

    /// <summary>
    /// Maps <paramref name="pattern"/> to a WebSocket endpoint: each WebSocket request is accepted,
    /// wrapped in a <see cref="WebSocketMessageTransport"/> and passed to <paramref name="handler"/>;
    /// any other request is answered with 400 Bad Request.
    /// </summary>
    /// <remarks>
    /// <para>The application must call <c>app.UseWebSockets()</c>; without the WebSockets middleware
    /// no request is seen as a WebSocket request and every one is answered with 400.</para>
    /// <para>The handler receives <see cref="HttpContext.RequestAborted"/> as its token. The transport
    /// is disposed when the handler returns, which resets the connection unless a close frame went out
    /// (the handler closed the transport, or the socket closed it on a WebSocket protocol violation);
    /// after a close frame the connection ends with the request, without a reset.
    /// An exception thrown by the handler is logged under <see cref="LoggerCategory"/> and goes no
    /// further.</para>
    /// </remarks>
    /// <param name="endpoints">The application's route builder.</param>
    /// <param name="pattern">The route pattern, for example <c>/handshake</c>.</param>
    /// <param name="handler">Runs the handshake (and what follows it) over the connection's transport.</param>
    /// <param name="options">Limits and framing of the transport; the defaults when <see langword="null"/>.</param>
    /// <returns>A builder to add conventions (authorisation, rate limits) to the endpoint.</returns>
    public static IEndpointConventionBuilder MapHandshake(
        this IEndpointRouteBuilder endpoints, string pattern,
        Func<IMessageTransport, HttpContext, CancellationToken, Task> handler,
        WebSocketTransportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        ArgumentNullException.ThrowIfNull(handler);
        ILogger logger = endpoints.ServiceProvider.GetService<ILoggerFactory>()?.CreateLogger(LoggerCategory) ?? NullLogger.Instance;
        RequestDelegate accept = context => AcceptAsync(context, handler, options, logger);
        return endpoints.Map(pattern, accept);
    }

    private static async Task AcceptAsync(
        HttpContext context, Func<IMessageTransport, HttpContext, CancellationToken, Task> handler,
        WebSocketTransportOptions? options, ILogger logger)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
        var connection = context.Connection;
        var remoteAddress = connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, connection.RemotePort).ToString() : null;
        var transport = new WebSocketMessageTransport(socket, options, remoteAddress, endsWithRequest: true);
        var aborted = context.RequestAborted;
        try
        {
            await handler(transport, context, aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            LogAborted(logger, context.Request.Path, remoteAddress);
        }
        catch (Exception exception)
        {
            LogHandlerFailed(logger, context.Request.Path, remoteAddress, exception);
        }
        finally
        {
            await transport.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "The handshake handler for {Path} failed (peer {RemoteAddress})")]
    private static partial void LogHandlerFailed(ILogger logger, PathString path, string? remoteAddress, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "The connection to {Path} was aborted (peer {RemoteAddress})")]
    private static partial void LogAborted(ILogger logger, PathString path, string? remoteAddress);
}
