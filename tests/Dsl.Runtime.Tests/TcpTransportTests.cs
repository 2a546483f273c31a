using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;
using Xunit;

namespace Dsl.Runtime.Tests;

public sealed class TcpTransportTests
{
    /// <summary>Two connected loopback sockets, without any transport on them.</summary>
    internal static async Task<(Socket Client, Socket Server)> SocketPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await accepting.WaitAsync(Wait.Long);
        return (client, server);
    }

    private static byte[] Prefix(uint length)
    {
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, length);
        return prefix;
    }

    private static async Task<TransportException> ReceiveFailureAsync(IMessageTransport transport)
        => await Assert.ThrowsAsync<TransportException>(() => transport.ReceiveStringAsync().WaitAsync(Wait.Long));

    [Fact]
    public async Task Messages_round_trip_over_loopback()
    {
        var serverSaw = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = new TcpHandshakeListener(async (transport, ct) =>
        {
            serverSaw.TrySetResult(transport.RemoteAddress);
            while (await transport.ReceiveStringAsync(ct) is { } message)
                await transport.SendStringAsync("echo: " + message, ct);
            await transport.CloseAsync(ct);
        });
        listener.Start();

        await using var client = await TcpTransport.ConnectAsync(listener.LocalEndPoint);
        await client.SendStringAsync("hello");
        await client.SendStringAsync("");
        await client.SendStringAsync("wörld");
        Assert.Equal("echo: hello", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal("echo: ", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal("echo: wörld", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal($"127.0.0.1:{listener.LocalEndPoint.Port}", client.RemoteAddress);
        Assert.StartsWith("127.0.0.1:", await serverSaw.Task.WaitAsync(Wait.Long));

        await client.CloseAsync();
        Assert.Null(await client.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public void TryParseFrame_reads_frames_across_segments_and_waits_for_more()
    {
        var bytes = Prefix(3).Concat("abc"u8.ToArray()).Concat(Prefix(0)).Concat(Prefix(5)).Concat("he"u8.ToArray()).ToArray();
        var buffer = Segmented(bytes, segmentLength: 1);

        Assert.True(TcpMessageTransport.TryParseFrame(ref buffer, 16, out var first));
        Assert.Equal("abc", Encoding.ASCII.GetString(first.ToArray()));
        Assert.True(TcpMessageTransport.TryParseFrame(ref buffer, 16, out var empty));
        Assert.True(empty.IsEmpty);
        Assert.False(TcpMessageTransport.TryParseFrame(ref buffer, 16, out _));
        Assert.Equal(6, buffer.Length); // the unfinished frame stays for the next read

        var prefixOnly = Segmented(Prefix(17)[..3], segmentLength: 2);
        Assert.False(TcpMessageTransport.TryParseFrame(ref prefixOnly, 16, out _));
    }

    [Fact]
    public void TryParseFrame_refuses_an_oversized_prefix_without_any_body()
    {
        var buffer = Segmented(Prefix(65 * 1024), segmentLength: 3);
        var error = Assert.Throws<TransportException>(() => TcpMessageTransport.TryParseFrame(ref buffer, 64 * 1024, out _));
        Assert.Equal(TransportError.MessageTooLarge, error.Error);
        Assert.Equal("Message of 66560 bytes exceeds the 65536-byte limit", error.Message);

        var huge = new ReadOnlySequence<byte>(Prefix(uint.MaxValue));
        Assert.Throws<TransportException>(() => TcpMessageTransport.TryParseFrame(ref huge, int.MaxValue, out _));
    }

    [Fact]
    public async Task A_prefix_announcing_one_byte_over_64_KiB_fails_the_receive_before_any_body_is_sent()
    {
        var (rawClient, serverSocket) = await SocketPairAsync();
        await using var server = new TcpMessageTransport(serverSocket);

        // Only the prefix: a receive that waited for the body would never end.
        await rawClient.SendAsync(Prefix(64 * 1024 + 1));
        var error = await ReceiveFailureAsync(server);
        Assert.Equal(TransportError.MessageTooLarge, error.Error);
        Assert.Equal("Message of 65537 bytes exceeds the 65536-byte limit", error.Message);

        // The stream is out of step for good, but this side can still talk and close.
        Assert.Equal(TransportError.MessageTooLarge, (await ReceiveFailureAsync(server)).Error);
        await using var client = new TcpMessageTransport(rawClient);
        await server.SendStringAsync("refused");
        await server.CloseAsync();
        Assert.Equal("refused", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Null(await client.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task A_message_of_exactly_64_KiB_passes()
    {
        var (clientSocket, serverSocket) = await SocketPairAsync();
        await using var client = new TcpMessageTransport(clientSocket);
        await using var server = new TcpMessageTransport(serverSocket);
        var message = Enumerable.Range(0, 64 * 1024).Select(i => (byte)(i * 7)).ToArray();

        var sending = client.SendAsync(message).AsTask();
        var received = new ArrayBufferWriter<byte>();
        Assert.True(await server.ReceiveAsync(received).AsTask().WaitAsync(Wait.Long));
        await sending.WaitAsync(Wait.Long);
        Assert.Equal(message, received.WrittenSpan.ToArray());

        await client.SendStringAsync("next");
        Assert.Equal("next", await server.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Theory]
    [InlineData(new byte[] { 0, 0 }, "mid-frame after 2 of 4 length-prefix bytes")]
    [InlineData(new byte[] { 0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, "mid-frame after 10 of 100 bytes")]
    public async Task A_peer_that_sends_half_a_frame_then_closes_resets_the_receive(byte[] partialFrame, string progress)
    {
        var (rawClient, serverSocket) = await SocketPairAsync();
        using var _ = rawClient;
        await using var server = new TcpMessageTransport(serverSocket);

        await rawClient.SendAsync(partialFrame);
        rawClient.Shutdown(SocketShutdown.Send);

        var error = await ReceiveFailureAsync(server);
        Assert.Equal(TransportError.ConnectionReset, error.Error);
        Assert.Contains(progress, error.Message);
        Assert.Equal(TransportError.ConnectionReset, (await ReceiveFailureAsync(server)).Error);
    }

    [Fact]
    public async Task A_peer_that_resets_the_connection_fails_the_receive()
    {
        var (rawClient, serverSocket) = await SocketPairAsync();
        await using var server = new TcpMessageTransport(serverSocket);
        var receiving = server.ReceiveStringAsync();

        rawClient.LingerState = new LingerOption(true, 0);
        rawClient.Close();

        var error = await Assert.ThrowsAsync<TransportException>(() => receiving.WaitAsync(Wait.Long));
        Assert.Equal(TransportError.ConnectionReset, error.Error);
        // Linux reports a reset once and then reads end-of-stream; the transport must not turn that into a clean close.
        Assert.Equal(TransportError.ConnectionReset, (await ReceiveFailureAsync(server)).Error);
    }

    [Fact]
    public async Task A_clean_close_between_frames_makes_receive_return_false_and_leaves_the_other_direction_open()
    {
        var (clientSocket, serverSocket) = await SocketPairAsync();
        await using var client = new TcpMessageTransport(clientSocket);
        await using var server = new TcpMessageTransport(serverSocket);

        await client.SendStringAsync("bye");
        await client.CloseAsync();
        Assert.Equal("bye", await server.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Null(await server.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Null(await server.ReceiveStringAsync().WaitAsync(Wait.Long));

        await server.SendStringAsync("after your close");
        await server.CloseAsync();
        Assert.Equal("after your close", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Null(await client.ReceiveStringAsync().WaitAsync(Wait.Long));

        var afterClose = await Assert.ThrowsAsync<TransportException>(() => client.SendStringAsync("more").AsTask());
        Assert.Equal(TransportError.Closed, afterClose.Error);
    }

    [Fact]
    public async Task Disposing_without_closing_resets_the_peer()
    {
        var (clientSocket, serverSocket) = await SocketPairAsync();
        var client = new TcpMessageTransport(clientSocket);
        await using var server = new TcpMessageTransport(serverSocket);

        await client.DisposeAsync();
        await client.DisposeAsync();

        Assert.Equal(TransportError.ConnectionReset, (await ReceiveFailureAsync(server)).Error);
        Assert.Equal(TransportError.Closed, (await ReceiveFailureAsync(client)).Error);
        Assert.Equal(TransportError.Closed, (await Assert.ThrowsAsync<TransportException>(() => client.SendStringAsync("x").AsTask())).Error);
    }

    [Fact]
    public async Task Disposing_ends_a_pending_receive()
    {
        var (clientSocket, serverSocket) = await SocketPairAsync();
        await using var client = new TcpMessageTransport(clientSocket);
        var server = new TcpMessageTransport(serverSocket);
        var receiving = server.ReceiveStringAsync();

        await server.DisposeAsync().AsTask().WaitAsync(Wait.Long);

        Assert.Equal(TransportError.Closed, (await Assert.ThrowsAsync<TransportException>(() => receiving.WaitAsync(Wait.Long))).Error);
    }

    [Fact]
    public async Task A_cancelled_receive_leaves_the_transport_usable()
    {
        var (clientSocket, serverSocket) = await SocketPairAsync();
        await using var client = new TcpMessageTransport(clientSocket);
        await using var server = new TcpMessageTransport(serverSocket);

        using (var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => server.ReceiveStringAsync(cancellation.Token).WaitAsync(Wait.Long));

        await client.SendStringAsync("later");
        Assert.Equal("later", await server.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task Concurrent_sends_are_serialised()
    {
        var (clientSocket, serverSocket) = await SocketPairAsync();
        await using var client = new TcpMessageTransport(clientSocket);
        await using var server = new TcpMessageTransport(serverSocket);
        var payloads = Enumerable.Range(0, 50).Select(i => new string((char)('a' + i % 26), 1000 + i * 37)).ToArray();

        var receiving = Task.Run(async () =>
        {
            var received = new System.Collections.Generic.List<string>();
            for (var i = 0; i < payloads.Length; i++) received.Add((await server.ReceiveStringAsync())!);
            return received;
        });
        await Task.WhenAll(payloads.Select(p => Task.Run(() => client.SendStringAsync(p).AsTask()))).WaitAsync(Wait.Long);

        Assert.Equal(payloads.OrderBy(p => p.Length), (await receiving.WaitAsync(Wait.Long)).OrderBy(p => p.Length));
    }

    [Fact]
    public async Task Connecting_to_a_closed_port_fails()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var unused = (IPEndPoint)probe.LocalEndPoint!; // bound but not listening

        await Assert.ThrowsAsync<SocketException>(() => TcpTransport.ConnectAsync(unused).WaitAsync(Wait.Long));
    }

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int segmentLength)
    {
        Segment? first = null, last = null;
        for (var offset = 0; offset < bytes.Length; offset += segmentLength)
        {
            var chunk = bytes.AsMemory(offset, Math.Min(segmentLength, bytes.Length - offset));
            last = last is null ? first = new Segment(chunk, 0) : last.Append(chunk);
        }
        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
