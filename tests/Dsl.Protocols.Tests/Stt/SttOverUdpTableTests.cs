using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
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

/// <summary>
/// The STT responder kept in a UDP handshake table (a row per waiting handshake, no task or transport each) against a
/// real initiator through the UDP handshake manager: clean, lossy, refused, silent; and what a waiting row costs.
/// </summary>
public sealed class SttOverUdpTableTests
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

    /// <summary>Retransmits once, after 5 s: a silent peer is ended by a timeout, not by running out of retransmissions.</summary>
    private static readonly ReliabilityOptions Patient = new() { InitialTimeout = TimeSpan.FromSeconds(5), MaxTimeout = TimeSpan.FromSeconds(5), MaxRetransmits = 1 };

    private static UdpHandshakeTable<SttMessage, SttResponderResult> Table(ConcurrentQueue<HandshakeOutcome<SttResponderResult>> outcomes,
        HandshakeOptions? options = null, HandshakeHostOptions? host = null, ReliabilityOptions? reliability = null)
        => new(host ?? new HandshakeHostOptions { Port = 0 },
            () => new SttResponder(new SttResponderInputs { NodeId = NodeB, SharedSeed = Seed }, options),
            SttCodec.Instance,
            (_, outcome) => outcomes.Enqueue(outcome),
            udp: new UdpHandshakeOptions { Reliability = reliability ?? Fast, Linger = TimeSpan.FromSeconds(2) });

    private static async Task<HandshakeOutcome<SttInitiatorResult>> ConnectAsync(IPEndPoint server, Bytes seed, int? faultSeed = null)
    {
        FaultOptions faults = new() { Loss = 0.20, Duplication = 0.10, Reordering = 0.10, MaxDelay = TimeSpan.FromMilliseconds(20) };
        var options = new UdpHandshakeOptions
        {
            Reliability = Fast,
            WrapTransport = faultSeed is { } s ? t => new FaultInjectingTransport(t, faults, s) : null,
        };
        await using var clientEndpoint = new UdpEndpoint();
        await using var client = new UdpHandshakeManager(clientEndpoint, options);
        var entry = client.Create(server,
            (transport, ct) => new SttInitiator(new SttInitiatorInputs { NodeId = NodeA, SharedSeed = seed }).RunAsync(transport, ct));
        return await entry.Outcome.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task UntilAsync(Func<bool> condition, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > within) throw new TimeoutException("Timed out waiting");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Both_nodes_derive_the_same_session_and_the_row_leaves_the_table()
    {
        var outcomes = new ConcurrentQueue<HandshakeOutcome<SttResponderResult>>();
        await using var table = Table(outcomes);
        await table.StartAsync();

        var initiator = await ConnectAsync(table.LocalEndPoint, Seed);
        Assert.True(initiator.Succeeded, initiator.ToString());
        await UntilAsync(() => !outcomes.IsEmpty, TimeSpan.FromSeconds(10));
        Assert.True(outcomes.TryDequeue(out var responder));
        Assert.True(responder.Succeeded, responder.ToString());
        Assert.Equal(initiator.Result.SessionId, responder.Result.SessionId);
        Assert.True(initiator.Result.SessionKey.ContentEquals(responder.Result.SessionKey));
        Assert.Equal(0, table.Count);
        // The address was checked first (a stateless retry), and the last flight lingers at the endpoint.
        Assert.True(table.Endpoint.RetriesSent >= 1);
        Assert.Equal(1, table.Endpoint.LingeringCount);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_link_that_loses_duplicates_and_reorders_datagrams_still_completes_once(int faultSeed)
    {
        var outcomes = new ConcurrentQueue<HandshakeOutcome<SttResponderResult>>();
        await using var table = Table(outcomes);
        await table.StartAsync();

        var initiator = await ConnectAsync(table.LocalEndPoint, Seed, faultSeed);
        Assert.True(initiator.Succeeded, initiator.ToString());
        await UntilAsync(() => !outcomes.IsEmpty, TimeSpan.FromSeconds(10));
        await Task.Delay(500);
        // One handshake, however many datagrams were repeated: one outcome, and the same session.
        var responder = Assert.Single(outcomes);
        Assert.True(responder.Succeeded, responder.ToString());
        Assert.Equal(initiator.Result!.SessionId, responder.Result!.SessionId);
    }

    [Fact]
    public async Task A_wrong_seed_fails_at_AUTH_PROOF_and_the_peer_is_told()
    {
        var outcomes = new ConcurrentQueue<HandshakeOutcome<SttResponderResult>>();
        await using var table = Table(outcomes);
        await table.StartAsync();

        var initiator = await ConnectAsync(table.LocalEndPoint, new Bytes(Encoding.UTF8.GetBytes("different_seed_32bytes_long!!!!!")));
        Assert.Equal(SttErrorCodes.WrongSeed, initiator.Error?.Code);
        await UntilAsync(() => !outcomes.IsEmpty, TimeSpan.FromSeconds(10));
        Assert.True(outcomes.TryDequeue(out var responder));
        Assert.Equal(SttErrorCodes.WrongSeed, responder.Error?.Code);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task A_peer_that_falls_silent_after_HELLO_is_failed_by_the_step_timeout_and_its_row_freed()
    {
        var outcomes = new ConcurrentQueue<HandshakeOutcome<SttResponderResult>>();
        await using var table = Table(outcomes, SttResponder.DefaultOptions with { StepTimeout = TimeSpan.FromMilliseconds(300) }, reliability: Patient);
        await table.StartAsync();

        await SendHelloAndFallSilentAsync(table.LocalEndPoint, NewHello(), new IPEndPoint(IPAddress.Loopback, 0));
        await UntilAsync(() => table.Count == 1, TimeSpan.FromSeconds(10));
        await UntilAsync(() => !outcomes.IsEmpty, TimeSpan.FromSeconds(10));
        Assert.True(outcomes.TryDequeue(out var responder));
        Assert.Equal(HandshakeErrorCodes.StepTimeout, responder.Error?.Code);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task The_hosts_step_timeout_stands_over_the_machines_own()
    {
        var outcomes = new ConcurrentQueue<HandshakeOutcome<SttResponderResult>>();
        // The machine would wait 10 minutes for AUTH_PROOF; the host says 300 ms.
        await using var table = Table(outcomes, SttResponder.DefaultOptions with { StepTimeout = TimeSpan.FromMinutes(10) },
            new HandshakeHostOptions { Port = 0, StepTimeout = TimeSpan.FromMilliseconds(300) }, Patient);
        await table.StartAsync();

        await SendHelloAndFallSilentAsync(table.LocalEndPoint, NewHello(), new IPEndPoint(IPAddress.Loopback, 0));
        await UntilAsync(() => !outcomes.IsEmpty, TimeSpan.FromSeconds(10));
        Assert.True(outcomes.TryDequeue(out var responder));
        Assert.Equal(HandshakeErrorCodes.StepTimeout, responder.Error?.Code);
    }

    [Fact]
    public async Task Stopping_fails_the_waiting_handshakes_as_cancelled_and_frees_every_row()
    {
        var outcomes = new ConcurrentQueue<HandshakeOutcome<SttResponderResult>>();
        var table = Table(outcomes, host: new HandshakeHostOptions { Port = 0, StopTimeout = TimeSpan.FromMilliseconds(200) });
        await table.StartAsync();
        for (var i = 0; i < 3; i++)
            await SendHelloAndFallSilentAsync(table.LocalEndPoint, NewHello(), new IPEndPoint(IPAddress.Loopback, 0));
        await UntilAsync(() => table.Count == 3, TimeSpan.FromSeconds(10));

        await table.DisposeAsync();
        Assert.Equal(0, table.Count);
        Assert.Equal(3, outcomes.Count);
        Assert.All(outcomes, o => Assert.Equal(HandshakeErrorCodes.Cancelled, o.Error?.Code));
    }

    /// <summary>A replay cache whose calls never return (a database that hangs), whatever the token says.</summary>
    internal sealed class HangingReplayCache : Dsl.Runtime.Services.IReplayCache
    {
        public ValueTask<bool> TryAddAsync(Bytes key, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken)
            => new(new TaskCompletionSource<bool>().Task);
    }

    [Fact]
    public async Task A_store_that_never_returns_holds_no_row_past_the_handshake_timeout()
    {
        // Any spec's responder runs in the table; Mesh's checks its replay cache on the first message.
        using var a = new Dsl.Protocols.Tests.Mesh.Node();
        using var b = new Dsl.Protocols.Tests.Mesh.Node { Replay = new HangingReplayCache() };
        var outcomes = new ConcurrentQueue<HandshakeOutcome<Dsl.Protocols.Mesh.MeshResponderResult>>();
        var brief = Dsl.Protocols.Mesh.MeshResponder.DefaultOptions with { HandshakeTimeout = TimeSpan.FromMilliseconds(400), ErrorDeliveryTimeout = TimeSpan.FromMilliseconds(100) };
        await using var table = new UdpHandshakeTable<Dsl.Protocols.Mesh.MeshMessage, Dsl.Protocols.Mesh.MeshResponderResult>(new HandshakeHostOptions { Port = 0 },
            () => b.Responder(brief), Dsl.Protocols.Mesh.MeshCodec.Instance, (_, outcome) => outcomes.Enqueue(outcome), udp: new UdpHandshakeOptions { Reliability = Fast });
        await table.StartAsync();

        var syn = (await a.Initiator().StartAsync("127.0.0.1", CancellationToken.None)).Message!;
        using var buffer = new PooledBufferWriter();
        Dsl.Protocols.Mesh.MeshCodec.Instance.Encode(syn, buffer);
        _ = SendHelloAndFallSilentAsync(table.LocalEndPoint, buffer.WrittenSpan.ToArray(), new IPEndPoint(IPAddress.Loopback, 0));
        await UntilAsync(() => table.Count == 1, TimeSpan.FromSeconds(10));
        await UntilAsync(() => !outcomes.IsEmpty, TimeSpan.FromSeconds(10));
        Assert.True(outcomes.TryDequeue(out var responder));
        Assert.Equal(HandshakeErrorCodes.HandshakeTimeout, responder.Error?.Code);
        Assert.Equal(0, table.Count);
    }

    private static byte[] NewHello()
    {
        var initiator = new SttInitiator(new SttInitiatorInputs { NodeId = NodeA, SharedSeed = Seed });
        var hello = initiator.StartAsync("10.0.0.1", CancellationToken.None).AsTask().GetAwaiter().GetResult().Message!;
        using var buffer = new PooledBufferWriter();
        SttCodec.Instance.Encode(hello, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A peer at <paramref name="bind"/> proves its address, sends its HELLO behind the cookie, waits for the RESPONSE, and says nothing more.</summary>
    private static async Task SendHelloAndFallSilentAsync(IPEndPoint server, byte[] hello, IPEndPoint bind)
    {
        using var socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(bind);
        var buffer = new byte[8192];
        var datagram = hello;
        for (var attempt = 0; ; attempt++)
        {
            await socket.SendToAsync(datagram, server);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                var got = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), wait.Token);
                // The retry: FF 'R' and a 16-byte cookie, echoed as FF 'C', the cookie, then the HELLO (docs/runtime.md).
                if (got.ReceivedBytes == 18 && buffer[0] == 0xFF) datagram = [0xFF, (byte)'C', .. buffer.AsSpan(2, 16), .. hello];
                else return;
            }
            catch (OperationCanceledException) when (attempt < 10)
            {
            }
        }
    }
}
