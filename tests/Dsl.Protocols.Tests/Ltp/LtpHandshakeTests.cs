using System;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Ltp;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Dsl.Tests.Shared;
using Xunit;

namespace Dsl.Protocols.Tests.Ltp;

/// <summary>
/// LTP v0.2 as its spec says it behaves, over the in-memory pair and over a real WebSocket on loopback:
/// each test asserts the typed outcome, what the peer received, and that the connection closed.
/// </summary>
public sealed class LtpHandshakeTests(TransportPairs pairs) : IClassFixture<TransportPairs>
{
    private static readonly HandshakeOptions Fast = LtpServer.DefaultOptions with
    {
        StepTimeout = TimeSpan.FromSeconds(5),
        HandshakeTimeout = TimeSpan.FromSeconds(10),
    };

    private static LtpServerInputs ServerInputs(long heartbeatMs = 15000) => new()
    {
        ServerCapabilities = new[] { "ping-pong" },
        HeartbeatIntervalMs = heartbeatMs,
    };

    private static LtpServer Server(IThreadStore threads, long heartbeatMs = 15000, HandshakeOptions? options = null)
        => new(ServerInputs(heartbeatMs), new LtpServerServices { Threads = threads }, options ?? Fast);

    private static LtpClient Client(string clientId, IValueStore<Guid> saved, HandshakeOptions? options = null)
        => new(new LtpClientInputs { ClientId = clientId }, new LtpClientServices { SavedThreads = saved }, options ?? Fast);

