using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Entft;
using Dsl.Protocols.Tests.Cahp;
using Dsl.Runtime.Channels;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Transports;
using Xunit;

namespace Dsl.Protocols.Tests.Entft;

/// <summary>
/// A server's policy: the phrase key it holds per client (never the phrase) and the level each role earns in each
/// domain. The phrase key is the spec's: HKDF-SHA256(phrase, client_id, "entft/1.0 phrase", 32).
/// </summary>
public sealed class TestPolicy : IEntftServerHooks
{
    private readonly Dictionary<string, Bytes> _keys = new();
    private readonly Dictionary<(string Role, string Domain), AuthLevel> _levels = new();

    public List<(string Client, string Role, string Domain)> Asked { get; } = new();

    public static Bytes PhraseKey(string phrase, string clientId)
        => new(HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(phrase), 32, Encoding.UTF8.GetBytes(clientId), "entft/1.0 phrase"u8.ToArray()));

    public TestPolicy Enrol(string clientId, string phrase)
    {
        _keys[clientId] = PhraseKey(phrase, clientId);
        return this;
    }

    public TestPolicy Allow(string role, string domain, AuthLevel level)
    {
        _levels[(role, domain)] = level;
        return this;
    }

    public ValueTask<Grant?> AuthorizeAsync(string clientId, string homeDomain, string role, string domain, CancellationToken cancellationToken)
    {
        lock (Asked) Asked.Add((clientId, role, domain));
        return new(_keys.TryGetValue(clientId, out var key) && _levels.TryGetValue((role, domain), out var level)
            ? new Grant { PhraseKey = key, Level = level }
            : null);
    }
}

/// <summary>entft as its spec says it behaves: an authenticated server, a phrase that never crosses the wire, key confirmation, the channel.</summary>
public sealed class EntftHandshakeTests : IDisposable
{
    private const string Phrase = "picard alpha tango 789";
    private readonly Ed25519Key _serverKey = Ed25519.Instance.GenerateKey();

    public void Dispose() => _serverKey.Dispose();

    private TestPolicy Policy { get; } = new TestPolicy().Enrol("acft-001", Phrase).Allow("commanding_officer", "space", AuthLevel.Command);

    private EntftClientInputs ClientInputs(string phrase = Phrase, string role = "commanding_officer", string domain = "space", Bytes? serverKey = null, string cipher = "chacha20-poly1305") => new()
    {
        ClientId = "acft-001", Domain = domain, Role = role, Passphrase = phrase,
        ServerKey = serverKey ?? Bytes.CopyFrom(_serverKey.PublicKey),
        Capabilities = new[] { "phrase-auth", "resonance-sync", "governance-ledger" }, Cipher = cipher,
    };

    private readonly Dsl.Runtime.Services.InMemoryAddressBlockList _blocked = new();

    private EntftServer Server(IReadOnlyList<string>? ciphers = null) => new(new EntftServerInputs
    {
        Identity = _serverKey, ServerId = "starfleet_hq", Capabilities = new[] { "phrase-auth", "resonance-sync", "telemetry" },
        Ciphers = ciphers ?? new[] { "chacha20-poly1305", "aes-256-gcm" },
    }, new EntftServerServices { Blocked = _blocked }, Policy);

