using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Transports;

namespace Dsl.Runtime.Channels;

/// <summary>
/// Application frames sealed with an AEAD under the traffic keys a handshake derived, over an inner
/// <see cref="IMessageTransport"/>. It is a transport itself, so whatever speaks
/// <see cref="IMessageTransport"/> runs over it unchanged.
/// </summary>
/// <remarks>
/// <para>A frame is an 8-byte big-endian sequence number followed by the ciphertext and its 16-byte tag.
/// The nonce is 4 zero bytes then the same 8 bytes; the associated data is the 8-byte header followed by
/// <see cref="SecureChannelOptions.ChannelBinding"/>. Each direction has its own key and its own counter
/// from 0, so one side's send key is the other's receive key, and a nonce never repeats under a key.</para>
/// <para>Only an authenticated frame moves the receive counter or window; a forged one never does.
/// <see cref="SecureChannelMode.Ordered"/>: a frame must carry the next number; any refused frame
/// faults the channel, which disposes the inner transport (the peer sees a reset) and wipes both keys,
/// and every later call fails with <see cref="SecureChannelError.Faulted"/>.
/// <see cref="SecureChannelMode.Datagram"/>: a frame is accepted once if it is within
/// <see cref="SecureChannelOptions.ReplayWindowSize"/> of the highest accepted; a refused frame fails
/// that receive and the next receive goes on.</para>
/// <para>The channel owns the inner transport and the copies of the keys it was given.
/// <see cref="CloseAsync(CancellationToken)"/> closes the sending direction (after a send in flight) and wipes the send key;
/// <see cref="DisposeAsync"/> wipes both keys and disposes the inner transport. Failures of the inner
/// transport pass through as <see cref="TransportException"/>; everything the channel itself refuses
/// is a <see cref="SecureChannelException"/>.</para>
/// <para>A clean close of the inner transport ends the channel as a clean close does (receive returns
/// <see langword="false"/>); it is not authenticated, so a protocol that must tell a truncated stream from
/// a finished one says so in its own messages.</para>
/// </remarks>
public sealed class SecureChannel : IMessageTransport
{
    /// <summary>Length of the sequence number heading each frame.</summary>
    public const int HeaderSize = 8;

    /// <summary>Length of the authentication tag ending each frame.</summary>
    public const int TagSize = SodiumAead.TagSize;

    /// <summary>What a frame adds to its message: header and tag.</summary>
    public const int Overhead = HeaderSize + TagSize;

    /// <summary>Length of each traffic key.</summary>
    public const int KeySize = SodiumAead.KeySize;

    // RFC 8446 §5.5 allows 2^24.5 full-size records under one AES-GCM key; stay below it.
    private const ulong Aes256GcmMaxFrames = 1UL << 24;

    private readonly IMessageTransport _inner;
    private readonly SodiumAead _aead;
    private readonly SecretBytes _sendKey;
    private readonly SecretBytes _receiveKey;
    private readonly ReplayWindow? _window;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly SemaphoreSlim _receiveLock = new(1, 1);
    // The associated data of each direction: the header, then the channel binding.
    private readonly byte[] _sendAssociatedData;
    private readonly byte[] _receiveAssociatedData;
    // The frame being opened; reused. Guarded by _receiveLock, like _receiveNext and _window.
    private readonly ArrayBufferWriter<byte> _frame = new();
    private ulong _sendSequence;
    private ulong _receiveNext;
    private Exception? _fault;
    private int _sendClosed;
    private int _disposed;

    private SecureChannel(IMessageTransport inner, SodiumAead aead, SecretBytes sendKey, SecretBytes receiveKey, SecureChannelOptions options, ulong maxFrames)
    {
        _inner = inner;
        _aead = aead;
        _sendKey = sendKey;
        _receiveKey = receiveKey;
        Mode = options.Mode;
        Cipher = options.Cipher;
        MaxFrames = maxFrames;
        if (options.Mode == SecureChannelMode.Datagram) _window = new ReplayWindow(options.ReplayWindowSize);
        _sendAssociatedData = new byte[HeaderSize + options.ChannelBinding.Length];
        options.ChannelBinding.Span.CopyTo(_sendAssociatedData.AsSpan(HeaderSize));
        _receiveAssociatedData = (byte[])_sendAssociatedData.Clone();
    }

