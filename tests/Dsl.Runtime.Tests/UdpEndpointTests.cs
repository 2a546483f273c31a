using System;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Udp;
using Xunit;

namespace Dsl.Runtime.Tests;

public sealed class UdpEndpointTests
{
    /// <summary>Asserts that nothing is accepted for a while (an absence, so the wait is short and only ever passes more easily on a slow machine).</summary>
    private static async Task AssertNoArrivalAsync(UdpEndpoint endpoint)
    {
        using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => endpoint.AcceptAsync(quiet.Token).AsTask());
    }

    [Fact]
    public async Task A_server_accepts_a_new_peer_and_they_talk_both_ways()
    {
        await using var server = new UdpEndpoint();
        await using var client = new UdpEndpoint();
        await using var toServer = client.Connect(server.LocalEndPoint);

        await toServer.SendStringAsync("hello, server");
        await using var peer = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        Assert.Equal($"127.0.0.1:{client.LocalEndPoint.Port}", peer.RemoteAddress);
        Assert.Equal(client.LocalEndPoint, peer.RemoteEndPoint);
        Assert.Equal($"127.0.0.1:{server.LocalEndPoint.Port}", toServer.RemoteAddress);
        Assert.Equal("hello, server", await peer.ReceiveStringAsync().WaitAsync(Wait.Long));

        await peer.SendStringAsync("hi");
        Assert.Equal("hi", await toServer.ReceiveStringAsync().WaitAsync(Wait.Long));

        // Later datagrams from the same address go to the same transport, not to a new one.
        await toServer.SendStringAsync("again");
        Assert.Equal("again", await peer.ReceiveStringAsync().WaitAsync(Wait.Long));
        await AssertNoArrivalAsync(server);
        Assert.Equal(new[] { client.LocalEndPoint }, server.Peers);
        Assert.Equal(new[] { server.LocalEndPoint }, client.Peers);
    }

    [Fact]
    public async Task A_disposed_peer_is_forgotten_and_its_address_can_start_again()
    {
        await using var server = new UdpEndpoint();
        await using var client = new UdpEndpoint();
        await using var toServer = client.Connect(server.LocalEndPoint);

        await toServer.SendStringAsync("one, first");
        var first = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        Assert.Equal("one, first", await first.ReceiveStringAsync().WaitAsync(Wait.Long));
        await first.DisposeAsync();
        Assert.Empty(server.Peers);
        Assert.Equal(TransportError.Closed, (await Assert.ThrowsAsync<TransportException>(() => first.ReceiveStringAsync())).Error);

        await toServer.SendStringAsync("two, second");
        await using var second = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        Assert.NotSame(first, second);
        Assert.Equal("two, second", await second.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task Close_sends_the_close_signal_and_the_peer_receive_returns_false()
    {
        await using var server = new UdpEndpoint();
        await using var client = new UdpEndpoint();
        await using var toServer = client.Connect(server.LocalEndPoint);

        await toServer.SendStringAsync("the last one");
        await toServer.CloseAsync();
        await using var peer = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        Assert.Equal("the last one", await peer.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Null(await peer.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Null(await peer.ReceiveStringAsync().WaitAsync(Wait.Long));

        Assert.Equal(TransportError.Closed, (await Assert.ThrowsAsync<TransportException>(() => toServer.SendStringAsync("more").AsTask())).Error);
        await Assert.ThrowsAsync<ArgumentException>(() => peer.SendAsync(ReadOnlyMemory<byte>.Empty).AsTask());
    }

    [Fact]
    public async Task New_addresses_beyond_MaxPeers_are_dropped()
    {
        await using var server = new UdpEndpoint(options: new UdpEndpointOptions { MaxPeers = 1 });
        await using var firstClient = new UdpEndpoint();
        await using var secondClient = new UdpEndpoint();
        await using var first = firstClient.Connect(server.LocalEndPoint);
        await using var second = secondClient.Connect(server.LocalEndPoint);

        await first.SendStringAsync("first client");
        await using var accepted = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        // The first client's first datagram was dropped too, answered with a retry (the address check).
        var before = server.DatagramsDropped;
        var retries = server.RetriesSent;
        await second.SendStringAsync("second client");

        await Wait.UntilAsync(() => server.DatagramsDropped == before + 1, "the second address's datagram is dropped");
        Assert.Equal(retries, server.RetriesSent); // beyond the limit, not even a retry
        await AssertNoArrivalAsync(server);
        Assert.Equal(new[] { firstClient.LocalEndPoint }, server.Peers);
    }

    [Fact]
    public async Task Connect_refuses_an_address_that_already_has_a_transport()
    {
        await using var endpoint = new UdpEndpoint();
        var remote = new IPEndPoint(IPAddress.Loopback, 9);
        await using var peer = endpoint.Connect(remote);
        Assert.Throws<InvalidOperationException>(() => endpoint.Connect(remote));
        await peer.DisposeAsync();
        await using var again = endpoint.Connect(remote);
    }

    [Fact]
    public async Task Oversized_datagrams_are_dropped()
    {
        await using var receiver = new UdpDatagramSocket(maxDatagramSize: 16);
        await using var sender = new UdpDatagramSocket();

        await sender.SendToAsync(new byte[17], receiver.LocalEndPoint);
        await sender.SendToAsync(Enumerable.Range(1, 16).Select(i => (byte)i).ToArray(), receiver.LocalEndPoint);

        var buffer = new byte[16];
        var (length, from) = await receiver.ReceiveFromAsync(buffer).AsTask().WaitAsync(Wait.Long);
        Assert.Equal(16, length);
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (byte)i), buffer);
        Assert.Equal(sender.LocalEndPoint, from);
        Assert.Equal(1, receiver.OversizedDatagramsDropped);
        await Assert.ThrowsAsync<ArgumentException>(() => receiver.ReceiveFromAsync(new byte[15]).AsTask());
    }

    [Fact]
    public async Task Disposing_the_endpoint_fails_its_peers_and_accepts()
    {
        var server = new UdpEndpoint();
        await using var client = new UdpEndpoint();
        await using var toServer = client.Connect(server.LocalEndPoint);
        await toServer.SendStringAsync("hello, server");
        await using var peer = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        Assert.Equal("hello, server", await peer.ReceiveStringAsync().WaitAsync(Wait.Long));
        var receiving = peer.ReceiveStringAsync();
        var accepting = server.AcceptAsync().AsTask();

        await server.DisposeAsync();

        Assert.Equal(TransportError.Closed, (await Assert.ThrowsAsync<TransportException>(() => receiving.WaitAsync(Wait.Long))).Error);
        Assert.Equal(TransportError.Closed, (await Assert.ThrowsAsync<TransportException>(() => accepting.WaitAsync(Wait.Long))).Error);
        Assert.Equal(TransportError.Closed, (await Assert.ThrowsAsync<TransportException>(() => peer.SendStringAsync("x").AsTask())).Error);
        Assert.Throws<ObjectDisposedException>(() => server.Connect(client.LocalEndPoint));
        await server.DisposeAsync();
    }
}
