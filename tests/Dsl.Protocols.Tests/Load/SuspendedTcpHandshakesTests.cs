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
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Protocols.Tests.Load;

/// <summary>
/// Many suspended handshakes held by one TCP handshake table, for each seed protocol that runs over TCP (Mesh, CAHP,
/// entft): each client, from an address of its own, sends the first message, reads the answer and falls silent, so the
/// responder waits for the next. What each costs is measured without the
/// socket: against as many bare connected socket pairs, each with the zero-byte receive a server keeps pending on a
/// connection it waits on. 2,000 in CI; <c>DSL_LOAD_FULL=1</c> for 4,500 (both ends of every connection, and of as many
/// bare ones, are in this process, which may hold 20,000 descriptors). The figures go to docs/hostile-load.md.
/// </summary>
[Collection(ProcessWide.Name)]
public sealed class SuspendedTcpHandshakesTests(ITestOutputHelper output)
{
    private static int Count => Environment.GetEnvironmentVariable("DSL_LOAD_FULL") == "1" ? 4_500 : 2_000;

    private static IPAddress From(int k) => new(new byte[] { 127, (byte)(1 + k / 65025), (byte)(1 + k / 255 % 255), (byte)(1 + k % 255) });

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
    /// <see cref="Count"/> clients, each from an address of its own, send the first message (each its own, from
    /// <paramref name="first"/>), read the answer and fall silent; the bytes each suspended handshake holds beyond the
    /// sockets, measured against as many bare connected pairs while the handshakes stay suspended.
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

        // Once through, untimed, on a table of its own, so that first-use costs (the JIT, the thread pool's growth, the
        // buffer pool) are not counted.
        await using (var warm = NewTable())
        {
            await warm.StartAsync();
            foreach (var client in await SuspendAsync(warm.LocalEndPoint, () => warm.Count, frames[count..], count / 10)) client.Dispose();
        }
        await Task.Delay(500);

        ended = 0;
        await using var table = NewTable();
        await table.StartAsync();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        var clients = await SuspendAsync(table.LocalEndPoint, () => table.Count, frames, count);
        var elapsed = clock.Elapsed;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        // The sockets' own cost, measured the same way while the handshakes stay suspended (so nothing is freed meanwhile).
        var (sockets, bare) = await BareConnectionsAsync(count, after);
        var each = (after - before) / count - sockets;
        output.WriteLine($"{count:N0} bare TCP connections (both ends, the server's with a zero-byte receive pending): {sockets:N0} bytes each");
        output.WriteLine($"{count:N0} {what} in one TCP handshake table, made in {elapsed.TotalSeconds:0.0} s: managed memory "
            + $"{before / 1048576} MiB -> {after / 1048576} MiB, {(after - before) / count:N0} bytes per connection with both ends' sockets, "
            + $"{each:N0} bytes per suspended handshake without them ({holds})");
        Assert.True(ended == 0, firstEnded);
        Assert.Equal(count, table.Count);
        bare.Dispose();

        // Every client leaves; the table ends each handshake (peer_closed) before the next test measures threads.
        foreach (var client in clients) client.Dispose();
        var wait = Stopwatch.StartNew();
        while (table.Count > 0 && wait.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        Assert.Equal(0, table.Count);
        GC.KeepAlive(frames);
        return each;
    }

    /// <summary>The first <paramref name="count"/> clients, each from an address of its own, send their first message, read the whole answer and fall silent.</summary>
    private static async Task<Socket[]> SuspendAsync(IPEndPoint server, Func<int> held, byte[][] frames, int count)
    {
        var clients = new Socket[count];
        await ForEachAsync(count, async (k, buffer) =>
        {
            var client = clients[k] = await ConnectFromAsync(From(k), server);
            // The receive waits before the send, as with the bare connections, so that each client's socket is in the same state.
            var first = client.ReceiveAsync(buffer, SocketFlags.None);
            await client.SendAsync(frames[k], SocketFlags.None);
            // The answer, whole: the responder has sent it and waits for the next message.
            var read = 0;
            for (var got = await first; ; got = await client.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None))
            {
                if (got == 0) throw new InvalidOperationException("The responder closed the connection instead of answering");
                read += got;
                if (read >= 4 && read >= 4 + (buffer[0] << 24 | buffer[1] << 16 | buffer[2] << 8 | buffer[3])) break;
            }
        });
        // The responder files its row under its deadline just after its answer is sent.
        var wait = Stopwatch.StartNew();
        while (held() < count && wait.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        await Task.Delay(200);
        return clients;
    }

    /// <summary>
    /// The socket's own cost: <paramref name="count"/> connected pairs, each end having sent and received once as a
    /// handshake's would, the server's end with a zero-byte receive pending. Bytes per pair, both ends, over
    /// <paramref name="before"/>; and the pairs, to close once measured.
    /// </summary>
    private static async Task<(long Each, IDisposable Pairs)> BareConnectionsAsync(int count, long before)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(512);
        var server = (IPEndPoint)listener.LocalEndPoint!;
        var accepted = new Socket[count];
        var clients = new Socket[count];
        var pending = new ValueTask<int>[count];
        var accepting = Task.Run(async () =>
        {
            var buffer = new byte[1024];
            for (var i = 0; i < count; i++)
            {
                var socket = accepted[i] = await listener.AcceptAsync();
                await socket.ReceiveAsync(buffer, SocketFlags.None);
                await socket.SendAsync(buffer.AsMemory(0, 4), SocketFlags.None);
                pending[i] = socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
            }
        });
        await ForEachAsync(count, async (k, buffer) =>
        {
            // From other addresses than the handshakes' clients.
            var client = clients[k] = await ConnectFromAsync(From(count + k), server);
            var first = client.ReceiveAsync(buffer.AsMemory(1000), SocketFlags.None);
            await client.SendAsync(buffer.AsMemory(0, 200), SocketFlags.None);
            var read = await first;
            while (read < 4) read += await client.ReceiveAsync(buffer.AsMemory(1000 + read), SocketFlags.None);
        });
        await accepting;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(pending);
        return ((after - before) / count, new Pairs(listener, clients, accepted));
    }

    private sealed class Pairs(Socket listener, Socket[] clients, Socket[] accepted) : IDisposable
    {
        public void Dispose()
        {
            foreach (var socket in clients) socket.Dispose();
            foreach (var socket in accepted) socket.Dispose();
            listener.Dispose();
        }
    }

    private static async Task<Socket> ConnectFromAsync(IPAddress local, IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(local, 0));
        await socket.ConnectAsync(server);
        return socket;
    }

    /// <summary>Runs <paramref name="each"/> for 0..count-1 on 32 workers, each with a buffer of its own.</summary>
    private static Task ForEachAsync(int count, Func<int, byte[], Task> each)
    {
        var next = -1;
        return Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            var buffer = new byte[4096];
            for (var k = Interlocked.Increment(ref next); k < count; k = Interlocked.Increment(ref next)) await each(k, buffer);
        })));
    }
}
