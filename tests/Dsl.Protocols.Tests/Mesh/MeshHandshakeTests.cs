using System;
using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Xunit;

namespace Dsl.Protocols.Tests.Mesh;

/// <summary>A clock shifted from the system's, to play a peer with a skewed clock.</summary>
public sealed class OffsetTimeProvider(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}

/// <summary>One node: its identity and its stores.</summary>
public sealed class Node : IDisposable
{
    public Ed25519Key Identity { get; } = Ed25519.Instance.GenerateKey();
    public IPinnedKeyStore Pins { get; init; } = new InMemoryPinnedKeyStore();
    public ITrustStore Trust { get; init; } = new InMemoryTrustStore();
    public IReplayCache Replay { get; init; } = new InMemoryReplayCache();
    public IAddressBlockList Blocked { get; init; } = new InMemoryAddressBlockList();
    public Bytes NodeId => new(Digests.Sha256(Identity.PublicKey));

    public MeshInitiator Initiator(HandshakeOptions? options = null)
        => new(new MeshInitiatorInputs { Identity = Identity }, new MeshInitiatorServices { Pins = Pins, Trust = Trust }, options);

    public MeshResponder Responder(HandshakeOptions? options = null)
        => new(new MeshResponderInputs { Identity = Identity }, new MeshResponderServices { Pins = Pins, Trust = Trust, Replay = Replay, Blocked = Blocked }, options);

    public void Dispose() => Identity.Dispose();
}

/// <summary>The Mesh handshake as its spec says it behaves, over the in-memory pair.</summary>
public sealed class MeshHandshakeTests
{
    private static async Task<(HandshakeOutcome<MeshInitiatorResult> A, HandshakeOutcome<MeshResponderResult> B)> RunAsync(
        Node a, Node b, HandshakeOptions? initiatorOptions = null, Func<IMessageTransport, IMessageTransport>? wrap = null)
    {
        var (ta, tb) = InMemoryTransport.CreatePair();
        var responder = b.Responder().RunAsync(tb).AsTask();
        var initiator = await a.Initiator(initiatorOptions).RunAsync(wrap?.Invoke(ta) ?? ta);
        return (initiator, await responder);
    }

    [Fact]
    public Task In_memory_both_roles_step_on_the_callers_thread_without_a_hop_per_message()
        // On a pool thread, as an application runs it: xUnit's synchronization context would take the continuations.
        => Task.Run(async () =>
        {
            using var a = new Node();
            using var b = new Node();
            var (ta, tb) = InMemoryTransport.CreatePair();
            var responder = b.Responder().RunAsync(tb);
            Assert.False(responder.IsCompleted);
            // Every receive the initiator waits for was answered inline by the responder, on this thread, as it sent:
            // the whole handshake is over before RunAsync returns.
            var initiator = a.Initiator().RunAsync(ta);
            Assert.True(initiator.IsCompleted, "the initiator waited for a message on another thread");
            Assert.True(responder.IsCompleted, "the responder waited for a message on another thread");
            Assert.True((await initiator).Succeeded);
            Assert.True((await responder).Succeeded);
        });

    [Fact]
    public async Task Both_nodes_authenticate_pin_and_trust_each_other()
    {
        using var a = new Node();
        using var b = new Node();
        var (ra, rb) = await RunAsync(a, b);

        Assert.True(ra.Succeeded, ra.ToString());
        Assert.True(rb.Succeeded, rb.ToString());
        Assert.Equal(b.NodeId, ra.Result.PeerNodeId);
        Assert.Equal(a.NodeId, rb.Result.PeerNodeId);
        Assert.Equal(Bytes.CopyFrom(b.Identity.PublicKey), ra.Result.PeerKey);
        Assert.Equal(Bytes.CopyFrom(b.Identity.PublicKey), await a.Pins.GetPinAsync(b.NodeId, default));
        Assert.Equal(Bytes.CopyFrom(a.Identity.PublicKey), await b.Pins.GetPinAsync(a.NodeId, default));
        Assert.Equal(TrustLevel.Authenticated, await a.Trust.GetAsync(b.NodeId, default));
        Assert.Equal(TrustLevel.Authenticated, await b.Trust.GetAsync(a.NodeId, default));
    }

