using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.AspNetCore;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Sessions;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.WebSockets;
using Dsl.Tests.Shared;
using Xunit;

namespace Dsl.Runtime.Tests;

public sealed class HeartbeatSessionTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    private static HeartbeatSession<string> Session(
        IMessageTransport transport, bool sendsPings, int missedIntervals = 2,
        Func<string, CancellationToken, ValueTask>? onMessage = null)
        => new(transport, StringCodec.Instance, StringHeartbeat.Instance,
            new HeartbeatOptions { Interval = Interval, SendsPings = sendsPings, MissedIntervals = missedIntervals },
            onMessage);

    /// <summary>Reads a raw transport until it ends; returns the messages and how it ended.</summary>
    private static async Task<(ConcurrentQueue<string> Messages, string End)> DrainAsync(IMessageTransport transport)
    {
        var messages = new ConcurrentQueue<string>();
        try
        {
            while (await transport.ReceiveStringAsync() is { } message) messages.Enqueue(message);
            return (messages, "closed");
        }
        catch (TransportException exception)
        {
            return (messages, exception.Error.ToString());
        }
    }

    [Fact]
    public async Task Pinger_and_answerer_exchange_pings_and_pongs()
    {
        var (first, second) = InMemoryTransport.CreatePair();
        // A wide tolerance: this test is about the exchange, not about detecting a loss.
        await using var pinger = Session(first, sendsPings: true, missedIntervals: 40);
        await using var answerer = Session(second, sendsPings: false, missedIntervals: 40);
        pinger.Start();
        answerer.Start();

        await Wait.UntilAsync(() => pinger.PingsSent >= 3 && pinger.PongsReceived >= 3 && answerer.PingsAnswered >= 3,
            "three pings were sent, answered and their pongs received");

        Assert.Equal(0, answerer.PingsSent);
        Assert.Equal(0, pinger.PingsAnswered);
        Assert.False(pinger.Completion.IsCompleted);
        Assert.False(answerer.Completion.IsCompleted);

        await pinger.DisposeAsync();
        Assert.Equal(SessionEndReason.ClosedLocally, (await pinger.Completion).Reason);
        Assert.Equal(SessionEndReason.ClosedByPeer, (await answerer.Completion.WaitAsync(Wait.Long)).Reason);
    }

    [Fact]
    public async Task A_silent_peer_ends_the_pingers_session_with_HeartbeatLost_and_the_transport_is_closed()
    {
        var (first, silent) = InMemoryTransport.CreatePair();
        // Six intervals of tolerance, so that pings go out (to nobody) before the loss is declared.
        await using var pinger = Session(first, sendsPings: true, missedIntervals: 6);
        var clock = Stopwatch.StartNew();
        pinger.Start();

        var end = await pinger.Completion.WaitAsync(Wait.Long);

        Assert.Equal(SessionEndReason.HeartbeatLost, end.Reason);
        Assert.Equal("No message from the peer for 300 ms (6 intervals)", end.Detail);
        Assert.True(clock.Elapsed >= Interval * 6, $"ended after {clock.Elapsed.TotalMilliseconds} ms");
        Assert.True(pinger.PingsSent >= 1, $"no ping sent; ended after {clock.Elapsed.TotalMilliseconds} ms");
        var (messages, how) = await DrainAsync(silent).WaitAsync(Wait.Long);
        Assert.Equal("closed", how);
        Assert.NotEmpty(messages);
        Assert.All(messages, message => Assert.Equal("ping", message));
        var sendError = await Assert.ThrowsAsync<TransportException>(() => silent.SendStringAsync("late").AsTask());
        Assert.Equal(TransportError.ConnectionReset, sendError.Error);
    }

    [Fact]
    public async Task An_answerer_whose_peer_never_pings_ends_with_HeartbeatLost()
    {
        var (first, silent) = InMemoryTransport.CreatePair();
        await using var answerer = Session(first, sendsPings: false);
        var clock = Stopwatch.StartNew();
        answerer.Start();

        var end = await answerer.Completion.WaitAsync(Wait.Long);

        Assert.Equal(SessionEndReason.HeartbeatLost, end.Reason);
        Assert.True(clock.Elapsed >= Interval * 2, $"ended after {clock.Elapsed.TotalMilliseconds} ms");
        Assert.Equal(0, answerer.PingsSent);
        var (messages, how) = await DrainAsync(silent).WaitAsync(Wait.Long);
        Assert.Equal("closed", how);
        Assert.Empty(messages);
    }

    [Fact]
    public async Task Any_message_from_the_peer_keeps_the_session_alive()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        var delivered = new ConcurrentQueue<string>();
        await using var answerer = Session(first, sendsPings: false, missedIntervals: 4, onMessage: (m, _) => { delivered.Enqueue(m); return default; });
        answerer.Start();

        // Ten intervals' worth of application messages, one every half interval, and never a ping.
        for (var i = 0; i < 20; i++)
        {
            await peer.SendStringAsync($"app {i}");
            await Task.Delay(Interval / 2);
        }
        Assert.False(answerer.Completion.IsCompleted, "the session ended although the peer kept talking");
        await Wait.UntilAsync(() => delivered.Count == 20, "every application message was delivered");
        Assert.Equal("app 0", delivered.ToArray()[0]);

        Assert.Equal(SessionEndReason.HeartbeatLost, (await answerer.Completion.WaitAsync(Wait.Long)).Reason);
    }

    [Fact]
    public async Task Disposing_ends_with_ClosedLocally_and_stops_every_loop()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        var pinger = Session(first, sendsPings: true, missedIntervals: 1000);
        pinger.Start();
        var draining = DrainAsync(peer);
        await Wait.UntilAsync(() => pinger.PingsSent >= 2, "two pings were sent");

        await pinger.DisposeAsync().AsTask().WaitAsync(Wait.Long);

        Assert.True(pinger.Completion.IsCompletedSuccessfully);
        Assert.Equal(SessionEndReason.ClosedLocally, (await pinger.Completion).Reason);
        Assert.Equal("closed", (await draining.WaitAsync(Wait.Long)).End);
        var sentAtDispose = pinger.PingsSent;
        await Task.Delay(Interval * 4);
        Assert.Equal(sentAtDispose, pinger.PingsSent);
    }

    [Fact]
    public async Task Disposing_before_start_releases_the_transport()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        var session = Session(first, sendsPings: true);

        await session.DisposeAsync();

        Assert.Equal(SessionEndReason.ClosedLocally, (await session.Completion.WaitAsync(Wait.Long)).Reason);
        Assert.Equal("closed", (await DrainAsync(peer).WaitAsync(Wait.Long)).End);
        Assert.Throws<ObjectDisposedException>(() => session.Start());
    }

    [Fact]
    public async Task Cancelling_the_start_token_ends_with_ClosedLocally()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        await using var session = Session(first, sendsPings: false, missedIntervals: 1000);
        using var cancellation = new CancellationTokenSource();
        session.Start(cancellation.Token);

        cancellation.Cancel();

        Assert.Equal(SessionEndReason.ClosedLocally, (await session.Completion.WaitAsync(Wait.Long)).Reason);
        Assert.Equal("closed", (await DrainAsync(peer).WaitAsync(Wait.Long)).End);
    }

    [Fact]
    public async Task Peer_close_ends_with_ClosedByPeer()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        await using var session = Session(first, sendsPings: false, missedIntervals: 1000);
        session.Start();

        await peer.CloseAsync();

        Assert.Equal(SessionEndReason.ClosedByPeer, (await session.Completion.WaitAsync(Wait.Long)).Reason);
    }

    [Fact]
    public async Task A_peer_that_vanishes_ends_with_TransportFailed()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        await using var session = Session(first, sendsPings: false, missedIntervals: 1000);
        session.Start();

        await peer.DisposeAsync();

        Assert.Equal(SessionEndReason.TransportFailed, (await session.Completion.WaitAsync(Wait.Long)).Reason);
    }

    [Fact]
    public async Task An_undecodable_message_ends_with_Malformed()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        await using var session = Session(first, sendsPings: false, missedIntervals: 1000);
        session.Start();

        await peer.SendAsync(new byte[] { 0xff, 0xfe });

        var end = await session.Completion.WaitAsync(Wait.Long);
        Assert.Equal(SessionEndReason.Malformed, end.Reason);
        Assert.Equal("not UTF-8", end.Detail);
        Assert.Equal("closed", (await DrainAsync(peer).WaitAsync(Wait.Long)).End);
    }

    [Fact]
    public async Task An_oversized_message_ends_with_Malformed()
    {
        var (first, peer) = InMemoryTransport.CreatePair(maxMessageSize: 8);
        await using var session = Session(first, sendsPings: false, missedIntervals: 1000);
        session.Start();

        await peer.SendStringAsync("far too long for eight bytes");

        var end = await session.Completion.WaitAsync(Wait.Long);
        Assert.Equal(SessionEndReason.Malformed, end.Reason);
        Assert.Contains("8-byte limit", end.Detail);
    }

    [Fact]
    public async Task A_throwing_callback_ends_with_HandlerFailed_and_no_exception_escapes()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        await using var session = Session(first, sendsPings: false, missedIntervals: 1000,
            onMessage: (_, _) => throw new InvalidOperationException("bug in the app"));
        session.Start();

        await peer.SendStringAsync("hello");

        var end = await session.Completion.WaitAsync(Wait.Long);
        Assert.Equal(SessionEndReason.HandlerFailed, end.Reason);
        Assert.Contains("bug in the app", end.Detail);
    }

    [Fact]
    public async Task The_callback_may_dispose_the_session_without_deadlock()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        HeartbeatSession<string>? session = null;
        session = Session(first, sendsPings: false, missedIntervals: 1000,
            onMessage: async (_, _) => await session!.DisposeAsync());
        session.Start();

        await peer.SendStringAsync("bye");

        Assert.Equal(SessionEndReason.ClosedLocally, (await session.Completion.WaitAsync(Wait.Long)).Reason);
        await session.DisposeAsync().AsTask().WaitAsync(Wait.Long);
    }

    [Fact]
    public async Task Application_messages_flow_both_ways_and_SendAsync_fails_after_the_end()
    {
        var (first, peer) = InMemoryTransport.CreatePair();
        var delivered = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var session = Session(first, sendsPings: false, missedIntervals: 1000,
            onMessage: (m, _) => { delivered.TrySetResult(m); return default; });
        session.Start();

        await session.SendAsync("from session");
        Assert.Equal("from session", await peer.ReceiveStringAsync().WaitAsync(Wait.Long));
        await peer.SendStringAsync("from peer");
        Assert.Equal("from peer", await delivered.Task.WaitAsync(Wait.Long));

        await session.DisposeAsync();
        var error = await Assert.ThrowsAsync<TransportException>(() => session.SendAsync("too late").AsTask());
        Assert.Equal(TransportError.Closed, error.Error);
    }

    [Fact]
    public async Task Heartbeat_runs_over_WebSocket_and_a_client_dispose_ends_the_server_session_with_ClosedByPeer()
    {
        var serverEnd = new TaskCompletionSource<SessionEnd>(TaskCreationOptions.RunContinuationsAsynchronously);
        var serverAnswered = 0;
        var server = new HandshakeServer { ShutdownTimeout = TimeSpan.FromSeconds(2) };
        await using var _ = server;
        server.MapHandshake("/session", async (transport, _, ct) =>
        {
            await using var session = Session(transport, sendsPings: false, missedIntervals: 40);
            session.Start(ct);
            var end = await session.Completion;
            Volatile.Write(ref serverAnswered, session.PingsAnswered);
            serverEnd.TrySetResult(end);
        });
        await server.StartAsync();

        var client = await WebSocketTransport.ConnectAsync(server.GetUri("/session"));
        var pinger = Session(client, sendsPings: true, missedIntervals: 40);
        pinger.Start();
        await Wait.UntilAsync(() => pinger.PongsReceived >= 3, "three pongs came back over the WebSocket");

        await pinger.DisposeAsync().AsTask().WaitAsync(Wait.Long);

        Assert.True(pinger.Completion.IsCompletedSuccessfully);
        Assert.Equal(SessionEndReason.ClosedLocally, (await pinger.Completion).Reason);
        var end = await serverEnd.Task.WaitAsync(Wait.Long);
        Assert.Equal(SessionEndReason.ClosedByPeer, end.Reason);
        Assert.True(Volatile.Read(ref serverAnswered) >= 3);
    }

    /// <summary>Strings, except that "garbage" does not decode.</summary>
    private sealed class PickyCodec : IMessageCodec<string>
    {
        public void Encode(string message, System.Buffers.IBufferWriter<byte> output) => StringCodec.Instance.Encode(message, output);

        public bool TryDecode(ReadOnlySpan<byte> data, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? message, out DecodeError error)
        {
            if (data.SequenceEqual("garbage"u8))
            {
                message = null;
                error = new DecodeError(DecodeErrorKind.InvalidSyntax, null, null, "garbage");
                return false;
            }
            return StringCodec.Instance.TryDecode(data, out message, out error);
        }

        public string GetName(string message) => message;
    }

    [Theory]
    [InlineData("a silent peer", 1011)]
    [InlineData("garbage", 1008)]
    [InlineData("a message over 64 KiB", 1009)]
    public async Task A_session_that_ends_over_WebSocket_closes_with_the_status_for_why(string peer, int status)
    {
        var server = new HandshakeServer { ShutdownTimeout = TimeSpan.FromSeconds(2) };
        await using var _ = server;
        server.MapHandshake("/session", async (transport, _, ct) =>
        {
            await using var session = new HeartbeatSession<string>(transport, new PickyCodec(), StringHeartbeat.Instance,
                new HeartbeatOptions { Interval = Interval, SendsPings = false });
            session.Start(ct);
            await session.Completion;
        });
        await server.StartAsync();
        await using var client = await RawWebSocketClient.ConnectAsync(server.GetUri("/session"));

        if (peer == "garbage") await client.SendTextAsync("garbage");
        if (peer == "a message over 64 KiB") await client.SendTextAsync(new string('a', 64 * 1024 + 1));

        Assert.Equal($"close {status}, end of stream", (await client.ReadUntilEndAsync()).ToString());
    }
}