    private async Task<(HandshakeOutcome<LtpClientResult> Client, HandshakeOutcome<LtpServerResult> Server)> HandshakeAsync(
        string kind, string clientId, IValueStore<Guid> saved, IThreadStore threads)
    {
        await using var pair = await pairs.CreateAsync(kind);
        var server = Server(threads).RunAsync(pair.Server).AsTask();
        var client = await Client(clientId, saved).RunAsync(pair.Client);
        return (client, await server);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task A_new_client_opens_a_thread_and_saves_its_id(string kind)
    {
        var saved = new InMemoryValueStore<Guid>();
        var threads = new InMemoryThreadStore();
        var (client, server) = await HandshakeAsync(kind, "client-123", saved, threads);

        Assert.True(client.Succeeded, client.ToString());
        Assert.True(server.Succeeded, server.ToString());
        Assert.False(client.Result.Resumed);
        Assert.Equal(server.Result.ThreadId, client.Result.ThreadId);
        Assert.Equal(server.Result.SessionId, client.Result.SessionId);
        Assert.Equal("client-123", server.Result.ClientId);
        Assert.True(Uuid.IsV4(client.Result.ThreadId) && Uuid.IsV4(client.Result.SessionId));
        Assert.NotEqual(client.Result.ThreadId, client.Result.SessionId);
        Assert.Equal(client.Result.ThreadId, await saved.GetAsync("client-123", default));
        Assert.Equal("client-123", threads.Find(client.Result.ThreadId)?.ClientId);
        Assert.Equal(15000, client.Result.HeartbeatIntervalMs);
        Assert.Equal(new[] { "ping-pong" }, client.Result.ServerCapabilities);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task A_client_with_a_saved_thread_resumes_it_with_a_fresh_session(string kind)
    {
        var saved = new InMemoryValueStore<Guid>();
        var threads = new InMemoryThreadStore();
        var (first, _) = await HandshakeAsync(kind, "client-123", saved, threads);
        var (second, server) = await HandshakeAsync(kind, "client-123", saved, threads);

        Assert.True(second.Succeeded, second.ToString());
        Assert.True(second.Result.Resumed);
        Assert.True(server.Result!.Resumed);
        Assert.Equal(first.Result!.ThreadId, second.Result.ThreadId);
        Assert.NotEqual(first.Result.SessionId, second.Result.SessionId);
        Assert.Equal(1, threads.Find(first.Result.ThreadId)!.Resumptions);
        Assert.Equal(second.Result.SessionId, threads.Find(first.Result.ThreadId)!.LastSessionId);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task An_unknown_thread_is_rejected_and_the_client_falls_back_to_init_by_itself(string kind)
    {
        var saved = new InMemoryValueStore<Guid>();
        var unknown = Uuid.NewV4();
        await saved.SetAsync("client-123", unknown, default);
        var threads = new InMemoryThreadStore();

        await using var pair = await pairs.CreateAsync(kind);
        var recorder = new RecordingTransport(pair.Client);
        var server = Server(threads).RunAsync(pair.Server).AsTask();
        var client = await Client("client-123", saved).RunAsync(recorder);

        Assert.True(client.Succeeded, client.ToString());
        Assert.True((await server).Succeeded);
        Assert.False(client.Result.Resumed);
        Assert.NotEqual(unknown, client.Result.ThreadId);
        Assert.Equal(client.Result.ThreadId, await saved.GetAsync("client-123", default));
        Assert.Equal(new[] { "handshake_resume", "handshake_init" }, recorder.Sent.Select(m => m.GetProperty("type").GetString()));
        var reject = recorder.Received[0];
        Assert.Equal("handshake_reject", reject.GetProperty("type").GetString());
        Assert.Equal("thread_not_found", reject.GetProperty("reason").GetString());
        Assert.True(reject.GetProperty("suggest_new").GetBoolean());
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task A_thread_cannot_be_resumed_by_another_client_id(string kind)
    {
        var threads = new InMemoryThreadStore();
        var (owner, _) = await HandshakeAsync(kind, "owner", new InMemoryValueStore<Guid>(), threads);
        var thief = new InMemoryValueStore<Guid>();
        await thief.SetAsync("thief", owner.Result!.ThreadId, default);

        var (client, _) = await HandshakeAsync(kind, "thief", thief, threads);

        Assert.True(client.Succeeded);
        Assert.False(client.Result.Resumed);
        Assert.NotEqual(owner.Result.ThreadId, client.Result.ThreadId);
    }

    /// <summary>Runs the server against a raw peer that sends <paramref name="json"/> as its first message.</summary>
    private async Task<(HandshakeOutcome<LtpServerResult> Outcome, JsonElement? Sent)> ServerFacingAsync(string kind, string json, int maxMessageSize = 64 * 1024)
    {
        await using var pair = await pairs.CreateAsync(kind, maxMessageSize);
        var server = Server(new InMemoryThreadStore()).RunAsync(pair.Server).AsTask();
        await Raw.SendAsync(pair.Client, json);
        var outcome = await server;
        var sent = await Raw.ReceiveAsync(pair.Client);
        if (sent is not null) await Raw.AssertClosedAsync(pair.Client);
        return (outcome, sent);
    }

    private static void AssertErrorSent(JsonElement? sent, string code)
    {
        Assert.True(sent.HasValue, "the peer received nothing before the close");
        Assert.Equal("error", sent.Value.GetProperty("type").GetString());
        Assert.Equal(code, sent.Value.GetProperty("error_code").GetString());
        Assert.True(sent.Value.GetProperty("timestamp").GetInt64() > 1_700_000_000);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task An_unsupported_version_gets_UNSUPPORTED_VERSION_with_the_supported_versions(string kind)
    {
        var (outcome, sent) = await ServerFacingAsync(kind, """{"type":"handshake_init","ltp_version":"0.1","client_id":"c"}""");

        Assert.False(outcome.Succeeded);
        Assert.Equal(LtpErrorCodes.UnsupportedVersion, outcome.Error.Code);
        Assert.Equal("init", outcome.Error.Phase);
        Assert.Equal("server", outcome.Error.Role);
        Assert.Equal("error", outcome.Error.SentToPeer);
        AssertErrorSent(sent, "UNSUPPORTED_VERSION");
        Assert.Equal(new[] { "0.2" }, sent!.Value.GetProperty("supported_versions").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal("Server requires LTP v0.2", sent.Value.GetProperty("error_message").GetString());
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task A_resume_with_an_unsupported_version_gets_UNSUPPORTED_VERSION(string kind)
    {
        var (outcome, sent) = await ServerFacingAsync(kind, $$"""{"type":"handshake_resume","ltp_version":"0.3","client_id":"c","thread_id":"{{Uuid.NewV4()}}"}""");
        Assert.Equal(LtpErrorCodes.UnsupportedVersion, outcome.Error!.Code);
        Assert.Equal("resume", outcome.Error.Phase);
        AssertErrorSent(sent, "UNSUPPORTED_VERSION");
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task An_empty_client_id_gets_INVALID_CLIENT_ID(string kind)
    {
        var (outcome, sent) = await ServerFacingAsync(kind, """{"type":"handshake_init","ltp_version":"0.2","client_id":""}""");
        Assert.Equal(LtpErrorCodes.InvalidClientId, outcome.Error!.Code);
        AssertErrorSent(sent, "INVALID_CLIENT_ID");
    }

    [Theory]
    [InlineData(TransportPairs.Memory, """{"type":"handshake_init","client_id":"c"}""", "Missing required field: ltp_version")]
    [InlineData(TransportPairs.WebSocket, """{"type":"handshake_init","client_id":"c"}""", "Missing required field: ltp_version")]
    [InlineData(TransportPairs.Memory, """{"type":"handshake_init","ltp_version":"0.2","client_id":42}""", "Field 'client_id' must be a string")]
    [InlineData(TransportPairs.WebSocket, """{"type":"handshake_init","ltp_version":"0.2","client_id":42}""", "Field 'client_id' must be a string")]
    [InlineData(TransportPairs.Memory, """{"type":"handshake_init","ltp_version":"0.2",""", "Invalid JSON")]
    [InlineData(TransportPairs.WebSocket, """{"type":"handshake_init","ltp_version":"0.2",""", "Invalid JSON")]
    [InlineData(TransportPairs.Memory, """{"type":"handshake_init","ltp_version":"0.2","client_id":"c"} trailing""", "Unexpected data after the message")]
    [InlineData(TransportPairs.Memory, """{"type":"hello","ltp_version":"0.2"}""", "Unknown message type 'hello'")]
    [InlineData(TransportPairs.Memory, """{"ltp_version":"0.2","client_id":"c"}""", "Missing required field: type")]
    [InlineData(TransportPairs.Memory, """[1,2,3]""", "Message must be a JSON object")]
    [InlineData(TransportPairs.Memory, """{"type":"handshake_init","ltp_version":"0.2","client_id":"c","client_id":"d"}""", "Field 'client_id' appears more than once")]
    [InlineData(TransportPairs.Memory, """{"type":"handshake_resume","ltp_version":"0.2","client_id":"c","thread_id":"existing-thread-uuid"}""", "Field 'thread_id' must be a UUID string")]
    [InlineData(TransportPairs.Memory, """{"type":"ping","session_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","timestamp":1}""", "Unexpected message 'ping'")]
    [InlineData(TransportPairs.WebSocket, """{"type":"handshake_ack","ltp_version":"0.2","thread_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","session_id":"a8f5f167-d5a1-4c42-9e12-3d8f72e6b5c1","server_capabilities":[],"heartbeat_interval_ms":1000}""", "Unexpected message 'handshake_ack'")]
    public async Task A_malformed_or_unexpected_message_gets_MALFORMED_HANDSHAKE_naming_the_problem(string kind, string json, string detail)
    {
        var (outcome, sent) = await ServerFacingAsync(kind, json);
        Assert.Equal(LtpErrorCodes.MalformedHandshake, outcome.Error!.Code);
        Assert.Contains(detail, outcome.Error.Detail);
        AssertErrorSent(sent, "MALFORMED_HANDSHAKE");
        Assert.Contains(detail, sent!.Value.GetProperty("error_message").GetString());
    }

    [Theory]
    [InlineData("""{"type":"\xFF\xFE"}""")]
    [InlineData("""{"type":"handshake_init","ltp_version":"0.2","client_id":"\xC3"}""")]
    [InlineData("""{"type":"handshake_init","ltp_version":"0.2","client_id":"c","unknown":"\xED\xA0\x80"}""")]
    // Escapes of lone surrogates: valid UTF-8 on the wire, text no UTF-16 string can hold.
    [InlineData("""{"type":"handshake_\udc00init","ltp_version":"0.2","client_id":"c"}""")]
    [InlineData("""{"type":"handshake_init","ltp_\udc00version":"0.2","client_id":"c"}""")]
    [InlineData("""{"type":"handshake_init","ltp_version":"0.2","client_id":"c\ud800"}""")]
    [InlineData("""{"\udc00":1,"type":"handshake_init","ltp_version":"0.2","client_id":"c"}""")]
    public async Task Invalid_UTF8_anywhere_is_MALFORMED_HANDSHAKE_not_an_internal_error(string template)
    {
        // \xNN in the template is a raw byte: invalid UTF-8 on the wire, which a .NET string cannot hold.
        var bytes = new System.Collections.Generic.List<byte>();
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] == '\\' && i + 3 < template.Length && template[i + 1] == 'x')
            {
                bytes.Add(Convert.ToByte(template.Substring(i + 2, 2), 16));
                i += 3;
            }
            else bytes.Add((byte)template[i]);
        }
        await using var pair = await pairs.CreateAsync(TransportPairs.Memory);
        var server = Server(new InMemoryThreadStore()).RunAsync(pair.Server).AsTask();
        await pair.Client.SendAsync(bytes.ToArray());
        var outcome = await server;
        Assert.True(outcome.Error!.Code == LtpErrorCodes.MalformedHandshake, outcome.Error.ToString() + " " + outcome.Error.Exception);
        AssertErrorSent(await Raw.ReceiveAsync(pair.Client), "MALFORMED_HANDSHAKE");
        await Raw.AssertClosedAsync(pair.Client);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task An_oversized_frame_is_refused_before_it_is_read_whole(string kind)
    {
        var padding = new string('x', 64 * 1024);
        var (outcome, sent) = await ServerFacingAsync(kind, $$"""{"type":"handshake_init","ltp_version":"0.2","client_id":"{{padding}}"}""");
        Assert.Equal(LtpErrorCodes.MalformedHandshake, outcome.Error!.Code);
        Assert.Contains("65536", outcome.Error.Detail);
        AssertErrorSent(sent, "MALFORMED_HANDSHAKE");
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task A_silent_peer_hits_the_step_timeout_and_the_connection_closes(string kind)
    {
        await using var pair = await pairs.CreateAsync(kind);
        var options = Fast with { StepTimeout = TimeSpan.FromMilliseconds(300) };
        var started = DateTime.UtcNow;
        var outcome = await Server(new InMemoryThreadStore(), options: options).RunAsync(pair.Server);
        Assert.Equal(HandshakeErrorCodes.StepTimeout, outcome.Error!.Code);
        Assert.Equal("hello", outcome.Error.Phase);
        Assert.Null(outcome.Error.SentToPeer);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
        await Raw.AssertClosedAsync(pair.Client);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task The_whole_handshake_timeout_applies_even_when_steps_are_allowed_longer(string kind)
    {
        await using var pair = await pairs.CreateAsync(kind);
        var options = Fast with { StepTimeout = TimeSpan.FromSeconds(30), HandshakeTimeout = TimeSpan.FromMilliseconds(300) };
        var outcome = await Client("c", new InMemoryValueStore<Guid>(), options).RunAsync(pair.Client);
        Assert.Equal(HandshakeErrorCodes.HandshakeTimeout, outcome.Error!.Code);
        Assert.Equal("client", outcome.Error.Role);
        var init = await Raw.ReceiveAsync(pair.Server);
        Assert.Equal("handshake_init", init!.Value.GetProperty("type").GetString());
        await Raw.AssertClosedAsync(pair.Server);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task The_client_reports_the_servers_error_as_a_peer_error(string kind)
    {
        await using var pair = await pairs.CreateAsync(kind);
        var client = Client("c", new InMemoryValueStore<Guid>()).RunAsync(pair.Client).AsTask();
        await Raw.ReceiveAsync(pair.Server);
        await Raw.SendAsync(pair.Server, """{"type":"error","error_code":"UNSUPPORTED_VERSION","error_message":"Server requires LTP v0.3","supported_versions":["0.3"]}""");
        var outcome = await client;
        Assert.Equal("UNSUPPORTED_VERSION", outcome.Error!.Code);
        Assert.True(outcome.Error.RaisedByPeer);
        Assert.Equal("Server requires LTP v0.3", outcome.Error.Detail);
        Assert.Null(outcome.Error.SentToPeer);
        await Raw.AssertClosedAsync(pair.Server);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task A_reject_without_suggest_new_stops_the_client_with_RESUME_REFUSED(string kind)
    {
        var saved = new InMemoryValueStore<Guid>();
        await saved.SetAsync("c", Uuid.NewV4(), default);
        await using var pair = await pairs.CreateAsync(kind);
        var client = Client("c", saved).RunAsync(pair.Client).AsTask();
        var resume = await Raw.ReceiveAsync(pair.Server);
        Assert.Equal("handshake_resume", resume!.Value.GetProperty("type").GetString());
        await Raw.SendAsync(pair.Server, """{"type":"handshake_reject","ltp_version":"0.2","reason":"forbidden","suggest_new":false}""");
        var outcome = await client;
        Assert.Equal(LtpErrorCodes.ResumeRefused, outcome.Error!.Code);
        Assert.Equal("rejected", outcome.Error.Phase);
        Assert.Null(outcome.Error.SentToPeer);
        await Raw.AssertClosedAsync(pair.Server);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task An_ack_missing_a_field_fails_the_client_which_tells_the_server(string kind)
    {
        await using var pair = await pairs.CreateAsync(kind);
        var client = Client("c", new InMemoryValueStore<Guid>()).RunAsync(pair.Client).AsTask();
        await Raw.ReceiveAsync(pair.Server);
        await Raw.SendAsync(pair.Server, """{"type":"handshake_ack","ltp_version":"0.2","thread_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","server_capabilities":[],"heartbeat_interval_ms":15000}""");
        var outcome = await client;
        Assert.Equal(LtpErrorCodes.MalformedHandshake, outcome.Error!.Code);
        Assert.Equal("Missing required field: session_id", outcome.Error.Detail);
        var error = await Raw.ReceiveAsync(pair.Server);
        AssertErrorSent(error, "MALFORMED_HANDSHAKE");
        await Raw.AssertClosedAsync(pair.Server);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task Cancelling_a_handshake_ends_it_with_cancelled_and_closes_the_connection(string kind)
    {
        await using var pair = await pairs.CreateAsync(kind);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var outcome = await Server(new InMemoryThreadStore()).RunAsync(pair.Server, cancel.Token);
        Assert.Equal(HandshakeErrorCodes.Cancelled, outcome.Error!.Code);
        await Raw.AssertClosedAsync(pair.Client);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task After_the_ack_the_client_pings_at_the_servers_interval_and_the_server_pongs(string kind)
    {
        await using var pair = await pairs.CreateAsync(kind);
        // Two silent intervals end the session: 200 ms leaves room for a loaded machine.
        var server = Server(new InMemoryThreadStore(), heartbeatMs: 200);
        var serverRun = server.RunAsync(pair.Server).AsTask();
        var client = Client("c", new InMemoryValueStore<Guid>());
        Assert.True((await client.RunAsync(pair.Client)).Succeeded);
        Assert.True((await serverRun).Succeeded);

        await using var serverSession = server.StartSession(pair.Server);
        await using var clientSession = client.StartSession(pair.Client);
        await Eventually.HoldsAsync(() =>
        {
            if (clientSession.Completion.IsCompleted)
                Assert.Fail($"the client's session ended after {clientSession.PingsSent} pings, {serverSession.PingsAnswered} answered, {clientSession.PongsReceived} pongs: {clientSession.Completion.Result}");
            return clientSession.PongsReceived >= 3;
        }, TimeSpan.FromSeconds(10));
        Assert.True(serverSession.PingsAnswered >= 3);
        Assert.False(serverSession.Completion.IsCompleted);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task The_server_drops_a_client_silent_for_two_intervals(string kind)
    {
        await using var pair = await pairs.CreateAsync(kind);
        var server = Server(new InMemoryThreadStore(), heartbeatMs: 100);
        var serverRun = server.RunAsync(pair.Server).AsTask();
        Assert.True((await Client("c", new InMemoryValueStore<Guid>()).RunAsync(pair.Client)).Succeeded);
        Assert.True((await serverRun).Succeeded);

        // The client never starts its heartbeat: after two silent intervals the server gives up.
        await using var session = server.StartSession(pair.Server);
        var end = await session.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Dsl.Runtime.Sessions.SessionEndReason.HeartbeatLost, end.Reason);
        await Raw.AssertClosedAsync(pair.Client);
    }

    [Fact]
    public void The_transition_table_says_what_each_state_accepts()
    {
        Assert.Equal(new[] { "handshake_resume", "handshake_init", "error" }, LtpServer.PermittedMessages(LtpServerState.AwaitHandshakeResumeOrHandshakeInit));
        Assert.True(LtpServer.CanReceive(LtpServerState.AwaitHandshakeInit, "handshake_init"));
        Assert.False(LtpServer.CanReceive(LtpServerState.AwaitHandshakeInit, "handshake_resume"));
        Assert.True(LtpClient.CanReceive(LtpClientState.AwaitHandshakeAckOrHandshakeReject, "handshake_reject"));
        Assert.Empty(LtpClient.PermittedMessages(LtpClientState.SendHandshakeInit));
        Assert.Contains("SendHandshakeReject --> AwaitHandshakeInit : send handshake_reject", LtpServer.Mermaid);
        Assert.StartsWith("stateDiagram-v2", LtpClient.Mermaid);
    }

    [Fact]
    public async Task A_machine_runs_one_handshake_only()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var server = Server(new InMemoryThreadStore(), options: Fast with { StepTimeout = TimeSpan.FromMilliseconds(50) });
        await server.RunAsync(a);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await server.RunAsync(b));
        await b.DisposeAsync();
    }

    [Fact]
    public async Task A_transport_that_throws_on_close_and_dispose_still_gives_a_failed_outcome()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var broken = new BrokenOnRelease(a);
        // Nobody answers: the step times out, the driver fails the handshake and lets go of the transport.
        var outcome = await Client("client-1", new InMemoryValueStore<Guid>(), Fast with { StepTimeout = TimeSpan.FromMilliseconds(50) }).RunAsync(broken);
        Assert.False(outcome.Succeeded);
        Assert.Equal(HandshakeErrorCodes.StepTimeout, outcome.Error.Code);
        Assert.Equal(1, broken.Closes);
        Assert.Equal(1, broken.Disposals);
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    /// <summary>A transport whose close and disposal throw, counting the calls.</summary>
    private sealed class BrokenOnRelease(IMessageTransport inner) : IMessageTransport
    {
        public int Closes;
        public int Disposals;
        public int MaxMessageSize => inner.MaxMessageSize;
        public string? RemoteAddress => inner.RemoteAddress;
        public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) => inner.SendAsync(message, cancellationToken);
        public ValueTask<bool> ReceiveAsync(System.Buffers.IBufferWriter<byte> destination, CancellationToken cancellationToken = default) => inner.ReceiveAsync(destination, cancellationToken);
        public ValueTask CloseAsync(CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Closes);
            throw new InvalidOperationException("close failed");
        }

        public ValueTask DisposeAsync()
        {
            Interlocked.Increment(ref Disposals);
            throw new InvalidOperationException("dispose failed");
        }
    }
}
