using System;
using System.Buffers;
using System.Text;
using System.Threading.Tasks;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Channels;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Transports;
using Xunit;

namespace Dsl.Protocols.Tests.Channels;

/// <summary>
/// The secure channel a spec declares (<c>session.channel</c>), opened with a real handshake's keys: the generated
/// OpenChannel pairs each role's send key with the other's receive key, and the channel refuses what an attacker on
/// the wire does to its frames. The test sits on the wire: every frame the initiator's channel sends reaches the
/// responder's only if the test forwards it.
/// </summary>
public sealed class SttChannelTests
{
    private static readonly Bytes Seed = new(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));

    private static async Task<(SttInitiatorResult Initiator, SttResponderResult Responder)> HandshakeAsync()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var responder = new SttResponder(new SttResponderInputs { NodeId = new Bytes(new byte[32]), SharedSeed = Seed }).RunAsync(b).AsTask();
        var initiator = (await new SttInitiator(new SttInitiatorInputs { NodeId = new Bytes(Filled(1)), SharedSeed = Seed }).RunAsync(a)).GetResultOrThrow();
        return (initiator, (await responder).GetResultOrThrow());
    }

    private static byte[] Filled(byte value)
    {
        var bytes = new byte[32];
        Array.Fill(bytes, value);
        return bytes;
    }

    /// <summary>The two channels, with the test between them: it reads the initiator's frames and forwards what it chooses.</summary>
    private sealed class Wire
    {
        public required SecureChannel Initiator { get; init; }
        public required SecureChannel Responder { get; init; }
        public required IMessageTransport FromInitiator { get; init; }
        public required IMessageTransport ToResponder { get; init; }

        public async Task<byte[]> SealAsync(string text)
        {
            await Initiator.SendAsync(Encoding.UTF8.GetBytes(text));
            var frame = new ArrayBufferWriter<byte>();
            Assert.True(await FromInitiator.ReceiveAsync(frame));
            return frame.WrittenSpan.ToArray();
        }

        public async Task<string> DeliverAsync(byte[] frame)
        {
            await ToResponder.SendAsync(frame);
            var text = new ArrayBufferWriter<byte>();
            Assert.True(await Responder.ReceiveAsync(text));
            return Encoding.UTF8.GetString(text.WrittenSpan);
        }
    }

    private static async Task<Wire> OpenAsync()
    {
        var (initiator, responder) = await HandshakeAsync();
        var (x1, x2) = InMemoryTransport.CreatePair();
        var (y1, y2) = InMemoryTransport.CreatePair();
        return new Wire
        {
            Initiator = SttInitiator.OpenChannel(x1, initiator),
            Responder = SttResponder.OpenChannel(y2, responder),
            FromInitiator = x2,
            ToResponder = y1,
        };
    }

    [Fact]
    public async Task Application_frames_cross_the_channel_both_ways_and_are_not_plaintext()
    {
        var (initiator, responder) = await HandshakeAsync();
        var (a, b) = InMemoryTransport.CreatePair();
        await using var ic = SttInitiator.OpenChannel(a, initiator);
        await using var rc = SttResponder.OpenChannel(b, responder);
        await ic.SendAsync("hello over STT"u8.ToArray());
        var received = new ArrayBufferWriter<byte>();
        Assert.True(await rc.ReceiveAsync(received));
        Assert.Equal("hello over STT", Encoding.UTF8.GetString(received.WrittenSpan));
        await rc.SendAsync("and back"u8.ToArray());
        received.Clear();
        Assert.True(await ic.ReceiveAsync(received));
        Assert.Equal("and back", Encoding.UTF8.GetString(received.WrittenSpan));

        var wire = await OpenAsync();
        var frame = await wire.SealAsync("secret words");
        Assert.DoesNotContain("secret", Encoding.UTF8.GetString(frame));
    }

    [Fact]
    public async Task A_tampered_frame_is_refused()
    {
        var wire = await OpenAsync();
        var frame = await wire.SealAsync("pay 10");
        frame[10] ^= 1;
        var error = await Assert.ThrowsAsync<SecureChannelException>(() => wire.DeliverAsync(frame));
        Assert.Equal(SecureChannelError.NotAuthentic, error.Error);
    }

    [Fact]
    public async Task A_replayed_frame_is_refused()
    {
        var wire = await OpenAsync();
        var frame = await wire.SealAsync("pay 10");
        Assert.Equal("pay 10", await wire.DeliverAsync(frame));
        var error = await Assert.ThrowsAsync<SecureChannelException>(() => wire.DeliverAsync(frame));
        Assert.Equal(SecureChannelError.Replayed, error.Error);
    }

    [Fact]
    public async Task A_reordered_frame_is_refused()
    {
        var wire = await OpenAsync();
        var first = await wire.SealAsync("one");
        var second = await wire.SealAsync("two");
        _ = first;
        var error = await Assert.ThrowsAsync<SecureChannelException>(() => wire.DeliverAsync(second));
        Assert.Equal(SecureChannelError.OutOfOrder, error.Error);
    }

    [Fact]
    public async Task An_injected_frame_is_refused_even_one_sealed_in_another_session()
    {
        var wire = await OpenAsync();
        var other = await OpenAsync();
        var foreign = await other.SealAsync("from another session");
        var error = await Assert.ThrowsAsync<SecureChannelException>(() => wire.DeliverAsync(foreign));
        Assert.Equal(SecureChannelError.NotAuthentic, error.Error);
    }
}

