using System;

namespace Dsl.Runtime.Transports;

/// <summary>Why a transport operation failed.</summary>
public enum TransportError
{
    /// <summary>The peer sent a message larger than the transport's maximum message size.</summary>
    MessageTooLarge,
    /// <summary>The connection was reset or ended in the middle of a message.</summary>
    ConnectionReset,
    /// <summary>The transport was already closed or disposed.</summary>
    Closed,
    /// <summary>The peer sent something the transport cannot frame (for example a binary frame where text is expected).</summary>
    ProtocolViolation,
}

/// <summary>A failure of the transport underneath a handshake or session.</summary>
public sealed class TransportException : Exception
{
    /// <summary>Creates a transport exception.</summary>
    public TransportException(TransportError error, string message, Exception? innerException = null)
        : base(message, innerException) => Error = error;

    /// <summary>What went wrong.</summary>
    public TransportError Error { get; }
}
