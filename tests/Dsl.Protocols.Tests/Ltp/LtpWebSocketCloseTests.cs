using System;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Ltp;
using Dsl.Runtime.AspNetCore;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Tests.Shared;
using Xunit;

namespace Dsl.Protocols.Tests.Ltp;

/// <summary>
/// An LTP server on a Kestrel WebSocket endpoint, against a raw TCP client: what reaches the wire when the handshake
/// fails. LTP's <c>error</c> message goes out where the spec declares one and the socket can still carry it; then a
/// close frame with the status for why, then the end of the TCP stream.
/// </summary>
public sealed class LtpWebSocketCloseTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static async Task<(HandshakeServer Server, Task<HandshakeOutcome<LtpServerResult>> Outcome)> StartAsync(TimeSpan stepTimeout)
    {
        var outcome = new TaskCompletionSource<HandshakeOutcome<LtpServerResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = LtpServer.DefaultOptions with { StepTimeout = stepTimeout, HandshakeTimeout = TimeSpan.FromSeconds(10) };
        var server = new HandshakeServer { ShutdownTimeout = TimeSpan.FromSeconds(2) };
        server.MapHandshake("/ltp", async (transport, _, ct) =>
        {
            var ltp = new LtpServer(
                new LtpServerInputs { ServerCapabilities = new[] { "ping-pong" }, HeartbeatIntervalMs = 15000 },
                new LtpServerServices { Threads = new InMemoryThreadStore() }, options);
            outcome.TrySetResult(await ltp.RunAsync(transport, ct));
        });
        await server.StartAsync();
        return (server, outcome.Task);
    }

    /// <summary>Asserts the transcript is LTP's error message with <paramref name="errorCode"/> (or nothing), then a close with <paramref name="status"/>, then the end of the stream.</summary>
    private static void AssertErrorThenClose(RawWebSocketClient.Transcript transcript, string? errorCode, int status)
    {
        var expected = errorCode is null ? 1 : 2;
        Assert.True(transcript.Frames.Count == expected && transcript.Ending == RawWebSocketClient.Ending.Ended, transcript.ToString());
        if (errorCode is not null)
        {
            var error = transcript.Frames[0];
            Assert.Equal(RawWebSocketClient.Text, error.Opcode);
            using var json = JsonDocument.Parse(error.Payload);
            Assert.Equal("error", json.RootElement.GetProperty("type").GetString());
            Assert.Equal(errorCode, json.RootElement.GetProperty("error_code").GetString());
        }
        Assert.Equal(status, transcript.Frames[^1].CloseStatus);
    }

    [Fact]
    public async Task A_silent_client_hits_the_step_timeout_and_gets_1011_without_an_error_message()
    {
        // LTP declares no error message for step_timeout: its page says a role that times out sends none.
        var (server, outcome) = await StartAsync(TimeSpan.FromMilliseconds(300));
        await using var _ = server;
        await using var client = await RawWebSocketClient.ConnectAsync(server.GetUri("/ltp"));

        AssertErrorThenClose(await client.ReadUntilEndAsync(), errorCode: null, status: 1011);
        var error = (await outcome.WaitAsync(Wait)).Error!;
        Assert.Equal(HandshakeErrorCodes.StepTimeout, error.Code);
        Assert.Null(error.SentToPeer);
    }

    [Theory]
    [InlineData("""{"type":"handshake_init","ltp_version":"0.2",""", "MALFORMED_HANDSHAKE")]
    [InlineData("""{"type":"handshake_init","ltp_version":"0.1","client_id":"c"}""", "UNSUPPORTED_VERSION")]
    [InlineData("""{"type":"handshake_init","ltp_version":"0.2","client_id":""}""", "INVALID_CLIENT_ID")]
    public async Task A_message_the_server_refuses_gets_LTPs_error_then_1008(string json, string errorCode)
    {
        var (server, outcome) = await StartAsync(TimeSpan.FromSeconds(5));
        await using var _ = server;
        await using var client = await RawWebSocketClient.ConnectAsync(server.GetUri("/ltp"));

        await client.SendTextAsync(json);

        AssertErrorThenClose(await client.ReadUntilEndAsync(), errorCode, status: 1008);
        Assert.Equal("error", (await outcome.WaitAsync(Wait)).Error!.SentToPeer);
    }

    [Fact]
    public async Task A_message_over_64_KiB_gets_LTPs_error_then_1009()
    {
        var (server, _) = await StartAsync(TimeSpan.FromSeconds(5));
        await using var _ = server;
        await using var client = await RawWebSocketClient.ConnectAsync(server.GetUri("/ltp"));

        await client.SendTextAsync($$"""{"type":"handshake_init","ltp_version":"0.2","client_id":"{{new string('x', 64 * 1024)}}"}""");

        AssertErrorThenClose(await client.ReadUntilEndAsync(), "MALFORMED_HANDSHAKE", status: 1009);
    }

    [Fact]
    public async Task Text_that_is_not_UTF8_gets_only_1007_since_the_socket_can_carry_nothing_after_it()
    {
        var (server, outcome) = await StartAsync(TimeSpan.FromSeconds(5));
        await using var _ = server;
        await using var client = await RawWebSocketClient.ConnectAsync(server.GetUri("/ltp"));

        var bytes = Encoding.UTF8.GetBytes("""{"type":"handshake_init","ltp_version":"0.2","client_id":"c?"}""");
        bytes[Array.LastIndexOf(bytes, (byte)'?')] = 0xFF;
        await client.SendFrameAsync(RawWebSocketClient.Text, bytes);

        AssertErrorThenClose(await client.ReadUntilEndAsync(), errorCode: null, status: 1007);
        var error = (await outcome.WaitAsync(Wait)).Error!;
        Assert.Equal(HandshakeErrorCodes.TransportFailed, error.Code);
        Assert.Null(error.SentToPeer);
    }
}
