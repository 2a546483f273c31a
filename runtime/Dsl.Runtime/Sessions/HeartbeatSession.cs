using System;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Transports;

namespace Dsl.Runtime.Sessions;

/// <summary>
/// What runs after a handshake that declares a heartbeat: the pinging side sends a ping every
/// interval, the other side answers each ping with a pong, and both sides end the session when
/// nothing at all has arrived from the peer for <see cref="HeartbeatOptions.Interval"/> ×
/// <see cref="HeartbeatOptions.MissedIntervals"/>. Other messages go to the application.
/// </summary>
/// <remarks>
/// <para>The session owns the transport: however it ends, the transport is closed and disposed, and
/// every loop and timer of the session has finished before <see cref="Completion"/> completes.
/// No exception escapes the session; <see cref="Completion"/> never faults.</para>
/// <para>Messages are handled one at a time, in order, on the receive loop: the callback should
/// return promptly (it receives a token cancelled when the session shuts down). Ending the session
/// from the callback with <see cref="DisposeAsync"/> does not wait for the session to finish, since
/// the session would be waiting on the callback.</para>
/// </remarks>
/// <typeparam name="TMessage">The protocol's message base type.</typeparam>
public sealed class HeartbeatSession<TMessage> : IAsyncDisposable where TMessage : class
{
    // Marks the receive loop's callback, so DisposeAsync called from it does not wait on itself.
    private static readonly AsyncLocal<HeartbeatSession<TMessage>?> s_callbackOwner = new();

    private readonly IMessageTransport _transport;
    private readonly IMessageCodec<TMessage> _codec;
    private readonly IHeartbeatMessages<TMessage> _heartbeat;
    private readonly HeartbeatOptions _options;
    private readonly Func<TMessage, CancellationToken, ValueTask>? _onMessage;
    private readonly TimeSpan _silenceLimit;
    private readonly TaskCompletionSource<SessionEnd> _end = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<SessionEnd> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Cancelled once the session has ended and the transport is closed; never disposed, because
    // SendAsync may still link to it after the end.
    private readonly CancellationTokenSource _stop = new();
    private long _lastReceived;
    private int _state; // NotStarted, Started or DisposedBeforeStart
    private int _pingsSent;
    private int _pongsReceived;
    private int _pingsAnswered;

    private const int NotStarted = 0, Started = 1, DisposedBeforeStart = 2;

