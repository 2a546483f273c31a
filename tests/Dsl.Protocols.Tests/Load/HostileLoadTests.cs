using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Tests.Mesh;
using Dsl.Protocols.Tests.Stt;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;
using Dsl.Tests.Shared;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Protocols.Tests.Load;

/// <summary>
/// Hostile load on loopback, bounded in count so that CI runs it every time, asserting counts and resources, never
/// times (the figures each run prints are recorded in docs/hostile-load.md). Peers come from distinct loopback
/// addresses (127.0.x.y), as clients on a network would, so per-address limits apply as they would there.
/// </summary>
[Collection(ProcessWide.Name)]
public sealed class HostileLoadTests(ITestOutputHelper output)
{
    private static int OpenDescriptors() => OperatingSystem.IsLinux() ? Directory.GetFiles("/proc/self/fd").Length : 0;

    private static int Threads() => Process.GetCurrentProcess().Threads.Count;

    private static IPAddress Loopback(int index) => new(new byte[] { 127, 0, (byte)(1 + index / 250), (byte)(1 + index % 250) });

    private static async Task<Socket> ConnectFromAsync(IPAddress local, IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(local, 0));
        await socket.ConnectAsync(server);
        return socket;
    }

    [Fact]
    public async Task A_thousand_connections_that_send_nothing_are_all_closed_at_the_first_byte_timeout_and_resources_return()
    {
        await using var host = new TcpHandshakeHost(new HandshakeHostOptions { FirstByteTimeout = TimeSpan.FromSeconds(1), MaxConcurrentHandshakes = 2048 },
            (_, _) => Task.CompletedTask);
        await host.StartAsync();
        var (fds, threads, memory) = (OpenDescriptors(), Threads(), ManagedHeap.Reachable());
        var clock = Stopwatch.StartNew();

        var silent = new List<Socket>();
        for (var i = 0; i < 1000; i++) silent.Add(await ConnectFromAsync(Loopback(i), host.LocalEndPoint));
        var peakFds = OpenDescriptors();
        await Eventually.HoldsAsync(() => host.Listener.IdleConnectionsClosed == 1000 && host.Listener.ActiveConnections == 0, TimeSpan.FromSeconds(30));
        var closedAfter = clock.Elapsed;
        foreach (var socket in silent) socket.Dispose();

        // Back to where the process started: descriptors, threads and memory (allowing for the pool's own warm-up).
        await Eventually.HoldsAsync(() => OpenDescriptors() <= fds + 16, TimeSpan.FromSeconds(10));
        var memoryAfter = ManagedHeap.Reachable();
        output.WriteLine($"1,000 silent connections: {peakFds - fds} descriptors at the peak, all closed {closedAfter.TotalSeconds:0.0} s after the first connected (timeout 1 s); "
            + $"descriptors {fds} -> {OpenDescriptors()}, threads {threads} -> {Threads()}, managed memory {memory / 1024} KiB -> {memoryAfter / 1024} KiB");
        Assert.Equal(0, host.Listener.ActiveConnections);
        Assert.True(memoryAfter - memory < 8 * 1024 * 1024, $"managed memory grew by {(memoryAfter - memory) / 1024} KiB");
        Assert.True(Threads() <= threads + 16, $"threads {threads} -> {Threads()}");
    }

    [Fact]
    public async Task A_thousand_silent_or_stalled_connections_to_the_tcp_table_are_all_closed_and_resources_return()
    {
        // Half send nothing (the first-byte timeout closes them); half send half a Mesh frame's length prefix and a few
        // bytes of a body announced at 60 KB, then stall (the step timeout ends their handshakes, and the frame's buffer).
        using var node = new Node();
        var brief = MeshResponder.DefaultOptions with { StepTimeout = TimeSpan.FromSeconds(1) };
        var ended = 0;
        await using var table = new TcpHandshakeTable<MeshMessage, MeshResponderResult>(
            new HandshakeHostOptions { FirstByteTimeout = TimeSpan.FromSeconds(1), MaxConcurrentHandshakes = 2048 },
            () => node.Responder(brief), MeshCodec.Instance, (_, outcome, _) => Interlocked.Increment(ref ended));
        await table.StartAsync();
        var (fds, threads, memory) = (OpenDescriptors(), Threads(), ManagedHeap.Reachable());

        var peers = new List<Socket>();
        for (var i = 0; i < 1000; i++)
        {
            var socket = await ConnectFromAsync(Loopback(i), table.LocalEndPoint);
            if (i % 2 == 1) await socket.SendAsync(new byte[] { 0, 0, 0xEA, 0x60, (byte)'{', (byte)'"' }, SocketFlags.None);
            peers.Add(socket);
        }
        var peakFds = OpenDescriptors();
        await Eventually.HoldsAsync(() => table.IdleConnectionsClosed == 500 && Volatile.Read(ref ended) == 500 && table.Count == 0, TimeSpan.FromSeconds(30));
        foreach (var socket in peers) socket.Dispose();

        await Eventually.HoldsAsync(() => OpenDescriptors() <= fds + 16, TimeSpan.FromSeconds(10));
        var memoryAfter = ManagedHeap.Reachable();
        output.WriteLine($"1,000 silent or stalled connections to the TCP handshake table: {peakFds - fds} descriptors at the peak; "
            + $"descriptors {fds} -> {OpenDescriptors()}, threads {threads} -> {Threads()}, managed memory {memory / 1024} KiB -> {memoryAfter / 1024} KiB");
        Assert.Equal(0, table.Count);
        Assert.True(memoryAfter - memory < 8 * 1024 * 1024, $"managed memory grew by {(memoryAfter - memory) / 1024} KiB");
        Assert.True(Threads() <= threads + 16, $"threads {threads} -> {Threads()}");
    }

    [Fact]
    public async Task Ten_thousand_Mesh_handshakes_over_tcp_with_200_in_flight_all_succeed()
    {
        using var responder = new Node();
        var initiators = Enumerable.Range(0, 8).Select(_ => new Node()).ToArray();
        var served = 0;
        await using var host = new TcpHandshakeHost(new HandshakeHostOptions(), async (transport, ct) =>
        {
            var outcome = await responder.Responder().RunAsync(transport, ct);
            if (outcome.Succeeded)
            {
                Interlocked.Increment(ref served);
                await transport.CloseAsync(ct);
            }
        });
        await host.StartAsync();
        var failures = new ConcurrentQueue<string>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 200).Select(worker => Task.Run(async () =>
        {
            var node = initiators[worker % initiators.Length];
            for (var i = 0; i < 50; i++)
            {
                using var socket = await ConnectFromAsync(Loopback(worker), host.LocalEndPoint);
                await using var transport = new TcpMessageTransport(socket);
                var outcome = await node.Initiator().RunAsync(transport);
                if (!outcome.Succeeded) failures.Enqueue(outcome.Error!.ToString());
            }
        })));
        var elapsed = clock.Elapsed;
        await Eventually.HoldsAsync(() => Volatile.Read(ref served) == 10_000, TimeSpan.FromSeconds(30));
        output.WriteLine($"10,000 Mesh handshakes over TCP, 200 in flight: {elapsed.TotalSeconds:0.0} s, {10_000 / elapsed.TotalSeconds:0} a second on this machine ({Environment.ProcessorCount} cores); {failures.Count} failed");
        Assert.Empty(failures);
        foreach (var node in initiators) node.Dispose();
    }

    [Fact]
    public async Task A_flood_from_one_address_hits_its_limit_without_starving_others()
    {
        using var responder = new Node();
        using var honest = new Node();
        await using var host = new TcpHandshakeHost(new HandshakeHostOptions { MaxHandshakesPerAddress = 64, FirstByteTimeout = TimeSpan.FromSeconds(30) }, async (transport, ct) =>
        {
            var outcome = await responder.Responder().RunAsync(transport, ct);
            if (outcome.Succeeded) await transport.CloseAsync(ct);
        });
        await host.StartAsync();
        // 500 connections from one address that send a byte and then stall (each holds its handler until the step timeout).
        var flooder = IPAddress.Parse("127.0.9.9");
        var flood = new List<Socket>();
        for (var i = 0; i < 500; i++)
        {
            try
            {
                var socket = await ConnectFromAsync(flooder, host.LocalEndPoint);
                await socket.SendAsync(new byte[] { 0 });
                flood.Add(socket);
            }
            catch (SocketException)
            {
                // Reset at accept: the limit at work.
            }
        }
        await Eventually.HoldsAsync(() => host.Listener.RejectedConnections >= 500 - 64, TimeSpan.FromSeconds(10));
        Assert.True(host.Listener.ActiveConnections <= 64, $"{host.Listener.ActiveConnections} open");

        // Meanwhile peers from other addresses are served.
        for (var i = 0; i < 20; i++)
        {
            using var socket = await ConnectFromAsync(Loopback(500 + i), host.LocalEndPoint);
            await using var transport = new TcpMessageTransport(socket);
            var outcome = await honest.Initiator().RunAsync(transport);
            Assert.True(outcome.Succeeded, outcome.ToString());
        }
        output.WriteLine($"A flood of 500 connections from one address: {host.Listener.RejectedConnections} refused at accept, at most 64 held; 20 handshakes from other addresses all succeeded meanwhile");
        foreach (var socket in flood) socket.Dispose();
    }

}

