using System;
using System.Diagnostics.CodeAnalysis;

namespace Dsl.Runtime.Handshakes;

/// <summary>What a role machine asks of whoever drives it after each input.</summary>
public enum HandshakeStepKind
{
    /// <summary>Send <see cref="HandshakeStep{TMessage, TResult}.Message"/>, then call <c>ContinueAsync</c>.</summary>
    Send,

    /// <summary>
    /// Wait for the peer's next message, at most <see cref="HandshakeStep{TMessage, TResult}.Timeout"/> (the
    /// options' step timeout when <see langword="null"/>), then call <c>ReceiveAsync</c> with it, or
    /// <c>FailAsync</c> when it cannot be had.
    /// </summary>
    Receive,

    /// <summary>The handshake completed; <see cref="HandshakeStep{TMessage, TResult}.Result"/> is the role's result.</summary>
    Succeeded,

    /// <summary>
    /// The handshake failed with <see cref="HandshakeStep{TMessage, TResult}.Error"/>: send
    /// <see cref="HandshakeStep{TMessage, TResult}.Message"/> when there is one (the spec's error message), then close.
    /// </summary>
    Failed,
}

/// <summary>
/// One answer of a sans-IO role machine: a message to send, a wait for the peer, or the end of the handshake.
/// The machine touches no transport and no timer; the driver (<see cref="HandshakeDriver"/>, or a host that keeps
/// many machines in a table) does the I/O and the waiting.
/// </summary>
/// <typeparam name="TMessage">The protocol's message base type.</typeparam>
/// <typeparam name="TResult">The role's result type.</typeparam>
public readonly struct HandshakeStep<TMessage, TResult>
    where TMessage : class
    where TResult : class
{
    private HandshakeStep(HandshakeStepKind kind, TMessage? message, TimeSpan? timeout, TResult? result, HandshakeError? error)
    {
        Kind = kind;
        Message = message;
        Timeout = timeout;
        Result = result;
        Error = error;
    }

    /// <summary>What the driver does next.</summary>
    public HandshakeStepKind Kind { get; }

    /// <summary>For <see cref="HandshakeStepKind.Send"/>, the message to send; for <see cref="HandshakeStepKind.Failed"/>, the error message the spec sends the peer, or <see langword="null"/>.</summary>
    public TMessage? Message { get; }

    /// <summary>For <see cref="HandshakeStepKind.Receive"/>: how long to wait, or <see langword="null"/> for the options' step timeout.</summary>
    public TimeSpan? Timeout { get; }

    /// <summary>For <see cref="HandshakeStepKind.Succeeded"/>: the role's result.</summary>
    public TResult? Result { get; }

    /// <summary>For <see cref="HandshakeStepKind.Failed"/>: why.</summary>
    public HandshakeError? Error { get; }

    /// <summary>Whether the handshake has ended in success (<see cref="Result"/> is then set).</summary>
    [MemberNotNullWhen(true, nameof(Result))]
    public bool Succeeded => Kind == HandshakeStepKind.Succeeded;

    /// <summary>Send <paramref name="message"/>.</summary>
    public static HandshakeStep<TMessage, TResult> Send(TMessage message)
        => new(HandshakeStepKind.Send, message ?? throw new ArgumentNullException(nameof(message)), null, null, null);

    /// <summary>Wait for the peer's next message.</summary>
    public static HandshakeStep<TMessage, TResult> Receive(TimeSpan? timeout)
        => new(HandshakeStepKind.Receive, null, timeout, null, null);

    /// <summary>The handshake completed.</summary>
    public static HandshakeStep<TMessage, TResult> Succeed(TResult result)
        => new(HandshakeStepKind.Succeeded, null, null, result ?? throw new ArgumentNullException(nameof(result)), null);

    /// <summary>The handshake failed; <paramref name="errorMessage"/> is what the spec sends the peer, if anything.</summary>
    public static HandshakeStep<TMessage, TResult> Fail(HandshakeError error, TMessage? errorMessage)
        => new(HandshakeStepKind.Failed, errorMessage, null, null, error ?? throw new ArgumentNullException(nameof(error)));

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        HandshakeStepKind.Send => $"Send {Message}",
        HandshakeStepKind.Receive => Timeout is { } t ? $"Receive within {t.TotalMilliseconds:0} ms" : "Receive",
        HandshakeStepKind.Succeeded => "Succeeded",
        _ => $"Failed: {Error}",
    };
}
