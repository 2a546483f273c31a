namespace Dsl.Runtime.Sessions;

/// <summary>Why a session after a handshake ended.</summary>
public enum SessionEndReason
{
    /// <summary>The peer closed the connection cleanly.</summary>
    ClosedByPeer,
    /// <summary>This side ended the session (disposed it or cancelled it).</summary>
    ClosedLocally,
    /// <summary>Nothing arrived from the peer for longer than the heartbeat allows.</summary>
    HeartbeatLost,
    /// <summary>The peer sent a message that could not be decoded, or one larger than the transport accepts.</summary>
    Malformed,
    /// <summary>The transport failed (reset, I/O error, protocol violation).</summary>
    TransportFailed,
    /// <summary>The application's message callback threw; the detail names the exception.</summary>
    HandlerFailed,
}

/// <summary>How a session ended.</summary>
/// <param name="Reason">Why it ended.</param>
/// <param name="Detail">A human-readable explanation (which limit, which decode error, which exception).</param>
public sealed record SessionEnd(SessionEndReason Reason, string Detail)
{
    /// <inheritdoc />
    public override string ToString() => $"{Reason}: {Detail}";
}
