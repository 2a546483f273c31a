using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Udp;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Protocols.Tests.Stt;

/// <summary>STT over real UDP on loopback, through the handshake manager, with and without injected faults.</summary>
public sealed class SttOverUdpTests(ITestOutputHelper output)
{
    private static readonly Bytes Seed = new(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));
    private static readonly Bytes NodeA = new(Enumerable.Repeat((byte)0xaa, 32).ToArray());
    private static readonly Bytes NodeB = new(Enumerable.Repeat((byte)0xbb, 32).ToArray());

    private static readonly ReliabilityOptions Fast = new()
    {
        InitialTimeout = TimeSpan.FromMilliseconds(50),
        MaxTimeout = TimeSpan.FromMilliseconds(400),
        MaxRetransmits = 12,
    };

    private sealed record Run(HandshakeOutcome<SttInitiatorResult> Initiator, ConcurrentBag<HandshakeOutcome<SttResponderResult>> Responses);

    private static async Task<Run> HandshakeAsync(Bytes? initiatorSeed = null, int? faultSeed = null)
    {
        FaultOptions faults = new() { Loss = 0.20, Duplication = 0.10, Reordering = 0.10, MaxDelay = TimeSpan.FromMilliseconds(20) };
        var counter = 0;
        Func<IMessageTransport, IMessageTransport>? wrap = faultSeed is { } s
            ? t => new FaultInjectingTransport(t, faults, s * 1000 + Interlocked.Increment(ref counter))
            : null;
        var options = new UdpHandshakeOptions { Reliability = Fast, Linger = TimeSpan.FromSeconds(2), WrapTransport = wrap };

        await using var serverEndpoint = new UdpEndpoint();
        await using var clientEndpoint = new UdpEndpoint();
        await using var server = new UdpHandshakeManager(serverEndpoint, options);
        await using var client = new UdpHandshakeManager(clientEndpoint, options);
        var responses = new ConcurrentBag<HandshakeOutcome<SttResponderResult>>();
        var responded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Serve(
            (transport, ct) => new SttResponder(new SttResponderInputs { NodeId = NodeB, SharedSeed = Seed }).RunAsync(transport, ct),
            (_, outcome) => { responses.Add(outcome); responded.TrySetResult(); });

        var entry = client.Create(serverEndpoint.LocalEndPoint,
            (transport, ct) => new SttInitiator(new SttInitiatorInputs { NodeId = NodeA, SharedSeed = initiatorSeed ?? Seed }).RunAsync(transport, ct));
        Assert.Same(entry, client.Get(serverEndpoint.LocalEndPoint));
        var initiator = await entry.Outcome.WaitAsync(TimeSpan.FromSeconds(30));
        await responded.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // Let retransmitted datagrams play out before counting the responder's sessions.
        await Task.Delay(300);
        return new Run(initiator, responses);
    }

    [Fact]
    public async Task A_spoofed_HELLO_draws_at_most_three_times_its_bytes_and_leaves_no_handshake_behind()
    {
        // The hostile peer's probe: one real HELLO from an address that never answers (as a spoofed one cannot).
        await using var serverEndpoint = new UdpEndpoint();
        await using var server = new UdpHandshakeManager(serverEndpoint, new UdpHandshakeOptions { Reliability = Fast });
        server.Serve((transport, ct) => new SttResponder(new SttResponderInputs { NodeId = NodeB, SharedSeed = Seed }).RunAsync(transport, ct));

        var (a, b) = InMemoryTransport.CreatePair();
        var initiator = new SttInitiator(new SttInitiatorInputs { NodeId = NodeA, SharedSeed = Seed }).RunAsync(a).AsTask();
        var hello = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.True(await b.ReceiveAsync(hello));
        await b.DisposeAsync();

        await using var spoofed = new UdpDatagramSocket();
        await spoofed.SendToAsync(hello.WrittenMemory, serverEndpoint.LocalEndPoint);
        var answered = 0;
        var buffer = new byte[spoofed.MaxDatagramSize];
        using (var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try
            {
                while (true) answered += (await spoofed.ReceiveFromAsync(buffer, quiet.Token)).Length;
            }
            catch (OperationCanceledException)
            {
            }
        }
        output.WriteLine($"HELLO {hello.WrittenCount} bytes, answered with {answered} bytes");
        Assert.InRange(answered, 1, 3 * hello.WrittenCount);
        Assert.Empty(server.Handshakes);
        Assert.Empty(serverEndpoint.Peers);
        await initiator;
    }

    [Fact]
    public async Task Both_nodes_end_with_the_same_session_over_udp()
    {
        var run = await HandshakeAsync();
        Assert.True(run.Initiator.Succeeded, run.Initiator.ToString());
        var response = Assert.Single(run.Responses);
        Assert.True(response.Succeeded, response.ToString());
        Assert.Equal(response.Result.SessionId, run.Initiator.Result.SessionId);
        Assert.True(response.Result.SessionKey.ContentEquals(run.Initiator.Result.SessionKey));
    }

    [Fact]
    public async Task One_responder_runs_many_handshakes_at_once_keyed_by_peer_address()
    {
        await using var serverEndpoint = new UdpEndpoint();
        await using var server = new UdpHandshakeManager(serverEndpoint, new UdpHandshakeOptions { Reliability = Fast, Linger = TimeSpan.FromSeconds(1) });
        var sessions = new ConcurrentDictionary<IPEndPoint, Bytes>();
        server.Serve(
            (transport, ct) => new SttResponder(new SttResponderInputs { NodeId = NodeB, SharedSeed = Seed }).RunAsync(transport, ct),
            (peer, outcome) => { if (outcome.Succeeded) sessions[peer] = outcome.Result.SessionId; });

        var clients = Enumerable.Range(0, 20).Select(_ => new UdpEndpoint()).ToList();
        try
        {
            var managers = clients.Select(c => new UdpHandshakeManager(c, new UdpHandshakeOptions { Reliability = Fast })).ToList();
            var entries = managers.Select(m => m.Create(serverEndpoint.LocalEndPoint,
                (transport, ct) => new SttInitiator(new SttInitiatorInputs { NodeId = new Bytes(Runtime.Cryptography.Digests.RandomBytes(32)), SharedSeed = Seed }).RunAsync(transport, ct))).ToList();
            // While they run, the server tracks one handshake per client address.
            var outcomes = await Task.WhenAll(entries.Select(e => e.Outcome)).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.All(outcomes, o => Assert.True(o.Succeeded, o.ToString()));
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (sessions.Count < 20 && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.Equal(20, sessions.Count);
            Assert.Equal(20, sessions.Values.Distinct().Count());
            foreach (var (client, outcome) in clients.Zip(outcomes))
                Assert.Equal(outcome.Result!.SessionId, sessions[client.LocalEndPoint]);
            Assert.True(server.Remove(clients[0].LocalEndPoint) || server.Get(clients[0].LocalEndPoint) is null);
            foreach (var manager in managers) await manager.DisposeAsync();
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_wrong_seed_fails_at_AUTH_PROOF_over_udp()
    {
        var run = await HandshakeAsync(initiatorSeed: new Bytes(Encoding.UTF8.GetBytes("different_seed_32bytes_long!!!!!")));
        Assert.Equal(SttErrorCodes.WrongSeed, run.Initiator.Error!.Code);
        var response = Assert.Single(run.Responses);
        Assert.Equal(SttErrorCodes.WrongSeed, response.Error!.Code);
        Assert.Equal("auth_proof", response.Error.Phase);
    }

    [Fact]
    public async Task Under_20_percent_loss_with_duplication_and_reordering_99_of_100_handshakes_complete_and_none_twice()
    {
        var completed = 0;
        var sessionsPerHandshake = new ConcurrentBag<int>();
        var failures = new ConcurrentBag<string>();
        for (var batch = 0; batch < 10; batch++)
        {
            var runs = await Task.WhenAll(Enumerable.Range(batch * 10 + 1, 10).Select(seed => HandshakeAsync(faultSeed: seed)));
            foreach (var run in runs)
            {
                var sessions = run.Responses.Count(r => r.Succeeded);
                sessionsPerHandshake.Add(sessions);
                var agreed = run.Initiator.Succeeded && run.Responses.Any(r => r.Succeeded && r.Result!.SessionId == run.Initiator.Result.SessionId);
                if (agreed) Interlocked.Increment(ref completed);
                else failures.Add($"{run.Initiator} / {string.Join(", ", run.Responses)}");
            }
        }
        output.WriteLine($"{completed} of 100 handshakes completed under 20% loss, 10% duplication, 10% reordering");
        Console.WriteLine($"[udp] STT: {completed} of 100 handshakes completed under 20% loss, 10% duplication, 10% reordering");
        foreach (var failure in failures) output.WriteLine(failure);
        Assert.True(completed >= 99, $"{completed} of 100 completed: {string.Join(" | ", failures.Take(3))}");
        Assert.All(sessionsPerHandshake, count => Assert.True(count <= 1, $"{count} sessions for one handshake"));
    }
}
