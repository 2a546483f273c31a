using System;
using System.Buffers;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Dsl.Protocols.Ltp03;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Xunit;
using Ltp02 = Dsl.Protocols.Ltp;

namespace Dsl.Protocols.Tests.Ltp;

/// <summary>
/// LTP 0.3 (protocols/ltp/ltp-0.3.yaml), which extends 0.2: signed requests and answers, a pinned client key, a
/// replay-checked nonce; and what happens between a 0.2 peer and a 0.3 peer, both ways, run for real.
/// </summary>
public sealed class Ltp03HandshakeTests(TransportPairs pairs) : IClassFixture<TransportPairs>, IDisposable
{
    private readonly Ed25519Key _serverKey = Ed25519.Instance.GenerateKey();
    private readonly Ed25519Key _clientKey = Ed25519.Instance.GenerateKey();
    private readonly InMemoryValueStore<Bytes> _clientKeys = new();
    private readonly InMemoryReplayCache _seen = new();
    private readonly InMemoryThreadStore _threads = new();

    private static readonly HandshakeOptions Fast = LtpServer.DefaultOptions with
    {
        StepTimeout = TimeSpan.FromSeconds(5),
        HandshakeTimeout = TimeSpan.FromSeconds(10),
    };

    public void Dispose()
    {
        _serverKey.Dispose();
        _clientKey.Dispose();
    }

    private LtpServer Server(Ed25519Key? key = null) => new(
        new LtpServerInputs { ServerCapabilities = new[] { "ping-pong" }, Identity = key ?? _serverKey },
        new LtpServerServices { Threads = _threads, ClientKeys = _clientKeys, SeenNonces = _seen }, Fast);

