using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports.Udp;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>
/// A UDP endpoint keeps nothing for an address, and sends it no more than three times what it received, until the
/// address has shown it receives there (a stateless retry and its cookie, as QUIC's Retry): so a spoofed datagram
/// neither amplifies an attack on the address it names nor fills the server with peers.
/// </summary>
public sealed class UdpAddressValidationTests
{
    private static readonly byte[] Hello = new byte[274];

    static UdpAddressValidationTests() => Array.Fill(Hello, (byte)'x');

    /// <summary>Everything that arrives at <paramref name="socket"/> within <paramref name="within"/>.</summary>
    private static async Task<List<byte[]>> CollectAsync(UdpDatagramSocket socket, TimeSpan within)
    {
        var received = new List<byte[]>();
        var buffer = new byte[socket.MaxDatagramSize];
        using var quiet = new CancellationTokenSource(within);
        try
        {
            while (true)
            {
                var (length, _) = await socket.ReceiveFromAsync(buffer, quiet.Token);
                received.Add(buffer.AsSpan(0, length).ToArray());
            }
        }
        catch (OperationCanceledException)
        {
        }
        return received;
    }

    [Fact]
    public async Task A_datagram_from_an_unproven_address_draws_one_short_retry_and_leaves_nothing_behind()
    {
        await using var server = new UdpEndpoint();
        await using var spoofed = new UdpDatagramSocket();
        await spoofed.SendToAsync(Hello, server.LocalEndPoint);

        var answers = await CollectAsync(spoofed, TimeSpan.FromSeconds(1));
        var retry = Assert.Single(answers);
        Assert.Equal(18, retry.Length);
        Assert.Equal(new byte[] { 0xFF, (byte)'R' }, retry[..2]);
        Assert.True(answers.Sum(a => a.Length) <= 3 * Hello.Length);
        Assert.Empty(server.Peers);
        Assert.Equal(1, server.RetriesSent);
    }

    [Fact]
    public async Task A_datagram_too_short_to_answer_three_times_over_draws_nothing()
    {
        await using var server = new UdpEndpoint();
        await using var spoofed = new UdpDatagramSocket();
        await spoofed.SendToAsync(new byte[5], server.LocalEndPoint);
        Assert.Empty(await CollectAsync(spoofed, TimeSpan.FromMilliseconds(300)));
        Assert.Empty(server.Peers);
        Assert.Equal(0, server.RetriesSent);
    }