    private async Task<(HandshakeOutcome<EntftClientResult> C, HandshakeOutcome<EntftServerResult> S, CahpWire Wire, IMessageTransport ClientEnd, IMessageTransport ServerEnd)> RunAsync(
        EntftClientInputs? client = null, EntftServer? server = null, Func<int, byte[], byte[]>? rewrite = null)
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var wire = new CahpWire(a) { Rewrite = rewrite };
        var serving = (server ?? Server()).RunAsync(b).AsTask();
        var c = await new EntftClient(client ?? ClientInputs()).RunAsync(wire);
        return (c, await serving, wire, wire, b);
    }

    private static JsonObject Inner(byte[] message) => (JsonObject)JsonNode.Parse(message)!["entft"]!;

    [Fact]
    public void The_inputs_print_the_secret_phrase_as_secret_never_its_value()
    {
        // secret: true on the passphrase: the record's ToString (a log line, a debugger) shows that it is set, not what it is.
        var text = ClientInputs(phrase: "picard alpha tango 788").ToString();
        Assert.DoesNotContain("picard", text);
        Assert.Contains("Passphrase = (secret)", text);
        Assert.Contains("ClientId = ", text);
    }

    [Fact]
    public async Task The_client_proves_its_phrase_both_confirm_the_key_and_the_channel_carries_data()
    {
        var (c, s, wire, clientEnd, serverEnd) = await RunAsync();
        Assert.True(c.Succeeded, c.ToString());
        Assert.True(s.Succeeded, s.ToString());
        Assert.Equal(AuthLevel.Command, c.Result.AuthLevel);
        Assert.Equal(AuthLevel.Command, s.Result.AuthLevel);
        Assert.Equal(c.Result.SessionId, s.Result.SessionId);
        Assert.Equal(new[] { "phrase-auth", "resonance-sync" }, c.Result.Capabilities);
        Assert.Equal(0.6667m, c.Result.Stability);
        Assert.True(c.Result.ToServer.ContentEquals(s.Result.ToServer));
        Assert.Equal(new[] { "init", "auth", "resonance-sync", "secure-channel" }, wire.Sent.Select(m => (string)Inner(m)["phase"]!));
        Assert.Equal(new[] { "init_ack", "auth_ok", "sync_ok", "secure_ack" }, wire.Received.Select(m => (string)Inner(m)["phase"]!));

        await using var clientChannel = EntftClient.OpenChannel(clientEnd, c.Result);
        await using var serverChannel = EntftServer.OpenChannel(serverEnd, s.Result);
        await clientChannel.SendAsync("engage"u8.ToArray());
        var received = new ArrayBufferWriter<byte>();
        Assert.True(await serverChannel.ReceiveAsync(received));
        Assert.Equal("engage", Encoding.UTF8.GetString(received.WrittenSpan));
    }

    [Fact]
    public async Task Every_message_is_wrapped_in_entft_with_the_seeds_phases_and_the_phrase_never_travels()
    {
        var (c, _, wire, _, _) = await RunAsync();
        Assert.True(c.Succeeded, c.ToString());
        foreach (var message in wire.Sent.Concat(wire.Received))
        {
            var root = JsonNode.Parse(message)!.AsObject();
            Assert.Equal(new[] { "entft" }, root.Select(p => p.Key));
            Assert.DoesNotContain("picard", Encoding.UTF8.GetString(message));
        }
        Assert.Equal("1.0", (string)Inner(wire.Sent[0])["version"]!);
        Assert.Equal("resonance-sync", (string)Inner(wire.Received[1])["next"]!);
        Assert.Equal("auto", (string)Inner(wire.Received[2])["coherence_path"]!);
        Assert.Equal("encrypted", (string)Inner(wire.Received[3])["status"]!);
        Assert.Equal("open", (string)Inner(wire.Received[3])["channel"]!);
    }

    [Fact]
    public async Task A_recording_gives_no_way_to_test_phrase_guesses_offline()
    {
        // An eavesdropper holds every message and, for the test, even the right phrase: without the X25519 shared
        // secret, which never travels, it cannot recompute the proof, so it cannot tell a right guess from a wrong one.
        var (c, _, wire, _, _) = await RunAsync();
        Assert.True(c.Succeeded);
        var proof = Convert.FromHexString((string)Inner(wire.Sent[1])["auth"]!["signature"]!);
        var phraseKey = TestPolicy.PhraseKey(Phrase, "acft-001").Span.ToArray();
        foreach (var guessKey in new[] { phraseKey, HKDF.DeriveKey(HashAlgorithmName.SHA256, phraseKey, 32, Array.Empty<byte>(), "entft/1.0 auth"u8.ToArray()) })
            Assert.NotEqual(proof, HMACSHA256.HashData(guessKey, Encoding.UTF8.GetBytes(string.Concat(wire.Sent.Take(1).Concat(wire.Received.Take(1)).Select(Encoding.UTF8.GetString)))));
        // And two runs with the same phrase prove it differently.
        var (again, _, second, _, _) = await RunAsync();
        Assert.True(again.Succeeded);
        Assert.NotEqual((string)Inner(wire.Sent[1])["auth"]!["signature"]!, (string)Inner(second.Sent[1])["auth"]!["signature"]!);
    }

    [Fact]
    public async Task A_wrong_phrase_is_auth_fail_and_the_client_is_told_and_dropped()
    {
        var (c, s, wire, _, _) = await RunAsync(ClientInputs(phrase: "picard alpha tango 788"));
        Assert.Equal("AUTH_FAIL", s.Error!.Code);
        Assert.Equal("AUTH_FAIL", c.Error!.Code);
        Assert.True(c.Error.RaisedByPeer);
        Assert.Equal("auth_fail", (string)Inner(wire.Received[^1])["phase"]!);
        Assert.Equal("AUTH_FAIL", (string)Inner(wire.Received[^1])["reason"]!);
    }

    [Fact]
    public async Task Repeated_wrong_phrases_block_the_address_before_any_more_guesses()
    {
        for (var i = 0; i < 5; i++)
        {
            var (c, _, _, _, _) = await RunAsync(ClientInputs(phrase: "guess " + i));
            Assert.Equal("AUTH_FAIL", c.Error!.Code);
        }
        var (blocked, s, wire, _, _) = await RunAsync();
        Assert.Equal("BLOCKED", s.Error!.Code);
        Assert.Equal("BLOCKED", blocked.Error!.Code);
        Assert.Equal("init", s.Error.Phase);
        Assert.Equal("auth_fail", (string)Inner(wire.Received.Single())["phase"]!);
        Assert.Equal(5, Policy.Asked.Count);
    }

    [Fact]
    public async Task A_role_not_allowed_in_the_domain_is_auth_fail_too()
    {
        var (c, s, _, _, _) = await RunAsync(ClientInputs(domain: "air"));
        Assert.Equal("AUTH_FAIL", s.Error!.Code);
        Assert.Equal("AUTH_FAIL", c.Error!.Code);
        Assert.Contains(("acft-001", "commanding_officer", "air"), Policy.Asked);
    }

    [Fact]
    public async Task A_server_that_cannot_sign_for_the_expected_key_is_refused_before_the_client_proves_anything()
    {
        using var impostor = Ed25519.Instance.GenerateKey();
        var (c, s, wire, _, _) = await RunAsync(ClientInputs(serverKey: Bytes.CopyFrom(impostor.PublicKey)));
        Assert.Equal("SERVER_NOT_AUTHENTIC", c.Error!.Code);
        Assert.Single(wire.Sent);
        Assert.Equal(HandshakeErrorCodes.PeerClosed, s.Error!.Code);
        Assert.Empty(Policy.Asked);
    }

    [Fact]
    public async Task A_key_confirmation_that_does_not_match_is_refused()
    {
        var (c, s, _, _, _) = await RunAsync(rewrite: (index, bytes) =>
        {
            if (index != 2) return bytes;
            var root = JsonNode.Parse(bytes)!;
            root["entft"]!["client_field_sample"] = Convert.ToHexStringLower(new byte[32]);
            return Encoding.UTF8.GetBytes(root.ToJsonString());
        });
        Assert.Equal("KEY_CONFIRMATION", s.Error!.Code);
        Assert.Equal("resonance-sync", s.Error.Phase);
        Assert.Equal(HandshakeErrorCodes.PeerClosed, c.Error!.Code);
    }

    [Fact]
    public async Task A_cipher_the_server_does_not_allow_is_refused()
    {
        var (c, s, _, _, _) = await RunAsync(ClientInputs(cipher: "aes-256-gcm"), Server(new[] { "chacha20-poly1305" }));
        Assert.Equal("UNSUPPORTED_CIPHER", s.Error!.Code);
        Assert.False(c.Succeeded);
    }

    [Fact]
    public async Task An_init_altered_on_the_way_breaks_the_servers_signature_and_is_refused()
    {
        var (c, _, _, _, _) = await RunAsync(rewrite: (index, bytes) =>
        {
            if (index != 0) return bytes;
            var root = JsonNode.Parse(bytes)!;
            root["entft"]!["capabilities"] = new JsonArray("phrase-auth");
            return Encoding.UTF8.GetBytes(root.ToJsonString());
        });
        // The server signed a transcript holding the altered init; the client's own init differs, so the signature fails.
        Assert.Equal("SERVER_NOT_AUTHENTIC", c.Error!.Code);
    }
}
