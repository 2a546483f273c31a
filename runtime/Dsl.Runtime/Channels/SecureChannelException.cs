using System;

namespace Dsl.Runtime.Channels;

/// <summary>Why a <see cref="SecureChannel"/> refused a frame or an operation. The names are stable.</summary>
public enum SecureChannelError
{
    /// <summary>The frame does not authenticate under the receive key: tampered with, forged, or sealed with another key or channel binding.</summary>
    NotAuthentic,
    /// <summary>The frame is shorter than the 8-byte header and 16-byte tag.</summary>
    FrameTooShort,
    /// <summary>A frame with this sequence number was already accepted (in ordered mode: any number below the next expected one).</summary>
    Replayed,
    /// <summary>Ordered mode: the frame's sequence number is past the next expected one (a frame was skipped, reordered or injected).</summary>
    OutOfOrder,
    /// <summary>Datagram mode: the frame is older than the replay window, so whether it was seen can no longer be told.</summary>
    TooOld,
    /// <summary>The send counter reached <see cref="SecureChannelOptions.MaxFrames"/>; the keys must be renewed by a new handshake, or the channel closed.</summary>
    Exhausted,
    /// <summary>The channel was closed (for sending) or disposed.</summary>
    Closed,
    /// <summary>An ordered channel refused a frame earlier and has stopped; the inner exception is that first refusal.</summary>
    Faulted,
}

/// <summary>A frame or an operation a <see cref="SecureChannel"/> refused.</summary>
/// <remarks>Failures of the transport underneath pass through as they are, as <see cref="Transports.TransportException"/>.</remarks>
public sealed class SecureChannelException : Exception
{
    /// <summary>Creates a secure channel exception.</summary>
    public SecureChannelException(SecureChannelError error, string message, Exception? innerException = null)
        : base(message, innerException) => Error = error;

    /// <summary>What was refused, and why.</summary>
    public SecureChannelError Error { get; }
}
