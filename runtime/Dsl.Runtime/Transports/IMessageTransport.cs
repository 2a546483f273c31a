using System;
using System.Buffers;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports;

/// <summary>
/// A bidirectional channel of whole messages between two peers. Handshake machines and sessions
/// speak only this interface, so a protocol runs unchanged in memory, over WebSocket, TCP or UDP.
/// </summary>
/// <remarks>
/// One send and one receive may be in flight at the same time; implementations serialise
/// concurrent sends. A receive never buffers more than <see cref="MaxMessageSize"/> bytes: a
/// larger message fails with <see cref="TransportError.MessageTooLarge"/> before it is read whole.
/// </remarks>
public interface IMessageTransport : IAsyncDisposable
{
    /// <summary>The largest message, in bytes, this transport accepts from its peer.</summary>
    int MaxMessageSize { get; }

    /// <summary>A printable form of the peer's address (for logs, errors and per-address limits), if known.</summary>
    string? RemoteAddress { get; }

    /// <summary>Sends one whole message.</summary>
    /// <exception cref="TransportException">The transport is closed or failed.</exception>
    ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Receives the next whole message into <paramref name="destination"/>.
    /// Returns <see langword="false"/> when the peer closed the channel cleanly.
    /// </summary>
    /// <exception cref="TransportException">The message is too large, or the transport failed.</exception>
    ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>Closes the channel gracefully; the peer's next receive returns <see langword="false"/>.</summary>
    ValueTask CloseAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Closes the channel gracefully and tells the peer why, where the transport can carry it (over WebSocket, as the
    /// close frame's status code); the peer's next receive returns <see langword="false"/>. A transport that cannot
    /// carry a reason closes as <see cref="CloseAsync(CancellationToken)"/> does.
    /// </summary>
    ValueTask CloseAsync(CloseReason reason, CancellationToken cancellationToken = default) => CloseAsync(cancellationToken);
}
