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
using Dsl.Runtime.Hosting;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Protocols.Tests.Load;

/// <summary>
/// Many suspended Mesh handshakes held by one TCP handshake table: each client, from an address of its own, sends HS_SYN,
/// reads HS_SYN_ACK and falls silent, so the responder waits for HS_ACK. What each costs is measured without the
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
        var count = Count;
        using var a = new Node();
        using var b = new Node();
        // Each SYN once: the responder's replay cache refuses a nonce it has seen.
        var syns = new byte[count + count / 10][];
        for (var i = 0; i < syns.Length; i++)
        {
            var syn = (await a.Initiator().StartAsync("127.0.0.1", default)).Message!;
            using var buffer = new Dsl.Runtime.Codecs.PooledBufferWriter();
            MeshCodec.Instance.Encode(syn, buffer);
            syns[i] = [0, 0, (byte)(buffer.WrittenCount >> 8), (byte)buffer.WrittenCount, .. buffer.WrittenSpan];
        }
        // The server's configuration, one for all its handshakes, as an application has it.
        var patient = MeshResponder.DefaultOptions with { StepTimeout = TimeSpan.FromMinutes(10), HandshakeTimeout = TimeSpan.FromMinutes(10) };
        var inputs = new MeshResponderInputs { Identity = b.Identity };
        var services = new MeshResponderServices { Pins = b.Pins, Trust = b.Trust, Replay = b.Replay, Blocked = b.Blocked };
        var ended = 0;
        string? firstEnded = null;
        TcpHandshakeTable<MeshMessage, MeshResponderResult> NewTable() => new(
            new HandshakeHostOptions { MaxConcurrentHandshakes = count + 100, MaxHandshakesPerAddress = 10 }, () => new MeshResponder(inputs, services, patient), MeshCodec.Instance,
            (peer, outcome, transport) =>
            {
                if (Interlocked.Increment(ref ended) == 1) firstEnded = outcome.ToString();
            });

        // Once through, untimed, on a table of its own, so that first-use costs (the JIT, the thread pool's growth, the
        // buffer pool) are not counted.
        await using (var warm = NewTable())
        {
            await warm.StartAsync();
            var some = await SuspendAsync(warm, syns[count..], count / 10);
            foreach (var client in some) client.Dispose();
        }
        await Task.Delay(500);

        ended = 0;
        await using var table = NewTable();
        await table.StartAsync();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        var clients = await SuspendAsync(table, syns, count);
        var elapsed = clock.Elapsed;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        // The sockets' own cost, measured the same way while the handshakes stay suspended (so nothing is freed meanwhile).
        var (sockets, bare) = await BareConnectionsAsync(count, after);
        var each = (after - before) / count - sockets;
        output.WriteLine($"{count:N0} bare TCP connections (both ends, the server's with a zero-byte receive pending): {sockets:N0} bytes each");
        output.WriteLine($"{count:N0} suspended Mesh handshakes in one TCP handshake table, made in {elapsed.TotalSeconds:0.0} s: managed memory "
            + $"{before / 1048576} MiB -> {after / 1048576} MiB, {(after - before) / count:N0} bytes per connection with both ends' sockets, "
            + $"{each:N0} bytes per suspended handshake without them (the row, its machine, the replay cache's entry for its nonce, the table's indexes)");
        Assert.True(ended == 0, firstEnded);
        Assert.Equal(count, table.Count);
        // DIRECTION's target is a kilobyte per suspended handshake, Mesh over TCP excluding the socket.
        Assert.InRange(each, 1, 1024);
        bare.Dispose();

        // Every client leaves; the table ends each handshake (peer_closed) before the next test measures threads.
        foreach (var client in clients) client.Dispose();
        var wait = Stopwatch.StartNew();
        while (table.Count > 0 && wait.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        Assert.Equal(0, table.Count);
        GC.KeepAlive(syns);
    }

    /// <summary>The first <paramref name="count"/> clients, each from an address of its own, send HS_SYN, read HS_SYN_ACK and fall silent.</summary>
    private static async Task<Socket[]> SuspendAsync(TcpHandshakeTable<MeshMessage, MeshResponderResult> table, byte[][] syns, int count)
    {
        var clients = new Socket[count];
        await ForEachAsync(count, async (k, buffer) =>
        {
            var client = clients[k] = await ConnectFromAsync(From(k), table.LocalEndPoint);
            // The receive waits before the send, as with the bare connections, so that each client's socket is in the same state.
            var first = client.ReceiveAsync(buffer, SocketFlags.None);
            await client.SendAsync(syns[k], SocketFlags.None);
            // HS_SYN_ACK, whole: the responder has answered and waits for HS_ACK.
            var read = 0;
            for (var got = await first; ; got = await client.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None))
            {
                if (got == 0) throw new InvalidOperationException("The responder closed the connection instead of answering HS_SYN");
                read += got;
                if (read >= 4 && read >= 4 + (buffer[2] << 8 | buffer[3])) break;
            }
        });
        // The responder files its row under its deadline just after its answer is sent.
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
