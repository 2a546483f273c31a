using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Dsl.Runtime.AspNetCore;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.WebSockets;
using Dsl.Tests.Shared;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Dsl.Runtime.Tests;

public sealed class WebSocketTransportTests
{
    private const string Path = "/handshake";

    private static async Task<HandshakeServer> StartServerAsync(
        Func<IMessageTransport, HttpContext, CancellationToken, Task> handler,
        WebSocketTransportOptions? options = null, Action<ILoggingBuilder>? logging = null)
    {
        var server = new HandshakeServer(configureLogging: logging) { ShutdownTimeout = TimeSpan.FromSeconds(2) };
        server.MapHandshake(Path, handler, options);
        await server.StartAsync();
        return server;
    }

    /// <summary>A server handler that reports the outcome of each receive: the byte count, false for a close, or the exception.</summary>
    private sealed class ReceiveProbe
    {
        private readonly Channel<object> _outcomes = Channel.CreateUnbounded<object>();

        public async Task HandleAsync(IMessageTransport transport, HttpContext context, CancellationToken cancellationToken)
        {
            var destination = new ArrayBufferWriter<byte>();
            while (true)
            {
                destination.Clear();
                try
                {
                    if (!await transport.ReceiveAsync(destination, cancellationToken))
                    {
                        _outcomes.Writer.TryWrite(false);
                        return;
                    }
                    _outcomes.Writer.TryWrite(Encoding.UTF8.GetString(destination.WrittenSpan));
                }
                catch (TransportException exception)
                {
                    _outcomes.Writer.TryWrite(new ReceiveFailure(exception.Error, destination.WrittenCount));
                    // The receive direction is spent, but this side can still talk and close.
                    await transport.SendStringAsync($"failed: {exception.Error}", cancellationToken);
                    await transport.CloseAsync(cancellationToken);
                    return;
                }
            }
        }

        public async Task<object> NextAsync()
            => await _outcomes.Reader.ReadAsync().AsTask().WaitAsync(Wait.Long);
    }

    private sealed record ReceiveFailure(TransportError Error, int WrittenBeforeFailure);