    [Fact]
    public async Task Every_message_travels_in_a_signed_packet_over_canonical_json()
    {
        using var a = new Node();
        using var b = new Node();
        var recorder = default(RecordingTransport);
        var (ra, _) = await RunAsync(a, b, wrap: t => recorder = new RecordingTransport(t));
        Assert.True(ra.Succeeded);
        foreach (var packet in recorder!.Sent)
        {
            var payload = packet.GetProperty("payload").GetRawText();
            var signature = Convert.FromHexString(packet.GetProperty("signature").GetString()!);
            var canonical = JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(payload));
            Assert.True(Ed25519.Instance.Verify(a.Identity.PublicKey, canonical, signature));
        }
        Assert.Equal(new[] { "HS_SYN", "HS_ACK" }, recorder.Sent.ConvertAll(p => p.GetProperty("payload").GetProperty("type").GetString()));
    }

    /// <summary>Flips the last byte of one field of one message in flight (hex or a signature).</summary>
    private static Func<IMessageTransport, IMessageTransport> Tamper(string type, string field)
        => t => new TamperingTransport(t, type, field);

    [Theory]
    [InlineData("HS_SYN", "timestamp", "responder", "INVALID_SIGNATURE")]
    [InlineData("HS_SYN", "nonce", "initiator", "CHALLENGE_MISMATCH")]
    [InlineData("HS_SYN", "node_id", "responder", "IDENTITY_MISMATCH")]
    [InlineData("HS_SYN", "signature", "responder", "INVALID_SIGNATURE")]
    [InlineData("HS_SYN_ACK", "node_id", "initiator", "IDENTITY_MISMATCH")]
    [InlineData("HS_SYN_ACK", "challenge_nonce", "initiator", "CHALLENGE_MISMATCH")]
    [InlineData("HS_SYN_ACK", "timestamp", "initiator", "INVALID_SIGNATURE")]
    [InlineData("HS_SYN_ACK", "nonce", "initiator", "INVALID_SIGNATURE")]
    [InlineData("HS_SYN_ACK", "verifying_key", "initiator", "IDENTITY_MISMATCH")]
    [InlineData("HS_SYN_ACK", "signature", "initiator", "INVALID_SIGNATURE")]
    [InlineData("HS_ACK", "node_id", "responder", "IDENTITY_MISMATCH")]
    [InlineData("HS_ACK", "challenge_nonce", "responder", "CHALLENGE_MISMATCH")]
    [InlineData("HS_ACK", "verifying_key", "responder", "IDENTITY_MISMATCH")]
    [InlineData("HS_ACK", "signature", "responder", "INVALID_SIGNATURE")]
    public async Task A_tampered_byte_in_any_signed_field_fails_the_handshake(string type, string field, string detector, string code)
    {
        using var a = new Node();
        using var b = new Node();
        var (ra, rb) = await RunAsync(a, b, wrap: Tamper(type, field));
        // The responder never completes. The initiator sends the last message, so when the responder is
        // the one that refuses (at HS_ACK, or HS_SYN's deferred check), the initiator has already completed.
        Assert.False(rb.Succeeded);
        Assert.Null(await b.Pins.GetPinAsync(a.NodeId, default));
        if (detector == "initiator")
        {
            Assert.False(ra.Succeeded);
            Assert.Equal(code, ra.Error!.Code);
            Assert.False(ra.Error.RaisedByPeer);
            Assert.Null(await a.Pins.GetPinAsync(b.NodeId, default));
        }
        else
        {
            Assert.Equal(code, rb.Error!.Code);
            Assert.False(rb.Error.RaisedByPeer);
        }
    }

    [Fact]
    public async Task An_invalid_signature_fails_the_handshake_without_changing_the_claimed_nodes_trust()
    {
        // Whoever made the bad signature, it was not the node it claims to be: that node's trust state stays as it was
        // (DIRECTION's Mesh decision); the strike is against the address.
        using var a = new Node();
        using var b = new Node();
        var (_, rb) = await RunAsync(a, b, wrap: Tamper("HS_ACK", "signature"));
        Assert.Equal(MeshErrorCodes.InvalidSignature, rb.Error!.Code);
        Assert.Equal(TrustLevel.Unknown, await b.Trust.GetAsync(a.NodeId, default));
        Assert.Null(await b.Pins.GetPinAsync(a.NodeId, default));

        var (ra2, rb2) = await RunAsync(a, b);
        Assert.True(ra2.Succeeded && rb2.Succeeded, $"{ra2} / {rb2}");
    }

    [Fact]
    public async Task A_pinned_node_id_arriving_with_another_key_is_identity_theft()
    {
        using var a = new Node();
        using var b = new Node();
        using var impostorKey = Ed25519.Instance.GenerateKey();
        await b.Pins.PinAsync(a.NodeId, Bytes.CopyFrom(impostorKey.PublicKey), default);

        var (ra, rb) = await RunAsync(a, b);
        Assert.Equal(MeshErrorCodes.IdentityTheft, rb.Error!.Code);
        Assert.Equal("ack", rb.Error.Phase);
        // The victim's id is not blacklisted; the pin is unchanged.
        Assert.NotEqual(TrustLevel.Blacklisted, await b.Trust.GetAsync(a.NodeId, default));
        Assert.Equal(Bytes.CopyFrom(impostorKey.PublicKey), await b.Pins.GetPinAsync(a.NodeId, default));
    }

    [Theory]
    [InlineData(301)]
    [InlineData(-301)]
    public async Task A_clock_skewed_beyond_300_seconds_is_refused(int seconds)
    {
        using var a = new Node();
        using var b = new Node();
        var skewed = MeshInitiator.DefaultOptions with { TimeProvider = new OffsetTimeProvider(TimeSpan.FromSeconds(seconds)) };
        var (ra, rb) = await RunAsync(a, b, skewed);
        Assert.Equal(MeshErrorCodes.ClockSkew, rb.Error!.Code);
        Assert.Equal("syn", rb.Error.Phase);
        Assert.False(ra.Succeeded);
    }

    [Fact]
    public async Task A_clock_skewed_within_300_seconds_is_accepted()
    {
        using var a = new Node();
        using var b = new Node();
        var skewed = MeshInitiator.DefaultOptions with { TimeProvider = new OffsetTimeProvider(TimeSpan.FromSeconds(290)) };
        var (ra, rb) = await RunAsync(a, b, skewed);
        Assert.True(ra.Succeeded && rb.Succeeded, $"{ra} / {rb}");
    }

    [Fact]
    public async Task A_replayed_SYN_is_refused_and_the_claimed_node_keeps_its_trust()
    {
        using var a = new Node();
        using var b = new Node();
        RecordingTransport? recorder = null;
        var (first, _) = await RunAsync(a, b, wrap: t => recorder = new RecordingTransport(t));
        Assert.True(first.Succeeded);
        var syn = recorder!.Sent[0].GetRawText();

        var (attacker, tb) = InMemoryTransport.CreatePair();
        var responder = b.Responder().RunAsync(tb).AsTask();
        await Raw.SendAsync(attacker, syn);
        var outcome = await responder;
        Assert.Equal(MeshErrorCodes.Replay, outcome.Error!.Code);
        Assert.Equal(TrustLevel.Authenticated, await b.Trust.GetAsync(a.NodeId, default));
        await Raw.AssertClosedAsync(attacker);
    }

    [Theory]
    [InlineData("""{"payload":{"type":"HS_\udc00SYN","node_id":"00","timestamp":1,"nonce":"00"},"signature":"00"}""")]
    [InlineData("""{"payload":{"\udc00":1,"type":"HS_SYN","node_id":"00","timestamp":1,"nonce":"00"},"signature":"00"}""")]
    [InlineData("""{"pay\ud800load":{"type":"HS_SYN"},"signature":"00"}""")]
    [InlineData("""{"payload":{"type":"HS_SYN","node_id":"\xC3"},"signature":"00"}""")]
    public async Task Invalid_text_in_a_key_or_the_discriminator_is_MALFORMED_not_an_internal_error(string template)
    {
        // \xNN is a raw byte (invalid UTF-8); \uXXXX a JSON escape of a lone surrogate.
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
        using var b = new Node();
        var (attacker, tb) = InMemoryTransport.CreatePair();
        var responder = b.Responder().RunAsync(tb).AsTask();
        await attacker.SendAsync(bytes.ToArray());
        var outcome = await responder;
        Assert.Equal(MeshErrorCodes.Malformed, outcome.Error!.Code);
        await Raw.AssertClosedAsync(attacker);
    }

    [Fact]
    public async Task Three_failures_from_one_address_block_it()
    {
        using var a = new Node();
        using var b = new Node();
        var skewed = MeshInitiator.DefaultOptions with { TimeProvider = new OffsetTimeProvider(TimeSpan.FromSeconds(1000)) };
        for (var i = 0; i < 3; i++)
            Assert.Equal(MeshErrorCodes.ClockSkew, (await RunAsync(a, b, skewed)).B.Error!.Code);
        // Now even a correct handshake from that address is refused, until the block expires.
        var (ra, rb) = await RunAsync(a, b);
        Assert.Equal(MeshErrorCodes.AddressBlocked, rb.Error!.Code);
        Assert.False(ra.Succeeded);
        Assert.True(await b.Blocked.IsBlockedAsync("memory", DateTimeOffset.UtcNow, default));
        Assert.False(await b.Blocked.IsBlockedAsync("memory", DateTimeOffset.UtcNow.AddSeconds(61), default));
    }

    [Fact]
    public async Task A_silent_responder_times_the_initiator_out_and_nothing_is_pinned()
    {
        using var a = new Node();
        var (ta, tb) = InMemoryTransport.CreatePair();
        var options = MeshInitiator.DefaultOptions with { HandshakeTimeout = TimeSpan.FromMilliseconds(300) };
        var outcome = await a.Initiator(options).RunAsync(ta);
        Assert.Equal(HandshakeErrorCodes.HandshakeTimeout, outcome.Error!.Code);
        Assert.Equal("syn_ack", outcome.Error.Phase);
        await Raw.ReceiveAsync(tb);
        await Raw.AssertClosedAsync(tb);
    }
}

