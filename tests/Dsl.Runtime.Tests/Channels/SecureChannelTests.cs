using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Threading.Tasks;
using Dsl.Runtime.Channels;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Transports;
using Xunit;

namespace Dsl.Runtime.Tests.Channels;

public sealed class SecureChannelTests
{
    // A seals with ToB, B with ToA: each side's send key is the other's receive key.
    private static readonly byte[] ToB = Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    private static readonly byte[] ToA = Convert.FromHexString("f0f1f2f3f4f5f6f7f8f9fafbfcfdfefff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");

    private static readonly SecureChannelOptions Datagram = new() { Mode = SecureChannelMode.Datagram };

    private static (SecureChannel A, SecureChannel B) Pair(SecureChannelOptions? options = null, int maxMessageSize = 64 * 1024)
    {
        var (a, b) = InMemoryTransport.CreatePair(maxMessageSize);
        return (SecureChannel.Create(a, ToB, ToA, options), SecureChannel.Create(b, ToA, ToB, options));
    }

    private static async Task<byte[]?> ReceiveAsync(IMessageTransport transport)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Bounded only so that a broken channel fails the test instead of hanging it.
        return await transport.ReceiveAsync(buffer).AsTask().WaitAsync(Wait.Long) ? buffer.WrittenSpan.ToArray() : null;
    }

    private static async Task<SecureChannelError> RefusedAsync(Func<Task> action)
        => (await Assert.ThrowsAsync<SecureChannelException>(action)).Error;

    /// <summary>
    /// A sender whose frames the test reads off the wire, and a receiver the test writes frames to,
    /// so that frames can be held back, reordered, replayed and altered.
    /// </summary>
    private sealed class Wiretap
    {
        private readonly IMessageTransport _senderWire;

        public Wiretap(SecureChannelOptions? options = null)
        {
            var (sending, senderWire) = InMemoryTransport.CreatePair();
            var (receiverWire, receiving) = InMemoryTransport.CreatePair();
            _senderWire = senderWire;
            ReceiverWire = receiverWire;
            Sender = SecureChannel.Create(sending, ToB, ToA, options);
            Receiver = SecureChannel.Create(receiving, ToA, ToB, options);
        }

        public SecureChannel Sender { get; }

        public SecureChannel Receiver { get; }

        /// <summary>Writes to the receiver's inner transport directly.</summary>
        public IMessageTransport ReceiverWire { get; }

        public async Task<byte[]> SealAsync(byte[] message)
        {
            await Sender.SendAsync(message);
            return (await ReceiveAsync(_senderWire))!;
        }

        public async Task<List<byte[]>> SealAsync(int count)
        {
            var frames = new List<byte[]>();
            for (var i = 0; i < count; i++) frames.Add(await SealAsync(Message(i)));
            return frames;
        }

        public async Task<byte[]?> DeliverAsync(byte[] frame)
        {
            await ReceiverWire.SendAsync(frame);
            return await ReceiveAsync(Receiver);
        }

        public async Task<SecureChannelError> RefusedAsync(byte[] frame)
        {
            await ReceiverWire.SendAsync(frame);
            return await SecureChannelTests.RefusedAsync(() => ReceiveAsync(Receiver));
        }
    }

    private static byte[] Message(int i) => [.. "message "u8, (byte)i];

    private static byte[] Flip(byte[] frame, int index, byte mask = 0x01)
    {
        var copy = (byte[])frame.Clone();
        copy[index] ^= mask;
        return copy;
    }

    private static void SkipUnlessAvailable(SecureChannelCipher cipher, out bool available)
    {
        available = SecureChannel.IsAvailable(cipher);
        if (!available)
        {
            // The one thing to check on such a machine: the refusal is clear.
            var (a, _) = InMemoryTransport.CreatePair();
            var error = Assert.Throws<NotSupportedException>(() => SecureChannel.Create(a, ToB, ToA, new SecureChannelOptions { Cipher = cipher }));
            Assert.Contains("hardware AES", error.Message);
        }
    }

    [Theory]
    [InlineData(SecureChannelCipher.ChaCha20Poly1305, SecureChannelMode.Ordered)]
    [InlineData(SecureChannelCipher.ChaCha20Poly1305, SecureChannelMode.Datagram)]
    [InlineData(SecureChannelCipher.Aes256Gcm, SecureChannelMode.Ordered)]
    [InlineData(SecureChannelCipher.Aes256Gcm, SecureChannelMode.Datagram)]
    public async Task Messages_round_trip_in_both_directions(SecureChannelCipher cipher, SecureChannelMode mode)
    {
        SkipUnlessAvailable(cipher, out var available);
        if (!available) return;
        var (a, b) = Pair(new SecureChannelOptions { Cipher = cipher, Mode = mode });

        for (var i = 0; i < 5; i++) await a.SendAsync(Message(i));
        await b.SendAsync("reply"u8.ToArray());

        for (var i = 0; i < 5; i++) Assert.Equal(Message(i), await ReceiveAsync(b));
        Assert.Equal("reply"u8.ToArray(), await ReceiveAsync(a));
        Assert.Equal(cipher, a.Cipher);
        Assert.Equal(mode, b.Mode);
        Assert.Equal("memory", a.RemoteAddress);
    }

    [Theory]
    [InlineData(SecureChannelCipher.ChaCha20Poly1305)]
    [InlineData(SecureChannelCipher.Aes256Gcm)]
    public async Task A_frame_is_the_big_endian_counter_then_the_AEAD_of_the_message_under_the_counter_nonce(SecureChannelCipher cipher)
    {
        SkipUnlessAvailable(cipher, out var available);
        if (!available) return;
        var binding = Bytes.FromHex("5e55101d");
        var tap = new Wiretap(new SecureChannelOptions { Cipher = cipher, ChannelBinding = binding });

        var frames = await tap.SealAsync(3);

        for (var sequence = 0; sequence < frames.Count; sequence++)
        {
            var frame = frames[sequence];
            var message = Message(sequence);
            Assert.Equal(SecureChannel.Overhead + message.Length, frame.Length);
            Assert.Equal((ulong)sequence, BinaryPrimitives.ReadUInt64BigEndian(frame));
            // Opened independently with the BCL: nonce 0x00000000 || header, associated data header || binding.
            byte[] nonce = [0, 0, 0, 0, .. frame.AsSpan(0, 8)];
            byte[] associatedData = [.. frame.AsSpan(0, 8), .. binding.Span];
            var ciphertext = frame.AsSpan(8, message.Length);
            var tag = frame.AsSpan(8 + message.Length);
            var opened = new byte[message.Length];
            if (cipher == SecureChannelCipher.ChaCha20Poly1305)
            {
                using var aead = new ChaCha20Poly1305(ToB);
                aead.Decrypt(nonce, ciphertext, tag, opened, associatedData);
            }
            else
            {
                using var aead = new AesGcm(ToB, SecureChannel.TagSize);
                aead.Decrypt(nonce, ciphertext, tag, opened, associatedData);
            }
            Assert.Equal(message, opened);
        }
    }

    [Fact]
    public async Task An_empty_message_travels_as_a_bare_header_and_tag()
    {
        var tap = new Wiretap();
        var frame = await tap.SealAsync(Array.Empty<byte>());
        Assert.Equal(SecureChannel.Overhead, frame.Length);
        Assert.Equal(Array.Empty<byte>(), await tap.DeliverAsync(frame));
        // A tag over nothing is still checked.
        Assert.Equal(SecureChannelError.NotAuthentic, await new Wiretap(Datagram).RefusedAsync(Flip(frame, frame.Length - 1)));
    }

    [Fact]
    public async Task The_largest_message_is_the_inner_limit_less_the_overhead()
    {
        var (a, b) = Pair(maxMessageSize: 1024);
        Assert.Equal(1024 - 24, a.MaxMessageSize);

        var largest = RandomNumberGenerator.GetBytes(a.MaxMessageSize);
        await a.SendAsync(largest);
        Assert.Equal(largest, await ReceiveAsync(b));

        await a.SendAsync(new byte[a.MaxMessageSize + 1]);
        var error = await Assert.ThrowsAsync<TransportException>(() => ReceiveAsync(b));
        Assert.Equal(TransportError.MessageTooLarge, error.Error);
    }

    [Fact]
    public async Task Every_altered_byte_is_refused_and_the_genuine_frame_is_still_accepted_after()
    {
        var tap = new Wiretap(Datagram);
        var frame = await tap.SealAsync(Message(7));

        // Header, body and tag. Datagram mode, so one receiver sees them all; a changed header names a
        // later frame, which must not move the window either.
        for (var i = 0; i < frame.Length; i++)
        {
            Assert.Equal(SecureChannelError.NotAuthentic, await tap.RefusedAsync(Flip(frame, i)));
            Assert.Equal(SecureChannelError.NotAuthentic, await tap.RefusedAsync(Flip(frame, i, 0x80)));
        }
        Assert.Equal(SecureChannelError.NotAuthentic, await tap.RefusedAsync(frame[..^1]));
        Assert.Equal(SecureChannelError.NotAuthentic, await tap.RefusedAsync([.. frame, 0]));

        Assert.Equal(Message(7), await tap.DeliverAsync(frame));
    }

    [Fact]
    public async Task Ordered_a_tampered_frame_is_refused_and_faults_the_channel()
    {
        var tap = new Wiretap();
        var frames = await tap.SealAsync(2);

        Assert.Equal(SecureChannelError.NotAuthentic, await tap.RefusedAsync(Flip(frames[0], 12)));

        // Faulted: even the genuine frame is refused, sends fail, the keys are wiped, the inner transport is gone.
        Assert.Equal(SecureChannelError.Faulted, await RefusedAsync(() => ReceiveAsync(tap.Receiver)));
        var send = await Assert.ThrowsAsync<SecureChannelException>(() => tap.Receiver.SendAsync(Message(0)).AsTask());
        Assert.Equal(SecureChannelError.Faulted, send.Error);
        Assert.Equal(SecureChannelError.NotAuthentic, Assert.IsType<SecureChannelException>(send.InnerException).Error);
        Assert.Equal((false, false), tap.Receiver.KeysHeld);
        var wire = await Assert.ThrowsAsync<TransportException>(() => tap.ReceiverWire.SendAsync(frames[0]).AsTask());
        Assert.Equal(TransportError.ConnectionReset, wire.Error);
    }

    [Fact]
    public async Task Ordered_a_replayed_frame_is_refused_and_faults_the_channel()
    {
        var tap = new Wiretap();
        var frames = await tap.SealAsync(2);

        Assert.Equal(Message(0), await tap.DeliverAsync(frames[0]));
        Assert.Equal(SecureChannelError.Replayed, await tap.RefusedAsync(frames[0]));
        Assert.Equal(SecureChannelError.Faulted, await RefusedAsync(() => ReceiveAsync(tap.Receiver)));
    }

    [Fact]
    public async Task Ordered_a_skipped_frame_is_refused_and_faults_the_channel()
    {
        var tap = new Wiretap();
        var frames = await tap.SealAsync(2);

        Assert.Equal(SecureChannelError.OutOfOrder, await tap.RefusedAsync(frames[1]));
        await Assert.ThrowsAsync<TransportException>(() => tap.ReceiverWire.SendAsync(frames[0]).AsTask());
        Assert.Equal(SecureChannelError.Faulted, await RefusedAsync(() => ReceiveAsync(tap.Receiver)));
    }

    [Fact]
    public async Task Ordered_an_injected_frame_is_refused_and_faults_the_channel()
    {
        var tap = new Wiretap();
        var forged = RandomNumberGenerator.GetBytes(40);
        BinaryPrimitives.WriteUInt64BigEndian(forged, 0);

        Assert.Equal(SecureChannelError.NotAuthentic, await tap.RefusedAsync(forged));
        Assert.Equal(SecureChannelError.Faulted, await RefusedAsync(() => ReceiveAsync(tap.Receiver)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(23)]
    public async Task A_frame_shorter_than_header_and_tag_is_refused(int length)
    {
        var datagram = new Wiretap(Datagram);
        Assert.Equal(SecureChannelError.FrameTooShort, await datagram.RefusedAsync(new byte[length]));
        Assert.Equal(Message(0), await datagram.DeliverAsync(await datagram.SealAsync(Message(0))));

        var ordered = new Wiretap();
        Assert.Equal(SecureChannelError.FrameTooShort, await ordered.RefusedAsync(new byte[length]));
        Assert.Equal(SecureChannelError.Faulted, await RefusedAsync(() => ReceiveAsync(ordered.Receiver)));
    }

    [Fact]
    public async Task Datagram_a_replayed_frame_is_refused_and_the_channel_goes_on()
    {
        var tap = new Wiretap(Datagram);
        var frames = await tap.SealAsync(2);

        Assert.Equal(Message(0), await tap.DeliverAsync(frames[0]));
        Assert.Equal(SecureChannelError.Replayed, await tap.RefusedAsync(frames[0]));
        Assert.Equal(Message(1), await tap.DeliverAsync(frames[1]));
        Assert.Equal(SecureChannelError.Replayed, await tap.RefusedAsync(frames[1]));
        Assert.Equal((true, true), tap.Receiver.KeysHeld);
    }

    [Fact]
    public async Task Datagram_reordered_frames_inside_the_window_are_accepted_exactly_once()
    {
        var tap = new Wiretap(Datagram);
        var frames = await tap.SealAsync(10);

        foreach (var i in new[] { 3, 1, 0, 2, 9, 5, 4, 8, 7, 6 })
            Assert.Equal(Message(i), await tap.DeliverAsync(frames[i]));
        foreach (var frame in frames)
            Assert.Equal(SecureChannelError.Replayed, await tap.RefusedAsync(frame));
    }

    [Fact]
    public async Task Datagram_a_frame_older_than_the_window_is_refused()
    {
        var tap = new Wiretap(Datagram);
        var frames = await tap.SealAsync(101);

        Assert.Equal(Message(100), await tap.DeliverAsync(frames[100]));
        // The default window of 64 holds 37..100.
        Assert.Equal(SecureChannelError.TooOld, await tap.RefusedAsync(frames[36]));
        Assert.Equal(Message(37), await tap.DeliverAsync(frames[37]));
        Assert.Equal(SecureChannelError.Replayed, await tap.RefusedAsync(frames[37]));
    }

    [Fact]
    public async Task Datagram_the_window_size_is_configurable()
    {
        var tap = new Wiretap(Datagram with { ReplayWindowSize = 8 });
        var frames = await tap.SealAsync(21);

        Assert.Equal(Message(20), await tap.DeliverAsync(frames[20]));
        Assert.Equal(SecureChannelError.TooOld, await tap.RefusedAsync(frames[12]));
        Assert.Equal(Message(13), await tap.DeliverAsync(frames[13]));
    }

    [Fact]
    public async Task Datagram_a_forged_frame_far_ahead_does_not_move_the_window()
    {
        var tap = new Wiretap(Datagram);
        var genuine = await tap.SealAsync(Message(0));
        var forged = RandomNumberGenerator.GetBytes(40);
        BinaryPrimitives.WriteUInt64BigEndian(forged, 1_000_000);

        Assert.Equal(SecureChannelError.NotAuthentic, await tap.RefusedAsync(forged));
        // Had the forgery moved the window to 1,000,000, frame 0 would now be too old.
        Assert.Equal(Message(0), await tap.DeliverAsync(genuine));
    }

    [Fact]
    public async Task Sending_past_the_frame_limit_fails_and_says_to_rekey_or_close()
    {
        var (a, b) = Pair(new SecureChannelOptions { MaxFrames = 3 });
        for (var i = 0; i < 3; i++) await a.SendAsync(Message(i));

        var error = await Assert.ThrowsAsync<SecureChannelException>(() => a.SendAsync(Message(3)).AsTask());
        Assert.Equal(SecureChannelError.Exhausted, error.Error);
        Assert.Contains("handshake", error.Message);
        Assert.Contains("close", error.Message);
        Assert.Equal(SecureChannelError.Exhausted, (await Assert.ThrowsAsync<SecureChannelException>(() => a.SendAsync(Message(3)).AsTask())).Error);

        for (var i = 0; i < 3; i++) Assert.Equal(Message(i), await ReceiveAsync(b));
        // Only this side's sending is spent: it still receives.
        await b.SendAsync(Message(9));
        Assert.Equal(Message(9), await ReceiveAsync(a));
    }

    [Fact]
    public void The_frame_limit_defaults_to_the_ciphers_own()
    {
        var (a, _) = Pair();
        Assert.Equal(ulong.MaxValue, a.MaxFrames);
        if (SecureChannel.IsAvailable(SecureChannelCipher.Aes256Gcm))
            Assert.Equal(1UL << 24, Pair(new SecureChannelOptions { Cipher = SecureChannelCipher.Aes256Gcm }).A.MaxFrames);
    }

    [Fact]
    public async Task After_dispose_sends_and_receives_fail_with_closed_and_the_keys_are_wiped()
    {
        var (a, b) = Pair();
        var pending = ReceiveAsync(a);
        await a.DisposeAsync();

        Assert.Equal((false, false), a.KeysHeld);
        Assert.Equal(SecureChannelError.Closed, await RefusedAsync(() => pending));
        Assert.Equal(SecureChannelError.Closed, await RefusedAsync(() => a.SendAsync(Message(0)).AsTask()));
        Assert.Equal(SecureChannelError.Closed, await RefusedAsync(() => ReceiveAsync(a)));
        // The peer sees the abrupt end of the inner transport.
        Assert.Equal(TransportError.ConnectionReset, (await Assert.ThrowsAsync<TransportException>(() => ReceiveAsync(b))).Error);
        await a.DisposeAsync();
    }

    [Fact]
    public async Task Close_ends_the_peers_receives_cleanly_and_wipes_only_the_send_key()
    {
        var (a, b) = Pair();
        await a.SendAsync(Message(1));
        await a.CloseAsync();

        Assert.Equal((false, true), a.KeysHeld);
        Assert.Equal(Message(1), await ReceiveAsync(b));
        Assert.Null(await ReceiveAsync(b));
        Assert.Equal(SecureChannelError.Closed, await RefusedAsync(() => a.SendAsync(Message(2)).AsTask()));

        await b.SendAsync(Message(3));
        Assert.Equal(Message(3), await ReceiveAsync(a));
        await a.DisposeAsync();
        Assert.Equal((false, false), a.KeysHeld);
    }

    [Fact]
    public async Task A_send_cancelled_before_it_starts_spends_no_sequence_number()
    {
        var (a, b) = Pair();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a.SendAsync(Message(0), new System.Threading.CancellationToken(canceled: true)).AsTask());

        // Ordered mode: had the cancelled send spent number 0, this frame would be refused as out of order.
        await a.SendAsync(Message(1));
        Assert.Equal(Message(1), await ReceiveAsync(b));
    }

    [Fact]
    public async Task Ordered_a_failed_inner_send_faults_the_channel()
    {
        var (inner, peer) = InMemoryTransport.CreatePair();
        var a = SecureChannel.Create(inner, ToB, ToA);
        await peer.DisposeAsync();

        Assert.Equal(TransportError.ConnectionReset, (await Assert.ThrowsAsync<TransportException>(() => a.SendAsync(Message(0)).AsTask())).Error);
        // Frame 0 was sealed but never delivered, so the peer would refuse frame 1: the channel stops instead.
        var next = await Assert.ThrowsAsync<SecureChannelException>(() => a.SendAsync(Message(1)).AsTask());
        Assert.Equal(SecureChannelError.Faulted, next.Error);
        Assert.IsType<TransportException>(next.InnerException);
        Assert.Equal((false, false), a.KeysHeld);
    }

    [Fact]
    public async Task Datagram_a_failed_inner_send_leaves_the_channel_usable()
    {
        var (inner, peer) = InMemoryTransport.CreatePair();
        var a = SecureChannel.Create(inner, ToB, ToA, Datagram);
        await peer.DisposeAsync();

        await Assert.ThrowsAsync<TransportException>(() => a.SendAsync(Message(0)).AsTask());
        // Lost frames are normal for datagrams: the next send is the inner transport's to refuse again.
        await Assert.ThrowsAsync<TransportException>(() => a.SendAsync(Message(1)).AsTask());
        Assert.Equal((true, true), a.KeysHeld);
    }

    [Fact]
    public async Task Frames_bound_to_another_channel_binding_are_not_authentic()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var sender = SecureChannel.Create(a, ToB, ToA, new SecureChannelOptions { ChannelBinding = Bytes.FromHex("01") });
        var receiver = SecureChannel.Create(b, ToA, ToB, new SecureChannelOptions { ChannelBinding = Bytes.FromHex("02") });

        await sender.SendAsync(Message(0));
        Assert.Equal(SecureChannelError.NotAuthentic, await RefusedAsync(() => ReceiveAsync(receiver)));
    }

    [Fact]
    public async Task Frames_under_another_key_are_not_authentic()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var sender = SecureChannel.Create(a, ToB, ToA);
        // The receiver opens with its own send key: the mistake of giving both sides the keys the same way round.
        var receiver = SecureChannel.Create(b, ToB, ToA);

        await sender.SendAsync(Message(0));
        Assert.Equal(SecureChannelError.NotAuthentic, await RefusedAsync(() => ReceiveAsync(receiver)));
    }

    [Fact]
    public async Task Concurrent_sends_go_out_in_sequence_order()
    {
        var (a, b) = Pair();
        var sends = new Task[100];
        for (var i = 0; i < sends.Length; i++)
        {
            var message = Message(i);
            sends[i] = Task.Run(async () => await a.SendAsync(message));
        }
        await Task.WhenAll(sends);

        // Ordered mode refuses any frame out of sequence, so 100 accepted receives prove the order.
        var seen = new HashSet<byte>();
        for (var i = 0; i < sends.Length; i++) Assert.True(seen.Add((await ReceiveAsync(b))![^1]));
    }

    [Fact]
    public async Task Keys_given_as_secrets_are_copied()
    {
        using var toB = SecretBytes.CopyFrom(ToB);
        using var toA = SecretBytes.CopyFrom(ToA);
        var (inner, peer) = InMemoryTransport.CreatePair();
        var a = SecureChannel.Create(inner, toB, toA);
        var b = SecureChannel.Create(peer, ToA, ToB);
        toB.Dispose();

        await a.SendAsync(Message(0));
        Assert.Equal(Message(0), await ReceiveAsync(b));
        await a.DisposeAsync();
        Assert.False(toA.IsDisposed);
    }

    [Fact]
    public void Bad_keys_and_options_are_refused_up_front()
    {
        var (inner, _) = InMemoryTransport.CreatePair();
        Assert.Throws<ArgumentException>(() => SecureChannel.Create(inner, ToB[..31], ToA));
        Assert.Throws<ArgumentException>(() => SecureChannel.Create(inner, ToB, [.. ToA, 0]));
        Assert.Throws<ArgumentException>(() => SecureChannel.Create(inner, ToB, ToB));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecureChannel.Create(inner, ToB, ToA, Datagram with { ReplayWindowSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecureChannel.Create(inner, ToB, ToA, Datagram with { ReplayWindowSize = 1025 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecureChannel.Create(inner, ToB, ToA, new SecureChannelOptions { MaxFrames = 0 }));
        Assert.Equal(SecureChannelMode.Datagram, SecureChannel.Create(inner, ToB, ToA, Datagram with { ReplayWindowSize = 1024 }).Mode);
        var (tiny, _) = InMemoryTransport.CreatePair(maxMessageSize: SecureChannel.Overhead);
        Assert.Throws<ArgumentException>(() => SecureChannel.Create(tiny, ToB, ToA));
    }
}
