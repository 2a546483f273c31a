using System;
using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Dsl.Runtime.AspNetCore;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.WebSockets;
using Xunit;

namespace Dsl.Protocols.Tests;

/// <summary>Two connected transports: the client's end and the server's end.</summary>
public sealed class TransportPair(IMessageTransport client, IMessageTransport server, Func<ValueTask> release) : IAsyncDisposable
{
    public IMessageTransport Client { get; } = client;
    public IMessageTransport Server { get; } = server;

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        await release();
    }
}

/// <summary>
/// Makes transport pairs of each kind. For WebSocket, a real Kestrel server on loopback hands each accepted
/// connection's transport to the test, and keeps the connection open until the test releases it.
/// </summary>
public sealed class TransportPairs : IAsyncLifetime
{
    public const string Memory = "memory";
    public const string WebSocket = "websocket";

    private readonly Channel<(IMessageTransport Transport, TaskCompletionSource Done)> _accepted = Channel.CreateUnbounded<(IMessageTransport, TaskCompletionSource)>();
    private HandshakeServer? _server;

    public async Task InitializeAsync()
    {
        _server = new HandshakeServer(0);
        _server.MapHandshake("/test", async (transport, _, _) =>
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await _accepted.Writer.WriteAsync((transport, done));
            await done.Task;
        });
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    public async Task<TransportPair> CreateAsync(string kind, int maxMessageSize = 64 * 1024)
    {
        if (kind == Memory)
        {
            var (client, server) = InMemoryTransport.CreatePair(maxMessageSize);
            return new TransportPair(client, server, () => default);
        }
        var options = new WebSocketTransportOptions { MaxMessageSize = maxMessageSize };
        var socket = await WebSocketTransport.ConnectAsync(_server!.GetUri("/test"), options);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (accepted, done) = await _accepted.Reader.ReadAsync(timeout.Token);
        return new TransportPair(socket, accepted, () => { done.TrySetResult(); return default; });
    }
}

/// <summary>A test's hand on a raw transport: send any bytes, read what arrives, see the close.</summary>
public static class Raw
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    public static async Task SendAsync(IMessageTransport transport, string text)
        => await transport.SendAsync(Encoding.UTF8.GetBytes(text)).AsTask().WaitAsync(s_wait);

    /// <summary>The next message as JSON, or null when the peer closed the connection.</summary>
    public static async Task<JsonElement?> ReceiveAsync(IMessageTransport transport)
    {
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            if (!await transport.ReceiveAsync(buffer).AsTask().WaitAsync(s_wait)) return null;
        }
        catch (TransportException ex) when (ex.Error == TransportError.ConnectionReset)
        {
            return null;
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts that the peer closed the connection, without sending anything more.</summary>
    public static async Task AssertClosedAsync(IMessageTransport transport)
    {
        var next = await ReceiveAsync(transport);
        Assert.True(next is null, $"expected the connection to be closed, but received {next}");
    }
}
