using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Udp;
using Xunit;

namespace Dsl.Runtime.Tests;

/// <summary>
/// The UDP handshake manager as a server runs it for long: a completed handshake frees its slot and its task at once
/// and its endpoint answers the peer's late repeats from the last flight alone, a peer that comes back from the same
/// address and port within the linger is answered, and nothing grows with the number of handshakes served.
/// </summary>
public sealed class UdpHandshakeManagerTests
{
    private static readonly ReliabilityOptions Fast = new() { InitialTimeout = TimeSpan.FromMilliseconds(100), MaxTimeout = TimeSpan.FromMilliseconds(400), MaxRetransmits = 8 };

    /// <summary>A two-message handshake: the peer says something, the server answers "pong: " and it, and is done.</summary>
    private static async ValueTask<HandshakeOutcome<string>> AnswerAsync(IMessageTransport transport, CancellationToken cancellationToken)
    {
        var asked = await transport.ReceiveStringAsync(cancellationToken);
        if (asked is null) return HandshakeOutcome<string>.Failure(new HandshakeError("peer_closed", "ask", "server", "closed"));
        await transport.SendStringAsync("pong: " + asked, cancellationToken);
        return HandshakeOutcome<string>.Success(asked);
    }

    private static async ValueTask<HandshakeOutcome<string>> AskAsync(IMessageTransport transport, string question, CancellationToken cancellationToken)
    {
        await transport.SendStringAsync(question, cancellationToken);
        var answer = await transport.ReceiveStringAsync(cancellationToken);
        return answer is null ? HandshakeOutcome<string>.Failure(new HandshakeError("peer_closed", "answer", "client", "closed")) : HandshakeOutcome<string>.Success(answer);
    }

    [Fact]
    public async Task Lingering_handshakes_hold_no_slot_and_no_task_so_a_small_limit_still_serves_many_in_a_row()
    {
        await using var serverEndpoint = new UdpEndpoint();
        await using var server = new UdpHandshakeManager(serverEndpoint, new UdpHandshakeOptions { Reliability = Fast, Linger = TimeSpan.FromSeconds(30), MaxHandshakes = 2 });
        var served = new ConcurrentQueue<string>();
        server.Serve<string>(AnswerAsync, (_, outcome) => { if (outcome.Succeeded) served.Enqueue(outcome.Result); });

        for (var i = 0; i < 20; i++)
        {
            await using var clientEndpoint = new UdpEndpoint();
            await using var client = new UdpHandshakeManager(clientEndpoint, new UdpHandshakeOptions { Reliability = Fast });
            var entry = client.Create<string>(serverEndpoint.LocalEndPoint, (t, ct) => AskAsync(t, $"question {i}", ct));
            var outcome = await entry.Outcome.WaitAsync(Wait.Long);
            Assert.True(outcome.Succeeded, outcome.ToString());
            Assert.Equal($"pong: question {i}", outcome.Result);
        }
        await Wait.UntilAsync(() => served.Count == 20 && server.RunningTasks == 0 && server.Handshakes.Count == 0, "every handshake's task has ended");
        Assert.Equal(20, serverEndpoint.LingeringCount);
        Assert.Empty(serverEndpoint.Peers);
    }

    [Fact]
    public async Task A_peer_that_starts_again_at_once_from_the_same_port_is_never_swallowed_by_the_handshake_just_ended()
    {
        // The client never retransmits within the test's patience: a datagram lost to the ending handshake would stall it.
        var patient = new ReliabilityOptions { InitialTimeout = TimeSpan.FromSeconds(30), MaxTimeout = TimeSpan.FromSeconds(30), MaxRetransmits = 1 };
        await using var serverEndpoint = new UdpEndpoint();
        await using var server = new UdpHandshakeManager(serverEndpoint, new UdpHandshakeOptions { Reliability = Fast, Linger = TimeSpan.FromSeconds(30) });
        // An application that takes a moment over each outcome: the next handshake's first message comes meanwhile.
        server.Serve<string>(AnswerAsync, (_, _) => Thread.Sleep(50));
        await using var clientEndpoint = new UdpEndpoint();
        await using var client = new UdpHandshakeManager(clientEndpoint, new UdpHandshakeOptions { Reliability = patient });
        for (var i = 0; i < 10; i++)
        {
            var entry = client.Create<string>(serverEndpoint.LocalEndPoint, (t, ct) => AskAsync(t, $"question {i}", ct));
            var outcome = await entry.Outcome.WaitAsync(Wait.Long);
            Assert.Equal($"pong: question {i}", outcome.Result);
            while (client.Get(serverEndpoint.LocalEndPoint) is not null) await Task.Yield();
        }
    }

