using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Udp;
using Xunit;

namespace Dsl.Runtime.Tests;

public sealed class UdpReliabilityTests
{
    // Short timeouts keep fifty lossy handshakes quick; a spurious retransmission on a busy machine
    // costs only a duplicate, which the receiver drops. The retransmit budget makes giving up
    // practically impossible at these loss rates (0.51^31 per exchange at 30% loss each way).
    private static readonly ReliabilityOptions Patient = new()
    {
        InitialTimeout = TimeSpan.FromMilliseconds(30),
        MaxTimeout = TimeSpan.FromMilliseconds(250),
        MaxRetransmits = 30,
    };

    private sealed record Exchange(int Seed, string[] ServerReceived, string[] ClientReceived, long Retransmissions, long Dropped, long DuplicatesDropped);

    /// <summary>
    /// Client sends A, server answers B, client sends C, server answers D, over one server endpoint
    /// shared by every seed; each side's sends go through a fault injector.
    /// </summary>
    private static async Task<Exchange[]> RunExchangesAsync(IEnumerable<int> seeds, FaultOptions faults)
    {
        await using var server = new UdpEndpoint();
        using var stop = new CancellationTokenSource();
        var serverResults = new ConcurrentDictionary<string, (string[] Received, long Retransmissions, long Dropped, long Duplicates)>();
        var serverTasks = new ConcurrentBag<Task>();
        var accepted = 0;

        var acceptLoop = Task.Run(async () =>
        {
            while (true)
            {
                UdpPeerTransport peer;
                try { peer = await server.AcceptAsync(stop.Token); }
                catch (OperationCanceledException) { return; }
                var faultSeed = 100_000 + Interlocked.Increment(ref accepted);
                serverTasks.Add(Task.Run(async () =>
                {
                    var faulty = new FaultInjectingTransport(peer, faults, faultSeed);
                    await using var reliable = new ReliableTransport(faulty, Patient);
                    var a = (await reliable.ReceiveStringAsync())!;
                    var id = a[2..a.IndexOf(',')];
                    await reliable.SendStringAsync("B:" + id);
                    var c = (await reliable.ReceiveStringAsync())!;
                    await reliable.SendStringAsync("D:" + id);
                    reliable.CompleteHandshake();
                    // Keep answering a client that lost D, until it closes.
                    var end = await reliable.ReceiveStringAsync();
                    var received = end is null ? new[] { a, c } : new[] { a, c, end };
                    serverResults[id] = (received, reliable.Retransmissions, faulty.Dropped, reliable.DuplicatesDropped);
                }));
            }
        });

        var clientRuns = seeds.Select(seed => Task.Run(async () =>
        {
            await using var endpoint = new UdpEndpoint();
            var faulty = new FaultInjectingTransport(endpoint.Connect(server.LocalEndPoint), faults, seed);
            await using var reliable = new ReliableTransport(faulty, Patient);
            await reliable.SendStringAsync("A:" + seed + ", a first flight");
            var b = (await reliable.ReceiveStringAsync())!;
            await reliable.SendStringAsync("C:" + seed);
            var d = (await reliable.ReceiveStringAsync())!;
            reliable.CompleteHandshake();
            await reliable.CloseAsync();
            return (Seed: seed, Received: new[] { b, d }, reliable.Retransmissions, faulty.Dropped, reliable.DuplicatesDropped);
        })).ToArray();

        var clients = await Task.WhenAll(clientRuns).WaitAsync(TimeSpan.FromSeconds(60));
        await Wait.UntilAsync(() => serverResults.Count == clients.Length, "every server handler has finished");
        stop.Cancel();
        await acceptLoop.WaitAsync(Wait.Long);
        await Task.WhenAll(serverTasks).WaitAsync(Wait.Long);

        return clients.Select(client =>
        {
            var serverSide = serverResults[client.Seed.ToString()];
            return new Exchange(client.Seed, serverSide.Received, client.Received,
                client.Retransmissions + serverSide.Retransmissions, client.Dropped + serverSide.Dropped,
                client.DuplicatesDropped + serverSide.Duplicates);
        }).ToArray();
    }

    private static async Task<List<string>> ReceiveUntilClosedAsync(IMessageTransport transport)
    {
        var received = new List<string>();
        while (await transport.ReceiveStringAsync().WaitAsync(Wait.Long) is { } message) received.Add(message);
        return received;
    }

