using System;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// Limits a handshake runs under. The spec gives the defaults (its <c>timeouts</c>); an application
/// may tighten or loosen them per run.
/// </summary>
public sealed record HandshakeOptions
{
    /// <summary>How long the whole handshake may take, from the first step to the outcome.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one step may wait for the peer's message, unless the step sets its own.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long this side waits to deliver an error message to the peer before closing.</summary>
    public TimeSpan ErrorDeliveryTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The clock handshakes read; replace it for deterministic tests.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where the handshake's random bytes come from; <see cref="RandomSource.Seeded"/> only for test vectors.</summary>
    public RandomSource Random { get; init; } = RandomSource.System;

    /// <summary>
    /// Where the driver logs each handshake's start, success and failure (<see cref="HandshakeLog"/> lists the event ids);
    /// nothing when <see langword="null"/>. Spans and metrics go to <see cref="HandshakeTelemetry"/> whatever this is.
    /// </summary>
    public Microsoft.Extensions.Logging.ILogger? Logger { get; init; }

    /// <summary>
    /// For adversarial tests only (<c>dsl attack</c>'s misbehaving peer): changes what this role computes and builds
    /// before it signs and sends it (<see cref="HandshakeRewriter"/>). Leave it <see langword="null"/>.
    /// </summary>
    public HandshakeRewriter? Rewriter { get; init; }
}