    [Fact]
    public async Task The_datagram_sent_again_behind_the_cookie_makes_the_peer_and_a_wrong_or_borrowed_cookie_does_not()
    {
        await using var server = new UdpEndpoint();
        await using var client = new UdpDatagramSocket();
        await using var other = new UdpDatagramSocket();
        await client.SendToAsync(Hello, server.LocalEndPoint);
        var retry = Assert.Single(await CollectAsync(client, TimeSpan.FromMilliseconds(500)));
        var cookie = retry[2..];

        // Another address cannot use this address's cookie, nor can anyone use a made-up one.
        await other.SendToAsync(Wrap(cookie, Hello), server.LocalEndPoint);
        var forged = (byte[])cookie.Clone();
        forged[0] ^= 1;
        await client.SendToAsync(Wrap(forged, Hello), server.LocalEndPoint);
        await Task.Delay(200);
        Assert.Empty(server.Peers);

        await client.SendToAsync(Wrap(cookie, Hello), server.LocalEndPoint);
        await using var peer = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        Assert.Equal(client.LocalEndPoint, peer.RemoteEndPoint);
        Assert.Equal(new string('x', 274), await peer.ReceiveStringAsync().WaitAsync(Wait.Long));
        // Once the peer exists, a datagram behind the cookie is the datagram (a first flight sent again).
        await client.SendToAsync(Wrap(cookie, "again, behind the cookie"u8.ToArray()), server.LocalEndPoint);
        Assert.Equal("again, behind the cookie", await peer.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task A_cookie_is_good_for_its_period_and_the_next_then_refused()
    {
        var clock = new ManualClock(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        await using var server = new UdpEndpoint(options: new UdpEndpointOptions { TimeProvider = clock });
        await using var client = new UdpDatagramSocket();
        await client.SendToAsync(Hello, server.LocalEndPoint);
        var cookie = Assert.Single(await CollectAsync(client, TimeSpan.FromMilliseconds(500)))[2..];

        clock.Now += TimeSpan.FromSeconds(61);
        await client.SendToAsync(Wrap(cookie, Hello), server.LocalEndPoint);
        // An expired cookie is an unproven address again: a new retry, no peer.
        Assert.Single(await CollectAsync(client, TimeSpan.FromMilliseconds(500)));
        Assert.Empty(server.Peers);

        clock.Now -= TimeSpan.FromSeconds(31);
        await client.SendToAsync(Wrap(cookie, Hello), server.LocalEndPoint);
        await using var peer = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        Assert.Equal(client.LocalEndPoint, peer.RemoteEndPoint);
    }

    [Fact]
    public async Task A_flood_of_datagrams_from_addresses_that_never_answer_makes_no_peer()
    {
        // Spoofed senders cannot receive the retry; here they simply never answer it. 100 addresses, 1,000 datagrams each.
        await using var server = new UdpEndpoint();
        var senders = Enumerable.Range(0, 100).Select(_ => new UdpDatagramSocket()).ToList();
        try
        {
            await Task.WhenAll(senders.Select(async sender =>
            {
                for (var i = 0; i < 1000; i++) await sender.SendToAsync(Hello, server.LocalEndPoint);
            }));
            await Task.Delay(300);
            Assert.Empty(server.Peers);
            using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => server.AcceptAsync(quiet.Token).AsTask());
            Assert.True(server.RetriesSent > 0 && server.RetriesSent <= 100_000, $"{server.RetriesSent} retries");
        }
        finally
        {
            foreach (var sender in senders) await sender.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_connecting_endpoint_answers_the_retry_by_itself_with_its_whole_first_flight()
    {
        await using var server = new UdpEndpoint();
        await using var client = new UdpEndpoint();
        await using var toServer = client.Connect(server.LocalEndPoint);
        await toServer.SendStringAsync("first of the flight");
        await toServer.SendStringAsync("second of the flight");
        await using var peer = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        var received = new[] { await peer.ReceiveStringAsync().WaitAsync(Wait.Long), await peer.ReceiveStringAsync().WaitAsync(Wait.Long) };
        Assert.Equal(new[] { "first of the flight", "second of the flight" }, received.Order());
        Assert.True(server.RetriesSent >= 1);
        // Answered: from now on the client sends bare datagrams.
        await peer.SendStringAsync("welcome");
        Assert.Equal("welcome", await toServer.ReceiveStringAsync().WaitAsync(Wait.Long));
        await toServer.SendStringAsync("ok");
        Assert.Equal("ok", await peer.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task Off_an_endpoint_makes_a_peer_from_the_first_datagram_as_before()
    {
        await using var server = new UdpEndpoint(options: new UdpEndpointOptions { ValidateAddresses = false });
        await using var client = new UdpDatagramSocket();
        await client.SendToAsync(Hello, server.LocalEndPoint);
        await using var peer = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
        Assert.Equal(0, server.RetriesSent);
    }

    [Fact]
    public async Task An_endpoint_bound_to_any_IPv6_address_serves_IPv4_and_IPv6_peers()
    {
        if (!Socket.OSSupportsIPv6) return;
        await using var server = new UdpEndpoint(new IPEndPoint(IPAddress.IPv6Any, 0));
        var port = server.LocalEndPoint.Port;
        foreach (var address in new[] { IPAddress.Loopback, IPAddress.IPv6Loopback })
        {
            await using var client = new UdpEndpoint(new IPEndPoint(address.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback, 0));
            await using var toServer = client.Connect(new IPEndPoint(address, port));
            await toServer.SendStringAsync("hello from " + address);
            await using var peer = await server.AcceptAsync().AsTask().WaitAsync(Wait.Long);
            Assert.Equal(address, peer.RemoteEndPoint.Address);
            Assert.Equal("hello from " + address, await peer.ReceiveStringAsync().WaitAsync(Wait.Long));
            await peer.SendStringAsync("hello back");
            Assert.Equal("hello back", await toServer.ReceiveStringAsync().WaitAsync(Wait.Long));
        }
    }

    private static byte[] Wrap(byte[] cookie, byte[] datagram) => [0xFF, (byte)'C', .. cookie, .. datagram];

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
