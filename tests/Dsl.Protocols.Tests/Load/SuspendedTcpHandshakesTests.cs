using System;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Tests.Mesh;
using Dsl.Protocols.Tests.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Tests.Shared;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Protocols.Tests.Load;

/// <summary>
/// Many suspended handshakes held by one TCP handshake table, for each seed protocol that runs over TCP (Mesh, CAHP,
/// entft): each client, from an address of its own, sends the first message, reads the answer and falls silent, so the
/// responder waits for the next. The clients run in a process of their own (<see cref="LoadClients"/>), so this one
/// holds the server's ends alone. What each handshake costs is measured without its socket: against as many bare
/// connections' server ends, each with the zero-byte receive a server keeps pending on a connection it waits on.
/// 2,000 in CI; <c>DSL_LOAD_FULL=1</c> for 10,000 (a process here may hold 20,000 descriptors, so 100,000 connections
/// cannot be held by one server process on this machine, whatever it runs). The figures go to docs/hostile-load.md.
/// </summary>
[Collection(ProcessWide.Name)]
public sealed class SuspendedTcpHandshakesTests(ITestOutputHelper output)
{
    private static int Count => Environment.GetEnvironmentVariable("DSL_LOAD_FULL") == "1" ? 10_000 : 2_000;

    [Fact]
    public async Task One_tcp_handshake_table_holds_each_suspended_Mesh_handshake_in_under_a_kilobyte_without_its_socket()
    {
        using var a = new Node();
        using var b = new Node();
        // The server's configuration, one for all its handshakes, as an application has it.
        var patient = MeshResponder.DefaultOptions with { StepTimeout = TimeSpan.FromMinutes(10), HandshakeTimeout = TimeSpan.FromMinutes(10) };
        var inputs = new MeshResponderInputs { Identity = b.Identity };
        var services = new MeshResponderServices { Pins = b.Pins, Trust = b.Trust, Replay = b.Replay, Blocked = b.Blocked };
        var each = await SuspendedEachAsync("Mesh responders waiting for HS_ACK", () => new MeshResponder(inputs, services, patient), MeshCodec.Instance,
            () => a.Initiator().StartAsync("127.0.0.1", default).AsTask().GetAwaiter().GetResult().Message!,
            "the row, its machine, the replay cache's entry for its nonce, the table's indexes");
        // DIRECTION's target is a kilobyte per suspended handshake, Mesh over TCP excluding the socket.
        Assert.InRange(each, 1, 1024);
    }

    [Fact]
    public async Task One_tcp_handshake_table_holds_each_suspended_CAHP_handshake_in_under_a_kilobyte_without_its_socket()
    {
        using var pair = new Dsl.Protocols.Tests.Cahp.CahpPair();
        var patient = Dsl.Protocols.Cahp.CahpOpenWeight.DefaultOptions with { StepTimeout = TimeSpan.FromMinutes(10), HandshakeTimeout = TimeSpan.FromMinutes(10) };
        var inputs = pair.OpenWeightInputs;
        var services = new Dsl.Protocols.Cahp.CahpOpenWeightServices { Replay = pair.OpenWeightReplay, SpentBurns = pair.SpentBurns };
        var each = await SuspendedEachAsync("CAHP open-weight nodes waiting for the hashcash response",
            () => new Dsl.Protocols.Cahp.CahpOpenWeight(inputs, services, pair.Ledger, patient), Dsl.Protocols.Cahp.CahpCodec.Instance,
            () => pair.Metabolic().StartAsync("127.0.0.1", default).AsTask().GetAwaiter().GetResult().Message!,
            "the row, its machine, the replay cache's entry for the discovery's nonce, the table's indexes");
        Assert.InRange(each, 1, 1024);
    }

    [Fact]
    public async Task One_tcp_handshake_table_holds_each_suspended_entft_handshake_in_under_a_kilobyte_without_its_socket()
    {
        using var serverKey = Dsl.Runtime.Cryptography.Ed25519.Instance.GenerateKey();
        var patient = Dsl.Protocols.Entft.EntftServer.DefaultOptions with { StepTimeout = TimeSpan.FromMinutes(10), HandshakeTimeout = TimeSpan.FromMinutes(10) };
        var inputs = new Dsl.Protocols.Entft.EntftServerInputs
        {
            Identity = serverKey, ServerId = "starfleet_hq", Capabilities = new[] { "phrase-auth", "resonance-sync" },
            Ciphers = new[] { "chacha20-poly1305", "aes-256-gcm" },
        };
        var services = new Dsl.Protocols.Entft.EntftServerServices { Blocked = new Dsl.Runtime.Services.InMemoryAddressBlockList() };
        var policy = new Dsl.Protocols.Tests.Entft.TestPolicy().Enrol("acft-001", "picard alpha tango 789").Allow("commanding_officer", "space", Dsl.Protocols.Entft.AuthLevel.Command);
        var client = new Dsl.Protocols.Entft.EntftClientInputs
        {
            ClientId = "acft-001", Domain = "space", Role = "commanding_officer", Passphrase = "picard alpha tango 789",
            ServerKey = Dsl.Runtime.Codecs.Bytes.CopyFrom(serverKey.PublicKey), Capabilities = new[] { "phrase-auth" }, Cipher = "chacha20-poly1305",
        };
        var each = await SuspendedEachAsync("entft servers waiting for auth", () => new Dsl.Protocols.Entft.EntftServer(inputs, services, policy, patient),
            Dsl.Protocols.Entft.EntftCodec.Instance,
            () => new Dsl.Protocols.Entft.EntftClient(client).StartAsync("127.0.0.1", default).AsTask().GetAwaiter().GetResult().Message!,
            "the row, its machine, the table's indexes");
        Assert.InRange(each, 1, 1024);
    }