    private static void AssertEveryMessageOnceInOrder(Exchange[] exchanges)
    {
        foreach (var exchange in exchanges)
        {
            Assert.Equal(new[] { $"A:{exchange.Seed}, a first flight", $"C:{exchange.Seed}" }, exchange.ServerReceived);
            Assert.Equal(new[] { $"B:{exchange.Seed}", $"D:{exchange.Seed}" }, exchange.ClientReceived);
        }
    }

    [Fact]
    public async Task A_four_message_exchange_completes_over_30_percent_loss_for_seeds_1_to_50()
    {
        var exchanges = await RunExchangesAsync(Enumerable.Range(1, 50), new FaultOptions { Loss = 0.3 });

        AssertEveryMessageOnceInOrder(exchanges);
        // The faults really happened, and retransmission is what got through them.
        Assert.True(exchanges.Sum(e => e.Dropped) > 20, $"only {exchanges.Sum(e => e.Dropped)} messages were dropped");
        Assert.True(exchanges.Sum(e => e.Retransmissions) >= exchanges.Sum(e => e.Dropped) / 2);
    }

    [Fact]
    public async Task A_four_message_exchange_completes_through_loss_duplication_reordering_and_delay()
    {
        var faults = new FaultOptions
        {
            Loss = 0.2, Duplication = 0.3, Reordering = 0.3,
            MaxDelay = TimeSpan.FromMilliseconds(40), ReorderWindow = TimeSpan.FromMilliseconds(20),
        };
        var exchanges = await RunExchangesAsync(Enumerable.Range(1, 30), faults);

        AssertEveryMessageOnceInOrder(exchanges);
        Assert.True(exchanges.Sum(e => e.DuplicatesDropped) > 0);
    }

    [Fact]
    public async Task The_receive_gives_up_with_ConnectionReset_when_the_peer_is_gone()
    {
        await using var silentPeer = new UdpDatagramSocket();
        var datagrams = 0;
        using var stop = new CancellationTokenSource();
        var counting = Task.Run(async () =>
        {
            var buffer = new byte[silentPeer.MaxDatagramSize];
            try
            {
                while (true)
                {
                    await silentPeer.ReceiveFromAsync(buffer, stop.Token);
                    Interlocked.Increment(ref datagrams);
                }
            }
            catch (OperationCanceledException) { }
        });
        await using var endpoint = new UdpEndpoint();
        await using var reliable = new ReliableTransport(endpoint.Connect(silentPeer.LocalEndPoint), new ReliabilityOptions
        {
            InitialTimeout = TimeSpan.FromMilliseconds(20),
            MaxTimeout = TimeSpan.FromMilliseconds(80),
            MaxRetransmits = 3,
        });

        await reliable.SendStringAsync("anyone there?");
        var error = await Assert.ThrowsAsync<TransportException>(() => reliable.ReceiveStringAsync().WaitAsync(Wait.Long));

        Assert.Equal(TransportError.ConnectionReset, error.Error);
        Assert.Contains("no answer after 3 retransmissions", error.Message);
        Assert.Equal(3, reliable.Retransmissions);
        await Wait.UntilAsync(() => Volatile.Read(ref datagrams) == 4, "the first send and three retransmissions arrive");
        stop.Cancel();
        await counting.WaitAsync(Wait.Long);
    }

    [Fact]
    public async Task Duplicates_are_dropped_and_counted()
    {
        await using var server = new UdpEndpoint();
        await using var client = new UdpEndpoint();
        var duplicating = new FaultInjectingTransport(client.Connect(server.LocalEndPoint), new FaultOptions { Duplication = 1 }, seed: 1);
        await using var sender = new ReliableTransport(duplicating, Patient);

        var messages = Enumerable.Range(1, 5).Select(i => $"flight part {i}").ToArray();
        foreach (var message in messages) await sender.SendStringAsync(message);
        await sender.CloseAsync();

        await using var receiver = new ReliableTransport(await server.AcceptAsync().AsTask().WaitAsync(Wait.Long), Patient);
        var received = await ReceiveUntilClosedAsync(receiver);

        Assert.Equal(messages.Order(), received.Order());
        Assert.Equal(5, duplicating.Duplicated);
        Assert.Equal(5, receiver.DuplicatesDropped);
        Assert.Equal(0, receiver.Retransmissions);
    }

