using System;
using System.Diagnostics.CodeAnalysis;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// What a role gets when its handshake ends: the role's typed result on success, or a
/// <see cref="HandshakeError"/> on failure. A handshake run never throws; it returns this.
/// </summary>
/// <typeparam name="TResult">The role's result type, generated from the spec's <c>outcome</c>.</typeparam>
public readonly struct HandshakeOutcome<TResult> where TResult : class
{
    private HandshakeOutcome(TResult? result, HandshakeError? error)
    {
        Result = result;
        Error = error;
    }

    /// <summary>The result, when <see cref="Succeeded"/>.</summary>
    public TResult? Result { get; }

    /// <summary>The failure, when not <see cref="Succeeded"/>.</summary>
    public HandshakeError? Error { get; }

    /// <summary>Whether the handshake completed.</summary>
    [MemberNotNullWhen(true, nameof(Result))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool Succeeded => Result is not null;

    /// <summary>A successful outcome.</summary>
    public static HandshakeOutcome<TResult> Success(TResult result)
        => new(result ?? throw new ArgumentNullException(nameof(result)), null);

    /// <summary>A failed outcome.</summary>
    public static HandshakeOutcome<TResult> Failure(HandshakeError error)
        => new(null, error ?? throw new ArgumentNullException(nameof(error)));

    /// <summary>Returns the result, or throws <see cref="HandshakeException"/> carrying the error.</summary>
    public TResult GetResultOrThrow() => Succeeded ? Result : throw new HandshakeException(Error, Error.Exception);

    /// <inheritdoc />
    public override string ToString() => Succeeded ? $"Succeeded: {Result}" : $"Failed: {Error}";
}
