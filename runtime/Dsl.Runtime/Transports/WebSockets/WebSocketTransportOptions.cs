using System;
using System.Net.WebSockets;

namespace Dsl.Runtime.Transports.WebSockets;

/// <summary>Limits and framing of a <see cref="WebSocketMessageTransport"/>.</summary>
public sealed record WebSocketTransportOptions
{
    /// <summary>The largest message, in bytes, accepted from the peer; a larger one fails the receive before it is read whole.</summary>
    public int MaxMessageSize { get; init; } = 64 * 1024;

    /// <summary>The frame type messages are sent as and expected in; a data frame of the other type is a protocol violation.</summary>
    public WebSocketMessageType MessageType { get; init; } = WebSocketMessageType.Text;

    /// <summary>How long a graceful close waits for the close handshake before giving up.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