    /// <summary>
    /// A channel over <paramref name="inner"/> that seals with <paramref name="sendKey"/> and opens with
    /// <paramref name="receiveKey"/> (each 32 bytes; the peer has them the other way round). The keys are
    /// copied into sodium memory at once; the caller wipes its own copies.
    /// </summary>
    /// <param name="inner">The transport the handshake ran over; the channel owns it from now on.</param>
    /// <param name="sendKey">This side's sending key.</param>
    /// <param name="receiveKey">This side's receiving key, which must differ from the sending key.</param>
    /// <param name="options">Cipher, mode, window, limit and channel binding; the defaults when <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">A key is not 32 bytes, the two keys are equal, or the inner transport's messages cannot hold a frame.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The replay window or the frame limit is out of range.</exception>
    /// <exception cref="NotSupportedException">The cipher is AES-256-GCM and this machine has no hardware AES for libsodium.</exception>
    public static SecureChannel Create(IMessageTransport inner, ReadOnlySpan<byte> sendKey, ReadOnlySpan<byte> receiveKey, SecureChannelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        options ??= new SecureChannelOptions();
        if (sendKey.Length != KeySize) throw new ArgumentException($"A traffic key is {KeySize} bytes, not {sendKey.Length}.", nameof(sendKey));
        if (receiveKey.Length != KeySize) throw new ArgumentException($"A traffic key is {KeySize} bytes, not {receiveKey.Length}.", nameof(receiveKey));
        // Both directions count from 0: one key for both would seal two frames under each nonce.
        if (CryptographicOperations.FixedTimeEquals(sendKey, receiveKey))
            throw new ArgumentException("The send and receive keys are equal; each direction needs its own key.", nameof(receiveKey));
        if (inner.MaxMessageSize <= Overhead)
            throw new ArgumentException($"The inner transport's messages of at most {inner.MaxMessageSize} bytes cannot hold a {Overhead}-byte frame overhead.", nameof(inner));
        if (options.ReplayWindowSize is < 1 or > SecureChannelOptions.MaxReplayWindowSize)
            throw new ArgumentOutOfRangeException(nameof(options), options.ReplayWindowSize, $"The replay window is 1 to {SecureChannelOptions.MaxReplayWindowSize} frames.");
        if (options.MaxFrames == 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxFrames, "The frame limit is at least 1.");
        var aead = Aead(options.Cipher);
        if (!aead.IsAvailable)
            throw new NotSupportedException($"{aead.Name} is not available: libsodium implements it only on CPUs with hardware AES (AES-NI and PCLMUL, or ARM crypto extensions). Use ChaCha20-Poly1305.");
        var maxFrames = options.MaxFrames ?? (options.Cipher == SecureChannelCipher.Aes256Gcm ? Aes256GcmMaxFrames : ulong.MaxValue);

        var send = SecretBytes.CopyFrom(sendKey);
        try
        {
            return new SecureChannel(inner, aead, send, SecretBytes.CopyFrom(receiveKey), options, maxFrames);
        }
        catch
        {
            send.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A channel keyed with copies of <paramref name="sendKey"/> and <paramref name="receiveKey"/>; the
    /// caller still owns (and disposes) the originals. See the span overload for the rest.
    /// </summary>
    /// <exception cref="ObjectDisposedException">A key was already disposed.</exception>
    public static SecureChannel Create(IMessageTransport inner, SecretBytes sendKey, SecretBytes receiveKey, SecureChannelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sendKey);
        ArgumentNullException.ThrowIfNull(receiveKey);
        using var send = sendKey.Lease();
        using var receive = receiveKey.Lease();
        return Create(inner, send.Span, receive.Span, options);
    }

    /// <summary>Whether this machine can run <paramref name="cipher"/> (AES-256-GCM needs hardware AES).</summary>
    public static bool IsAvailable(SecureChannelCipher cipher) => Aead(cipher).IsAvailable;

    /// <summary>The inner transport's limit less the <see cref="Overhead"/> of a frame.</summary>
    public int MaxMessageSize => _inner.MaxMessageSize - Overhead;

    /// <inheritdoc />
    public string? RemoteAddress => _inner.RemoteAddress;

    /// <summary>Whether frames must arrive in order, or may be lost and reordered within the window.</summary>
    public SecureChannelMode Mode { get; }

    /// <summary>The AEAD the frames are sealed with.</summary>
    public SecureChannelCipher Cipher { get; }

    /// <summary>How many frames this side may send under its key (the option, or the cipher's limit).</summary>
    public ulong MaxFrames { get; }

    /// <summary>
    /// Seals <paramref name="message"/> under the next sequence number and sends it. A frame sealed but not
    /// sent still spends its number; in ordered mode a failed inner send therefore faults the channel.
    /// </summary>
    /// <exception cref="SecureChannelException"><see cref="SecureChannelError.Exhausted"/> after <see cref="MaxFrames"/> frames;
    /// <see cref="SecureChannelError.Closed"/> or <see cref="SecureChannelError.Faulted"/> when the channel can no longer send.</exception>
    /// <exception cref="TransportException">The inner transport failed.</exception>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ThrowIfCannotSend();
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        byte[]? frame = null;
        try
        {
            ThrowIfCannotSend();
            if (_sendSequence >= MaxFrames)
                throw new SecureChannelException(SecureChannelError.Exhausted,
                    $"This side has sent the {MaxFrames} frames its key allows: run a new handshake for fresh keys, or close the channel.");
            cancellationToken.ThrowIfCancellationRequested();
            var length = checked(Overhead + message.Length);
            frame = ArrayPool<byte>.Shared.Rent(length);
            var sequence = _sendSequence;
            Seal(sequence, message.Span, frame.AsSpan(0, length));
            _sendSequence = sequence + 1;
            try
            {
                await _inner.SendAsync(frame.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (Mode == SecureChannelMode.Ordered)
            {
                // The peer will never see this number, so it would refuse the next frame: stop now.
                await FaultAsync(exception).ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            _sendLock.Release();
            if (frame is not null) ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>
    /// Receives the next frame, authenticates it and writes its message to <paramref name="destination"/>
    /// (nothing is written for a refused frame). Returns <see langword="false"/> when the inner transport
    /// was closed cleanly.
    /// </summary>
    /// <exception cref="SecureChannelException">The frame was refused (see <see cref="SecureChannelError"/>), or
    /// the channel was disposed or has faulted.</exception>
    /// <exception cref="TransportException">The inner transport failed.</exception>
    public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ThrowIfCannotReceive();
        await _receiveLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotReceive();
            _frame.ResetWrittenCount();
            bool received;
            try
            {
                received = await _inner.ReceiveAsync(_frame, cancellationToken).ConfigureAwait(false);
            }
            catch (TransportException exception) when (Unusable(sending: false, exception) is { } unusable)
            {
                // The inner transport was disposed under this receive: by DisposeAsync, or by a failed send.
                throw unusable;
            }
            if (!received) return false;
            if (TryOpen(_frame.WrittenSpan, destination, out var sequence, out var error)) return true;
            var refusal = new SecureChannelException(error, Describe(error, sequence));
            if (Mode == SecureChannelMode.Ordered) await FaultAsync(refusal).ConfigureAwait(false);
            throw refusal;
        }
        finally
        {
            _receiveLock.Release();
        }
    }

    /// <summary>
    /// Closes the sending direction once a send in flight is done, and wipes the send key; the peer's next
    /// receive returns <see langword="false"/>. This side may still receive.
    /// </summary>
    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => CloseAsync(CloseReason.Normal, cancellationToken);

    /// <summary>
    /// Closes as <see cref="CloseAsync(CancellationToken)"/> does, passing <paramref name="reason"/> to the inner
    /// transport, which tells the peer where it can (a WebSocket close status).
    /// </summary>
    public async ValueTask CloseAsync(CloseReason reason, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0 || Volatile.Read(ref _fault) is not null) return;
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Volatile.Write(ref _sendClosed, 1);
            _sendKey.Dispose();
        }
        finally
        {
            _sendLock.Release();
        }
        await _inner.CloseAsync(reason, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Wipes both keys and disposes the inner transport; later calls fail with <see cref="SecureChannelError.Closed"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _sendKey.Dispose();
        _receiveKey.Dispose();
        await _inner.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Whether the key of each direction is still held (false once wiped), for tests.</summary>
    internal (bool Send, bool Receive) KeysHeld => (!_sendKey.IsDisposed, !_receiveKey.IsDisposed);

    private void Seal(ulong sequence, ReadOnlySpan<byte> message, Span<byte> frame)
    {
        BinaryPrimitives.WriteUInt64BigEndian(frame, sequence);
        BinaryPrimitives.WriteUInt64BigEndian(_sendAssociatedData, sequence);
        Span<byte> nonce = stackalloc byte[SodiumAead.NonceSize];
        WriteNonce(sequence, nonce);
        try
        {
            _aead.Seal(_sendKey, nonce, message, _sendAssociatedData, frame[HeaderSize..]);
        }
        catch (ObjectDisposedException)
        {
            // Closed, disposed or faulted between the check and the seal.
            ThrowIfCannotSend();
            throw;
        }
    }

    private bool TryOpen(ReadOnlySpan<byte> frame, IBufferWriter<byte> destination, out ulong sequence, out SecureChannelError error)
    {
        sequence = 0;
        if (frame.Length < Overhead)
        {
            error = SecureChannelError.FrameTooShort;
            return false;
        }
        sequence = BinaryPrimitives.ReadUInt64BigEndian(frame);
        // Numbers are looked at before the frame is authenticated, but recorded only after.
        if (_window is null)
        {
            if (sequence != _receiveNext)
            {
                error = sequence < _receiveNext ? SecureChannelError.Replayed : SecureChannelError.OutOfOrder;
                return false;
            }
        }
        else if (!_window.Check(sequence, out error))
        {
            return false;
        }

        var length = frame.Length - Overhead;
        var plaintext = destination.GetSpan(length)[..length];
        BinaryPrimitives.WriteUInt64BigEndian(_receiveAssociatedData, sequence);
        Span<byte> nonce = stackalloc byte[SodiumAead.NonceSize];
        WriteNonce(sequence, nonce);
        bool authentic;
        try
        {
            authentic = _aead.TryOpen(_receiveKey, nonce, frame[HeaderSize..], _receiveAssociatedData, plaintext);
        }
        catch (ObjectDisposedException)
        {
            ThrowIfCannotReceive();
            throw;
        }
        if (!authentic)
        {
            error = SecureChannelError.NotAuthentic;
            return false;
        }
        destination.Advance(length);
        if (_window is null) _receiveNext = sequence + 1;
        else _window.Accept(sequence);
        error = default;
        return true;
    }

    // 4 zero bytes, then the sequence number big-endian.
    private static void WriteNonce(ulong sequence, Span<byte> nonce)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], sequence);
    }