/// <summary>
/// The same channel over real UDP on loopback, in Datagram mode, with the network duplicating and reordering
/// datagrams: every frame that arrives is accepted once, in whatever order, and never twice.
/// </summary>
public sealed class SttChannelOverUdpTests
{
    private static readonly Bytes Seed = new(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));

    [Fact]
    public async Task Reordered_datagrams_are_accepted_once_each_and_duplicates_never()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var responding = new SttResponder(new SttResponderInputs { NodeId = new Bytes(new byte[32]), SharedSeed = Seed }).RunAsync(b).AsTask();
        var initiator = (await new SttInitiator(new SttInitiatorInputs { NodeId = new Bytes(System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Repeat((byte)1, 32))), SharedSeed = Seed }).RunAsync(a)).GetResultOrThrow();
        var responder = (await responding).GetResultOrThrow();

        await using var left = new Dsl.Runtime.Transports.Udp.UdpEndpoint();
        await using var right = new Dsl.Runtime.Transports.Udp.UdpEndpoint();
        // The network under the initiator duplicates and reorders (it loses nothing, so the count below is exact).
        var faults = new Dsl.Runtime.Transports.Udp.FaultOptions { Duplication = 0.3, Reordering = 0.5, ReorderWindow = TimeSpan.FromMilliseconds(30) };
        var network = new Dsl.Runtime.Transports.Udp.FaultInjectingTransport(left.Connect(right.LocalEndPoint), faults, seed: 7);
        await using var sender = SttInitiator.OpenChannel(network, initiator, SecureChannelMode.Datagram);
        await sender.SendAsync("0"u8.ToArray());
        await using var receiver = SttResponder.OpenChannel(await right.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)), responder, SecureChannelMode.Datagram);

        var seen = new System.Collections.Generic.HashSet<int>();
        var refused = 0;
        using var timeout = new System.Threading.CancellationTokenSource(TimeSpan.FromSeconds(10));
        var receiving = Task.Run(async () =>
        {
            var frame = new ArrayBufferWriter<byte>();
            while (seen.Count < 40)
            {
                frame.Clear();
                try
                {
                    if (!await receiver.ReceiveAsync(frame, timeout.Token)) break;
                }
                catch (SecureChannelException e) when (e.Error is SecureChannelError.Replayed or SecureChannelError.TooOld)
                {
                    refused++;
                    continue;
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                Assert.True(seen.Add(int.Parse(Encoding.UTF8.GetString(frame.WrittenSpan), System.Globalization.CultureInfo.InvariantCulture)), "a frame was accepted twice");
            }
        });
        // Paced, as a real sender is: a burst faster than the receiver reads would overflow its socket queue (a loss, not what this test is about).
        for (var i = 1; i < 40; i++)
        {
            await sender.SendAsync(Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            await Task.Delay(2);
        }
        await receiving;
        // The last duplicates may still be on their way: give them a moment to be refused too.
        await Task.Delay(100);
        Assert.True(40 == seen.Count, $"seen {seen.Count}, refused {refused}, dropped {network.Dropped}/{left.DatagramsDropped}/{right.DatagramsDropped}, dup {network.Duplicated}, reordered {network.Reordered}, missing {string.Join(",", System.Linq.Enumerable.Where(System.Linq.Enumerable.Range(0, 40), i => !seen.Contains(i)))}");
        Assert.True(network.Duplicated > 0 && network.Reordered > 0, "the network duplicated and reordered");
        Assert.True(refused > 0, "duplicates were refused");
        Assert.True(refused <= network.Duplicated);
    }
}