    [Fact]
    public async Task Handshakes_from_one_address_beyond_its_limit_are_not_started_while_other_addresses_are()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        await using var serverEndpoint = new UdpEndpoint();
        await using var server = new UdpHandshakeManager(serverEndpoint, new UdpHandshakeOptions { Reliability = Fast, MaxHandshakesPerAddress = 2 });
        server.Serve<string>(async (transport, ct) =>
        {
            Interlocked.Increment(ref started);
            await release.Task.WaitAsync(ct);
            return HandshakeOutcome<string>.Success("held");
        });
        var clients = new System.Collections.Generic.List<UdpEndpoint>();
        try
        {
            foreach (var address in new[] { "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2" })
            {
                var endpoint = new UdpEndpoint(new IPEndPoint(IPAddress.Parse(address), 0));
                clients.Add(endpoint);
                await endpoint.Connect(serverEndpoint.LocalEndPoint).SendStringAsync("a first message");
            }
            await Wait.UntilAsync(() => Volatile.Read(ref started) == 3, "two from 127.0.0.1 and one from 127.0.0.2 start");
            await Task.Delay(300);
            Assert.Equal(3, Volatile.Read(ref started));
        }
        finally
        {
            release.TrySetResult();
            foreach (var endpoint in clients) await endpoint.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_repeat_of_the_last_flight_is_answered_from_the_linger_and_a_new_first_message_from_the_same_port_starts_anew()
    {
        await using var serverEndpoint = new UdpEndpoint();
        await using var server = new UdpHandshakeManager(serverEndpoint, new UdpHandshakeOptions { Reliability = Fast, Linger = TimeSpan.FromSeconds(30) });
        var served = new ConcurrentQueue<string>();
        server.Serve<string>(AnswerAsync, (_, outcome) => { if (outcome.Succeeded) served.Enqueue(outcome.Result); });

        // A peer by hand, on one port throughout: it answers the retry, then plays a client that lost the answer.
        await using var socket = new UdpDatagramSocket();
        var buffer = new byte[socket.MaxDatagramSize];
        async Task<byte[]> ReceiveAsync()
        {
            var (length, _) = await socket.ReceiveFromAsync(buffer).AsTask().WaitAsync(Wait.Long);
            return buffer.AsSpan(0, length).ToArray();
        }
        async Task<string> AskThroughRetryAsync(string question)
        {
            var ask = Encoding.UTF8.GetBytes(question);
            await socket.SendToAsync(ask, serverEndpoint.LocalEndPoint);
            var retry = await ReceiveAsync();
            Assert.Equal(0xFF, retry[0]);
            await socket.SendToAsync((byte[])[0xFF, (byte)'C', .. retry[2..], .. ask], serverEndpoint.LocalEndPoint);
            return Encoding.UTF8.GetString(await ReceiveAsync());
        }

        Assert.Equal("pong: first question", await AskThroughRetryAsync("first question"));
        await Wait.UntilAsync(() => served.Count == 1 && serverEndpoint.LingeringCount == 1, "the handshake completes and lingers");

        // The answer was "lost": the peer repeats its question, byte for byte, and gets the answer again.
        await socket.SendToAsync(Encoding.UTF8.GetBytes("first question"), serverEndpoint.LocalEndPoint);
        Assert.Equal("pong: first question", Encoding.UTF8.GetString(await ReceiveAsync()));
        Assert.Equal(1, serverEndpoint.LingerAnswers);

        // The same address and port starts a new handshake within the linger: not swallowed, served.
        Assert.Equal("pong: second question", await AskThroughRetryAsync("second question"));
        await Wait.UntilAsync(() => served.Count == 2, "the second handshake completes");
        Assert.Equal(new[] { "first question", "second question" }, served.ToArray());
    }
}
