using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// The spans and metrics of every handshake a <see cref="HandshakeDriver"/> runs, under one name,
/// <c>Dsl.Handshakes</c>, for OpenTelemetry or any <see cref="ActivityListener"/> and <see cref="MeterListener"/>.
/// </summary>
/// <remarks>
/// <para><b>Spans.</b> One <c>handshake</c> span per handshake, with a child per step: <c>send MESSAGE</c> for a message
/// this side sends, <c>receive PHASE</c> for a wait for the peer's. The handshake span is tagged
/// <c>handshake.protocol</c>, <c>handshake.version</c>, <c>handshake.role</c>, <c>handshake.peer</c> (the peer's host),
/// and at the end <c>handshake.outcome</c> (<c>succeeded</c> or <c>failed</c>), <c>handshake.phase</c> and, on failure,
/// <c>error.type</c> (the error code) with status Error.</para>
/// <para><b>Metrics</b> (tagged protocol, version and role): <c>dsl.handshakes.started</c>,
/// <c>dsl.handshakes.succeeded</c>, <c>dsl.handshakes.failed</c> (also tagged <c>error.type</c>),
/// <c>dsl.handshakes.in_flight</c> (an up-down counter) and <c>dsl.handshake.duration</c> (a histogram, seconds, tagged
/// with the outcome).</para>
/// <para>No span, tag or metric carries a message's content or any key material.</para>
/// </remarks>
public static class HandshakeTelemetry
{
    /// <summary>The name of the <see cref="ActivitySource"/> and of the <see cref="Meter"/>.</summary>
    public const string Name = "Dsl.Handshakes";

    /// <summary>Where the spans come from.</summary>
    public static ActivitySource Source { get; } = new(Name, typeof(HandshakeTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>Where the metrics come from.</summary>
    public static Meter Meter { get; } = new(Name, typeof(HandshakeTelemetry).Assembly.GetName().Version?.ToString());

    internal static readonly Counter<long> Started = Meter.CreateCounter<long>("dsl.handshakes.started", "{handshake}", "Handshakes started.");
    internal static readonly Counter<long> Succeeded = Meter.CreateCounter<long>("dsl.handshakes.succeeded", "{handshake}", "Handshakes that succeeded.");
    internal static readonly Counter<long> Failed = Meter.CreateCounter<long>("dsl.handshakes.failed", "{handshake}", "Handshakes that failed, by error code (error.type).");
    internal static readonly UpDownCounter<long> InFlight = Meter.CreateUpDownCounter<long>("dsl.handshakes.in_flight", "{handshake}", "Handshakes under way.");
    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("dsl.handshake.duration", "s", "How long handshakes took, from start to outcome.");
}
