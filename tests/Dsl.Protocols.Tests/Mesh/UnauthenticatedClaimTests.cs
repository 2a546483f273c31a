using System;
using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Xunit;

namespace Dsl.Protocols.Tests.Mesh;

/// <summary>
/// No one changes an honest node's trust state or pins without its private key (DIRECTION's Mesh decision): an attacker
/// holding only public values (a victim's public key and node id, messages seen on the wire) makes handshakes fail, which
/// counts against its connection and its address, and never against the node id it claims. Afterwards the victim's own
/// handshake succeeds, from another address.
/// </summary>
public sealed class UnauthenticatedClaimTests
{
    private static async Task<(HandshakeOutcome<MeshInitiatorResult> A, HandshakeOutcome<MeshResponderResult> B)> HonestAsync(Node a, Node b, string address)
    {
        var (ta, tb) = InMemoryTransport.CreatePair();
        var responder = b.Responder().RunAsync(new AddressedTransport(tb, address)).AsTask();
        var initiator = await a.Initiator().RunAsync(new AddressedTransport(ta, "responder"));
        return (initiator, await responder);
    }

    /// <summary>An HS_SYN as an attacker writes it: the victim's node id, a nonce of its choosing, signed by no one.</summary>
    private static string ForgedSyn(Bytes nodeId, string nonce) => new JsonObject
    {
        ["payload"] = new JsonObject
        {
            ["type"] = "HS_SYN",
            ["node_id"] = nodeId.ToHex(),
            ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["nonce"] = nonce,
        },
        ["signature"] = new string('0', 128),
    }.ToJsonString();

    private static async Task AssertUntouchedAsync(Node attacked, Node victim)
    {
        Assert.Equal(TrustLevel.Unknown, await attacked.Trust.GetAsync(victim.NodeId, default));
        Assert.Null(await attacked.Pins.GetPinAsync(victim.NodeId, default));
    }

    [Fact]
    public async Task Two_unsigned_SYNs_with_the_victims_node_id_and_one_nonce_do_not_blacklist_it()
    {
        using var victim = new Node();
        using var b = new Node();
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        for (var i = 0; i < 2; i++)
        {
            var (attacker, tb) = InMemoryTransport.CreatePair();
            var responder = b.Responder().RunAsync(new AddressedTransport(tb, "attacker")).AsTask();
            await Raw.SendAsync(attacker, ForgedSyn(victim.NodeId, nonce));
            if (i == 0)
            {
                Assert.NotNull(await Raw.ReceiveAsync(attacker)); // B answers the first with its HS_SYN_ACK
                await attacker.CloseAsync();
                Assert.False((await responder).Succeeded);
            }
            else
            {
                Assert.Equal(MeshErrorCodes.Replay, (await responder).Error!.Code);
            }
        }
        await AssertUntouchedAsync(b, victim);
        var (ra, rb) = await HonestAsync(victim, b, "victim");
        Assert.True(ra.Succeeded && rb.Succeeded, $"{ra} / {rb}");
    }

    [Fact]
    public async Task An_HS_ACK_with_the_victims_public_key_and_a_bad_signature_does_not_blacklist_it()
    {
        using var victim = new Node();
        using var b = new Node();
        var (attacker, tb) = InMemoryTransport.CreatePair();
        var responder = b.Responder().RunAsync(new AddressedTransport(tb, "attacker")).AsTask();
        await Raw.SendAsync(attacker, ForgedSyn(victim.NodeId, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))));
        var synAck = (await Raw.ReceiveAsync(attacker))!.Value;
        var ack = new JsonObject
        {
            ["payload"] = new JsonObject
            {
                ["type"] = "HS_ACK",
                ["node_id"] = victim.NodeId.ToHex(),
                ["challenge_nonce"] = synAck.GetProperty("payload").GetProperty("nonce").GetString(),
                ["verifying_key"] = Convert.ToHexStringLower(victim.Identity.PublicKey),
            },
            ["signature"] = new string('0', 128),
        }.ToJsonString();
        await Raw.SendAsync(attacker, ack);
        Assert.Equal(MeshErrorCodes.InvalidSignature, (await responder).Error!.Code);

        await AssertUntouchedAsync(b, victim);
        var (ra, rb) = await HonestAsync(victim, b, "victim");
        Assert.True(ra.Succeeded && rb.Succeeded, $"{ra} / {rb}");
    }

    [Fact]
    public async Task A_man_in_the_middle_who_breaks_the_SYN_ACK_signature_does_not_blacklist_the_responder()
    {
        using var a = new Node();
        using var victim = new Node();
        var (ta, tb) = InMemoryTransport.CreatePair();
        var responder = victim.Responder().RunAsync(new AddressedTransport(tb, "a")).AsTask();
        var initiator = await a.Initiator().RunAsync(new TamperingTransport(ta, "HS_SYN_ACK", "signature"));
        Assert.Equal(MeshErrorCodes.InvalidSignature, initiator.Error!.Code);
        Assert.False((await responder).Succeeded);

        await AssertUntouchedAsync(a, victim);
        var (ra, rb) = await HonestAsync(a, victim, "a");
        Assert.True(ra.Succeeded && rb.Succeeded, $"{ra} / {rb}");
    }
}

/// <summary>A transport that reports another remote address, to play peers on different addresses in memory.</summary>
public sealed class AddressedTransport(IMessageTransport inner, string address) : IMessageTransport
{
    public int MaxMessageSize => inner.MaxMessageSize;
    public string? RemoteAddress => address;
    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) => inner.SendAsync(message, cancellationToken);
    public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default) => inner.ReceiveAsync(destination, cancellationToken);
    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
