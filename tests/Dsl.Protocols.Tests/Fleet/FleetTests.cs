using System;
using System.Threading.Tasks;
using Dsl.Protocols.Ltp;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Tests.Mesh;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.PostgreSql;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Dsl.Tests.Shared;
using Xunit;

namespace Dsl.Protocols.Tests.Fleet;

/// <summary>
/// Two servers, A and B, each with its own connections to one PostgreSQL (the tests' throwaway cluster), act as one:
/// what one records, the other enforces. Each server here is its own store instance and connection pool, as two
/// processes would be.
/// </summary>
public sealed class FleetTests
{
    private static async Task<(PostgreSqlHandshakeStore A, PostgreSqlHandshakeStore B)> TwoServersAsync()
    {
        var schema = "fleet_" + Guid.NewGuid().ToString("N");
        return (await PostgreSqlHandshakeStore.OpenAsync(PostgreSqlCluster.ConnectionString, schema),
                await PostgreSqlHandshakeStore.OpenAsync(PostgreSqlCluster.ConnectionString, schema));
    }

    private static Node MeshServer(PostgreSqlHandshakeStore store) => new() { Pins = store, Trust = store, Replay = store, Blocked = store };

    /// <summary>Two Mesh servers, each a node over its own store instance on one schema.</summary>
    private sealed class MeshFleet : IAsyncDisposable
    {
        private MeshFleet(PostgreSqlHandshakeStore storeA, PostgreSqlHandshakeStore storeB)
            => (StoreA, StoreB, A, B) = (storeA, storeB, MeshServer(storeA), MeshServer(storeB));

        public PostgreSqlHandshakeStore StoreA { get; }
        public PostgreSqlHandshakeStore StoreB { get; }
        public Node A { get; }
        public Node B { get; }

        public static async Task<MeshFleet> StartAsync()
        {
            var (a, b) = await TwoServersAsync();
            return new MeshFleet(a, b);
        }

        public async ValueTask DisposeAsync()
        {
            A.Dispose();
            B.Dispose();
            await StoreA.DisposeAsync();
            await StoreB.DisposeAsync();
        }
    }

    private static async Task<(HandshakeOutcome<MeshInitiatorResult> Initiator, HandshakeOutcome<MeshResponderResult> Responder)> MeshAsync(
        Node initiator, Node responder, string from, HandshakeOptions? options = null, Func<IMessageTransport, IMessageTransport>? wrap = null)
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var responding = responder.Responder().RunAsync(new AddressedTransport(b, from)).AsTask();
        var initiated = await initiator.Initiator(options).RunAsync(wrap?.Invoke(a) ?? a);
        return (initiated, await responding);
    }

    [Fact]
    public async Task An_LTP_thread_opened_on_A_resumes_on_B()
    {
        var (storeA, storeB) = await TwoServersAsync();
        await using var _ = storeA;
        await using var __ = storeB;
        var saved = new InMemoryValueStore<Guid>();
        var inputs = new LtpServerInputs { ServerCapabilities = new[] { "ping-pong" }, HeartbeatIntervalMs = 15000 };
        var client = () => new LtpClient(new LtpClientInputs { ClientId = "fleet-client" }, new LtpClientServices { SavedThreads = saved });

        var (a1, a2) = InMemoryTransport.CreatePair();
        var onA = new LtpServer(inputs, new LtpServerServices { Threads = storeA }).RunAsync(a2).AsTask();
        var first = await client().RunAsync(a1);
        Assert.True(first.Succeeded && (await onA).Succeeded);
        Assert.False(first.Result.Resumed);

        var (b1, b2) = InMemoryTransport.CreatePair();
        var onB = new LtpServer(inputs, new LtpServerServices { Threads = storeB }).RunAsync(b2).AsTask();
        var second = await client().RunAsync(b1);
        var servedByB = await onB;
        Assert.True(second.Succeeded && servedByB.Succeeded, $"{second} / {servedByB}");
        Assert.True(second.Result.Resumed);
        Assert.Equal(first.Result.ThreadId, second.Result.ThreadId);
    }

    [Fact]
    public async Task A_Mesh_pin_recorded_by_A_is_enforced_by_B()
    {
        await using var fleet = await MeshFleet.StartAsync();
        var (storeA, serverA, serverB) = (fleet.StoreA, fleet.A, fleet.B);
        using var node = new Node();
        Assert.True((await MeshAsync(node, serverA, "10.0.0.1")).Responder.Succeeded);
        Assert.Equal(Bytes.CopyFrom(node.Identity.PublicKey), await fleet.StoreB.GetPinAsync(node.NodeId, default));

        // A pin A holds for that node id, and another key for it, meets identity theft at B.
        using var other = Ed25519.Instance.GenerateKey();
        var victim = new Node();
        await storeA.PinAsync(victim.NodeId, Bytes.CopyFrom(other.PublicKey), default);
        var (_, atB) = await MeshAsync(victim, serverB, "10.0.0.2");
        Assert.Equal(MeshErrorCodes.IdentityTheft, atB.Error!.Code);
        victim.Dispose();
    }

    [Fact]
    public async Task An_address_blocked_by_A_is_refused_by_B()
    {
        await using var fleet = await MeshFleet.StartAsync();
        var (storeA, serverA, serverB) = (fleet.StoreA, fleet.A, fleet.B);
        using var node = new Node();
        var skewed = MeshInitiator.DefaultOptions with { TimeProvider = new OffsetTimeProvider(TimeSpan.FromSeconds(1000)) };
        for (var i = 0; i < 3; i++)
            Assert.Equal(MeshErrorCodes.ClockSkew, (await MeshAsync(node, serverA, "10.0.0.7", skewed)).Responder.Error!.Code);
        var (_, atB) = await MeshAsync(node, serverB, "10.0.0.7");
        Assert.Equal(MeshErrorCodes.AddressBlocked, atB.Error!.Code);
        // Another address is served by B as usual.
        Assert.True((await MeshAsync(node, serverB, "10.0.0.8")).Responder.Succeeded);
    }

    [Fact]
    public async Task A_nonce_seen_by_A_is_a_replay_at_B()
    {
        await using var fleet = await MeshFleet.StartAsync();
        var (storeA, serverA, serverB) = (fleet.StoreA, fleet.A, fleet.B);
        using var node = new Node();
        RecordingTransport? recorder = null;
        Assert.True((await MeshAsync(node, serverA, "10.0.0.3", wrap: t => recorder = new RecordingTransport(t))).Responder.Succeeded);
        var syn = recorder!.Sent[0].GetRawText();

        var (attacker, towardB) = InMemoryTransport.CreatePair();
        var atB = serverB.Responder().RunAsync(new AddressedTransport(towardB, "10.0.0.4")).AsTask();
        await Raw.SendAsync(attacker, syn);
        Assert.Equal(MeshErrorCodes.Replay, (await atB).Error!.Code);
    }
}
