using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.AspNetCore;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.WebSockets;
using Dsl.Tests.Shared;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>
/// What a hostile or broken peer gets back on the wire from a Kestrel handshake endpoint: each failure ends with
/// a close frame carrying the RFC 6455 status for it (after the spec's error message, where the socket can still
/// carry one), then the end of the TCP stream, never a reset. The client is a raw TCP socket writing frames by hand.
/// </summary>
public sealed class WebSocketCloseTests
{
    private const string Path = "/handshake";

    /// <summary>A server whose handler runs one <see cref="HelloServer"/> handshake per connection and records its outcome.</summary>
    private sealed class Endpoint : IAsyncDisposable
    {
        private readonly TaskCompletionSource<HandshakeOutcome<string>> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _handlerReturned = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private Endpoint(HandshakeServer server, CapturingLoggerProvider logs)
        {
            Server = server;
            Logs = logs;
        }

        public HandshakeServer Server { get; }

        public CapturingLoggerProvider Logs { get; }

        public static async Task<Endpoint> StartAsync(
            bool sendsErrorMessage = false, TimeSpan? stepTimeout = null, TimeSpan? closeTimeout = null, TimeSpan? cancelAfter = null)
        {
            var logs = new CapturingLoggerProvider();
            var server = new HandshakeServer(configureLogging: logging => logging.AddProvider(logs).SetMinimumLevel(LogLevel.Debug))
            {
                ShutdownTimeout = TimeSpan.FromSeconds(2),
            };
            var endpoint = new Endpoint(server, logs);
            var options = new HandshakeOptions
            {
                StepTimeout = stepTimeout ?? TimeSpan.FromSeconds(10),
                // The driver's bound on delivering the error message and on the close that follows.
                ErrorDeliveryTimeout = closeTimeout ?? TimeSpan.FromSeconds(1),
            };
            server.MapHandshake(Path, async (transport, _, ct) =>
            {
                try
                {
                    // The application's own token, as a server that stops would cancel it.
                    using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    if (cancelAfter is { } delay) stopping.CancelAfter(delay);
                    var outcome = await HandshakeDriver.RunAsync(new HelloServer(sendsErrorMessage), transport, StringCodec.Instance, options, stopping.Token);
                    endpoint._outcome.TrySetResult(outcome);
                    if (outcome.Succeeded)
                    {
                        await transport.SendStringAsync("welcome", ct);
                        await transport.CloseAsync(ct);
                    }
                }
                finally
                {
                    endpoint._handlerReturned.TrySetResult();
                }
            });
            await server.StartAsync();
            return endpoint;
        }

        public Task<RawWebSocketClient> ConnectAsync() => RawWebSocketClient.ConnectAsync(Server.GetUri(Path));

        /// <summary>What Kestrel said about the connection (an abort, a reset it sent), for failure messages.</summary>
        public string ConnectionLog => string.Join(Environment.NewLine,
            Logs.Entries.Where(e => e.Category.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal)).Select(e => e.Message));

        public Task<HandshakeOutcome<string>> OutcomeAsync() => _outcome.Task.WaitAsync(Wait.Long);