    [Fact]
    public async Task Text_messages_round_trip_through_a_Kestrel_server()
    {
        var serverAddress = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartServerAsync(async (transport, _, ct) =>
        {
            serverAddress.TrySetResult(transport.RemoteAddress);
            while (await transport.ReceiveStringAsync(ct) is { } message)
                await transport.SendStringAsync("echo: " + message, ct);
            await transport.CloseAsync(ct);
        });

        await using var client = await WebSocketTransport.ConnectAsync(server.GetUri(Path));
        await client.SendStringAsync("hello");
        await client.SendStringAsync("wörld");
        Assert.Equal("echo: hello", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal("echo: wörld", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal($"127.0.0.1:{server.BaseAddress.Port}", client.RemoteAddress);
        Assert.StartsWith("127.0.0.1:", await serverAddress.Task.WaitAsync(Wait.Long));

        await client.CloseAsync();
    }

    [Fact]
    public async Task A_message_of_exactly_the_limit_passes_and_one_byte_more_fails_at_the_server()
    {
        var probe = new ReceiveProbe();
        await using var server = await StartServerAsync(probe.HandleAsync);
        var raw = new ClientWebSocket();
        await raw.ConnectAsync(server.GetUri(Path), CancellationToken.None);
        await using var client = new WebSocketMessageTransport(raw);

        await client.SendAsync(Encoding.ASCII.GetBytes(new string('a', 64 * 1024)));
        Assert.Equal(new string('a', 64 * 1024), await probe.NextAsync());

        await client.SendAsync(Encoding.ASCII.GetBytes(new string('b', 64 * 1024 + 1)));
        var failure = Assert.IsType<ReceiveFailure>(await probe.NextAsync());
        Assert.Equal(TransportError.MessageTooLarge, failure.Error);

        // The server could still send after the failure, and then closed.
        Assert.Equal("failed: MessageTooLarge", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Null(await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, raw.CloseStatus);
    }

    [Fact]
    public async Task An_oversized_message_is_never_buffered_past_the_limit()
    {
        var probe = new ReceiveProbe();
        await using var server = await StartServerAsync(probe.HandleAsync);
        await using var client = await WebSocketTransport.ConnectAsync(server.GetUri(Path));

        var huge = new byte[4 * 1024 * 1024];
        Array.Fill(huge, (byte)'x');
        var sending = client.SendAsync(huge).AsTask();

        var failure = Assert.IsType<ReceiveFailure>(await probe.NextAsync());
        Assert.Equal(TransportError.MessageTooLarge, failure.Error);
        Assert.True(failure.WrittenBeforeFailure <= 64 * 1024, $"{failure.WrittenBeforeFailure} bytes were written to the destination");
        try { await sending.WaitAsync(Wait.Long); } catch (TransportException) { /* the server may drop the rest */ }
    }

    [Fact]
    public async Task The_limit_counts_across_fragments()
    {
        var probe = new ReceiveProbe();
        await using var server = await StartServerAsync(probe.HandleAsync, new WebSocketTransportOptions { MaxMessageSize = 64 });
        using var raw = new ClientWebSocket();
        await raw.ConnectAsync(server.GetUri(Path), CancellationToken.None);

        for (var i = 0; i < 10; i++)
            await raw.SendAsync(Encoding.ASCII.GetBytes("0123456789"), WebSocketMessageType.Text, endOfMessage: i == 9, CancellationToken.None);

        var failure = Assert.IsType<ReceiveFailure>(await probe.NextAsync());
        Assert.Equal(TransportError.MessageTooLarge, failure.Error);
        Assert.True(failure.WrittenBeforeFailure <= 64);
    }

    [Fact]
    public async Task A_fragmented_message_is_reassembled()
    {
        var probe = new ReceiveProbe();
        await using var server = await StartServerAsync(probe.HandleAsync);
        using var raw = new ClientWebSocket();
        await raw.ConnectAsync(server.GetUri(Path), CancellationToken.None);

        await raw.SendAsync(Encoding.UTF8.GetBytes("hel"), WebSocketMessageType.Text, endOfMessage: false, CancellationToken.None);
        await raw.SendAsync(Encoding.UTF8.GetBytes("lo "), WebSocketMessageType.Text, endOfMessage: false, CancellationToken.None);
        await raw.SendAsync(Encoding.UTF8.GetBytes("world"), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        await raw.SendAsync(Encoding.UTF8.GetBytes("next"), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

        Assert.Equal("hello world", await probe.NextAsync());
        Assert.Equal("next", await probe.NextAsync());
    }

    [Fact]
    public async Task A_binary_frame_where_text_is_expected_is_a_protocol_violation()
    {
        var probe = new ReceiveProbe();
        await using var server = await StartServerAsync(probe.HandleAsync);
        using var raw = new ClientWebSocket();
        await raw.ConnectAsync(server.GetUri(Path), CancellationToken.None);

        await raw.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);

        var failure = Assert.IsType<ReceiveFailure>(await probe.NextAsync());
        Assert.Equal(TransportError.ProtocolViolation, failure.Error);
    }

    [Fact]
    public async Task Client_close_makes_the_server_receive_return_false()
    {
        var probe = new ReceiveProbe();
        await using var server = await StartServerAsync(probe.HandleAsync);
        var raw = new ClientWebSocket();
        await raw.ConnectAsync(server.GetUri(Path), CancellationToken.None);
        await using var client = new WebSocketMessageTransport(raw);

        await client.SendStringAsync("bye");
        await client.CloseAsync();

        Assert.Equal("bye", await probe.NextAsync());
        Assert.Equal(false, await probe.NextAsync());
        // The server answered the close frame: the handshake completed instead of timing out into an abort.
        Assert.Equal(WebSocketState.Closed, raw.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, raw.CloseStatus);
        var afterClose = await Assert.ThrowsAsync<TransportException>(() => client.SendStringAsync("more").AsTask());
        Assert.Equal(TransportError.Closed, afterClose.Error);
    }

    [Fact]
    public async Task Server_close_makes_the_client_receive_return_false()
    {
        await using var server = await StartServerAsync(async (transport, _, ct) =>
        {
            await transport.SendStringAsync("goodbye", ct);
            await transport.CloseAsync(ct);
        });
        await using var client = await WebSocketTransport.ConnectAsync(server.GetUri(Path));

        Assert.Equal("goodbye", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Null(await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Null(await client.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task A_server_handler_that_returns_without_closing_resets_the_client()
    {
        // The handler waits for one message, so that the upgrade has surely reached the client.
        await using var server = await StartServerAsync(async (transport, _, ct) => await transport.ReceiveStringAsync(ct));
        await using var client = await WebSocketTransport.ConnectAsync(server.GetUri(Path));
        await client.SendStringAsync("one");

        var error = await Assert.ThrowsAsync<TransportException>(() => client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal(TransportError.ConnectionReset, error.Error);
    }

    [Fact]
    public async Task Cancelling_a_receive_ends_it_promptly()
    {
        await using var server = await StartServerAsync(async (_, _, ct) =>
        {
            try { await Task.Delay(Timeout.Infinite, ct); } catch (OperationCanceledException) { }
        });
        await using var client = await WebSocketTransport.ConnectAsync(server.GetUri(Path));

        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveStringAsync(cancellation.Token).WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task A_cancelled_receive_leaves_the_socket_whole_for_the_next_receive_and_the_close()
    {
        var outcomes = Channel.CreateUnbounded<string>();
        await using var server = await StartServerAsync(async (transport, _, ct) =>
        {
            using (var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
            {
                try { await transport.ReceiveStringAsync(soon.Token); }
                catch (OperationCanceledException) { await outcomes.Writer.WriteAsync("cancelled", ct); }
            }
            await outcomes.Writer.WriteAsync(await transport.ReceiveStringAsync(ct) ?? "closed", ct);
            await transport.SendStringAsync("still here", ct);
            await transport.CloseAsync(ct);
        });
        await using var client = await RawWebSocketClient.ConnectAsync(server.GetUri(Path));

        Assert.Equal("cancelled", await outcomes.Reader.ReadAsync().AsTask().WaitAsync(Wait.Long));
        await client.SendTextAsync("after the cancel");

        Assert.Equal("after the cancel", await outcomes.Reader.ReadAsync().AsTask().WaitAsync(Wait.Long));
        Assert.Equal("text \"still here\", close 1000, end of stream", (await client.ReadUntilEndAsync()).ToString());
    }

    [Fact]
    public async Task A_receive_cancelled_inside_a_message_fails_later_receives_but_the_close_still_goes_out()
    {
        var outcomes = Channel.CreateUnbounded<string>();
        await using var server = await StartServerAsync(async (transport, _, ct) =>
        {
            using (var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
            {
                try { await transport.ReceiveStringAsync(soon.Token); }
                catch (OperationCanceledException) { await outcomes.Writer.WriteAsync("cancelled", ct); }
            }
            try { await transport.ReceiveStringAsync(ct); }
            catch (TransportException exception) { await outcomes.Writer.WriteAsync(exception.Error.ToString(), ct); }
            await transport.CloseAsync(CloseReason.InternalError, ct);
        });
        await using var client = await RawWebSocketClient.ConnectAsync(server.GetUri(Path));

        // The first fragment of a message whose end never comes.
        await client.SendFrameAsync(RawWebSocketClient.Text, Encoding.UTF8.GetBytes("the start"), fin: false);

        Assert.Equal("cancelled", await outcomes.Reader.ReadAsync().AsTask().WaitAsync(Wait.Long));
        Assert.Equal(nameof(TransportError.Closed), await outcomes.Reader.ReadAsync().AsTask().WaitAsync(Wait.Long));
        Assert.Equal("close 1011, end of stream", (await client.ReadUntilEndAsync()).ToString());
    }

    [Fact]
    public async Task A_receive_left_in_flight_that_the_peer_then_breaks_ends_without_a_reset()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartServerAsync(async (transport, _, ct) =>
        {
            using (var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
            {
                try { await transport.ReceiveStringAsync(soon.Token); }
                catch (OperationCanceledException) { cancelled.TrySetResult(); }
            }
            // Nobody receives again: the socket read left in flight meets the bad frame on its own.
            await release.Task;
            await transport.CloseAsync(CloseReason.InternalError, ct);
        });
        await using var client = await RawWebSocketClient.ConnectAsync(server.GetUri(Path));
        await cancelled.Task.WaitAsync(Wait.Long);

        await client.SendFrameAsync(0x3, Encoding.UTF8.GetBytes("reserved"));
        Assert.Equal(1002, (await client.ReadFrameAsync())?.CloseStatus);
        release.TrySetResult();

        Assert.Equal("end of stream", (await client.ReadUntilEndAsync(answerClose: false)).ToString());
    }

    [Fact]
    public async Task A_plain_HTTP_request_is_answered_with_400()
    {
        var handled = false;
        await using var server = await StartServerAsync((_, _, _) => { handled = true; return Task.CompletedTask; });
        using var http = new HttpClient();

        var response = await http.GetAsync(new UriBuilder(server.GetUri(Path)) { Scheme = "http" }.Uri);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(handled);
    }

    [Fact]
    public async Task A_failing_handler_is_logged_and_the_server_keeps_serving()
    {
        var logs = new CapturingLoggerProvider();
        var calls = 0;
        await using var server = await StartServerAsync(async (transport, _, ct) =>
        {
            var message = await transport.ReceiveStringAsync(ct);
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("handler bug");
            await transport.SendStringAsync("fine after " + message, ct);
            await transport.CloseAsync(ct);
        }, logging: logging => logging.AddProvider(logs));

        await using (var first = await WebSocketTransport.ConnectAsync(server.GetUri(Path)))
        {
            await first.SendStringAsync("first");
            var error = await Assert.ThrowsAsync<TransportException>(() => first.ReceiveStringAsync().WaitAsync(Wait.Long));
            Assert.Equal(TransportError.ConnectionReset, error.Error);
        }
        await using var second = await WebSocketTransport.ConnectAsync(server.GetUri(Path));
        await second.SendStringAsync("second");
        Assert.Equal("fine after second", await second.ReceiveStringAsync().WaitAsync(Wait.Long));

        var entry = Assert.Single(logs.Entries, e => e.Category == HandshakeEndpointRouteBuilderExtensions.LoggerCategory);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Equal("handler bug", entry.Exception?.Message);
    }

    [Fact]
    public async Task Concurrent_sends_are_serialised()
    {
        var probe = new ReceiveProbe();
        await using var server = await StartServerAsync(probe.HandleAsync);
        await using var client = await WebSocketTransport.ConnectAsync(server.GetUri(Path));

        var payloads = Enumerable.Range(0, 50).Select(i => new string((char)('a' + i % 26), 1000 + i)).ToArray();
        await Task.WhenAll(payloads.Select(p => Task.Run(() => client.SendStringAsync(p).AsTask())));

        var received = new System.Collections.Generic.List<string>();
        for (var i = 0; i < payloads.Length; i++)
            received.Add(Assert.IsType<string>(await probe.NextAsync()));
        Assert.Equal(payloads.OrderBy(p => p.Length), received.OrderBy(p => p.Length));
    }

    [Fact]
    public async Task Connect_rejects_other_schemes()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => WebSocketTransport.ConnectAsync(new Uri("http://127.0.0.1:1/")));
    }
}

internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public sealed record Entry(string Category, LogLevel Level, string Message, Exception? Exception);

    public ConcurrentQueue<Entry> Queue { get; } = new();

    public Entry[] Entries => Queue.ToArray();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => provider.Queue.Enqueue(new Entry(category, logLevel, formatter(state, exception), exception));
    }
}
