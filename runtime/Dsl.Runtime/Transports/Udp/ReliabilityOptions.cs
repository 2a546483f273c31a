using System;

namespace Dsl.Runtime.Transports.Udp;

/// <summary>Retransmission timing of a <see cref="ReliableTransport"/>.</summary>
public sealed record ReliabilityOptions
{
    /// <summary>How long a receive waits for the peer's answer before it first re-sends this side's flight.</summary>
    public TimeSpan InitialTimeout { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The cap on the wait, which doubles after each retransmission.</summary>
    public TimeSpan MaxTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How many times a flight is re-sent without an answer before the receive gives up.</summary>
    public int MaxRetransmits { get; init; } = 6;

    /// <summary>The clock that times retransmissions.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
