using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Transports;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// Runs a sans-IO role machine over a transport: what every generated <c>RunAsync</c> does. It encodes and
/// sends what the machine asks to send, receives and decodes under the step and handshake timeouts, turns
/// anything that goes wrong on the way (a message it cannot decode, a timeout, the peer closing, a broken
/// transport, cancellation) into a <see cref="HandshakeError"/> for the machine, sends the spec's error message,
/// and closes the transport on failure. It never throws for a failure of the handshake.
/// </summary>
public static class HandshakeDriver
{
    /// <summary>Runs <paramref name="machine"/> to its outcome over <paramref name="transport"/>.</summary>
    /// <param name="machine">A fresh or restored machine; the driver makes every call to it.</param>
    /// <param name="transport">The channel to the peer. On success it stays open and belongs to the caller; on failure it is closed and disposed.</param>
    /// <param name="codec">The protocol's codec.</param>
    /// <param name="options">Timeouts and clock. A restored machine gets what is left of the handshake timeout since it started.</param>
    /// <param name="cancellationToken">Cancels the handshake; the outcome is then <see cref="HandshakeErrorCodes.Cancelled"/>.</param>
    public static async ValueTask<HandshakeOutcome<TResult>> RunAsync<TMessage, TResult>(
        IHandshakeMachine<TMessage, TResult> machine, IMessageTransport transport, IMessageCodec<TMessage> codec,
        HandshakeOptions options, CancellationToken cancellationToken)
        where TMessage : class
        where TResult : class
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(codec);
        ArgumentNullException.ThrowIfNull(options);

        var startedAt = ReportStarted(machine, transport.RemoteAddress, options);
        using var activity = HandshakeTelemetry.Source.StartActivity("handshake");
        activity?.SetTag("handshake.protocol", machine.Protocol).SetTag("handshake.version", machine.Version)
            .SetTag("handshake.role", machine.Role).SetTag("handshake.peer", PeerHost(transport.RemoteAddress));

        var outcome = await RunStepsAsync(machine, transport, codec, options, cancellationToken).ConfigureAwait(false);