/// <summary>
/// Many suspended STT handshakes held by one UDP host: each peer proves its address (answers the retry), sends its
/// HELLO, gets a RESPONSE and then says nothing more, so the responder waits for AUTH_PROOF. 10,000 in CI; set
/// <c>DSL_LOAD_FULL=1</c> for 100,000. The figures (memory per suspended handshake) go to docs/hostile-load.md.
/// </summary>
[Collection(ProcessWide.Name)]
public sealed class SuspendedUdpHandshakesTests(ITestOutputHelper output)
{
    private static readonly Dsl.Runtime.Codecs.Bytes Seed = new(System.Text.Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));
    private static readonly HandshakeOptions Patient = Dsl.Protocols.Stt.SttResponder.DefaultOptions with { StepTimeout = TimeSpan.FromMinutes(10), HandshakeTimeout = TimeSpan.FromMinutes(10) };
    private static readonly UdpHandshakeOptions Quiet = new()
    {
        Reliability = new Dsl.Runtime.Transports.Udp.ReliabilityOptions { InitialTimeout = TimeSpan.FromMinutes(5), MaxTimeout = TimeSpan.FromMinutes(5), MaxRetransmits = 1 },
    };
    private static int Count => Environment.GetEnvironmentVariable("DSL_LOAD_FULL") == "1" ? 100_000 : 10_000;

    // The server's configuration, one for all its handshakes, as an application has it.
    private static readonly Dsl.Protocols.Stt.SttResponderInputs Inputs = new() { NodeId = new Dsl.Runtime.Codecs.Bytes(new byte[32]), SharedSeed = Seed };

    private static Dsl.Protocols.Stt.SttResponder Responder() => new(Inputs, Patient);

    [Fact]
    public async Task One_udp_host_holds_every_suspended_STT_handshake()
    {
        var count = Count;
        await using var host = new UdpHandshakeHost<Dsl.Protocols.Stt.SttResponderResult>(
            new HandshakeHostOptions { MaxConcurrentHandshakes = count + 1000, MaxHandshakesPerAddress = 10 },
            (transport, ct) => Responder().RunAsync(transport, ct),
            udp: Quiet);
        await host.StartAsync();
        var each = await SuspendAsync(count, host.LocalEndPoint, () => host.Manager.Handshakes.Count, () => host.Endpoint.RetriesSent,
            "in one UDP host (a task, a transport and its retransmission state each)");
        Assert.All(host.Manager.Handshakes, h => Assert.Equal(HandshakeStatus.Running, h.Status));
        Assert.True(each > 0);
    }

    [Fact]
    public async Task One_udp_handshake_table_holds_every_suspended_STT_handshake_in_about_a_kilobyte()
    {
        var count = Count;
        await using var table = new UdpHandshakeTable<Dsl.Protocols.Stt.SttMessage, Dsl.Protocols.Stt.SttResponderResult>(
            new HandshakeHostOptions { MaxConcurrentHandshakes = count + 1000, MaxHandshakesPerAddress = 10 },
            Responder, Dsl.Protocols.Stt.SttCodec.Instance, udp: Quiet);
        await table.StartAsync();
        var each = await SuspendAsync(count, table.LocalEndPoint, () => table.Count, () => table.Endpoint.RetriesSent,
            "in one UDP handshake table (a row each: the machine, the peer, the last flight, the deadlines)");
        // DIRECTION's target is a kilobyte, STT over UDP all included: measured 1,029 bytes (1,012 with 100,000; docs/benchmarks.md
        // says where they go). The budget, at the figure before machines kept compact values, holds that against regression.
        Assert.InRange(each, 1, 1088);
    }

    [Fact]
    public async Task One_tcp_host_holds_suspended_Mesh_handshakes_and_says_what_each_costs()
    {
        // Mesh over TCP, its transport included (the socket's kernel buffers are not managed memory): a task, pipes and
        // timers per connection. Measured, not yet under budget (docs/hostile-load.md).
        const int count = 2_000;
        using var a = new Node();
        using var b = new Node();
        var patient = MeshResponder.DefaultOptions with { StepTimeout = TimeSpan.FromMinutes(10), HandshakeTimeout = TimeSpan.FromMinutes(10) };
        var waiting = 0;
        await using var host = new TcpHandshakeHost(new HandshakeHostOptions { MaxConcurrentHandshakes = count + 100, MaxHandshakesPerAddress = count + 100 },
            async (transport, ct) => await b.Responder(patient).RunAsync(new CountingTransport(transport, () => Interlocked.Increment(ref waiting)), ct));
        await host.StartAsync();
        var syns = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var syn = (await a.Initiator().StartAsync("127.0.0.1", default)).Message!;
            using var buffer = new Dsl.Runtime.Codecs.PooledBufferWriter();
            MeshCodec.Instance.Encode(syn, buffer);
            syns[i] = buffer.WrittenSpan.ToArray();
        }
        var clients = new List<TcpMessageTransport>(count);
        var before = ManagedHeap.Reachable();
        // Each client sends its SYN and reads the SYN_ACK, then falls silent: the responder waits for HS_ACK.
        for (var i = 0; i < count; i++)
        {
            var client = await TcpTransport.ConnectAsync(host.LocalEndPoint);
            await client.SendAsync(syns[i]);
            clients.Add(client);
        }
        await Eventually.HoldsAsync(() => Volatile.Read(ref waiting) >= 2 * count, TimeSpan.FromSeconds(60));
        var after = ManagedHeap.Reachable();
        // Both ends of every connection are in this process: the figure halves what both hold.
        var each = (after - before) / count;
        output.WriteLine($"{count:N0} suspended Mesh handshakes over TCP in one host: managed memory {before / 1048576} MiB -> {after / 1048576} MiB, "
            + $"{each:N0} bytes per handshake for both ends (the responder's task, transport, pipes and timers, and the client's transport)");
        Assert.True(each > 0);
        foreach (var client in clients) await client.DisposeAsync();
    }

    /// <summary>Counts the receives the responder starts: two per connection means it got the SYN and now waits for HS_ACK.</summary>
    private sealed class CountingTransport(IMessageTransport inner, Action receiving) : IMessageTransport
    {
        public int MaxMessageSize => inner.MaxMessageSize;
        public string? RemoteAddress => inner.RemoteAddress;
        public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) => inner.SendAsync(message, cancellationToken);
        public ValueTask<bool> ReceiveAsync(System.Buffers.IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
        {
            receiving();
            return inner.ReceiveAsync(destination, cancellationToken);
        }
        public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);
        public ValueTask CloseAsync(CloseReason reason, CancellationToken cancellationToken = default) => inner.CloseAsync(reason, cancellationToken);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>
    /// Brings <paramref name="count"/> peers, each from an address of its own, to the point where the responder waits for
    /// AUTH_PROOF, and returns the managed memory each suspended handshake holds.
    /// </summary>
    private async Task<long> SuspendAsync(int count, IPEndPoint server, Func<int> held, Func<long> retries, string where)
    {
        // Real HELLOs, each with its own nonce, from initiators that never go on.
        var hellos = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var (a, b) = InMemoryTransport.CreatePair();
            _ = new Dsl.Protocols.Stt.SttInitiator(new Dsl.Protocols.Stt.SttInitiatorInputs { NodeId = new Dsl.Runtime.Codecs.Bytes(new byte[32]), SharedSeed = Seed }).RunAsync(a).AsTask();
            var hello = new System.Buffers.ArrayBufferWriter<byte>();
            await b.ReceiveAsync(hello);
            hellos[i] = hello.WrittenSpan.ToArray();
            await b.DisposeAsync();
        }
        var before = ManagedHeap.Reachable();
        var clock = Stopwatch.StartNew();

        // Each peer from an address of its own on 127/8: proves it, sends its HELLO behind the cookie, and falls silent.
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            var buffer = new byte[8192];
            for (var k = Interlocked.Increment(ref next); k < count; k = Interlocked.Increment(ref next))
            {
                var address = new IPAddress(new byte[] { 127, (byte)(1 + k / 65025), (byte)(1 + k / 255 % 255), (byte)(1 + k % 255) });
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                socket.Bind(new IPEndPoint(address, 40000));
                var target = new IPEndPoint(IPAddress.Loopback, server.Port);
                // Until the RESPONSE comes: the HELLO, then (on the retry) the HELLO behind its cookie, each sent again when lost under load.
                byte[] datagram = hellos[k];
                for (var attempt = 0; ; attempt++)
                {
                    await socket.SendToAsync(datagram, target);
                    using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    try
                    {
                        var got = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), wait.Token);
                        if (got.ReceivedBytes == 18 && buffer[0] == 0xFF) datagram = [0xFF, (byte)'C', .. buffer.AsSpan(2, 16), .. hellos[k]];
                        else break; // the RESPONSE: the handshake waits for an AUTH_PROOF that never comes
                    }
                    catch (OperationCanceledException) when (attempt < 10)
                    {
                    }
                }
            }
        })));
        await Eventually.HoldsAsync(() => held() == count, TimeSpan.FromSeconds(120));
        var elapsed = clock.Elapsed;
        var after = ManagedHeap.Reachable();
        var each = (after - before) / count;
        output.WriteLine($"{count:N0} suspended STT handshakes {where}, made in {elapsed.TotalSeconds:0.0} s: managed memory {before / 1048576} MiB -> {after / 1048576} MiB, "
            + $"{each:N0} bytes per suspended handshake; {retries():N0} retries sent");
        Assert.Equal(count, held());
        GC.KeepAlive(hellos);
        return each;
    }

}
