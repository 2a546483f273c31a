using System;
using System.Buffers;
using System.Collections.Generic;
using System.Net;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports.Udp;

namespace Dsl.Runtime.Hosting;

/// <summary>
/// Serves a responder over UDP with every handshake under way a row in one table: its sans-IO machine, its peer's
/// address, its last flight and its deadlines. A waiting handshake has no task, timer, transport or receive buffer of
/// its own: a datagram steps its machine on the endpoint's receive loop, and one timer for the whole table re-sends
/// flights, enforces the step and handshake timeouts, and fails what is overdue. It has the host shape of
/// <see cref="UdpHandshakeHost{TResult}"/> (any address, the same limits, a stateless retry for new addresses, a
/// graceful stop), and keeps a hundred thousand waiting handshakes in about a kilobyte each.
/// </summary>
/// <remarks>
/// <para>Reliability is DTLS's, as <see cref="ReliableTransport"/> gives a transport: a flight not answered within the
/// retransmission timeout is sent again (the timeout doubling up to its maximum); after
/// <see cref="ReliabilityOptions.MaxRetransmits"/> re-sends the handshake fails with
/// <see cref="HandshakeErrorCodes.TransportFailed"/>. A repeat of the peer's message that the last flight answered is
/// answered with that flight once; older repeats are dropped. A completed handshake's last flight is left to the
/// endpoint, which answers the peer's repeats for <see cref="UdpHandshakeOptions.Linger"/>.</para>
/// <para>The timeouts are each machine's own (<see cref="IHandshakeMachine{TMessage, TResult}.Options"/>), unless
/// <see cref="HandshakeHostOptions.StepTimeout"/> or <see cref="HandshakeHostOptions.HandshakeTimeout"/> is set. A datagram
/// that arrives while the handshake is busy with the previous one (a slow store or hook) is dropped; the peer sends it
/// again.</para>
/// </remarks>
/// <typeparam name="TMessage">The protocol's message base type.</typeparam>
/// <typeparam name="TResult">The responder's result type.</typeparam>
public sealed class UdpHandshakeTable<TMessage, TResult> : IDatagramHandler, IAsyncDisposable
    where TMessage : class
    where TResult : class
{
    /// <summary>How often the table's one timer looks for overdue handshakes: the resolution of its deadlines.</summary>
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(50);

    private readonly HandshakeHostOptions _options;
    private readonly Func<IHandshakeMachine<TMessage, TResult>> _create;
    private readonly IMessageCodec<TMessage> _codec;
    private readonly Action<IPEndPoint, HandshakeOutcome<TResult>>? _completed;
    private readonly IAddressBlockList? _blockList;
    private readonly UdpHandshakeOptions _udp;
    private readonly UdpEndpointOptions _endpointOptions;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    // Guarded by _gate: the rows by peer, the count per IP address, and the rows by next deadline (a row is queued again
    // when its deadline moves; an entry whose deadline is no longer the row's is stale and skipped).
    private readonly Dictionary<IPEndPoint, Row> _rows = new();
    private readonly Dictionary<IPAddress, int> _perAddress = new();
    private readonly PriorityQueue<Row, long> _due = new();
    private readonly CancellationTokenSource _stopping = new();
    private UdpEndpoint? _endpoint;
    private ITimer? _timer;
    private volatile bool _noNewPeers;
    private int _stopped;

    /// <summary>Makes the table; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Where to listen and the limits (handshakes in all and per address, datagram size, stop deadline).</param>
    /// <param name="createResponder">Makes a fresh responder machine for each new peer (for example <c>() =&gt; new SttResponder(inputs)</c>).</param>
    /// <param name="codec">The protocol's codec.</param>
    /// <param name="completed">Told of each handshake's outcome, on the thread that ended it (the endpoint's receive loop or the table's timer): keep it short and hand longer work off. Without it, a result's secrets are disposed at once.</param>
    /// <param name="blockList">Addresses whose new handshakes are ignored.</param>
    /// <param name="udp">Retransmission and linger; the defaults when <see langword="null"/>. Its limits come from <paramref name="options"/>.</param>
    /// <param name="endpoint">The endpoint's own settings (the retry key of a fleet, say).</param>
    /// <exception cref="ArgumentException"><paramref name="udp"/> wraps transports: the table has none.</exception>
    public UdpHandshakeTable(HandshakeHostOptions options, Func<IHandshakeMachine<TMessage, TResult>> createResponder, IMessageCodec<TMessage> codec,
        Action<IPEndPoint, HandshakeOutcome<TResult>>? completed = null, IAddressBlockList? blockList = null,
        UdpHandshakeOptions? udp = null, UdpEndpointOptions? endpoint = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _ = options.EndPoint();
        _create = createResponder ?? throw new ArgumentNullException(nameof(createResponder));
        _codec = codec ?? throw new ArgumentNullException(nameof(codec));
        _completed = completed;
        _blockList = blockList;
        _udp = udp ?? new UdpHandshakeOptions();
        if (_udp.WrapTransport is not null)
            throw new ArgumentException("The table steps machines on datagrams and has no transport to wrap; use UdpHandshakeHost for a wrapped one.", nameof(udp));
        _time = _udp.Reliability.TimeProvider;
        _endpointOptions = (endpoint ?? new UdpEndpointOptions()) with
        {
            MaxDatagramSize = options.MaxDatagramSize,
            MaxPeers = options.MaxConcurrentHandshakes,
        };
    }

    /// <summary>Where the table listens, with the port actually bound.</summary>
    /// <exception cref="InvalidOperationException">The table has not started.</exception>
    public IPEndPoint LocalEndPoint => Endpoint.LocalEndPoint;

    /// <summary>The endpoint underneath, for its counters (retries sent, datagrams dropped, lingering handshakes).</summary>
    /// <exception cref="InvalidOperationException">The table has not started.</exception>
    public UdpEndpoint Endpoint => _endpoint ?? throw new InvalidOperationException("The table has not started.");

    /// <summary>How many handshakes are under way (a completed one leaves at once; the endpoint answers its late repeats).</summary>
    public int Count
    {
        get { lock (_gate) return _rows.Count; }
    }

    /// <summary>Binds and starts answering.</summary>
    /// <exception cref="System.Net.Sockets.SocketException">The address cannot be bound.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_endpoint is not null) return Task.CompletedTask;
        _endpoint = new UdpEndpoint(_options.EndPoint(), _endpointOptions, this);
        _timer = _time.CreateTimer(static state => ((UdpHandshakeTable<TMessage, TResult>)state!).OnTick(), this, Tick, Tick);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops gracefully: no new peer is answered, the handshakes under way have up to
    /// <see cref="HandshakeHostOptions.StopTimeout"/> (or until <paramref name="cancellationToken"/> is cancelled) to
    /// finish, then the rest fail as <see cref="HandshakeErrorCodes.Cancelled"/> and the socket closes.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_endpoint is null || Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _noNewPeers = true;
        await GracefulStop.WaitAsync(() => Count, _options.StopTimeout, Tick, _time, cancellationToken).ConfigureAwait(false);
        // What a store or hook is still doing is cancelled; a machine in such a call cannot be failed (it is
        // single-threaded), so its row ends as cancelled without it, and what the call returns later is ignored.
        await _stopping.CancelAsync().ConfigureAwait(false);
        var idle = new List<Row>();
        var busy = new List<Row>();
        lock (_gate)
        {
            foreach (var row in _rows.Values)
            {
                if (row.Busy)
                {
                    busy.Add(row);
                    continue;
                }
                row.Busy = true;
                idle.Add(row);
            }
        }
        foreach (var row in idle)
        {
            using var effects = new CancellationTokenSource(row.Machine.Options.ErrorDeliveryTimeout, _time);
            await AdvanceAsync(row, Fail(row, HandshakeErrorCodes.Cancelled, "The host stopped", effects.Token), canSend: false).ConfigureAwait(false);
        }
        foreach (var row in busy)
            End(row, HandshakeOutcome<TResult>.Failure(new HandshakeError(HandshakeErrorCodes.Cancelled, row.Machine.Phase, row.Machine.Role, "The host stopped")), null);
        if (_timer is not null) await _timer.DisposeAsync().ConfigureAwait(false);
        await _endpoint.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops gracefully (see <see cref="StopAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    bool IDatagramHandler.TryReceive(IPEndPoint from, ReadOnlyMemory<byte> datagram)
    {
        Row? row;
        lock (_gate)
        {
            if (!_rows.TryGetValue(from, out row)) return false;
        }
        if (datagram.IsEmpty)
        {
            // The peer closed: nothing more will come, and nothing can be sent.
            if (TryTake(row)) _ = AdvanceAsync(row, Fail(row, HandshakeErrorCodes.PeerClosed, $"The peer closed the connection during '{row.Machine.Phase}'"), canSend: false);
            return true;
        }
        var span = datagram.Span;
        // A client repeats its first flight behind the cookie until it is answered: the same message.
        if (RetryCookies.IsEcho(span)) span = span[(2 + RetryCookies.CookieLength)..];
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(span, digest);
        var answerAgain = false;
        lock (_gate)
        {
            if (row.Busy || row.Ended) return true;
            if (row.Answers(digest))
            {
                // The peer lost our answer to this message: send it once more (the timer re-sends it after that).
                if (row.RepeatAnswered || !row.HasFlight) return true;
                row.RepeatAnswered = true;
                answerAgain = true;
            }
            else if (row.HasSeen(BitConverter.ToUInt64(digest)))
            {
                return true;
            }
            else
            {
                row.Busy = true;
                row.Remember(digest);
            }
        }
        if (answerAgain)
        {
            row.SendFlight(_endpoint!);
            return true;
        }
        _ = AdvanceAsync(row, Deliver(row, span), canSend: true);
        return true;
    }

    bool IDatagramHandler.Accept(IPEndPoint from, ReadOnlyMemory<byte> datagram)
    {
        if (_noNewPeers || !HasRoom(from.Address)) return false;
        if (_blockList is { } blocked)
        {
            ValueTask<bool> check;
            try
            {
                check = blocked.IsBlockedAsync(from.Address.ToString(), _time.GetUtcNow(), _stopping.Token);
            }
            catch (Exception)
            {
                // A store that fails refuses no one: the handshake's own checks still run.
                check = new ValueTask<bool>(false);
            }
            if (!check.IsCompletedSuccessfully)
            {
                // The receive loop does not wait on a store: the datagram is kept until the answer comes.
                _ = AdmitAsync(from, datagram.ToArray(), check);
                return true;
            }
            if (check.Result) return false;
        }
        return Begin(from, datagram.Span);
    }

    private async Task AdmitAsync(IPEndPoint from, byte[] datagram, ValueTask<bool> check)
    {
        bool isBlocked;
        try
        {
            isBlocked = await check.ConfigureAwait(false);
        }
        catch (Exception)
        {
            isBlocked = false;
        }
        if (!isBlocked && !_noNewPeers && HasRoom(from.Address)) Begin(from, datagram);
    }

    private bool HasRoom(IPAddress address)
    {
        lock (_gate)
            return _rows.Count < _options.MaxConcurrentHandshakes
                   && (!_perAddress.TryGetValue(address, out var fromAddress) || fromAddress < _options.MaxHandshakesPerAddress);
    }

    /// <summary>Starts a handshake with a new peer and hands it the datagram that announced it.</summary>
    private bool Begin(IPEndPoint from, ReadOnlySpan<byte> datagram)
    {
        IHandshakeMachine<TMessage, TResult> machine;
        try
        {
            machine = _create();
        }
        catch (Exception)
        {
            return false;
        }
        var row = new Row(from, machine) { Busy = true };
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(datagram, digest);
        row.Remember(digest);
        var options = _options.Apply(machine.Options);
        row.HandshakeDue = (_time.GetUtcNow() + options.HandshakeTimeout).UtcTicks;
        row.StepDue = row.RetransmitDue = long.MaxValue;
        lock (_gate)
        {
            if (!_rows.TryAdd(from, row)) return false;
            _perAddress[from.Address] = _perAddress.TryGetValue(from.Address, out var count) ? count + 1 : 1;
        }
        HandshakeDriver.ReportStarted(machine, from.ToString(), options);
        var advancing = AdvanceAsync(row, StartAndDeliver(row, Decode(row, datagram)), canSend: true);
        if (!advancing.IsCompleted)
        {
            // A first step still under way (a slow store or hook): filed under its handshake deadline meanwhile, so that
            // one that never returns is seen.
            lock (_gate)
                if (row.Busy && !row.Ended) Schedule(row);
        }
        return true;
    }

    /// <summary>The datagram decoded, or the failure a message that cannot be decoded is.</summary>
    private (TMessage? Message, HandshakeError? Error) Decode(Row row, ReadOnlySpan<byte> datagram)
        => _codec.TryDecode(datagram, out var message, out var error)
            ? (message, null)
            : (null, new HandshakeError(row.Machine.MalformedCode, row.Machine.Phase, row.Machine.Role, error.Detail));

    private async ValueTask<HandshakeStep<TMessage, TResult>> StartAndDeliver(Row row, (TMessage? Message, HandshakeError? Error) first)
    {
        var step = await row.Machine.StartAsync(row.Peer.Address.ToString(), _stopping.Token).ConfigureAwait(false);
        if (step.Kind != HandshakeStepKind.Receive) return step;
        return first.Message is { } message
            ? await row.Machine.ReceiveAsync(message, _stopping.Token).ConfigureAwait(false)
            : await row.Machine.FailAsync(first.Error!, _stopping.Token).ConfigureAwait(false);
    }

    private ValueTask<HandshakeStep<TMessage, TResult>> Deliver(Row row, ReadOnlySpan<byte> datagram)
    {
        var (message, error) = Decode(row, datagram);
        return message is not null ? row.Machine.ReceiveAsync(message, _stopping.Token) : row.Machine.FailAsync(error!, _stopping.Token);
    }

    private ValueTask<HandshakeStep<TMessage, TResult>> Fail(Row row, string code, string detail, CancellationToken? cancellationToken = null)
        => row.Machine.FailAsync(new HandshakeError(code, row.Machine.Phase, row.Machine.Role, detail), cancellationToken ?? _stopping.Token);

    /// <summary>Marks an idle row busy for an event of its own; false when it is busy or has ended.</summary>
    private bool TryTake(Row row)
    {
        lock (_gate)
        {
            if (row.Busy || row.Ended) return false;
            row.Busy = true;
            return true;
        }
    }

    /// <summary>
    /// Runs the machine from <paramref name="pending"/> until it waits again or ends: sends what it asks to send (its
    /// flight), then either files the row under its next deadline, or ends it. Synchronous as long as the machine is.
    /// </summary>
    private async ValueTask AdvanceAsync(Row row, ValueTask<HandshakeStep<TMessage, TResult>> pending, bool canSend)
    {
        List<byte[]>? flight = null;
        HandshakeStep<TMessage, TResult> step;
        try
        {
            step = await pending.ConfigureAwait(false);
            while (step.Kind == HandshakeStepKind.Send)
            {
                var datagram = Encode(step.Message!);
                (flight ??= new List<byte[]>(1)).Add(datagram);
                _endpoint!.TrySendNow(datagram, row.Peer);
                step = await row.Machine.ContinueAsync(_stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception exception)
        {
            // A machine returns its failures; what it throws is cancellation (the host stopping) or a bug.
            var error = exception is OperationCanceledException && _stopping.IsCancellationRequested
                ? new HandshakeError(HandshakeErrorCodes.Cancelled, row.Machine.Phase, row.Machine.Role, "The host stopped")
                : HandshakeError.Internal(row.Machine.Phase, row.Machine.Role, exception);
            step = HandshakeStep<TMessage, TResult>.Fail(error, null);
            try
            {
                using var effects = new CancellationTokenSource(row.Machine.Options.ErrorDeliveryTimeout, _time);
                var failed = await row.Machine.FailAsync(error, effects.Token).ConfigureAwait(false);
                if (failed.Error is not null) step = failed;
            }
            catch (Exception)
            {
                // A machine that cannot even fail cleanly: the failure stands, without the spec's error message.
            }
        }

        switch (step.Kind)
        {
            case HandshakeStepKind.Receive:
                Wait(row, flight, step.Timeout);
                return;
            case HandshakeStepKind.Succeeded:
                End(row, HandshakeOutcome<TResult>.Success(step.Result!), flight);
                return;
            default:
                var error = step.Error!;
                if (canSend && !row.Ended && step.Message is { } errorMessage && !error.RaisedByPeer && _endpoint!.TrySendNow(Encode(errorMessage), row.Peer))
                    error = error with { SentToPeer = _codec.GetName(errorMessage) };
                End(row, HandshakeOutcome<TResult>.Failure(error), null);
                return;
        }
    }

    private byte[] Encode(TMessage message)
    {
        using var buffer = new PooledBufferWriter();
        _codec.Encode(message, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The machine waits for the peer: the row keeps the flight just sent, and its deadlines.</summary>
    private void Wait(Row row, List<byte[]>? flight, TimeSpan? stepTimeout)
    {
        var now = _time.GetUtcNow().UtcTicks;
        lock (_gate)
        {
            if (row.Ended) return;
            if (flight is not null)
            {
                row.SetFlight(flight);
                row.RepeatAnswered = false;
                row.Retransmits = 0;
                row.RetransmitDue = now + RetransmitTimeout(0);
            }
            else
            {
                row.RetransmitDue = long.MaxValue;
            }
            // A step's own timeout (the spec's, for that step) stands unless the host sets one for every step.
            row.StepDue = now + (_options.StepTimeout ?? stepTimeout ?? row.Machine.Options.StepTimeout).Ticks;
            row.Busy = false;
            Schedule(row);
        }
    }

    /// <summary>The wait before re-sending a flight re-sent <paramref name="retransmits"/> times: doubling from the initial timeout up to the maximum.</summary>
    private long RetransmitTimeout(int retransmits)
    {
        var initial = _udp.Reliability.InitialTimeout.Ticks;
        var max = _udp.Reliability.MaxTimeout.Ticks;
        return retransmits >= 62 || initial > max >> Math.Min(retransmits, 62) ? max : Math.Min(initial << retransmits, max);
    }

    /// <summary>Files the row under its next deadline; under <see cref="_gate"/>.</summary>
    private void Schedule(Row row)
    {
        row.Queued = Math.Min(row.HandshakeDue, Math.Min(row.StepDue, row.RetransmitDue));
        _due.Enqueue(row, row.Queued);
    }

    /// <summary>The handshake is over: the row leaves the table, a success's last flight lingers at the endpoint, and the outcome is told.</summary>
    private void End(Row row, HandshakeOutcome<TResult> outcome, List<byte[]>? lastFlight)
    {
        lock (_gate)
        {
            // Given up on while a store or hook held it (see OnTick): it was reported then.
            if (row.Ended) return;
            row.Ended = true;
            if (_rows.TryGetValue(row.Peer, out var current) && ReferenceEquals(current, row))
            {
                _rows.Remove(row.Peer);
                if (_perAddress.TryGetValue(row.Peer.Address, out var count))
                {
                    if (count <= 1) _perAddress.Remove(row.Peer.Address);
                    else _perAddress[row.Peer.Address] = count - 1;
                }
            }
        }
        // Our last flight may be lost: the endpoint answers the peer's repeats of what it answered, without the row.
        if (outcome.Succeeded && lastFlight is not null && row.Answered is { } answered)
            _endpoint!.Linger(row.Peer, lastFlight.ToArray(), new[] { answered }, _udp.Linger);
        var elapsed = row.Machine.StartedAt is { } started ? _time.GetUtcNow() - started : TimeSpan.Zero;
        HandshakeDriver.ReportEnded(row.Machine, row.Peer.ToString(), row.Machine.Options, elapsed, outcome.Error);
        if (_completed is null)
        {
            if (outcome.Succeeded && outcome.Result is IDisposable secrets) secrets.Dispose();
            return;
        }
        try
        {
            _completed(row.Peer, outcome);
        }
        catch (Exception)
        {
            // The application's callback must not stop the table.
        }
    }

    /// <summary>The table's one timer: re-sends unanswered flights, and fails what is overdue.</summary>
    private void OnTick()
    {
        var now = _time.GetUtcNow().UtcTicks;
        List<Row>? resend = null;
        List<(Row Row, string Code, string Detail, bool CanSend)>? overdue = null;
        List<Row>? later = null;
        List<Row>? abandoned = null;
        lock (_gate)
        {
            while (_due.TryPeek(out var row, out var due) && due <= now)
            {
                _due.Dequeue();
                if (row.Ended || row.Queued != due) continue;
                if (row.Busy)
                {
                    // Mid-step (a store or a hook is slow): looked at again on the next tick, and given up on once the
                    // handshake's time and the grace to fail it are over, so that no call that hangs holds a slot.
                    if (now >= row.HandshakeDue + row.Machine.Options.ErrorDeliveryTimeout.Ticks) (abandoned ??= new()).Add(row);
                    else (later ??= new List<Row>()).Add(row);
                    continue;
                }
                var phase = row.Machine.Phase;
                if (now >= row.HandshakeDue)
                    (overdue ??= new()).Add((row, HandshakeErrorCodes.HandshakeTimeout, $"The handshake did not complete within {_options.Apply(row.Machine.Options).HandshakeTimeout.TotalSeconds:0.###} s", true));
                else if (now >= row.StepDue)
                    (overdue ??= new()).Add((row, HandshakeErrorCodes.StepTimeout, $"No message from the peer within the step timeout in '{phase}'", true));
                else if (row.Retransmits >= _udp.Reliability.MaxRetransmits)
                    (overdue ??= new()).Add((row, HandshakeErrorCodes.TransportFailed, $"No answer from the peer after {row.Retransmits} retransmissions in '{phase}'", false));
                else
                {
                    (resend ??= new()).Add(row);
                    row.Retransmits++;
                    row.RetransmitDue = now + RetransmitTimeout(row.Retransmits);
                    Schedule(row);
                    continue;
                }
                row.Busy = true;
            }
            if (later is not null)
                foreach (var row in later)
                {
                    row.Queued = now + Tick.Ticks;
                    _due.Enqueue(row, row.Queued);
                }
        }
        if (resend is not null && _endpoint is { } endpoint)
            foreach (var row in resend) row.SendFlight(endpoint);
        if (overdue is not null)
            foreach (var (row, code, detail, canSend) in overdue)
                _ = AdvanceAsync(row, Fail(row, code, detail), canSend);
        // The machine is still inside the call that hangs, so it cannot run its failure effects: the row leaves with the
        // timeout, and whatever the call returns later is ignored.
        if (abandoned is not null)
            foreach (var row in abandoned)
                End(row, HandshakeOutcome<TResult>.Failure(new HandshakeError(HandshakeErrorCodes.HandshakeTimeout, row.Machine.Phase, row.Machine.Role,
                    $"The handshake did not complete within {_options.Apply(row.Machine.Options).HandshakeTimeout.TotalSeconds:0.###} s (a store or hook did not return)")), null);
    }

    /// <summary>One handshake under way: what the table keeps of it while it waits.</summary>
    private sealed class Row(IPEndPoint peer, IHandshakeMachine<TMessage, TResult> machine)
    {
        public readonly IPEndPoint Peer = peer;
        public readonly IHandshakeMachine<TMessage, TResult> Machine = machine;
        // What this side sent last (one datagram, or several), sent again when the peer's answer is late or the peer
        // repeats itself; and the SHA-256 of the peer's message it answers, inline (no array per row).
        private object? _flight;
        private ulong _answered0, _answered1;
        private bool _hasAnswered;
        // The first 8 bytes of the digests of the two messages before it: late repeats are dropped.
        private ulong _seen0, _seen1;
        public bool RepeatAnswered;
        public int Retransmits;
        public long RetransmitDue, StepDue, HandshakeDue = long.MaxValue, Queued;
        /// <summary>An event is stepping the machine; guarded by the table's gate, as every field above.</summary>
        public bool Busy;
        public bool Ended;

        public bool HasFlight => _flight is not null;

        public void SetFlight(List<byte[]> flight) => _flight = flight.Count == 1 ? flight[0] : flight.ToArray();

        public void SendFlight(UdpEndpoint endpoint)
        {
            if (_flight is byte[] one) endpoint.TrySendNow(one, Peer);
            else if (_flight is byte[][] many) foreach (var datagram in many) endpoint.TrySendNow(datagram, Peer);
        }

        // The first 16 bytes of a SHA-256 tell repeats apart as well as all 32: a digest only filters, the machine checks.
        public bool Answers(ReadOnlySpan<byte> digest)
            => _hasAnswered && BitConverter.ToUInt64(digest) == _answered0 && BitConverter.ToUInt64(digest[8..]) == _answered1;

        /// <summary>The first 16 bytes of the digest of the message the last flight answers, for the endpoint's linger; null when there is none.</summary>
        public byte[]? Answered
        {
            get
            {
                if (!_hasAnswered) return null;
                var digest = new byte[16];
                BitConverter.TryWriteBytes(digest, _answered0);
                BitConverter.TryWriteBytes(digest.AsSpan(8), _answered1);
                return digest;
            }
        }

        public bool HasSeen(ulong prefix) => prefix == _seen0 || prefix == _seen1;

        public void Remember(ReadOnlySpan<byte> digest)
        {
            if (_hasAnswered) (_seen1, _seen0) = (_seen0, _answered0);
            (_answered0, _answered1) = (BitConverter.ToUInt64(digest), BitConverter.ToUInt64(digest[8..]));
            _hasAnswered = true;
        }
    }
}
