using Dsl.Runtime.Codecs;

namespace Dsl.Runtime.Channels;

/// <summary>The AEAD a <see cref="SecureChannel"/> seals its frames with. Both take 32-byte keys.</summary>
public enum SecureChannelCipher
{
    /// <summary>ChaCha20-Poly1305, IETF variant (RFC 8439), from libsodium. Runs everywhere.</summary>
    ChaCha20Poly1305,
    /// <summary>AES-256-GCM from libsodium, which implements it only in hardware (AES-NI and PCLMUL, or ARM crypto extensions).</summary>
    Aes256Gcm,
}

/// <summary>What a <see cref="SecureChannel"/> may expect of the order of frames underneath it.</summary>
public enum SecureChannelMode
{
    /// <summary>
    /// The inner transport is reliable and ordered (TCP, WebSocket, in memory): every frame must carry
    /// the next sequence number. Any refused frame faults the channel.
    /// </summary>
    Ordered,
    /// <summary>
    /// The inner transport may lose, duplicate and reorder frames (UDP): a frame is accepted once if it is
    /// inside the replay window. A refused frame is dropped and the channel goes on.
    /// </summary>
    Datagram,
}

/// <summary>How a <see cref="SecureChannel"/> seals, orders and limits its frames. Both peers must agree on all of it.</summary>
public sealed record SecureChannelOptions
{
    /// <summary>The default replay window, as RFC 4303 (IPsec ESP) and RFC 6347 (DTLS) keep.</summary>
    public const int DefaultReplayWindowSize = 64;

    /// <summary>The largest replay window accepted.</summary>
    public const int MaxReplayWindowSize = 1024;

    /// <summary>
    /// The cipher a spec names: <c>chacha20-poly1305</c> or <c>aes-256-gcm</c> (as a spec's <c>session.channel.cipher</c>
    /// writes them, or a negotiated value holds them).
    /// </summary>
    /// <exception cref="System.ArgumentException">Another name.</exception>
    public static SecureChannelCipher CipherNamed(string name) => name switch
    {
        "chacha20-poly1305" => SecureChannelCipher.ChaCha20Poly1305,
        "aes-256-gcm" => SecureChannelCipher.Aes256Gcm,
        _ => throw new System.ArgumentException($"'{name}' is not a channel cipher: chacha20-poly1305 or aes-256-gcm.", nameof(name)),
    };

    /// <summary>The AEAD; ChaCha20-Poly1305 unless set.</summary>
    public SecureChannelCipher Cipher { get; init; } = SecureChannelCipher.ChaCha20Poly1305;

    /// <summary>Ordered (the default) for reliable transports, datagram for UDP.</summary>
    public SecureChannelMode Mode { get; init; } = SecureChannelMode.Ordered;

    /// <summary>
    /// Datagram mode: how many sequence numbers behind the highest accepted one a frame may still be
    /// accepted (1 to <see cref="MaxReplayWindowSize"/>). Ignored in ordered mode.
    /// </summary>
    public int ReplayWindowSize { get; init; } = DefaultReplayWindowSize;

    /// <summary>
    /// How many frames this side may send under its key; the send after the last fails with
    /// <see cref="SecureChannelError.Exhausted"/>. When <see langword="null"/>, the cipher's own limit:
    /// 2^64 − 1 for ChaCha20-Poly1305 (the counter cannot wrap), 2^24 for AES-256-GCM (under the
    /// 2^24.5 full-size records of RFC 8446 §5.5).
    /// </summary>
    public ulong? MaxFrames { get; init; }

    /// <summary>
    /// Bytes both peers bind every frame to, such as the handshake's session id or transcript hash: they
    /// are authenticated with each frame (after its header) but never sent. Frames sealed under another
    /// binding are <see cref="SecureChannelError.NotAuthentic"/>. Empty unless set.
    /// </summary>
    public Bytes ChannelBinding { get; init; } = Bytes.Empty;
}
