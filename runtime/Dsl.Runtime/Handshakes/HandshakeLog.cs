using Microsoft.Extensions.Logging;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// The driver's log events, with stable ids: 1 a handshake started (Debug), 2 it succeeded (Information), 3 it failed
/// (Warning: the code, the phase and the detail, which names checks and fields, never their values or keys).
/// </summary>
public static partial class HandshakeLog
{
    /// <summary>Event id 1.</summary>
    [LoggerMessage(EventId = 1, EventName = "HandshakeStarted", Level = LogLevel.Debug, Message = "{Protocol} {Version} handshake started as {Role} with {Peer}")]
    public static partial void Started(ILogger logger, string protocol, string version, string role, string peer);

    /// <summary>Event id 2.</summary>
    [LoggerMessage(EventId = 2, EventName = "HandshakeSucceeded", Level = LogLevel.Information, Message = "{Protocol} {Version} handshake as {Role} with {Peer} succeeded in {DurationMs} ms")]
    public static partial void Succeeded(ILogger logger, string protocol, string version, string role, string peer, long durationMs);

    /// <summary>Event id 3.</summary>
    [LoggerMessage(EventId = 3, EventName = "HandshakeFailed", Level = LogLevel.Warning, Message = "{Protocol} {Version} handshake as {Role} with {Peer} failed with {Code} in phase {Phase}: {Detail}")]
    public static partial void Failed(ILogger logger, string protocol, string version, string role, string peer, string code, string phase, string detail);
}