    private LtpClient Client(IValueStore<Guid> saved, Ed25519Key? key = null, Ed25519Key? trustedServer = null) => new(
        new LtpClientInputs { ClientId = "client-1", Identity = key ?? _clientKey, ServerKey = new Bytes((trustedServer ?? _serverKey).PublicKeyBytes()) },
        new LtpClientServices { SavedThreads = saved }, Fast);

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task A_client_opens_a_thread_and_resumes_it_with_signed_messages(string kind)
    {
        var saved = new InMemoryValueStore<Guid>();
        HandshakeOutcome<LtpClientResult> first, second;
        await using (var pair = await pairs.CreateAsync(kind))
        {
            var server = Server().RunAsync(pair.Server).AsTask();
            first = await Client(saved).RunAsync(pair.Client);
            Assert.True((await server).Succeeded);
        }
        Assert.True(first.Succeeded, first.ToString());
        Assert.False(first.Result.Resumed);
        Assert.True(await _clientKeys.GetAsync("client-1", default) is { } pinned && pinned.Span.SequenceEqual(_clientKey.PublicKey));

        await using (var pair = await pairs.CreateAsync(kind))
        {
            var server = Server().RunAsync(pair.Server).AsTask();
            second = await Client(saved).RunAsync(pair.Client);
            Assert.True((await server).Succeeded);
        }
        Assert.True(second.Succeeded, second.ToString());
        Assert.True(second.Result.Resumed);
        Assert.Equal(first.Result.ThreadId, second.Result.ThreadId);
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task A_02_client_gets_the_version_error_from_a_03_server_not_a_malformed_message(string kind)
    {
        await using var pair = await pairs.CreateAsync(kind);
        var server = Server().RunAsync(pair.Server).AsTask();
        var old = new Ltp02.LtpClient(new Ltp02.LtpClientInputs { ClientId = "old" }, new Ltp02.LtpClientServices { SavedThreads = new InMemoryValueStore<Guid>() });
        var recorded = new RecordingTransport(pair.Client);
        var outcome = await old.RunAsync(recorded);

        Assert.Equal(Ltp02.LtpErrorCodes.UnsupportedVersion, outcome.Error!.Code);
        Assert.True(outcome.Error.RaisedByPeer);
        Assert.Equal(LtpErrorCodes.UnsupportedVersion, (await server).Error!.Code);
        var error = recorded.Received.Single();
        Assert.Equal("UNSUPPORTED_VERSION", error.GetProperty("error_code").GetString());
        Assert.Equal("Server requires LTP v0.3", error.GetProperty("error_message").GetString());
        Assert.Equal(new[] { "0.3" }, error.GetProperty("supported_versions").EnumerateArray().Select(v => v.GetString()));
    }

    [Theory]
    [InlineData(TransportPairs.Memory)]
    [InlineData(TransportPairs.WebSocket)]
    public async Task A_03_client_gets_the_version_error_from_a_02_server(string kind)
    {
        await using var pair = await pairs.CreateAsync(kind);
        var old = new Ltp02.LtpServer(new Ltp02.LtpServerInputs { ServerCapabilities = Array.Empty<string>() }, new Ltp02.LtpServerServices { Threads = new InMemoryThreadStore() });
        var server = old.RunAsync(pair.Server).AsTask();
        var outcome = await Client(new InMemoryValueStore<Guid>()).RunAsync(pair.Client);
        Assert.Equal(LtpErrorCodes.UnsupportedVersion, outcome.Error!.Code);
        Assert.True(outcome.Error.RaisedByPeer);
        Assert.Equal(Ltp02.LtpErrorCodes.UnsupportedVersion, (await server).Error!.Code);
    }

    /// <summary>A handshake_init as a 0.3 client signs it, then changed by <paramref name="tamper"/> on the way.</summary>
    private string SignedInit(Ed25519Key key, Action<JsonObject>? tamper = null, byte[]? nonce = null, string clientId = "client-1", Ed25519Key? audience = null)
    {
        var init = new HandshakeInit
        {
            LtpVersion = "0.3",
            ClientId = clientId,
            Nonce = new Bytes(nonce ?? RandomNumberGenerator.GetBytes(16)),
            ClientKey = new Bytes(key.PublicKeyBytes()),
            ServerKey = new Bytes((audience ?? _serverKey).PublicKeyBytes()),
        };
        init = init with { Signature = new Bytes(Ed25519.Instance.Sign(key, LtpCodec.Instance.EncodeUnsigned(init).Span)) };
        var buffer = new ArrayBufferWriter<byte>();
        LtpCodec.Instance.Encode(init, buffer);
        var json = JsonNode.Parse(buffer.WrittenSpan)!.AsObject();
        tamper?.Invoke(json);
        return json.ToJsonString();
    }

    public static TheoryData<string, string> Tampered() => new()
    {
        { "client_id changed", "client_id" },
        { "an unknown field added", "extra" },
        { "signature removed", "signature" },
        { "nonce removed", "nonce" },
        { "client_key removed", "client_key" },
        { "signature flipped", "flip" },
    };

    [Theory]
    [MemberData(nameof(Tampered))]
    public async Task A_request_altered_after_signing_or_unsigned_gets_INVALID_SIGNATURE(string what, string change)
    {
        _ = what;
        await using var pair = await pairs.CreateAsync(TransportPairs.Memory);
        var server = Server().RunAsync(pair.Server).AsTask();
        await Raw.SendAsync(pair.Client, SignedInit(_clientKey, json =>
        {
            switch (change)
            {
                case "client_id": json["client_id"] = "client-2"; break;
                case "extra": json["intent"] = "data_sync"; break;
                case "flip":
                    var signature = Convert.FromHexString(json["signature"]!.GetValue<string>());
                    signature[10] ^= 1;
                    json["signature"] = Convert.ToHexString(signature).ToLowerInvariant();
                    break;
                default: json.Remove(change); break;
            }
        }));
        var sent = await Raw.ReceiveAsync(pair.Client);
        Assert.Equal(LtpErrorCodes.InvalidSignature, (await server).Error!.Code);
        Assert.Equal("INVALID_SIGNATURE", sent!.Value.GetProperty("error_code").GetString());
        await Raw.AssertClosedAsync(pair.Client);
        Assert.Null(await _clientKeys.GetAsync("client-1", default));
    }

    [Fact]
    public async Task A_replayed_request_gets_REPLAY()
    {
        var request = SignedInit(_clientKey);
        await using (var pair = await pairs.CreateAsync(TransportPairs.Memory))
        {
            var server = Server().RunAsync(pair.Server).AsTask();
            await Raw.SendAsync(pair.Client, request);
            Assert.Equal("handshake_ack", (await Raw.ReceiveAsync(pair.Client))!.Value.GetProperty("type").GetString());
            Assert.True((await server).Succeeded);
        }
        await using (var pair = await pairs.CreateAsync(TransportPairs.Memory))
        {
            var server = Server().RunAsync(pair.Server).AsTask();
            await Raw.SendAsync(pair.Client, request);
            var sent = await Raw.ReceiveAsync(pair.Client);
            Assert.Equal(LtpErrorCodes.Replay, (await server).Error!.Code);
            Assert.Equal("REPLAY", sent!.Value.GetProperty("error_code").GetString());
            await Raw.AssertClosedAsync(pair.Client);
        }
    }

    [Fact]
    public async Task Another_key_for_a_pinned_client_id_gets_CLIENT_KEY_MISMATCH()
    {
        await using (var pair = await pairs.CreateAsync(TransportPairs.Memory))
        {
            var server = Server().RunAsync(pair.Server).AsTask();
            Assert.True((await Client(new InMemoryValueStore<Guid>()).RunAsync(pair.Client)).Succeeded);
            Assert.True((await server).Succeeded);
        }
        using var thief = Ed25519.Instance.GenerateKey();
        await using (var pair = await pairs.CreateAsync(TransportPairs.Memory))
        {
            var server = Server().RunAsync(pair.Server).AsTask();
            var outcome = await Client(new InMemoryValueStore<Guid>(), key: thief).RunAsync(pair.Client);
            Assert.Equal(LtpErrorCodes.ClientKeyMismatch, outcome.Error!.Code);
            Assert.True(outcome.Error.RaisedByPeer);
            Assert.Equal(LtpErrorCodes.ClientKeyMismatch, (await server).Error!.Code);
        }
        Assert.True((await _clientKeys.GetAsync("client-1", default))!.Value.Span.SequenceEqual(_clientKey.PublicKey));
    }

    [Fact]
    public async Task An_ack_signed_by_a_key_the_client_does_not_trust_fails_it_with_INVALID_SIGNATURE()
    {
        // A server the client does not trust, that answers anyway (an honest one refuses a request meant for another
        // server, below): its ack echoes the nonce and is signed by its own key.
        using var impostor = Ed25519.Instance.GenerateKey();
        var saved = new InMemoryValueStore<Guid>();
        await using var pair = await pairs.CreateAsync(TransportPairs.Memory);
        var client = Client(saved).RunAsync(pair.Client).AsTask();
        var request = (await Raw.ReceiveAsync(pair.Server))!.Value;
        var ack = new HandshakeAck
        {
            LtpVersion = "0.3",
            ThreadId = Guid.NewGuid(),
            SessionId = Guid.NewGuid(),
            ServerCapabilities = Array.Empty<string>(),
            HeartbeatIntervalMs = 15000,
            Nonce = Bytes.FromHex(request.GetProperty("nonce").GetString()!),
            Signature = Bytes.Empty,
        };
        ack = ack with { Signature = new Bytes(Ed25519.Instance.Sign(impostor, LtpCodec.Instance.EncodeUnsigned(ack).Span)) };
        var buffer = new ArrayBufferWriter<byte>();
        LtpCodec.Instance.Encode(ack, buffer);
        await Raw.SendAsync(pair.Server, Encoding.UTF8.GetString(buffer.WrittenSpan));
        var outcome = await client;
        Assert.Equal(LtpErrorCodes.InvalidSignature, outcome.Error!.Code);
        Assert.False(outcome.Error.RaisedByPeer);
        Assert.Null(await saved.GetAsync("client-1", default));
    }

    [Fact]
    public async Task A_request_signed_for_another_server_gets_WRONG_SERVER_and_pins_nothing()
    {
        // An init recorded on its way to another server is well signed and fresh here: its audience gives it away.
        using var other = Ed25519.Instance.GenerateKey();
        await using var pair = await pairs.CreateAsync(TransportPairs.Memory);
        var server = Server().RunAsync(pair.Server).AsTask();
        await Raw.SendAsync(pair.Client, SignedInit(_clientKey, audience: other));
        var sent = await Raw.ReceiveAsync(pair.Client);
        Assert.Equal(LtpErrorCodes.WrongServer, (await server).Error!.Code);
        Assert.Equal("WRONG_SERVER", sent!.Value.GetProperty("error_code").GetString());
        Assert.Null(await _clientKeys.GetAsync("client-1", default));
    }

    [Fact]
    public async Task A_resume_the_server_refuses_pins_no_key()
    {
        // A resume for a thread the server does not have, signed by a stranger's key for someone's client id: the
        // server rejects it, and the stranger does not come to own the id (before, the verified resume pinned it).
        using var stranger = Ed25519.Instance.GenerateKey();
        var resume = new HandshakeResume
        {
            LtpVersion = "0.3",
            ClientId = "client-1",
            ThreadId = Guid.NewGuid(),
            Nonce = new Bytes(RandomNumberGenerator.GetBytes(16)),
            ClientKey = new Bytes(stranger.PublicKeyBytes()),
            ServerKey = new Bytes(_serverKey.PublicKeyBytes()),
        };
        resume = resume with { Signature = new Bytes(Ed25519.Instance.Sign(stranger, LtpCodec.Instance.EncodeUnsigned(resume).Span)) };
        var buffer = new ArrayBufferWriter<byte>();
        LtpCodec.Instance.Encode(resume, buffer);
        await using (var pair = await pairs.CreateAsync(TransportPairs.Memory))
        {
            var server = Server().RunAsync(pair.Server).AsTask();
            await Raw.SendAsync(pair.Client, Encoding.UTF8.GetString(buffer.WrittenSpan));
            Assert.Equal("handshake_reject", (await Raw.ReceiveAsync(pair.Client))!.Value.GetProperty("type").GetString());
            await pair.Client.CloseAsync();
            Assert.False((await server).Succeeded);
        }
        Assert.Null(await _clientKeys.GetAsync("client-1", default));
        // The client whose id it is then opens a thread with its own key, which is pinned once its handshake completes.
        await using var honest = await pairs.CreateAsync(TransportPairs.Memory);
        var accepted = Server().RunAsync(honest.Server).AsTask();
        Assert.True((await Client(new InMemoryValueStore<Guid>()).RunAsync(honest.Client)).Succeeded);
        Assert.True((await accepted).Succeeded);
        Assert.Equal(new Bytes(_clientKey.PublicKeyBytes()), await _clientKeys.GetAsync("client-1", default));
    }
}