        /// <summary>
        /// The handler has returned, nothing was logged as a failure (no exception escaped the handshake), and Kestrel
        /// ended the connection without a reset: the client may read the end of the stream before a reset arrives.
        /// </summary>
        public async Task AssertEndedQuietlyAsync()
        {
            await _handlerReturned.Task.WaitAsync(Wait.Long);
            var failures = Logs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => $"{e.Category}: {e.Message} {e.Exception}").ToArray();
            Assert.True(failures.Length == 0, string.Join(Environment.NewLine, failures));
            await Wait.UntilAsync(() => ConnectionLog.Contains("disconnecting", StringComparison.Ordinal), "Kestrel lets go of the connection");
            Assert.DoesNotContain("RST", ConnectionLog, StringComparison.Ordinal);
            Assert.DoesNotContain("aborted", ConnectionLog, StringComparison.Ordinal);
        }

        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }

    /// <summary>
    /// A one-message handshake over strings: the server waits for "hello" and succeeds; "crash" makes it throw, as a
    /// store that fails would; anything else is refused.
    /// With <c>sendsErrorMessage</c> it is a spec that declares an error message for every code, "error:CODE".
    /// </summary>
    private sealed class HelloServer(bool sendsErrorMessage) : IHandshakeMachine<string, string>
    {
        public string Role => "server";
        public string Phase => "hello";
        public string MalformedCode => HandshakeErrorCodes.Malformed;
        public HandshakeOptions Options { get; } = new();
        public DateTimeOffset? StartedAt { get; private set; }
        public bool IsCompleted { get; private set; }

        public ValueTask<HandshakeStep<string, string>> StartAsync(string? peerAddress, CancellationToken cancellationToken)
        {
            StartedAt = DateTimeOffset.UtcNow;
            return new(HandshakeStep<string, string>.Receive(null));
        }

        public ValueTask<HandshakeStep<string, string>> ContinueAsync(CancellationToken cancellationToken)
            => throw new InvalidOperationException("This machine never sends.");

        public ValueTask<HandshakeStep<string, string>> ReceiveAsync(string message, CancellationToken cancellationToken)
        {
            if (message == "crash") throw new InvalidOperationException("A store failed");
            if (message == "hello")
            {
                IsCompleted = true;
                return new(HandshakeStep<string, string>.Succeed(message));
            }
            return FailAsync(new HandshakeError("refused", Phase, Role, $"Expected hello, got '{message}'"), cancellationToken);
        }

        public ValueTask<HandshakeStep<string, string>> FailAsync(HandshakeError error, CancellationToken cancellationToken)
        {
            IsCompleted = true;
            var message = sendsErrorMessage && !error.RaisedByPeer ? "error:" + error.Code : null;
            return new(HandshakeStep<string, string>.Fail(error, message));
        }
    }

    private static void AssertClosedWith(Endpoint endpoint, RawWebSocketClient.Transcript transcript, int status, params string[] messagesBefore)
    {
        var expected = string.Join(", ", messagesBefore.Select(m => $"text \"{m}\"").Append($"close {status}").Append("end of stream"));
        Assert.True(expected == transcript.ToString(),
            $"Expected: {expected}{Environment.NewLine}Actual:   {transcript}{Environment.NewLine}Kestrel:{Environment.NewLine}{endpoint.ConnectionLog}");
    }

    /// <summary>Frames that break RFC 6455, each as a raw client writes it.</summary>
    private static readonly Dictionary<string, Func<RawWebSocketClient, Task>> s_violations = new()
    {
        ["text that is not UTF-8"] = client => client.SendFrameAsync(RawWebSocketClient.Text, new byte[] { (byte)'h', 0xC3, 0x28, (byte)'i' }),
        // "é" is C3 A9: the first fragment ends inside the sequence, the second breaks it.
        ["text that is not UTF-8 across fragments"] = async client =>
        {
            await client.SendFrameAsync(RawWebSocketClient.Text, new byte[] { (byte)'h', 0xC3 }, fin: false);
            await client.SendFrameAsync(RawWebSocketClient.Continuation, new byte[] { 0x28 });
        },
        ["an unmasked frame"] = client => client.SendFrameAsync(RawWebSocketClient.Text, Encoding.UTF8.GetBytes("hello"), masked: false),
        ["a reserved opcode"] = client => client.SendFrameAsync(0x3, Encoding.UTF8.GetBytes("hello")),
        ["a continuation with no message started"] = client => client.SendFrameAsync(RawWebSocketClient.Continuation, Encoding.UTF8.GetBytes("hello")),
        ["a ping of 126 bytes"] = client => client.SendFrameAsync(RawWebSocketClient.Ping, new byte[126]),
    };

    [Theory]
    [InlineData("text that is not UTF-8", 1007)]
    [InlineData("text that is not UTF-8 across fragments", 1007)]
    [InlineData("an unmasked frame", 1002)]
    [InlineData("a reserved opcode", 1002)]
    [InlineData("a continuation with no message started", 1002)]
    [InlineData("a ping of 126 bytes", 1002)]
    public async Task A_frame_that_breaks_the_WebSocket_protocol_gets_only_the_close_frame_with_its_status(string violation, int status)
    {
        // The spec has an error message, but the socket can carry nothing after its close frame.
        await using var endpoint = await Endpoint.StartAsync(sendsErrorMessage: true);
        await using var client = await endpoint.ConnectAsync();

        await s_violations[violation](client);

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(), status);
        var outcome = await endpoint.OutcomeAsync();
        Assert.Equal(HandshakeErrorCodes.TransportFailed, outcome.Error!.Code);
        Assert.Null(outcome.Error.SentToPeer);
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task A_binary_message_where_text_is_expected_is_closed_with_1003()
    {
        await using var endpoint = await Endpoint.StartAsync(sendsErrorMessage: true);
        await using var client = await endpoint.ConnectAsync();

        await client.SendFrameAsync(RawWebSocketClient.Binary, Encoding.UTF8.GetBytes("hello"));

        // RFC 6455 7.4.1: 1003 is for "a type of data it cannot accept", such as binary at a text-only endpoint.
        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(), 1003);
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task A_message_over_64_KiB_gets_the_error_message_then_1009()
    {
        await using var endpoint = await Endpoint.StartAsync(sendsErrorMessage: true);
        await using var client = await endpoint.ConnectAsync();

        await client.SendFrameAsync(RawWebSocketClient.Text, Encoding.ASCII.GetBytes(new string('a', 64 * 1024 + 1)));

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(), 1009, "error:malformed");
        Assert.Equal("error:malformed", (await endpoint.OutcomeAsync()).Error!.SentToPeer);
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task A_step_timeout_is_closed_with_1011()
    {
        await using var endpoint = await Endpoint.StartAsync(stepTimeout: TimeSpan.FromMilliseconds(300));
        await using var client = await endpoint.ConnectAsync();

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(), 1011);
        Assert.Equal(HandshakeErrorCodes.StepTimeout, (await endpoint.OutcomeAsync()).Error!.Code);
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task A_step_timeout_sends_the_specs_error_message_before_1011()
    {
        await using var endpoint = await Endpoint.StartAsync(sendsErrorMessage: true, stepTimeout: TimeSpan.FromMilliseconds(300));
        await using var client = await endpoint.ConnectAsync();

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(), 1011, "error:step_timeout");
        Assert.Equal("error:step_timeout", (await endpoint.OutcomeAsync()).Error!.SentToPeer);
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task A_peer_that_never_answers_the_close_frame_sees_the_connection_end_not_reset()
    {
        await using var endpoint = await Endpoint.StartAsync(stepTimeout: TimeSpan.FromMilliseconds(200), closeTimeout: TimeSpan.FromMilliseconds(300));
        await using var client = await endpoint.ConnectAsync();

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(answerClose: false), 1011);
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task A_peer_that_stalls_inside_a_frame_gets_1011_at_the_step_timeout()
    {
        await using var endpoint = await Endpoint.StartAsync(stepTimeout: TimeSpan.FromMilliseconds(300), closeTimeout: TimeSpan.FromMilliseconds(300));
        await using var client = await endpoint.ConnectAsync();

        // A masked text frame announcing 100 bytes, of which only the header and 10 bytes arrive.
        await client.SendRawAsync([0x81, 0x80 | 100, 0, 0, 0, 0, .. Encoding.ASCII.GetBytes("0123456789")]);

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(answerClose: false), 1011);
        Assert.Equal(HandshakeErrorCodes.StepTimeout, (await endpoint.OutcomeAsync()).Error!.Code);
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task An_internal_failure_gets_the_error_message_then_1011()
    {
        await using var endpoint = await Endpoint.StartAsync(sendsErrorMessage: true);
        await using var client = await endpoint.ConnectAsync();

        await client.SendTextAsync("crash");

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(), 1011, "error:internal_error");
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task A_handshake_the_application_cancels_is_closed_with_1001()
    {
        await using var endpoint = await Endpoint.StartAsync(sendsErrorMessage: true, cancelAfter: TimeSpan.FromMilliseconds(200));
        await using var client = await endpoint.ConnectAsync();

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(), 1001, "error:cancelled");
        Assert.Equal(HandshakeErrorCodes.Cancelled, (await endpoint.OutcomeAsync()).Error!.Code);
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task A_message_the_spec_refuses_gets_the_error_message_then_1008()
    {
        await using var endpoint = await Endpoint.StartAsync(sendsErrorMessage: true);
        await using var client = await endpoint.ConnectAsync();

        await client.SendTextAsync("goodbye");

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(), 1008, "error:refused");
        await endpoint.AssertEndedQuietlyAsync();
    }

    [Fact]
    public async Task A_handshake_that_succeeds_ends_with_1000_when_the_application_closes()
    {
        await using var endpoint = await Endpoint.StartAsync(sendsErrorMessage: true);
        await using var client = await endpoint.ConnectAsync();

        await client.SendTextAsync("hello");

        AssertClosedWith(endpoint, await client.ReadUntilEndAsync(), 1000, "welcome");
        Assert.True((await endpoint.OutcomeAsync()).Succeeded);
        await endpoint.AssertEndedQuietlyAsync();
    }
}
