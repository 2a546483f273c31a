using System;
using System.Buffers;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;
using Xunit;

namespace Dsl.Runtime.Tests;

public sealed class InMemoryTransportTests
{
    [Fact]
    public async Task Messages_arrive_whole_and_in_order_in_both_directions()
    {
        var (first, second) = InMemoryTransport.CreatePair();
        await first.SendStringAsync("hello");
        await first.SendStringAsync("world");
        await second.SendStringAsync("back");

        Assert.Equal("hello", await second.ReceiveStringAsync());
        Assert.Equal("world", await second.ReceiveStringAsync());
        Assert.Equal("back", await first.ReceiveStringAsync());
        Assert.Equal("memory", first.RemoteAddress);
        Assert.Equal(64 * 1024, first.MaxMessageSize);
    }

    [Fact]
    public async Task Send_copies_the_bytes()
    {
        var (first, second) = InMemoryTransport.CreatePair();
        var message = new byte[] { 1, 2, 3 };
        await first.SendAsync(message);
        message[0] = 9;

        var received = new ArrayBufferWriter<byte>();
        Assert.True(await second.ReceiveAsync(received));
        Assert.Equal(new byte[] { 1, 2, 3 }, received.WrittenSpan.ToArray());
    }

    [Fact]
    public async Task Oversized_message_fails_at_the_receiver_without_being_copied_and_the_transport_goes_on()
    {
        var (first, second) = InMemoryTransport.CreatePair(maxMessageSize: 16);
        await first.SendAsync(new byte[17]);
        await first.SendAsync(new byte[16]);

        var destination = new ArrayBufferWriter<byte>();
        var error = await Assert.ThrowsAsync<TransportException>(() => second.ReceiveAsync(destination).AsTask());
        Assert.Equal(TransportError.MessageTooLarge, error.Error);
        Assert.Equal(0, destination.WrittenCount);

        // A message of exactly the limit still passes, and the receiver can still send.
        Assert.True(await second.ReceiveAsync(destination));
        Assert.Equal(16, destination.WrittenCount);
        await second.SendStringAsync("still here");
        Assert.Equal("still here", await first.ReceiveStringAsync());
    }

    [Fact]
    public async Task Close_lets_the_peer_drain_then_its_receives_return_false()
    {
        var (first, second) = InMemoryTransport.CreatePair();
        await first.SendStringAsync("last words");
        await first.CloseAsync();

        Assert.Equal("last words", await second.ReceiveStringAsync());
        Assert.Null(await second.ReceiveStringAsync());
        Assert.Null(await second.ReceiveStringAsync());
    }

    [Fact]
    public async Task Close_completes_a_pending_receive_with_false()
    {
        var (first, second) = InMemoryTransport.CreatePair();
        var pending = second.ReceiveStringAsync();
        Assert.False(pending.IsCompleted);

        await first.CloseAsync();

        Assert.Null(await pending.WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task Dispose_without_close_resets_the_peer()
    {
        var (first, second) = InMemoryTransport.CreatePair();
        var pending = second.ReceiveStringAsync();
        await first.DisposeAsync();

        var error = await Assert.ThrowsAsync<TransportException>(() => pending.WaitAsync(Wait.Long));
        Assert.Equal(TransportError.ConnectionReset, error.Error);
        var sendError = await Assert.ThrowsAsync<TransportException>(() => second.SendStringAsync("anyone?").AsTask());
        Assert.Equal(TransportError.ConnectionReset, sendError.Error);
    }

    [Fact]
    public async Task Sending_after_close_or_dispose_throws_closed()
    {
        var (first, second) = InMemoryTransport.CreatePair();
        await first.CloseAsync();
        var afterClose = await Assert.ThrowsAsync<TransportException>(() => first.SendStringAsync("x").AsTask());
        Assert.Equal(TransportError.Closed, afterClose.Error);

        await second.DisposeAsync();
        var afterDispose = await Assert.ThrowsAsync<TransportException>(() => second.SendStringAsync("x").AsTask());
        Assert.Equal(TransportError.Closed, afterDispose.Error);
        var receiveAfterDispose = await Assert.ThrowsAsync<TransportException>(() => second.ReceiveStringAsync());
        Assert.Equal(TransportError.Closed, receiveAfterDispose.Error);
    }

    [Fact]
    public async Task A_closed_side_still_receives_what_the_peer_sends()
    {
        var (first, second) = InMemoryTransport.CreatePair();
        await first.CloseAsync();
        await second.SendStringAsync("reply");
        Assert.Equal("reply", await first.ReceiveStringAsync());
    }

    [Fact]
    public async Task Cancelling_a_pending_receive_throws_OperationCanceledException()
    {
        var (_, second) = InMemoryTransport.CreatePair();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => second.ReceiveStringAsync(cancellation.Token).WaitAsync(Wait.Long));
    }
}
