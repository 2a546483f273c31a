using System;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// What a generated machine throws when one of the application's hooks threw: it names the hook, keeps what the
/// hook threw as the inner exception, and ends the handshake with <see cref="HandshakeErrorCodes.InternalError"/>.
/// </summary>
public sealed class HandshakeHookException : Exception
{
    /// <summary>Creates the exception for a hook that threw <paramref name="innerException"/>.</summary>
    public HandshakeHookException(string hook, Exception innerException)
        : base($"Hook '{hook}' threw {innerException?.GetType().Name}: {innerException?.Message}", innerException)
        => Hook = hook;

    /// <summary>The hook's name in the spec.</summary>
    public string Hook { get; }
}
