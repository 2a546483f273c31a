using System;

namespace Dsl.Runtime.Sessions;

/// <summary>
/// The heartbeat messages of one protocol, as its spec declares them. Generated for each spec that
/// declares a heartbeat.
/// </summary>
/// <typeparam name="TMessage">The protocol's message base type.</typeparam>
public interface IHeartbeatMessages<TMessage> where TMessage : class
{
    /// <summary>Builds a ping to send to the peer.</summary>
    TMessage CreatePing();

    /// <summary>Builds the answer to <paramref name="received"/>, or returns <see langword="null"/> when it is not a ping.</summary>
    TMessage? CreatePong(TMessage received);

    /// <summary>Whether <paramref name="message"/> is a pong (an answer to this side's ping).</summary>
    bool IsPong(TMessage message);
}

/// <summary>How a <see cref="HeartbeatSession{TMessage}"/> keeps the connection alive and detects a lost peer.</summary>
public sealed record HeartbeatOptions
{
    /// <summary>How often the pinging side sends a ping; also the unit of <see cref="MissedIntervals"/>.</summary>
    public required TimeSpan Interval { get; init; }

    /// <summary>
    /// How many intervals may pass without any message from the peer before the session ends with
    /// <see cref="SessionEndReason.HeartbeatLost"/>.
    /// </summary>
    public int MissedIntervals { get; init; } = 2;

    /// <summary>Whether this side sends pings (the spec's pinging role); the other side answers them.</summary>
    public required bool SendsPings { get; init; }

    /// <summary>How long closing the transport may take when the session ends.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The clock the heartbeat reads and waits on; replace it for deterministic tests.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
