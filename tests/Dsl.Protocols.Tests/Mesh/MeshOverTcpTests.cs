using System;
using System.IO;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports.Tcp;
using Xunit;

namespace Dsl.Protocols.Tests.Mesh;

/// <summary>Mesh over real TCP on loopback, with the durable SQLite store.</summary>
public sealed class MeshOverTcpTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "mesh-tests-" + Guid.NewGuid().ToString("N"));

    public MeshOverTcpTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    private static async Task<(HandshakeOutcome<MeshInitiatorResult> A, HandshakeOutcome<MeshResponderResult> B)> OverTcpAsync(Node a, Node b)
    {
        var responded = new TaskCompletionSource<HandshakeOutcome<MeshResponderResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = new TcpHandshakeListener(async (transport, ct) =>
        {
            var outcome = await b.Responder().RunAsync(transport, ct);
            responded.TrySetResult(outcome);
            if (outcome.Succeeded) await transport.CloseAsync(ct);
        });
        listener.Start();
        await using var client = await TcpTransport.ConnectAsync(listener.LocalEndPoint);
        var initiated = await a.Initiator().RunAsync(client);
        return (initiated, await responded.Task.WaitAsync(TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task Two_nodes_authenticate_over_tcp()
    {
        using var a = new Node();
        using var b = new Node();
        var (ra, rb) = await OverTcpAsync(a, b);
        Assert.True(ra.Succeeded, ra.ToString());
        Assert.True(rb.Succeeded, rb.ToString());
        Assert.Equal(a.NodeId, rb.Result.PeerNodeId);
    }

    [Fact]
    public async Task A_restart_keeps_pins_and_trust_and_a_pinned_id_still_refuses_another_key()
    {
        var path = Path.Combine(_directory, "b.db");
        using var a = new Node();
        using (var store = SqliteHandshakeStore.Open(path))
        using (var b = new Node { Pins = store, Trust = store, Replay = store, Blocked = store })
        {
            var (ra, rb) = await OverTcpAsync(a, b);
            Assert.True(ra.Succeeded && rb.Succeeded, $"{ra} / {rb}");
        }

        // The process restarts: a new store object over the same file.
        using var reopened = SqliteHandshakeStore.Open(path);
        Assert.Equal(Bytes.CopyFrom(a.Identity.PublicKey), await reopened.GetPinAsync(a.NodeId, default));
        Assert.Equal(TrustLevel.Authenticated, await reopened.GetAsync(a.NodeId, default));

        // A handshake after the restart uses what was kept: A's key matches its pin.
        using var rebooted = new Node { Pins = reopened, Trust = reopened, Replay = reopened, Blocked = reopened };
        var (again, accepted) = await OverTcpAsync(a, rebooted);
        Assert.True(again.Succeeded && accepted.Succeeded, $"{again} / {accepted}");
    }

    [Fact]
    public async Task A_pin_made_before_a_restart_still_refuses_another_key_after_it()
    {
        var path = Path.Combine(_directory, "b.db");
        using var a = new Node();
        using var otherKey = Ed25519.Instance.GenerateKey();
        using (var store = SqliteHandshakeStore.Open(path))
            Assert.True(await store.PinAsync(a.NodeId, Bytes.CopyFrom(otherKey.PublicKey), default));

        using var reopened = SqliteHandshakeStore.Open(path);
        using var b = new Node { Pins = reopened, Trust = reopened, Replay = reopened, Blocked = reopened };
        var (_, refused) = await OverTcpAsync(a, b);
        Assert.Equal(MeshErrorCodes.IdentityTheft, refused.Error!.Code);
        Assert.Equal(Bytes.CopyFrom(otherKey.PublicKey), await reopened.GetPinAsync(a.NodeId, default));
    }
}
