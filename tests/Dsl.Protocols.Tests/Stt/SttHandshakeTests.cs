using System;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Transports;
using Xunit;

namespace Dsl.Protocols.Tests.Stt;

/// <summary>The STT handshake as its spec says it behaves, over the in-memory pair.</summary>
public sealed class SttHandshakeTests
{
    private static readonly Bytes Seed = new(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));
    private static readonly Bytes NodeA = new(Convert.FromHexString(new string('a', 64)));
    private static readonly Bytes NodeB = new(Convert.FromHexString(new string('b', 64)));

    private static SttInitiator Initiator(Bytes? seed = null) => new(new SttInitiatorInputs { NodeId = NodeA, SharedSeed = seed ?? Seed });
    private static SttResponder Responder(Bytes? seed = null) => new(new SttResponderInputs { NodeId = NodeB, SharedSeed = seed ?? Seed });

    [Fact]
    public void The_inputs_print_the_shared_seed_as_secret_never_its_value()
    {
        var text = new SttInitiatorInputs { NodeId = NodeA, SharedSeed = Seed }.ToString();
        Assert.DoesNotContain(Seed.ToHex(), text);
        Assert.Contains("SharedSeed = (secret)", text);
    }

    [Fact]
    public async Task Both_peers_end_with_the_same_session_id_and_key()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var responder = Responder().RunAsync(b).AsTask();
        var initiator = await Initiator().RunAsync(a);
        var responded = await responder;

        Assert.True(initiator.Succeeded, initiator.ToString());
        Assert.True(responded.Succeeded, responded.ToString());
        Assert.Equal(16, initiator.Result.SessionId.Length);
        Assert.Equal(32, initiator.Result.SessionKey.Length);
        Assert.Equal(responded.Result.SessionId, initiator.Result.SessionId);
        Assert.True(responded.Result.SessionKey.ContentEquals(initiator.Result.SessionKey));
        Assert.Equal(NodeB, initiator.Result.PeerNodeId);
        Assert.Equal(NodeA, responded.Result.PeerNodeId);
    }

    [Fact]
    public async Task An_outcome_prints_its_keys_lengths_never_their_bytes_and_disposing_it_wipes_them()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var responder = Responder().RunAsync(b).AsTask();
        var initiator = await Initiator().RunAsync(a);
        var responded = await responder;
        Assert.True(initiator.Succeeded && responded.Succeeded);

        // Nothing prints as bytes but the public values (the session id, the node ids): every run of hex is one of them.
        var printed = initiator.ToString() + responded.ToString() + initiator.Result + responded.Result;
        Assert.Contains("SessionKey = SecretBytes(32 bytes)", printed);
        Assert.Contains("ToResponder = SecretBytes(32 bytes)", printed);
        var shown = new[] { initiator.Result.SessionId, initiator.Result.PeerNodeId, responded.Result.PeerNodeId }.Select(b => b.ToHex()).ToHashSet();
        foreach (System.Text.RegularExpressions.Match run in System.Text.RegularExpressions.Regex.Matches(printed, "[0-9a-fA-F]{16,}"))
            Assert.Contains(run.Value.ToLowerInvariant(), shown);

        initiator.Result.Dispose();
        Assert.True(initiator.Result.SessionKey.IsDisposed && initiator.Result.ToResponder.IsDisposed && initiator.Result.ToInitiator.IsDisposed);
        // The responder's result is its own: still usable.
        Assert.Equal(32, responded.Result.SessionKey.Length);
        Assert.False(responded.Result.SessionKey.IsDisposed);
    }

    [Fact]
    public async Task Every_handshake_derives_a_fresh_session()
    {
        var first = await RunAsync();
        var second = await RunAsync();
        Assert.NotEqual(first.SessionId, second.SessionId);
        Assert.False(first.SessionKey.ContentEquals(second.SessionKey));
    }

    private static async Task<SttInitiatorResult> RunAsync()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var responder = Responder().RunAsync(b).AsTask();
        var result = (await Initiator().RunAsync(a)).GetResultOrThrow();
        (await responder).GetResultOrThrow();
        return result;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_peer_with_the_wrong_seed_fails_at_AUTH_PROOF_with_WRONG_SEED(bool initiatorIsWrong)
    {
        var wrong = new Bytes(Encoding.UTF8.GetBytes("different_seed_32bytes_long!!!!!"));
        var (a, b) = InMemoryTransport.CreatePair();
        var responder = Responder(initiatorIsWrong ? null : wrong).RunAsync(b).AsTask();
        var initiator = await Initiator(initiatorIsWrong ? wrong : null).RunAsync(a);
        var responded = await responder;

        Assert.Equal(SttErrorCodes.WrongSeed, initiator.Error!.Code);
        Assert.Equal("auth_proof", initiator.Error.Phase);
        Assert.False(initiator.Error.RaisedByPeer);
        Assert.Equal("ERROR", initiator.Error.SentToPeer);
        Assert.Equal(SttErrorCodes.WrongSeed, responded.Error!.Code);
        Assert.Equal("auth_proof", responded.Error.Phase);
        Assert.True(responded.Error.RaisedByPeer);
    }

    [Fact]
    public void A_shared_seed_shorter_than_32_bytes_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => Initiator(new Bytes(new byte[31])));
        Assert.Contains("shared_seed", ex.Message);
        Assert.Contains("32", ex.Message);
    }

    /// <summary>A man in the middle that rewrites one field of one message in flight.</summary>
    private static async Task<(HandshakeOutcome<SttInitiatorResult> Initiator, HandshakeOutcome<SttResponderResult> Responder)> TamperAsync(string type, string field)
    {
        var (a, relayA) = InMemoryTransport.CreatePair();
        var (relayB, b) = InMemoryTransport.CreatePair();
        var responder = Responder().RunAsync(b).AsTask();
        var initiator = Initiator().RunAsync(a).AsTask();
        _ = Relay(relayA, relayB, type, field);
        _ = Relay(relayB, relayA, type, field);
        return (await initiator, await responder);
    }

    private static async Task Relay(IMessageTransport from, IMessageTransport to, string type, string field)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        try
        {
            while (true)
            {
                buffer.Clear();
                if (!await from.ReceiveAsync(buffer)) break;
                var node = JsonNode.Parse(buffer.WrittenSpan)!.AsObject();
                if ((string?)node["type"] == type && node[field] is JsonValue value)
                {
                    var text = (string)value!;
                    var bytes = text.Length % 2 == 0 && Bytes.TryFromHex(text, out var hex) ? hex.ToArray() : Convert.FromBase64String(text);
                    bytes[^1] ^= 0x01;
                    node[field] = text.Length % 2 == 0 && Bytes.TryFromHex(text, out _) ? Convert.ToHexStringLower(bytes) : Convert.ToBase64String(bytes);
                }
                await to.SendAsync(Encoding.UTF8.GetBytes(node.ToJsonString()));
            }
            await to.CloseAsync();
        }
        catch (Exception)
        {
            await to.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("HELLO", "commitment", "BAD_COMMITMENT")]
    [InlineData("HELLO", "nonce", "BAD_COMMITMENT")]
    [InlineData("HELLO", "node_id", "BAD_COMMITMENT")]
    [InlineData("RESPONSE", "challenge", "WRONG_SEED")]
    [InlineData("RESPONSE", "challenge_nonce", "WRONG_SEED")]
    [InlineData("RESPONSE", "nonce", "WRONG_SEED")]
    [InlineData("RESPONSE", "node_id", "WRONG_SEED")]
    [InlineData("AUTH_PROOF", "proof", "WRONG_SEED")]
    [InlineData("AUTH_PROOF", "session_id", "SESSION_MISMATCH")]
    [InlineData("SUCCESS", "confirmation", "KEY_CONFIRMATION_FAILED")]
    [InlineData("SUCCESS", "session_id", "SESSION_MISMATCH")]
    public async Task A_tampered_byte_in_any_field_fails_the_handshake_with_the_specs_code(string type, string field, string code)
    {
        var (initiator, responder) = await TamperAsync(type, field);
        Assert.False(initiator.Succeeded);
        Assert.False(responder.Succeeded && initiator.Succeeded);
        var detector = type is "HELLO" or "AUTH_PROOF" ? (HandshakeError)responder.Error! : initiator.Error!;
        Assert.Equal(code, detector.Code);
        Assert.False(detector.RaisedByPeer);
    }
}
