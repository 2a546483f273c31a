using System;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// Why a handshake failed: a stable error code (one of the spec's codes, or one of
/// <see cref="HandshakeErrorCodes"/>), the phase it failed in and the role that saw it fail.
/// </summary>
/// <param name="Code">The stable error code, as the spec or <see cref="HandshakeErrorCodes"/> names it.</param>
/// <param name="Phase">The phase of the flow in which the handshake failed.</param>
/// <param name="Role">The role (of this side) that saw the failure.</param>
/// <param name="Detail">A human-readable explanation (which field, which check, which limit).</param>
/// <param name="RaisedByPeer"><see langword="true"/> when the peer reported the error in a message; <see langword="false"/> when this side detected it.</param>
/// <param name="SentToPeer">The wire name of the message sent to the peer before closing, or <see langword="null"/> if none was sent.</param>
public sealed record HandshakeError(
    string Code,
    string Phase,
    string Role,
    string Detail,
    bool RaisedByPeer = false,
    string? SentToPeer = null)
{
    /// <summary>
    /// For <see cref="HandshakeErrorCodes.InternalError"/>: the exception that a store, a hook or the machine
    /// itself threw, kept for logging. Never set for a protocol failure.
    /// </summary>
    public Exception? Exception { get; init; }

    /// <summary>An <see cref="HandshakeErrorCodes.InternalError"/> for <paramref name="exception"/>, which it keeps.</summary>
    public static HandshakeError Internal(string phase, string role, Exception exception)
        => new(HandshakeErrorCodes.InternalError, phase, role,
            exception is HandshakeHookException ? exception.Message : $"{exception.GetType().Name}: {exception.Message}") { Exception = exception };

    /// <inheritdoc />
    public override string ToString()
        => $"{Code} in phase '{Phase}' ({Role}{(RaisedByPeer ? ", reported by peer" : "")}): {Detail}";
}

/// <summary>Error codes the runtime raises by itself, whatever the protocol.</summary>
public static class HandshakeErrorCodes
{
    /// <summary>A message could not be decoded, was not expected at this point, or was too large (used when the spec names no code of its own).</summary>
    public const string Malformed = "malformed";
    /// <summary>A step did not complete within its timeout.</summary>
    public const string StepTimeout = "step_timeout";
    /// <summary>The whole handshake did not complete within its timeout.</summary>
    public const string HandshakeTimeout = "handshake_timeout";
    /// <summary>The peer closed the connection before the handshake completed.</summary>
    public const string PeerClosed = "peer_closed";
    /// <summary>The transport failed (reset, I/O error).</summary>
    public const string TransportFailed = "transport_failed";
    /// <summary>The caller cancelled the handshake.</summary>
    public const string Cancelled = "cancelled";
    /// <summary>An application hook or store threw; the exception is in the detail.</summary>
    public const string InternalError = "internal_error";
}

/// <summary>The exception thrown when a caller asks for the result of a failed handshake.</summary>
public sealed class HandshakeException : Exception
{
    /// <summary>Creates the exception for a failure.</summary>
    public HandshakeException(HandshakeError error, Exception? innerException = null)
        : base(error.ToString(), innerException) => Error = error;

    /// <summary>The failure.</summary>
    public HandshakeError Error { get; }

    /// <summary>The stable error code.</summary>
    public string Code => Error.Code;

    /// <summary>The phase in which the handshake failed.</summary>
    public string Phase => Error.Phase;

    /// <summary>The role that saw the failure.</summary>
    public string Role => Error.Role;
}
