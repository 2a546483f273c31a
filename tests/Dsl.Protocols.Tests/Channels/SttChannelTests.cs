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