/// <summary>A man in the middle that flips the last byte of one field (or the signature) of one message type.</summary>
public sealed class TamperingTransport(IMessageTransport inner, string type, string field) : IMessageTransport
{
    public int MaxMessageSize => inner.MaxMessageSize;
    public string? RemoteAddress => inner.RemoteAddress;
    public ValueTask SendAsync(ReadOnlyMemory<byte> message, System.Threading.CancellationToken cancellationToken = default)
        => inner.SendAsync(Rewrite(message.Span), cancellationToken);

    public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, System.Threading.CancellationToken cancellationToken = default)
    {
        var buffer = new ArrayBufferWriter<byte>();
        if (!await inner.ReceiveAsync(buffer, cancellationToken)) return false;
        destination.Write(Rewrite(buffer.WrittenSpan));
        return true;
    }

    public ValueTask CloseAsync(System.Threading.CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private byte[] Rewrite(ReadOnlySpan<byte> message)
    {
        var packet = JsonNode.Parse(message)!.AsObject();
        var payload = packet["payload"]!.AsObject();
        if ((string?)payload["type"] != type) return message.ToArray();
        var target = field == "signature" ? packet : payload;
        var value = target[field]!;
        if (value.GetValueKind() == System.Text.Json.JsonValueKind.Number)
            target[field] = (long)value + 1;
        else
        {
            var bytes = Convert.FromHexString((string)value!);
            bytes[^1] ^= 0x01;
            target[field] = Convert.ToHexStringLower(bytes);
        }
        return Encoding.UTF8.GetBytes(packet.ToJsonString());
    }
}