    /// <summary>Creates a session over a transport on which a handshake has succeeded; call <see cref="Start"/> to run it.</summary>
    /// <param name="transport">The channel to the peer; the session owns it from now on.</param>
    /// <param name="codec">The protocol's codec.</param>
    /// <param name="heartbeat">The protocol's ping and pong messages.</param>
    /// <param name="options">The heartbeat's interval, tolerance, role and clock.</param>
    /// <param name="onMessage">Receives every message that is neither a ping nor a pong; when <see langword="null"/>, such messages are ignored.</param>
    public HeartbeatSession(
        IMessageTransport transport, IMessageCodec<TMessage> codec, IHeartbeatMessages<TMessage> heartbeat,
        HeartbeatOptions options, Func<TMessage, CancellationToken, ValueTask>? onMessage = null)
    {
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _codec = codec ?? throw new ArgumentNullException(nameof(codec));
        _heartbeat = heartbeat ?? throw new ArgumentNullException(nameof(heartbeat));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.Interval, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MissedIntervals, nameof(options));
        ArgumentNullException.ThrowIfNull(options.TimeProvider, nameof(options));
        _onMessage = onMessage;
        _silenceLimit = options.Interval * options.MissedIntervals;
        _lastReceived = options.TimeProvider.GetTimestamp();
    }

    /// <summary>Completes with how the session ended, once the transport is released and every loop has finished. Never faults.</summary>
    public Task<SessionEnd> Completion => _completion.Task;

    /// <summary>How many pings this side has sent.</summary>
    public int PingsSent => Volatile.Read(ref _pingsSent);

    /// <summary>How many pongs this side has received.</summary>
    public int PongsReceived => Volatile.Read(ref _pongsReceived);

    /// <summary>How many of the peer's pings this side has answered.</summary>
    public int PingsAnswered => Volatile.Read(ref _pingsAnswered);

    /// <summary>Starts receiving, answering pings and (on the pinging side) sending them.</summary>
    /// <param name="cancellationToken">Ends the session with <see cref="SessionEndReason.ClosedLocally"/> when cancelled.</param>
    /// <exception cref="InvalidOperationException">The session was already started.</exception>
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    public void Start(CancellationToken cancellationToken = default)
    {
        switch (Interlocked.CompareExchange(ref _state, Started, NotStarted))
        {
            case Started: throw new InvalidOperationException("The session has already started.");
            case DisposedBeforeStart: throw new ObjectDisposedException(GetType().Name);
        }
        // The peer's silence is counted from the start of the session.
        Volatile.Write(ref _lastReceived, _options.TimeProvider.GetTimestamp());
        _ = RunAsync(cancellationToken);
    }

    /// <summary>Encodes and sends an application message to the peer.</summary>
    /// <exception cref="TransportException">The session has ended, or the transport failed.</exception>
    public async ValueTask SendAsync(TMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_end.Task.IsCompleted)
            throw new TransportException(TransportError.Closed, "The session has ended");
        await SendCoreAsync(message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends the session with <see cref="SessionEndReason.ClosedLocally"/> (unless it already ended)
    /// and waits until the transport is released and every loop has finished.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        End(SessionEndReason.ClosedLocally, "The session was disposed");
        if (Interlocked.CompareExchange(ref _state, DisposedBeforeStart, NotStarted) == NotStarted)
        {
            await _transport.ReleaseAsync(_options.CloseTimeout, _options.TimeProvider).ConfigureAwait(false);
            _completion.TrySetResult(await _end.Task.ConfigureAwait(false));
        }
        if (ReferenceEquals(s_callbackOwner.Value, this)) return;
        await _completion.Task.ConfigureAwait(false);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var registration = cancellationToken.Register(static state =>
            ((HeartbeatSession<TMessage>)state!).End(SessionEndReason.ClosedLocally, "The session was cancelled"), this);
        try
        {
            var receiving = Task.Run(ReceiveLoopAsync, CancellationToken.None);
            var beating = Task.Run(BeatLoopAsync, CancellationToken.None);
            var end = await _end.Task.ConfigureAwait(false);
            // Close first, so that a graceful close can still reach the peer; then stop the loops.
            await _transport.CloseQuietlyAsync(_options.CloseTimeout, _options.TimeProvider, CloseReasonOf(end.Reason)).ConfigureAwait(false);
            _stop.Cancel();
            await Task.WhenAll(receiving, beating).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // The loops catch everything themselves; this is a last line of defence.
            End(SessionEndReason.TransportFailed, exception.Message);
        }
        finally
        {
            await registration.DisposeAsync().ConfigureAwait(false);
            await _transport.DisposeQuietlyAsync().ConfigureAwait(false);
            _completion.TrySetResult(await _end.Task.ConfigureAwait(false));
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var token = _stop.Token;
        using var buffer = new PooledBufferWriter();
        try
        {
            while (true)
            {
                buffer.Clear();
                if (!await _transport.ReceiveAsync(buffer, token).ConfigureAwait(false))
                {
                    End(SessionEndReason.ClosedByPeer, "The peer closed the connection");
                    return;
                }
                Volatile.Write(ref _lastReceived, _options.TimeProvider.GetTimestamp());
                if (!_codec.TryDecode(buffer.WrittenSpan, out var message, out var error))
                {
                    End(SessionEndReason.Malformed, error.Detail);
                    return;
                }
                if (_heartbeat.IsPong(message))
                {
                    Interlocked.Increment(ref _pongsReceived);
                }
                else if (_heartbeat.CreatePong(message) is { } pong)
                {
                    await SendCoreAsync(pong, token).ConfigureAwait(false);
                    Interlocked.Increment(ref _pingsAnswered);
                }
                else if (_onMessage is not null && !await DeliverAsync(message, token).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The session is shutting down; its end is already decided.
        }
        catch (TransportException exception) when (exception.Error == TransportError.MessageTooLarge)
        {
            End(SessionEndReason.Malformed, exception.Message);
        }
        catch (Exception exception)
        {
            End(SessionEndReason.TransportFailed, exception.Message);
        }
    }

    private async ValueTask<bool> DeliverAsync(TMessage message, CancellationToken token)
    {
        s_callbackOwner.Value = this;
        try
        {
            await _onMessage!(message, token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception exception)
        {
            End(SessionEndReason.HandlerFailed, $"The message callback threw {exception.GetType().Name}: {exception.Message}");
            return false;
        }
        finally
        {
            s_callbackOwner.Value = null;
        }
    }

    private async Task BeatLoopAsync()
    {
        var token = _stop.Token;
        var clock = _options.TimeProvider;
        var interval = _options.Interval;
        var started = clock.GetTimestamp();
        var nextPing = _options.SendsPings ? interval : TimeSpan.MaxValue;
        try
        {
            while (true)
            {
                var silence = clock.GetElapsedTime(Volatile.Read(ref _lastReceived));
                if (silence >= _silenceLimit)
                {
                    End(SessionEndReason.HeartbeatLost,
                        $"No message from the peer for {_silenceLimit.TotalMilliseconds:0} ms ({_options.MissedIntervals} intervals)");
                    return;
                }
                var elapsed = clock.GetElapsedTime(started);
                if (elapsed >= nextPing)
                {
                    await SendCoreAsync(_heartbeat.CreatePing(), token).ConfigureAwait(false);
                    Interlocked.Increment(ref _pingsSent);
                    // After a stall, skip the missed beats instead of sending them in a burst.
                    nextPing = nextPing + interval > elapsed ? nextPing + interval : elapsed + interval;
                    continue;
                }
                var untilPing = nextPing - elapsed;
                var untilLost = _silenceLimit - silence;
                var wait = untilPing < untilLost ? untilPing : untilLost;
                // Whole milliseconds, at least one: a shorter delay would spin.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(wait.TotalMilliseconds))), clock, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The session is shutting down; its end is already decided.
        }
        catch (Exception exception)
        {
            End(SessionEndReason.TransportFailed, exception.Message);
        }
    }

    private async ValueTask SendCoreAsync(TMessage message, CancellationToken cancellationToken)
    {
        // A buffer per send: pings, pongs and application messages may be sent concurrently.
        using var buffer = new PooledBufferWriter(256);
        _codec.Encode(message, buffer);
        await _transport.SendAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    private void End(SessionEndReason reason, string detail) => _end.TrySetResult(new SessionEnd(reason, detail));

    /// <summary>What the close tells the peer about the end of the session (over WebSocket, the close frame's status code).</summary>
    private static CloseReason CloseReasonOf(SessionEndReason reason) => reason switch
    {
        SessionEndReason.Malformed => CloseReason.PolicyViolation,
        SessionEndReason.HeartbeatLost or SessionEndReason.TransportFailed or SessionEndReason.HandlerFailed => CloseReason.InternalError,
        _ => CloseReason.Normal,
    };
}