        if (activity is not null)
        {
            activity.SetTag("handshake.outcome", outcome.Succeeded ? "succeeded" : "failed");
            if (outcome.Error is { } failure)
                activity.SetTag("handshake.phase", failure.Phase).SetTag("error.type", failure.Code).SetStatus(ActivityStatusCode.Error, failure.Code);
            else
                activity.SetTag("handshake.phase", machine.Phase);
        }
        ReportEnded(machine, transport.RemoteAddress, options, options.TimeProvider.GetElapsedTime(startedAt), outcome.Error);
        return outcome;
    }

    /// <summary>
    /// Counts a handshake as started and in flight, and logs it; returns its start, for <see cref="ReportEnded"/>. Every
    /// driver of machines (this one, the UDP handshake table) reports through these two, so the instruments agree.
    /// </summary>
    internal static long ReportStarted<TMessage, TResult>(IHandshakeMachine<TMessage, TResult> machine, string? remoteAddress, HandshakeOptions options)
        where TMessage : class
        where TResult : class
    {
        var tags = new TagList { { "handshake.protocol", machine.Protocol }, { "handshake.version", machine.Version }, { "handshake.role", machine.Role } };
        HandshakeTelemetry.Started.Add(1, tags);
        HandshakeTelemetry.InFlight.Add(1, tags);
        if (options.Logger is { } logger && logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
            HandshakeLog.Started(logger, machine.Protocol, machine.Version, machine.Role, PeerHost(remoteAddress));
        return options.TimeProvider.GetTimestamp();
    }

    /// <summary>Counts a handshake's end (succeeded, or failed with <paramref name="error"/>), its duration, and logs it.</summary>
    internal static void ReportEnded<TMessage, TResult>(IHandshakeMachine<TMessage, TResult> machine, string? remoteAddress, HandshakeOptions options,
        TimeSpan elapsed, HandshakeError? error)
        where TMessage : class
        where TResult : class
    {
        var tags = new TagList { { "handshake.protocol", machine.Protocol }, { "handshake.version", machine.Version }, { "handshake.role", machine.Role } };
        HandshakeTelemetry.InFlight.Add(-1, tags);
        var logger = options.Logger;
        if (error is null)
        {
            HandshakeTelemetry.Succeeded.Add(1, tags);
            tags.Add("handshake.outcome", "succeeded");
            if (logger?.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Information) == true)
                HandshakeLog.Succeeded(logger, machine.Protocol, machine.Version, machine.Role, PeerHost(remoteAddress), (long)elapsed.TotalMilliseconds);
        }
        else
        {
            tags.Add("error.type", error.Code);
            HandshakeTelemetry.Failed.Add(1, tags);
            tags.Add("handshake.outcome", "failed");
            if (logger?.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Warning) == true)
                HandshakeLog.Failed(logger, machine.Protocol, machine.Version, machine.Role, PeerHost(remoteAddress), error.Code, error.Phase, error.Detail);
        }
        HandshakeTelemetry.Duration.Record(elapsed.TotalSeconds, tags);
    }

    private static async ValueTask<HandshakeOutcome<TResult>> RunStepsAsync<TMessage, TResult>(
        IHandshakeMachine<TMessage, TResult> machine, IMessageTransport transport, IMessageCodec<TMessage> codec,
        HandshakeOptions options, CancellationToken cancellationToken)
        where TMessage : class
        where TResult : class
    {
        var clock = options.TimeProvider;
        var remaining = options.HandshakeTimeout;
        if (machine.StartedAt is { } startedAt)
            remaining -= clock.GetUtcNow() - startedAt;
        var deadline = clock.GetUtcNow() + remaining;
        // One source for every timeout, its one timer re-armed at each step for whichever comes first, the step's end or
        // the handshake's (which of the two it was armed for tells them apart), and cancelled by the caller's token too.
        using var timeouts = new CancellationTokenSource(Timeout.InfiniteTimeSpan, clock);
        using var caller = cancellationToken.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), timeouts);
        using var buffer = new PooledBufferWriter();
        var token = timeouts.Token;
        var armedForHandshake = false;
        // Each step (the wait for the peer's message, then the machine's own work: checks, stores, hooks) runs under the
        // step timeout; a send, under what is left of the handshake's.
        CancellationToken BeginStep(TimeSpan? timeout)
        {
            var left = deadline - clock.GetUtcNow();
            var step = timeout ?? options.StepTimeout;
            armedForHandshake = left <= step;
            if (!timeouts.IsCancellationRequested) timeouts.CancelAfter(armedForHandshake ? Max(left, TimeSpan.Zero) : step);
            return token;
        }
        CancellationToken BeginSend()
        {
            armedForHandshake = true;
            if (!timeouts.IsCancellationRequested) timeouts.CancelAfter(Max(deadline - clock.GetUtcNow(), TimeSpan.Zero));
            return token;
        }
        var canSend = true;
        var waiting = false;
        try
        {
            var step = await machine.StartAsync(PeerHost(transport.RemoteAddress), BeginStep(null)).ConfigureAwait(false);
            while (true)
            {
                switch (step.Kind)
                {
                    case HandshakeStepKind.Send:
                    {
                        using var span = HandshakeTelemetry.Source.HasListeners() ? HandshakeTelemetry.Source.StartActivity("send " + codec.GetName(step.Message!)) : null;
                        buffer.Clear();
                        codec.Encode(step.Message!, buffer);
                        await transport.SendAsync(buffer.WrittenMemory, BeginSend()).ConfigureAwait(false);
                        step = await machine.ContinueAsync(BeginStep(null)).ConfigureAwait(false);
                        break;
                    }

                    case HandshakeStepKind.Receive:
                    {
                        using var span = HandshakeTelemetry.Source.HasListeners() ? HandshakeTelemetry.Source.StartActivity("receive " + machine.Phase) : null;
                        var stepCancellation = BeginStep(step.Timeout);
                        // The wait for the peer holds no buffer; the transport writes the message in once it is whole.
                        buffer.Release();
                        waiting = true;
                        var received = await transport.ReceiveAsync(buffer, stepCancellation).ConfigureAwait(false);
                        waiting = false;
                        if (!received)
                        {
                            canSend = false;
                            step = await machine.FailAsync(new HandshakeError(HandshakeErrorCodes.PeerClosed, machine.Phase, machine.Role,
                                $"The peer closed the connection during '{machine.Phase}'"), stepCancellation).ConfigureAwait(false);
                        }
                        else if (!codec.TryDecode(buffer.WrittenSpan, out var message, out var decodeError))
                        {
                            step = await machine.FailAsync(new HandshakeError(machine.MalformedCode, machine.Phase, machine.Role, decodeError.Detail), stepCancellation).ConfigureAwait(false);
                        }
                        else
                        {
                            step = await machine.ReceiveAsync(message, stepCancellation).ConfigureAwait(false);
                        }
                        break;
                    }

                    case HandshakeStepKind.Succeeded:
                        return HandshakeOutcome<TResult>.Success(step.Result!);

                    default:
                        return await EndAsync<TMessage, TResult>(step.Error!, step.Message, canSend, transport, codec, buffer, options).ConfigureAwait(false);
                }
            }
        }
        catch (Exception exception)
        {
            var timedOut = exception is OperationCanceledException && timeouts.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
            var error = Classify(exception, machine, cancellationToken, timedOut && armedForHandshake, timedOut && !armedForHandshake, waiting, options);
            canSend &= CanStillSend(exception);
            TMessage? errorMessage = null;
            using (var effects = new CancellationTokenSource(options.ErrorDeliveryTimeout, options.TimeProvider))
            {
                try
                {
                    var failed = await machine.FailAsync(error, effects.Token).ConfigureAwait(false);
                    error = failed.Error ?? error;
                    errorMessage = failed.Message;
                }
                catch (Exception)
                {
                    // A machine that cannot even fail cleanly: the failure stands, without the spec's error message.
                }
            }
            return await EndAsync<TMessage, TResult>(error, errorMessage, canSend, transport, codec, buffer, options).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The peer's host (the address without its port; an IPv6 address without brackets), or <c>"unknown"</c>:
    /// what per-address limits key on, so that reconnecting from another port does not reset them.
    /// </summary>
    public static string PeerHost(string? remoteAddress)
    {
        if (string.IsNullOrEmpty(remoteAddress)) return "unknown";
        if (remoteAddress.StartsWith('['))
        {
            var close = remoteAddress.IndexOf(']');
            return close > 0 ? remoteAddress[1..close] : remoteAddress;
        }
        var colon = remoteAddress.LastIndexOf(':');
        // One colon: host:port. More: a bare IPv6 address.
        return colon > 0 && remoteAddress.IndexOf(':') == colon ? remoteAddress[..colon] : remoteAddress;
    }

    /// <summary>Sends the spec's error message when there is one and the transport can carry it, then closes the transport. Never throws.</summary>
    private static async ValueTask<HandshakeOutcome<TResult>> EndAsync<TMessage, TResult>(
        HandshakeError error, TMessage? errorMessage, bool canSend, IMessageTransport transport, IMessageCodec<TMessage> codec,
        PooledBufferWriter buffer, HandshakeOptions options)
        where TMessage : class
        where TResult : class
    {
        if (canSend && errorMessage is not null && !error.RaisedByPeer)
        {
            try
            {
                using var delivery = new CancellationTokenSource(options.ErrorDeliveryTimeout, options.TimeProvider);
                buffer.Clear();
                codec.Encode(errorMessage, buffer);
                await transport.SendAsync(buffer.WrittenMemory, delivery.Token).ConfigureAwait(false);
                error = error with { SentToPeer = codec.GetName(errorMessage) };
            }
            catch (Exception)
            {
                // The peer is gone or too slow: the failure stands without the courtesy message.
            }
        }
        await transport.ReleaseAsync(options.ErrorDeliveryTimeout, options.TimeProvider, CloseReasonOf(error)).ConfigureAwait(false);
        return HandshakeOutcome<TResult>.Failure(error);
    }

    /// <summary>What the close tells the peer about a failed handshake (over WebSocket, the close frame's status code).</summary>
    internal static CloseReason CloseReasonOf(HandshakeError error) => error switch
    {
        { RaisedByPeer: true } or { Code: HandshakeErrorCodes.PeerClosed } => CloseReason.Normal,
        { Code: HandshakeErrorCodes.Cancelled } => CloseReason.GoingAway,
        { Code: HandshakeErrorCodes.StepTimeout or HandshakeErrorCodes.HandshakeTimeout or HandshakeErrorCodes.InternalError or HandshakeErrorCodes.TransportFailed }
            => CloseReason.InternalError,
        // The spec's own codes and the malformed code: this side refused what the peer sent.
        _ => CloseReason.PolicyViolation,
    };

    private static HandshakeError Classify<TMessage, TResult>(
        Exception exception, IHandshakeMachine<TMessage, TResult> machine, CancellationToken callerToken,
        bool handshakeTimedOut, bool stepTimedOut, bool waiting, HandshakeOptions options)
        where TMessage : class
        where TResult : class
    {
        var phase = machine.Phase;
        var role = machine.Role;
        return exception switch
        {
            OperationCanceledException when callerToken.IsCancellationRequested
                => new(HandshakeErrorCodes.Cancelled, phase, role, "The handshake was cancelled"),
            OperationCanceledException when handshakeTimedOut
                => new(HandshakeErrorCodes.HandshakeTimeout, phase, role, $"The handshake did not complete within {options.HandshakeTimeout.TotalSeconds:0.###} s"),
            OperationCanceledException when stepTimedOut && waiting
                => new(HandshakeErrorCodes.StepTimeout, phase, role, $"No message from the peer within the step timeout in '{phase}'"),
            OperationCanceledException when stepTimedOut
                => new(HandshakeErrorCodes.StepTimeout, phase, role, $"This side's work in '{phase}' (a hook, a store or a proof of work) did not complete within the step timeout"),
            TransportException { Error: TransportError.MessageTooLarge } transport
                => new(machine.MalformedCode, phase, role, transport.Message),
            TransportException transport
                => new(HandshakeErrorCodes.TransportFailed, phase, role, transport.Message),
            _ => HandshakeError.Internal(phase, role, exception),
        };
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static bool CanStillSend(Exception exception)
        => exception is not TransportException { Error: not TransportError.MessageTooLarge };
}
