using System;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// A generated role machine, sans-IO: it takes a decoded message (or a failure the driver saw, such as a timeout)
/// and answers with a <see cref="HandshakeStep{TMessage, TResult}"/>: what to send, that it waits, or the outcome.
/// It touches no transport and no timer; between calls it holds only the values later steps reference, so a host
/// can keep many waiting machines in a table, and export one with its generated <c>ExportState</c>.
/// </summary>
/// <remarks>
/// A machine is single-threaded: one call at a time. The cancellation token given to a call reaches every store
/// and hook it calls. A failure (a check, an unexpected or error message, a store that throws) is returned as a
/// <see cref="HandshakeStepKind.Failed"/> step, after the role's failure effects have run; no exception escapes a
/// call but the <see cref="OperationCanceledException"/> of its own token.
/// </remarks>
/// <typeparam name="TMessage">The protocol's message base type.</typeparam>
/// <typeparam name="TResult">The role's result type.</typeparam>
public interface IHandshakeMachine<TMessage, TResult>
    where TMessage : class
    where TResult : class
{
    /// <summary>This role's name in the spec.</summary>
    string Role { get; }

    /// <summary>The protocol's name in the spec (<c>protocol:</c>); telemetry tags every handshake with it.</summary>
    string Protocol => "unknown";

    /// <summary>The protocol's version in the spec (<c>version:</c>).</summary>
    string Version => "unknown";

    /// <summary>The limits it runs under (the spec's timeouts unless the application gave others), its clock and its logger: what a driver reads.</summary>
    HandshakeOptions Options { get; }

    /// <summary>The phase the machine is in; failures report it.</summary>
    string Phase { get; }

    /// <summary>The spec's code for a message that cannot be decoded, is not expected, or is too large.</summary>
    string MalformedCode { get; }

    /// <summary>When the handshake started (the first <see cref="StartAsync"/>, kept across an export and restore), or <see langword="null"/> before.</summary>
    DateTimeOffset? StartedAt { get; }

    /// <summary>Whether the machine has ended, in success or failure.</summary>
    bool IsCompleted { get; }

    /// <summary>
    /// Starts the handshake, or resumes a restored one, and runs until the machine must send, wait or end.
    /// </summary>
    /// <param name="peerAddress">The peer's host as the transport reports it (<c>peer.address</c> in the spec), or <see langword="null"/> when unknown; ignored by a restored machine, which keeps its own.</param>
    /// <param name="cancellationToken">Reaches every store and hook the machine calls.</param>
    ValueTask<HandshakeStep<TMessage, TResult>> StartAsync(string? peerAddress, CancellationToken cancellationToken);

    /// <summary>Continues after the message of a <see cref="HandshakeStepKind.Send"/> step went out.</summary>
    ValueTask<HandshakeStep<TMessage, TResult>> ContinueAsync(CancellationToken cancellationToken);

    /// <summary>Handles the peer's message, asked for by a <see cref="HandshakeStepKind.Receive"/> step.</summary>
    ValueTask<HandshakeStep<TMessage, TResult>> ReceiveAsync(TMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Ends the handshake with a failure the driver saw (a message it could not decode, a timeout, the peer closing,
    /// a broken transport, cancellation): runs the role's failure effects and returns the
    /// <see cref="HandshakeStepKind.Failed"/> step with the message the spec sends the peer for that code.
    /// </summary>
    ValueTask<HandshakeStep<TMessage, TResult>> FailAsync(HandshakeError error, CancellationToken cancellationToken);
}