    [Fact]
    public async Task A_repeat_of_the_flight_we_answered_gets_our_answer_again()
    {
        var (rawClient, serverSide) = InMemoryTransport.CreatePair();
        await using var _ = rawClient;
        await using var server = new ReliableTransport(serverSide, new ReliabilityOptions { InitialTimeout = TimeSpan.FromMinutes(1), MaxTimeout = TimeSpan.FromMinutes(1) });

        await rawClient.SendStringAsync("A");
        Assert.Equal("A", await server.ReceiveStringAsync().WaitAsync(Wait.Long));
        await server.SendStringAsync("B");
        Assert.Equal("B", await rawClient.ReceiveStringAsync().WaitAsync(Wait.Long));

        // The client acts as if B was lost: it sends A again, and then C.
        await rawClient.SendStringAsync("A");
        await rawClient.SendStringAsync("C");
        Assert.Equal("C", await server.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal("B", await rawClient.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal(1, server.DuplicatesDropped);
        Assert.Equal(1, server.Retransmissions);

        // Once C has come, a late A means nothing: dropped without an answer.
        await rawClient.SendStringAsync("A");
        await rawClient.SendStringAsync("E");
        Assert.Equal("E", await server.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal(2, server.DuplicatesDropped);
        Assert.Equal(1, server.Retransmissions);
    }

    [Fact]
    public async Task After_CompleteHandshake_a_receive_waits_without_retransmitting_and_a_cancelled_receive_is_taken_over()
    {
        var (clientSide, rawServer) = InMemoryTransport.CreatePair();
        await using var _ = rawServer;
        await using var client = new ReliableTransport(clientSide, new ReliabilityOptions { InitialTimeout = TimeSpan.FromMilliseconds(10), MaxTimeout = TimeSpan.FromMilliseconds(10), MaxRetransmits = 2 });

        await client.SendStringAsync("final flight");
        client.CompleteHandshake();
        using (var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReceiveStringAsync(quiet.Token).WaitAsync(Wait.Long));
        Assert.Equal(0, client.Retransmissions);

        await rawServer.SendStringAsync("application data");
        Assert.Equal("application data", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal("final flight", await rawServer.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task Fault_injection_is_deterministic_for_a_seed()
    {
        var faults = new FaultOptions { Loss = 0.2, Duplication = 0.2, Reordering = 0.2, ReorderWindow = TimeSpan.FromMinutes(1) };

        async Task<(string[] Delivered, long Dropped, long Duplicated, long Reordered)> RunAsync(int seed)
        {
            var (sending, receiving) = InMemoryTransport.CreatePair();
            await using var faulty = new FaultInjectingTransport(sending, faults, seed);
            await using var _ = receiving;
            for (var i = 0; i < 200; i++) await faulty.SendStringAsync(i.ToString());
            await faulty.CloseAsync();
            var delivered = await ReceiveUntilClosedAsync(receiving);
            return (delivered.ToArray(), faulty.Dropped, faulty.Duplicated, faulty.Reordered);
        }

        var first = await RunAsync(7);
        var again = await RunAsync(7);
        var other = await RunAsync(8);

        Assert.Equal(first.Delivered, again.Delivered);
        Assert.Equal((first.Dropped, first.Duplicated, first.Reordered), (again.Dropped, again.Duplicated, again.Reordered));
        Assert.NotEqual(first.Delivered, other.Delivered);
        Assert.InRange(first.Dropped, 20, 60);
        Assert.InRange(first.Duplicated, 15, 60);
        Assert.InRange(first.Reordered, 10, 60);
        Assert.Equal(200 - first.Dropped + first.Duplicated, first.Delivered.Length);
        Assert.NotEqual(first.Delivered, first.Delivered.OrderBy(int.Parse)); // reordered, not just thinned and doubled
    }

    [Fact]
    public async Task Delayed_messages_arrive_and_close_waits_for_them()
    {
        var (sending, receiving) = InMemoryTransport.CreatePair();
        await using var faulty = new FaultInjectingTransport(sending, new FaultOptions { MaxDelay = TimeSpan.FromMilliseconds(50) }, seed: 3);
        await using var _ = receiving;

        for (var i = 0; i < 20; i++) await faulty.SendStringAsync(i.ToString());
        await faulty.CloseAsync();

        var delivered = await ReceiveUntilClosedAsync(receiving);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => i.ToString()).Order(), delivered.Order());
        Assert.Equal(20, faulty.Delayed);
    }
}
