using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Tests.Mesh;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;
using Xunit;
using Ltp02 = Dsl.Protocols.Ltp;
using Ltp03 = Dsl.Protocols.Ltp03;

namespace Dsl.Protocols.Tests.Hosting;

/// <summary>
/// A responder kept in a TCP handshake table (a row per connection, no task, timer or transport each while it waits)
/// against real initiators over loopback: completing and handing the connection over, refusing with the spec's error,
/// silent, slow, oversized, closed, stopped.
/// </summary>
public sealed class TcpHandshakeTableTests : IDisposable
{
    private readonly Node _a = new();
    private readonly Node _b = new();
    private readonly ConcurrentQueue<HandshakeOutcome<MeshResponderResult>> _outcomes = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    private TcpHandshakeTable<MeshMessage, MeshResponderResult> Table(HandshakeHostOptions? host = null, HandshakeOptions? options = null,
        Action<IMessageTransport>? connected = null)
        => new(host ?? new HandshakeHostOptions(), () => _b.Responder(options), MeshCodec.Instance, (peer, outcome, transport) =>
        {
            _outcomes.Enqueue(outcome);
            if (transport is null) return;
            if (connected is not null) connected(transport);
            else _ = transport.DisposeAsync().AsTask();
        });

    private static async Task UntilAsync(Func<bool> condition, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > within) throw new TimeoutException("Timed out waiting");
            await Task.Delay(10);
        }
    }

    /// <summary>The next outcome the table reports, within 10 s.</summary>
    private async Task<HandshakeOutcome<MeshResponderResult>> NextOutcomeAsync()
    {
        await UntilAsync(() => !_outcomes.IsEmpty, TimeSpan.FromSeconds(10));
        Assert.True(_outcomes.TryDequeue(out var outcome));
        return outcome;
    }

    private async Task<byte[]> SynAsync()
    {
        var syn = (await _a.Initiator().StartAsync("127.0.0.1", CancellationToken.None)).Message!;
        using var buffer = new PooledBufferWriter();
        MeshCodec.Instance.Encode(syn, buffer);
        return Frame(buffer.WrittenSpan);
    }

    private static byte[] Frame(ReadOnlySpan<byte> body)
    {
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)body.Length);
        body.CopyTo(frame.AsSpan(4));
        return frame;
    }

    /// <summary>Reads until the peer closes or resets; what it sent before that.</summary>
    private static async Task<int> DrainAsync(Socket socket)
    {
        var buffer = new byte[4096];
        var total = 0;
        using var within = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, within.Token)) > 0) total += read;
        }
        catch (SocketException)
        {
            // Reset: closed all the same.
        }
        return total;
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server);
        return socket;
    }

    [Fact]
    public async Task Both_Mesh_nodes_authenticate_and_the_connection_is_handed_over_with_what_the_peer_sent_after_the_handshake()
    {
        // The application echoes the first frame it reads after the handshake: the table must not have read past HS_ACK.
        await using var table = Table(connected: transport => _ = Task.Run(async () =>
        {
            await using (transport)
            {
                var frame = new ArrayBufferWriter<byte>();
                if (await transport.ReceiveAsync(frame)) await transport.SendAsync(frame.WrittenMemory);
                await transport.CloseAsync();
            }
        }));
        await table.StartAsync();

        await using var client = await TcpTransport.ConnectAsync(table.LocalEndPoint);
        var initiated = await _a.Initiator().RunAsync(client);
        await client.SendAsync("after the handshake"u8.ToArray());
        var echo = new ArrayBufferWriter<byte>();
        Assert.True(await client.ReceiveAsync(echo).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.True(initiated.Succeeded, initiated.ToString());
        Assert.Equal("after the handshake", Encoding.UTF8.GetString(echo.WrittenSpan));
        var responded = await NextOutcomeAsync();
        Assert.True(responded.Succeeded, responded.ToString());
        Assert.Equal(_a.NodeId, responded.Result.PeerNodeId);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task A_message_that_arrives_a_byte_at_a_time_is_read_whole_and_the_handshake_completes()
    {
        await using var table = Table();
        await table.StartAsync();
        using var socket = await ConnectAsync(table.LocalEndPoint);
        var syn = await SynAsync();
        foreach (var b in syn)
        {
            await socket.SendAsync(new[] { b }, SocketFlags.None);
            await Task.Delay(1);
        }
        // HS_SYN_ACK comes back whole: the responder got HS_SYN, prefix and body, from single bytes.
        var prefix = new byte[4];
        Assert.Equal(4, await socket.ReceiveAsync(prefix, SocketFlags.None));
        var length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        var body = new byte[length];
        var read = 0;
        while (read < length) read += await socket.ReceiveAsync(body.AsMemory(read), SocketFlags.None);
        Assert.True(MeshCodec.Instance.TryDecode(body, out var answer, out _));
        Assert.IsType<HsSynAck>(answer);
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public async Task A_large_frame_that_arrives_in_pieces_is_read_whole()
    {
        await using var table = Table();
        await table.StartAsync();
        using var socket = await ConnectAsync(table.LocalEndPoint);
        // HS_SYN with 10 KB of an unknown envelope member: more than the first buffer a body gets, arriving a kilobyte at a time.
        var syn = await SynAsync();
        var json = Encoding.UTF8.GetString(syn, 4, syn.Length - 4);
        var padded = Frame(Encoding.UTF8.GetBytes(json[..^1] + ",\"zz_padding\":\"" + new string('a', 10_000) + "\"}"));
        for (var sent = 0; sent < padded.Length; sent += 1000)
        {
            await socket.SendAsync(padded.AsMemory(sent, Math.Min(1000, padded.Length - sent)), SocketFlags.None);
            await Task.Delay(5);
        }
        var prefix = new byte[4];
        Assert.Equal(4, await socket.ReceiveAsync(prefix, SocketFlags.None));
        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(prefix)];
        for (var read = 0; read < body.Length;) read += await socket.ReceiveAsync(body.AsMemory(read), SocketFlags.None);
        Assert.True(MeshCodec.Instance.TryDecode(body, out var answer, out _));
        Assert.IsType<HsSynAck>(answer);
    }

    [Fact]
    public async Task A_refused_handshake_sends_the_spec_error_and_closes_the_connection()
    {
        // LTP names an error message: a 0.2 client at a 0.3 server is told UNSUPPORTED_VERSION, and the connection closes.
        using var serverKey = Ed25519.Instance.GenerateKey();
        var outcomes = new ConcurrentQueue<HandshakeOutcome<Ltp03.LtpServerResult>>();
        await using var table = new TcpHandshakeTable<Ltp03.LtpMessage, Ltp03.LtpServerResult>(new HandshakeHostOptions(),
            () => new Ltp03.LtpServer(new Ltp03.LtpServerInputs { ServerCapabilities = new[] { "ping-pong" }, Identity = serverKey },
                new Ltp03.LtpServerServices { Threads = new InMemoryThreadStore(), ClientKeys = new InMemoryValueStore<Bytes>(), SeenNonces = new InMemoryReplayCache() }),
            Ltp03.LtpCodec.Instance, (_, outcome, _) => outcomes.Enqueue(outcome));
        await table.StartAsync();

        await using var client = await TcpTransport.ConnectAsync(table.LocalEndPoint);
        var old = new Ltp02.LtpClient(new Ltp02.LtpClientInputs { ClientId = "old" }, new Ltp02.LtpClientServices { SavedThreads = new InMemoryValueStore<Guid>() });
        var outcome = await old.RunAsync(client);

        Assert.Equal(Ltp02.LtpErrorCodes.UnsupportedVersion, outcome.Error?.Code);
        Assert.True(outcome.Error!.RaisedByPeer);
        await UntilAsync(() => !outcomes.IsEmpty, TimeSpan.FromSeconds(10));
        Assert.True(outcomes.TryDequeue(out var served));
        Assert.Equal(Ltp03.LtpErrorCodes.UnsupportedVersion, served.Error?.Code);
        Assert.Equal("error", served.Error!.SentToPeer);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task A_silent_connection_is_reset_at_the_first_byte_timeout_and_holds_no_handshake()
    {
        await using var table = Table(new HandshakeHostOptions { FirstByteTimeout = TimeSpan.FromMilliseconds(200) });
        await table.StartAsync();
        using var socket = await ConnectAsync(table.LocalEndPoint);
        await UntilAsync(() => table.Count == 1, TimeSpan.FromSeconds(5));

        Assert.Equal(0, await DrainAsync(socket));
        Assert.Equal(1, table.IdleConnectionsClosed);
        Assert.Equal(0, table.Count);
        Assert.Empty(_outcomes);
    }

    [Fact]
    public async Task A_peer_that_falls_silent_after_HS_SYN_is_failed_by_the_step_timeout_and_its_connection_closed()
    {
        await using var table = Table(new HandshakeHostOptions { StepTimeout = TimeSpan.FromMilliseconds(300) });
        await table.StartAsync();
        using var socket = await ConnectAsync(table.LocalEndPoint);
        await socket.SendAsync(await SynAsync(), SocketFlags.None);

        // HS_SYN_ACK, then the close: Mesh names no error message.
        Assert.True(await DrainAsync(socket) > 4);
        var outcome = await NextOutcomeAsync();
        Assert.Equal(HandshakeErrorCodes.StepTimeout, outcome.Error?.Code);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task A_frame_larger_than_the_limit_is_malformed_and_not_read()
    {
        await using var table = Table(new HandshakeHostOptions { MaxFrameSize = 1024 });
        await table.StartAsync();
        using var socket = await ConnectAsync(table.LocalEndPoint);
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, 1_000_000);
        await socket.SendAsync(prefix, SocketFlags.None);

        await DrainAsync(socket);
        var outcome = await NextOutcomeAsync();
        Assert.Equal("MALFORMED", outcome.Error?.Code);
        Assert.Contains("1000000", outcome.Error!.Detail);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task A_peer_that_closes_inside_a_frame_ends_its_handshake_as_peer_closed()
    {
        await using var table = Table();
        await table.StartAsync();
        var syn = await SynAsync();
        HandshakeOutcome<MeshResponderResult> outcome;
        using (var socket = await ConnectAsync(table.LocalEndPoint))
        {
            await socket.SendAsync(syn.AsMemory(0, syn.Length / 2), SocketFlags.None);
            await UntilAsync(() => table.Count == 1, TimeSpan.FromSeconds(5));
            socket.Shutdown(SocketShutdown.Send);
            outcome = await NextOutcomeAsync();
        }
        Assert.Equal(HandshakeErrorCodes.PeerClosed, outcome.Error?.Code);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task A_store_that_never_returns_holds_no_row_past_the_handshake_timeout()
    {
        using var b = new Node { Replay = new Stt.SttOverUdpTableTests.HangingReplayCache() };
        var brief = MeshResponder.DefaultOptions with { HandshakeTimeout = TimeSpan.FromMilliseconds(400), ErrorDeliveryTimeout = TimeSpan.FromMilliseconds(100) };
        await using var table = new TcpHandshakeTable<MeshMessage, MeshResponderResult>(new HandshakeHostOptions(), () => b.Responder(brief), MeshCodec.Instance,
            (_, outcome, _) => _outcomes.Enqueue(outcome));
        await table.StartAsync();
        using var socket = await ConnectAsync(table.LocalEndPoint);
        await socket.SendAsync(await SynAsync(), SocketFlags.None);

        Assert.Equal(0, await DrainAsync(socket));
        var outcome = await NextOutcomeAsync();
        Assert.Equal(HandshakeErrorCodes.HandshakeTimeout, outcome.Error?.Code);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task Connections_past_the_per_address_limit_are_reset_at_accept()
    {
        await using var table = Table(new HandshakeHostOptions { MaxHandshakesPerAddress = 2 });
        await table.StartAsync();
        using var first = await ConnectAsync(table.LocalEndPoint);
        using var second = await ConnectAsync(table.LocalEndPoint);
        // Reset at once: the connect itself may see it.
        try
        {
            using var third = await ConnectAsync(table.LocalEndPoint);
            Assert.Equal(0, await DrainAsync(third));
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        await UntilAsync(() => table.RejectedConnections == 1, TimeSpan.FromSeconds(5));
        Assert.Equal(2, table.Count);
    }

    [Fact]
    public async Task Stopping_resets_silent_connections_fails_the_waiting_handshakes_as_cancelled_and_frees_every_row()
    {
        var table = Table(new HandshakeHostOptions { StopTimeout = TimeSpan.FromMilliseconds(200) });
        await table.StartAsync();
        using var silent = await ConnectAsync(table.LocalEndPoint);
        var waiting = new Socket[3];
        for (var i = 0; i < waiting.Length; i++)
        {
            waiting[i] = await ConnectAsync(table.LocalEndPoint);
            await waiting[i].SendAsync(await SynAsync(), SocketFlags.None);
        }
        await UntilAsync(() => table.Count == 4, TimeSpan.FromSeconds(5));

        await table.DisposeAsync();
        Assert.Equal(0, table.Count);
        Assert.Equal(3, _outcomes.Count);
        Assert.All(_outcomes, o => Assert.Equal(HandshakeErrorCodes.Cancelled, o.Error?.Code));
        Assert.Equal(0, await DrainAsync(silent));
        foreach (var socket in waiting)
        {
            await DrainAsync(socket);
            socket.Dispose();
        }
    }
}
