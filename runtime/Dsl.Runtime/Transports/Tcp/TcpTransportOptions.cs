using System;

namespace Dsl.Runtime.Transports.Tcp;

/// <summary>Limits of a <see cref="TcpMessageTransport"/>.</summary>
public sealed record TcpTransportOptions
{
    /// <summary>
    /// The largest message, in bytes, accepted from the peer. A frame whose length prefix announces
    /// more fails the receive as soon as the prefix is read, before any of its body is buffered.
    /// </summary>
    public int MaxMessageSize { get; init; } = 64 * 1024;

    /// <summary>How long a graceful close waits for a send in progress before it resets the connection instead.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
