using System;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Cahp;
using Dsl.Protocols.Entft;
using Dsl.Protocols.Ltp;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Stt;
using Dsl.Protocols.Tests.Cahp;
using Dsl.Protocols.Tests.Entft;
using Dsl.Protocols.Tests.Load;
using Dsl.Protocols.Tests.Mesh;
using Dsl.Protocols.Tests.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Protocols.Tests.Machines;

/// <summary>
/// A suspended handshake's machine holds only the values later steps read: each one waiting for the peer's next
/// message stays under its byte budget, measured as the managed heap it retains (by allocation, not by a clock), so a
/// field kept by mistake fails here instead of multiplying by the 100,000 a host holds.
/// </summary>
[Collection(ProcessWide.Name)]
public sealed class SuspendedBudgetTests(ITestOutputHelper output)
{
    /// <summary>DIRECTION's target for a whole suspended handshake; the machine is part of it.</summary>
    private const int Budget = 1024;
    /// <summary>10,000 in CI; <c>DSL_LOAD_FULL=1</c> for 100,000, as a host would hold them.</summary>
    private static readonly int Count = Environment.GetEnvironmentVariable("DSL_LOAD_FULL") == "1" ? 100_000 : 10_000;

    private static readonly Bytes Seed = new(System.Text.Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));

    /// <summary>
    /// The bytes each of <see cref="Count"/> machines retains once <paramref name="suspend"/> has brought it to wait.
    /// What it was given (the wire bytes) is made before the first reading; what it decoded from them and let go
    /// is not counted.
    /// </summary>
    private async Task<long> RetainedAsync<TState>(string what, Func<int, TState> prepare, Func<TState, Task<object>> suspend)
    {
        var given = new TState[Count];
        for (var i = 0; i < Count; i++) given[i] = prepare(i);
        var held = new object[Count];
        // Once untimed, so that first-use allocations (the JIT, statics, pools) are not counted.
        GC.KeepAlive(await suspend(prepare(0)));
        var before = ManagedHeap.Reachable();
        for (var i = 0; i < Count; i++) held[i] = await suspend(given[i]);
        var after = ManagedHeap.Reachable();
        GC.KeepAlive(held);
        GC.KeepAlive(given);
        var each = (after - before) / Count;
        output.WriteLine($"{what}: {each:N0} bytes each ({Count:N0} held)");
        return each;
    }

    private static byte[] Wire<TMessage>(IMessageCodec<TMessage> codec, TMessage message) where TMessage : class
    {
        using var buffer = new PooledBufferWriter();
        codec.Encode(message, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static TMessage Decode<TMessage>(IMessageCodec<TMessage> codec, byte[] wire) where TMessage : class
    {
        Assert.True(codec.TryDecode(wire, out var message, out var error), error.Detail);
        return message!;
    }

    private static SttMessage Hello()
    {
        var initiator = new SttInitiator(new SttInitiatorInputs { NodeId = new Bytes(new byte[32]), SharedSeed = Seed });
        return initiator.StartAsync("10.0.0.2", CancellationToken.None).AsTask().GetAwaiter().GetResult().Message!;
    }

    [Fact]
    public async Task An_STT_responder_waiting_for_AUTH_PROOF_holds_under_a_kilobyte()
    {
        var inputs = new SttResponderInputs { NodeId = new Bytes(new byte[32]), SharedSeed = Seed };
        var each = await RetainedAsync("STT responder waiting for AUTH_PROOF", _ => Wire(SttCodec.Instance, Hello()), async hello =>
        {
            var responder = new SttResponder(inputs);
            Assert.Equal(HandshakeStepKind.Receive, (await responder.StartAsync("10.0.0.2", default)).Kind);
            Assert.Equal(HandshakeStepKind.Send, (await responder.ReceiveAsync(Decode(SttCodec.Instance, hello), default)).Kind);
            Assert.Equal(HandshakeStepKind.Receive, (await responder.ContinueAsync(default)).Kind);
            return responder;
        });
        Assert.InRange(each, 1, Budget);
    }

    [Fact]
    public async Task An_STT_initiator_waiting_for_RESPONSE_holds_under_a_kilobyte()
    {
        var inputs = new SttInitiatorInputs { NodeId = new Bytes(new byte[32]), SharedSeed = Seed };
        var each = await RetainedAsync("STT initiator waiting for RESPONSE", _ => 0, async _ =>
        {
            var initiator = new SttInitiator(inputs);
            Assert.Equal(HandshakeStepKind.Send, (await initiator.StartAsync("10.0.0.1", default)).Kind);
            Assert.Equal(HandshakeStepKind.Receive, (await initiator.ContinueAsync(default)).Kind);
            return initiator;
        });
        Assert.InRange(each, 1, Budget);
    }

    [Fact]
    public async Task A_Mesh_responder_waiting_for_HS_ACK_holds_under_a_kilobyte()
    {
        using var a = new Node();
        using var b = new Node();
        var each = await RetainedAsync("Mesh responder waiting for HS_ACK", _ =>
        {
            var syn = a.Initiator().StartAsync("10.0.0.2", default).AsTask().GetAwaiter().GetResult().Message!;
            return Wire(MeshCodec.Instance, syn);
        }, async syn =>
        {
            var responder = b.Responder();
            Assert.Equal(HandshakeStepKind.Receive, (await responder.StartAsync("10.0.0.2", default)).Kind);
            Assert.Equal(HandshakeStepKind.Send, (await responder.ReceiveAsync(Decode(MeshCodec.Instance, syn), default)).Kind);
            Assert.Equal(HandshakeStepKind.Receive, (await responder.ContinueAsync(default)).Kind);
            return responder;
        });
        // The replay cache's entry for the SYN's nonce is in the figure too: it is what the spec keeps per handshake.
        Assert.InRange(each, 1, Budget);
    }

    [Fact]
    public async Task An_LTP_server_waiting_for_the_first_message_holds_under_a_kilobyte()
    {
        var inputs = new LtpServerInputs { ServerCapabilities = new[] { "ping-pong" }, HeartbeatIntervalMs = 15000 };
        var services = new LtpServerServices { Threads = new InMemoryThreadStore() };
        var each = await RetainedAsync("LTP server waiting for handshake_init or handshake_resume", _ => 0, async _ =>
        {
            var server = new LtpServer(inputs, services);
            Assert.Equal(HandshakeStepKind.Receive, (await server.StartAsync("10.0.0.2", default)).Kind);
            return server;
        });
        Assert.InRange(each, 1, Budget);
    }

    [Fact]
    public async Task A_CAHP_open_weight_node_waiting_for_the_hashcash_response_holds_under_a_kilobyte()
    {
        using var pair = new CahpPair();
        var inputs = pair.OpenWeightInputs;
        var services = new CahpOpenWeightServices { Replay = pair.OpenWeightReplay, SpentBurns = pair.SpentBurns };
        var each = await RetainedAsync("CAHP open-weight node waiting for the response", _ =>
        {
            var discovery = pair.Metabolic().StartAsync("10.0.0.2", default).AsTask().GetAwaiter().GetResult().Message!;
            return Wire(CahpCodec.Instance, discovery);
        }, async discovery =>
        {
            var node = new CahpOpenWeight(inputs, services, pair.Ledger);
            Assert.Equal(HandshakeStepKind.Receive, (await node.StartAsync("10.0.0.2", default)).Kind);
            Assert.Equal(HandshakeStepKind.Send, (await node.ReceiveAsync(Decode(CahpCodec.Instance, discovery), default)).Kind);
            Assert.Equal(HandshakeStepKind.Receive, (await node.ContinueAsync(default)).Kind);
            return node;
        });
        // The replay cache's entry for the discovery's nonce is in the figure too.
        Assert.InRange(each, 1, Budget);
    }

    [Fact]
    public async Task An_entft_server_waiting_for_auth_holds_under_a_kilobyte()
    {
        using var serverKey = Ed25519.Instance.GenerateKey();
        var inputs = new EntftServerInputs
        {
            Identity = serverKey, ServerId = "starfleet_hq", Capabilities = new[] { "phrase-auth", "resonance-sync" },
            Ciphers = new[] { "chacha20-poly1305", "aes-256-gcm" },
        };
        var services = new EntftServerServices { Blocked = new InMemoryAddressBlockList() };
        var policy = new TestPolicy().Enrol("acft-001", "picard alpha tango 789").Allow("commanding_officer", "space", AuthLevel.Command);
        var client = new EntftClientInputs
        {
            ClientId = "acft-001", Domain = "space", Role = "commanding_officer", Passphrase = "picard alpha tango 789",
            ServerKey = Bytes.CopyFrom(serverKey.PublicKey), Capabilities = new[] { "phrase-auth" }, Cipher = "chacha20-poly1305",
        };
        var each = await RetainedAsync("entft server waiting for auth", _ =>
        {
            var init = new EntftClient(client).StartAsync("10.0.0.1", default).AsTask().GetAwaiter().GetResult().Message!;
            return Wire(EntftCodec.Instance, init);
        }, async init =>
        {
            var server = new EntftServer(inputs, services, policy);
            Assert.Equal(HandshakeStepKind.Receive, (await server.StartAsync("10.0.0.2", default)).Kind);
            Assert.Equal(HandshakeStepKind.Send, (await server.ReceiveAsync(Decode(EntftCodec.Instance, init), default)).Kind);
            Assert.Equal(HandshakeStepKind.Receive, (await server.ContinueAsync(default)).Kind);
            return server;
        });
        Assert.InRange(each, 1, Budget);
    }

    [Fact]
    public async Task A_Mesh_initiator_waiting_for_HS_SYN_ACK_holds_under_a_kilobyte()
    {
        using var a = new Node();
        var each = await RetainedAsync("Mesh initiator waiting for HS_SYN_ACK", _ => 0, async _ =>
        {
            var initiator = a.Initiator();
            Assert.Equal(HandshakeStepKind.Send, (await initiator.StartAsync("10.0.0.1", default)).Kind);
            Assert.Equal(HandshakeStepKind.Receive, (await initiator.ContinueAsync(default)).Kind);
            return initiator;
        });
        Assert.InRange(each, 1, Budget);
    }
}
