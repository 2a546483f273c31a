namespace Dsl.Runtime.Transports;

/// <summary>
/// Why this side closes a transport, for the transports that can tell the peer (a WebSocket close frame carries it
/// as its status code). Transports that cannot carry it close the same way whatever the reason.
/// </summary>
public enum CloseReason
{
    /// <summary>The exchange ended as planned, or the peer ended it (WebSocket status 1000).</summary>
    Normal,

    /// <summary>This side is stopping: its caller cancelled (WebSocket status 1001, going away).</summary>
    GoingAway,

    /// <summary>This side refused what the peer sent: a failed check, a message it cannot decode or did not expect (WebSocket status 1008, policy violation).</summary>
    PolicyViolation,

    /// <summary>This side cannot go on: a timeout, or a failure of its own (WebSocket status 1011, internal error).</summary>
    InternalError,
}