    private async ValueTask FaultAsync(Exception cause)
    {
        if (Interlocked.CompareExchange(ref _fault, cause, null) is not null) return;
        _sendKey.Dispose();
        _receiveKey.Dispose();
        await _inner.DisposeAsync().ConfigureAwait(false);
    }

    private void ThrowIfCannotSend()
    {
        if (Unusable(sending: true, cause: null) is { } error) throw error;
    }

    private void ThrowIfCannotReceive()
    {
        if (Unusable(sending: false, cause: null) is { } error) throw error;
    }

    // Why the channel can no longer send or receive, or null while it can.
    private SecureChannelException? Unusable(bool sending, Exception? cause)
    {
        if (Volatile.Read(ref _disposed) != 0)
            return new SecureChannelException(SecureChannelError.Closed, "The channel was disposed.", cause);
        if (Volatile.Read(ref _fault) is { } fault)
            return new SecureChannelException(SecureChannelError.Faulted, "The channel stopped after an earlier failure: " + fault.Message, fault);
        if (sending && Volatile.Read(ref _sendClosed) != 0)
            return new SecureChannelException(SecureChannelError.Closed, "The channel is closed for sending.", cause);
        return null;
    }

    private static string Describe(SecureChannelError error, ulong sequence) => error switch
    {
        SecureChannelError.FrameTooShort => $"A frame is at least {Overhead} bytes.",
        SecureChannelError.NotAuthentic => $"Frame {sequence} does not authenticate under the receive key.",
        SecureChannelError.Replayed => $"Frame {sequence} was already received.",
        SecureChannelError.OutOfOrder => $"Frame {sequence} is not the next frame.",
        SecureChannelError.TooOld => $"Frame {sequence} is older than the replay window.",
        _ => $"Frame {sequence} was refused ({error}).",
    };

    private static SodiumAead Aead(SecureChannelCipher cipher) => cipher switch
    {
        SecureChannelCipher.ChaCha20Poly1305 => SodiumAead.ChaCha20Poly1305,
        SecureChannelCipher.Aes256Gcm => SodiumAead.Aes256Gcm,
        _ => throw new ArgumentOutOfRangeException(nameof(cipher), cipher, "Not a secure channel cipher."),
    };
}