    /// <summary>
    /// <see cref="Count"/> clients, each from an address of its own in another process (<see cref="LoadClients"/>), send
    /// the first message (each its own, from <paramref name="first"/>), read the answer and fall silent; the bytes each
    /// suspended handshake holds beyond its socket, measured against as many bare connections' server ends.
    /// </summary>
    private async Task<long> SuspendedEachAsync<TMessage, TResult>(string what, Func<IHandshakeMachine<TMessage, TResult>> createResponder,
        IMessageCodec<TMessage> codec, Func<TMessage> first, string holds)
        where TMessage : class
        where TResult : class
    {
        var count = Count;
        // Each first message once: a responder's replay cache refuses a nonce it has seen.
        var frames = new byte[count + count / 10][];
        for (var i = 0; i < frames.Length; i++)
        {
            using var buffer = new PooledBufferWriter();
            codec.Encode(first(), buffer);
            frames[i] = [(byte)(buffer.WrittenCount >> 24), (byte)(buffer.WrittenCount >> 16), (byte)(buffer.WrittenCount >> 8), (byte)buffer.WrittenCount, .. buffer.WrittenSpan];
        }
        var ended = 0;
        string? firstEnded = null;
        TcpHandshakeTable<TMessage, TResult> NewTable() => new(
            new HandshakeHostOptions { MaxConcurrentHandshakes = count + 100, MaxHandshakesPerAddress = 10 }, createResponder, codec,
            (peer, outcome, transport) =>
            {
                if (Interlocked.Increment(ref ended) == 1) firstEnded = outcome.ToString();
            });

        // The sockets' own cost, first: once untimed, so that the socket engine's tables and the thread pool grow to the
        // size measured, then measured.
        await BareConnectionsAsync(count, 4 * count);
        var sockets = await BareConnectionsAsync(count, count);

        // A tenth as many handshakes, untimed, on a table of their own, so that first-use costs (the JIT, the buffer
        // pool) are not counted; and until what they held is collected (their connections close after the table stops).
        await using (var warm = NewTable())
        {
            await warm.StartAsync();
            await using (await LoadClients.TcpAsync(warm.LocalEndPoint.Port, frames.AsSpan(count), 3 * count))
                await Eventually.HoldsAsync(() => warm.Count == count / 10, TimeSpan.FromSeconds(60));
        }
        await ManagedHeap.SettledAsync();

        ended = 0;
        long before, after;
        TimeSpan elapsed;
        await using (var table = NewTable())
        {
            await table.StartAsync();
            before = ManagedHeap.Reachable();
            var clock = Stopwatch.StartNew();
            await using (await LoadClients.TcpAsync(table.LocalEndPoint.Port, frames.AsSpan(0, count), 0))
            {
                // The responder files its row under its deadline just after its answer is sent.
                await Eventually.HoldsAsync(() => table.Count == count, TimeSpan.FromSeconds(60));
                elapsed = clock.Elapsed;
                await Task.Delay(200);
                after = ManagedHeap.Reachable();
                Assert.True(ended == 0, firstEnded);
                Assert.Equal(count, table.Count);
            }
            // Every client has left; the table ends each handshake (peer_closed) before the next test.
            await Eventually.HoldsAsync(() => table.Count == 0, TimeSpan.FromSeconds(60));
            Assert.Equal(0, table.Count);
        }

        var each = (after - before) / count - sockets;
        output.WriteLine($"{count:N0} bare TCP connections (the server's end, with a zero-byte receive pending; the clients in another process): {sockets:N0} bytes each");
        output.WriteLine($"{count:N0} {what} in one TCP handshake table, made in {elapsed.TotalSeconds:0.0} s: managed memory "
            + $"{before / 1048576} MiB -> {after / 1048576} MiB, {(after - before) / count:N0} bytes per connection with its socket, "
            + $"{each:N0} bytes per suspended handshake without it ({holds})");
        GC.KeepAlive(frames);
        return each;
    }

    /// <summary>
    /// The socket's own cost: <paramref name="count"/> connections from clients in another process, each end having sent
    /// and received once as a handshake's would, the server's end with a zero-byte receive pending. Bytes per
    /// connection, the server's end alone.
    /// </summary>
    private static async Task<long> BareConnectionsAsync(int count, int firstAddress)
    {
        await ManagedHeap.SettledAsync();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(512);
        var accepted = new Socket[count];
        var pending = new ValueTask<int>[count];
        // A frame of 200 bytes, as large as a first message, answered with an empty frame (a zero length).
        var frames = Enumerable.Range(0, count).Select(_ => (byte[])[0, 0, 0, 196, .. new byte[196]]).ToArray();
        var before = ManagedHeap.Reachable();
        var accepting = Task.Run(async () =>
        {
            var buffer = new byte[1024];
            for (var i = 0; i < count; i++)
            {
                var socket = accepted[i] = await listener.AcceptAsync();
                for (var read = 0; read < 200;) read += await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None);
                await socket.SendAsync(new byte[4], SocketFlags.None);
                pending[i] = socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
            }
        });
        await using (await LoadClients.TcpAsync(((IPEndPoint)listener.LocalEndPoint!).Port, frames, firstAddress))
        {
            await accepting;
            var after = ManagedHeap.Reachable();
            GC.KeepAlive(pending);
            GC.KeepAlive(frames);
            foreach (var socket in accepted) socket.Dispose();
            return (after - before) / count;
        }
    }

}
