using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;

namespace Dsl.Runtime.Hosting;

/// <summary>
/// Serves a responder over TCP with every connection under way a row in one table: its socket, its sans-IO machine and
/// its deadlines. A waiting handshake has no task, timer, cancellation source, transport or receive buffer of its own:
/// the socket's zero-byte receive says when the peer's bytes are there, the frame is read and steps the machine on the
/// thread that saw it, and one timer for the whole table enforces the first-byte, step and handshake timeouts. It has
/// the host shape of <see cref="TcpHandshakeHost"/> (any address, the same limits and the same eviction of silent
/// connections, a graceful stop) and the same wire: each message a frame of a 4-byte big-endian length and its bytes,
/// as <see cref="TcpMessageTransport"/> reads and writes them.
/// </summary>
/// <remarks>
/// <para>When a handshake succeeds, the connection is handed over as a <see cref="TcpMessageTransport"/> to
/// <c>completed</c>, which owns it from then on (for the secure channel, or whatever the application runs next); the
/// table never reads past the handshake's last frame, so what the peer sent after it is there to read. When one fails,
/// the spec's error message is sent where it names one, and the connection is closed.</para>
/// <para>The timeouts are each machine's own (<see cref="IHandshakeMachine{TMessage, TResult}.Options"/>), unless
/// <see cref="HandshakeHostOptions.StepTimeout"/> or <see cref="HandshakeHostOptions.HandshakeTimeout"/> is set; the
/// deadlines are looked at every 50 ms. A handshake begins (and its time starts) with the connection's first byte.</para>
/// </remarks>
/// <typeparam name="TMessage">The protocol's message base type.</typeparam>
/// <typeparam name="TResult">The responder's result type.</typeparam>
public sealed class TcpHandshakeTable<TMessage, TResult> : IAsyncDisposable
    where TMessage : class
    where TResult : class
{
    /// <summary>How often the table's one timer looks for overdue handshakes: the resolution of its deadlines.</summary>
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(50);

    private const int PrefixLength = sizeof(uint);

    /// <summary>The first buffer a frame's body gets when less than the whole body has arrived.</summary>
    private const int FirstBodyBuffer = 4096;

    private readonly HandshakeHostOptions _options;
    private readonly Func<IHandshakeMachine<TMessage, TResult>> _create;
    private readonly IMessageCodec<TMessage> _codec;
    private readonly Action<IPEndPoint, HandshakeOutcome<TResult>, IMessageTransport?>? _completed;
    private readonly IAddressBlockList? _blockList;
    private readonly TimeProvider _time;
    private readonly Action<Exception>? _onError;
    private readonly object _gate = new();
    // Guarded by _gate: the connections by address, and the rows by next deadline (a row is queued again when its
    // deadline moves; an entry whose deadline is no longer the row's is stale and skipped).
    private readonly AddressSlots<Row> _rows;
    private readonly PriorityQueue<Row, long> _due = new();
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listenSocket;
    private IPEndPoint? _localEndPoint;
    private Task _accepting = Task.CompletedTask;
    private ITimer? _timer;
    private long _rejectedConnections;
    private long _idleConnectionsClosed;
    private long _evictedConnections;
    private int _stopped;

    /// <summary>Makes the table; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Where to listen and the limits (connections in all and per address, frame size, first-byte timeout, stop deadline).</param>
    /// <param name="createResponder">Makes a fresh responder machine for each connection, at its first byte (for example <c>() =&gt; new MeshResponder(inputs, services)</c>).</param>
    /// <param name="codec">The protocol's codec.</param>
    /// <param name="completed">
    /// Told of each handshake's outcome, on the thread that ended it: keep it short and hand longer work off. On success
    /// it is given the connection, which it owns from then on and must dispose; on failure the transport is
    /// <see langword="null"/> (the table has closed the connection). Without it, a result's secrets are disposed at once
    /// and the connection is closed.
    /// </param>
    /// <param name="blockList">Addresses refused at accept, before they hold a slot; usually the spec's block list store.</param>
    /// <param name="timeProvider">The clock of the deadlines; the system's when <see langword="null"/>.</param>
    /// <param name="onError">Told of an exception accepting throws (it must not throw itself).</param>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    /// <exception cref="FormatException">The host is not an address.</exception>
    public TcpHandshakeTable(HandshakeHostOptions options, Func<IHandshakeMachine<TMessage, TResult>> createResponder, IMessageCodec<TMessage> codec,
        Action<IPEndPoint, HandshakeOutcome<TResult>, IMessageTransport?>? completed = null, IAddressBlockList? blockList = null,
        TimeProvider? timeProvider = null, Action<Exception>? onError = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _ = options.EndPoint();
        _create = createResponder ?? throw new ArgumentNullException(nameof(createResponder));
        _codec = codec ?? throw new ArgumentNullException(nameof(codec));
        _completed = completed;
        _blockList = blockList;
        _time = timeProvider ?? TimeProvider.System;
        _onError = onError;
        _rows = new AddressSlots<Row>(options.MaxConcurrentHandshakes, options.MaxHandshakesPerAddress);
    }

    /// <summary>Where the table listens, with the port actually bound.</summary>
    /// <exception cref="InvalidOperationException">The table has not started.</exception>
    public IPEndPoint LocalEndPoint => _localEndPoint ?? throw new InvalidOperationException("The table has not started.");

    /// <summary>How many connections it holds: silent ones (no byte yet) and handshakes under way.</summary>
    public int Count
    {
        get { lock (_gate) return _rows.Count; }
    }

    /// <summary>How many connections were reset on arrival: a limit was reached, or the block list refused the address.</summary>
    public long RejectedConnections => Interlocked.Read(ref _rejectedConnections);

    /// <summary>How many connections were reset for sending nothing within <see cref="HandshakeHostOptions.FirstByteTimeout"/>.</summary>
    public long IdleConnectionsClosed => Interlocked.Read(ref _idleConnectionsClosed);

    /// <summary>How many silent connections gave their slot to a connection from a less busy address.</summary>
    public long EvictedConnections => Interlocked.Read(ref _evictedConnections);

    /// <summary>Binds and starts accepting.</summary>
    /// <exception cref="SocketException">The address cannot be bound.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_listenSocket is not null) return Task.CompletedTask;
        var bind = _options.EndPoint();
        var socket = TcpAccept.Listen(bind.Address, bind.Port);
        _listenSocket = socket;
        _localEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _timer = _time.CreateTimer(static state => ((TcpHandshakeTable<TMessage, TResult>)state!).OnTick(), this, Tick, Tick);
        _accepting = TcpAccept.LoopAsync(socket, _blockList, _time, Report, () => Interlocked.Increment(ref _rejectedConnections), Admit, _stopping.Token);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops gracefully: no new connection is accepted and silent ones are reset at once; the handshakes under way have up
    /// to <see cref="HandshakeHostOptions.StopTimeout"/> (or until <paramref name="cancellationToken"/> is cancelled) to
    /// finish, then the rest fail as <see cref="HandshakeErrorCodes.Cancelled"/> and their connections close.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_listenSocket is null || Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _listenSocket.Dispose();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var row in Snapshot())
            if (row.Silent && !row.HasData && TryTake(row)) Close(row);
        await GracefulStop.WaitAsync(() => Count, _options.StopTimeout, Tick, _time, cancellationToken).ConfigureAwait(false);
        // What a store or hook is still doing is cancelled; a machine in such a call cannot be failed (it is
        // single-threaded), so its row ends as cancelled without it, and what the call returns later is ignored.
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var row in Snapshot())
        {
            if (TryTake(row))
            {
                if (row.Machine is null)
                {
                    Close(row);
                    continue;
                }
                using var effects = new CancellationTokenSource(row.Machine.Options.ErrorDeliveryTimeout, _time);
                await AdvanceAsync(row, Fail(row, HandshakeErrorCodes.Cancelled, "The host stopped", effects.Token), canSend: false).ConfigureAwait(false);
            }
            else if (row.Machine is { } machine)
            {
                End(row, Failure(machine, HandshakeErrorCodes.Cancelled, "The host stopped"));
            }
            else
            {
                Close(row);
            }
        }
        if (_timer is not null) await _timer.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops gracefully (see <see cref="StopAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private Row[] Snapshot()
    {
        lock (_gate) return _rows.ToArray();
    }

    private void Admit(Socket socket, IPAddress address)
    {
        Row row;
        try
        {
            // The socket keeps the endpoint it was accepted from: asked once at accept, it is not made again here.
            row = new Row(this, socket, PeerAddress.Normalize((IPEndPoint)socket.RemoteEndPoint!));
        }
        catch (Exception)
        {
            TcpAccept.Reset(socket);
            return;
        }
        bool admitted;
        Row? evicted;
        lock (_gate)
        {
            admitted = _rows.TryAdmit(row, out evicted);
            if (admitted && _options.FirstByteTimeout is { } firstByte)
            {
                row.StepDue = (_time.GetUtcNow() + firstByte).UtcTicks;
                Schedule(row);
            }
        }
        if (evicted is not null)
        {
            Interlocked.Increment(ref _evictedConnections);
            // Off the books already: only its socket is left to reset (what it is waiting for then ends on its own).
            lock (_gate) evicted.Ended = true;
            TcpAccept.Reset(evicted.Socket);
            evicted.Dispose();
        }
        if (!admitted)
        {
            Interlocked.Increment(ref _rejectedConnections);
            TcpAccept.Reset(socket);
            return;
        }
        if (_options.FirstByteTimeout is null)
        {
            // A server that speaks first: the handshake begins now.
            lock (_gate) row.Busy = true;
            Then(row, Begin(row));
            return;
        }
        Listen(row);
    }

    /// <summary>
    /// Waits, with no buffer, for the peer's next bytes; and while they are there already, reads them and steps the
    /// machine on this thread. Returns once the row waits (a zero-byte receive pending), is busy elsewhere, or has ended.
    /// </summary>
    private void Listen(Row row)
    {
        while (true)
        {
            bool pending;
            try
            {
                // A zero-byte receive completes when data is there, or when the peer has closed (nothing available then).
                pending = row.Socket.ReceiveAsync(row);
            }
            catch (Exception)
            {
                // Closed under us: the row has ended, or is ending.
                return;
            }
            if (pending) return;
            var next = OnBytes(row);
            if (!next.IsCompletedSuccessfully)
            {
                Then(row, next);
                return;
            }
            if (!next.Result) return;
        }
    }

    /// <summary>The zero-byte receive completed off this thread.</summary>
    private void OnReadable(Row row) => Then(row, OnBytes(row));

    /// <summary>Listens again once <paramref name="next"/> says the row waits for the peer.</summary>
    private void Then(Row row, ValueTask<bool> next)
    {
        if (next.IsCompletedSuccessfully)
        {
            if (next.Result) Listen(row);
            return;
        }
        _ = ThenAsync(row, next);
    }

    private async Task ThenAsync(Row row, ValueTask<bool> next)
    {
        if (await next.ConfigureAwait(false)) Listen(row);
    }

    /// <summary>
    /// The socket has something: the peer's bytes, its close, or a failure. Reads what belongs to the frame under way and,
    /// once it is whole, steps the machine with it. True when the row waits for the peer again.
    /// </summary>
    private ValueTask<bool> OnBytes(Row row)
    {
        try
        {
            return Read(row);
        }
        catch (Exception exception)
        {
            // A bug: the connection ends as an internal error, and the thread that saw the bytes goes on.
            Report(exception);
            if (row.Machine is null) Close(row);
            else End(row, HandshakeOutcome<TResult>.Failure(HandshakeError.Internal(row.Machine.Phase, row.Machine.Role, exception)));
            return new ValueTask<bool>(false);
        }
    }

    private ValueTask<bool> Read(Row row)
    {
        var reset = row.SocketError != SocketError.Success;
        if (!TryTake(row)) return new ValueTask<bool>(false);
        int available;
        try
        {
            available = reset ? 0 : row.Socket.Available;
            // Woken with nothing to read: the peer's close (or an error) if the socket says it is readable, else a wake-up
            // with nothing behind it, and the row listens again.
            if (available == 0 && !reset && !row.Socket.Poll(0, SelectMode.SelectRead)) return Waits(row);
        }
        catch (Exception)
        {
            (reset, available) = (true, 0);
        }
        if (row.Machine is null)
        {
            // A silent connection: its first byte begins the handshake; a close or reset before it, and it leaves quietly.
            if (available == 0)
            {
                Close(row);
                return new ValueTask<bool>(false);
            }
            return Begin(row);
        }
        if (available == 0)
        {
            return reset
                ? AdvanceAsync(row, Fail(row, HandshakeErrorCodes.TransportFailed, $"The connection to the peer failed during '{row.Machine.Phase}'"), canSend: false)
                : AdvanceAsync(row, Fail(row, HandshakeErrorCodes.PeerClosed, $"The peer closed the connection during '{row.Machine.Phase}'"), canSend: false);
        }
        return ReadFrame(row, available);
    }

    /// <summary>The handshake begins: a machine for the connection, started; under the row's busy mark.</summary>
    private ValueTask<bool> Begin(Row row)
    {
        IHandshakeMachine<TMessage, TResult> machine;
        try
        {
            machine = _create();
        }
        catch (Exception exception)
        {
            Report(exception);
            Close(row);
            return new ValueTask<bool>(false);
        }
        var options = _options.Apply(machine.Options);
        lock (_gate)
        {
            row.Machine = machine;
            row.HandshakeDue = (_time.GetUtcNow() + options.HandshakeTimeout).UtcTicks;
        }
        HandshakeDriver.ReportStarted(machine, row.Peer.ToString(), options);
        return AdvanceAsync(row, machine.StartAsync(row.Address.ToString(), _stopping.Token), canSend: true);
    }

    /// <summary>
    /// Reads at most <paramref name="available"/> bytes, never past the frame under way: its length prefix, then its body
    /// (in a buffer rented for it, returned once the machine has it). Steps the machine when the frame is whole.
    /// </summary>
    private ValueTask<bool> ReadFrame(Row row, int available)
    {
        var machine = row.Machine!;
        try
        {
            if (row.PrefixRead < PrefixLength)
            {
                Span<byte> prefix = stackalloc byte[PrefixLength];
                var read = row.Socket.Receive(prefix[..Math.Min(PrefixLength - row.PrefixRead, available)], SocketFlags.None);
                for (var i = 0; i < read; i++) row.Length = (row.Length << 8) | prefix[i];
                row.PrefixRead += read;
                available -= read;
                if (row.PrefixRead < PrefixLength) return Waits(row);
                if (row.Length > (uint)_options.MaxFrameSize)
                    return AdvanceAsync(row, Fail(row, machine.MalformedCode, $"A frame of {row.Length} bytes is larger than the limit of {_options.MaxFrameSize}"), canSend: true);
                // Room for what has come, not for what the prefix announces: a peer that announces a large frame and
                // sends it slowly holds no more than it has sent (and its step timeout).
                row.Body = ArrayPool<byte>.Shared.Rent(Math.Min((int)row.Length, Math.Max(available, FirstBodyBuffer)));
                if (available == 0 && row.Length > 0) return Waits(row);
            }
            var length = (int)row.Length;
            if (row.BodyRead < length)
            {
                var reading = Math.Min(length - row.BodyRead, available);
                if (row.Body!.Length < row.BodyRead + reading) Grow(row, Math.Min(length, Math.Max(row.Body.Length * 2, row.BodyRead + reading)));
                row.BodyRead += row.Socket.Receive(row.Body.AsSpan(row.BodyRead, reading), SocketFlags.None);
                if (row.BodyRead < length) return Waits(row);
            }
        }
        catch (Exception)
        {
            return AdvanceAsync(row, Fail(row, HandshakeErrorCodes.TransportFailed, $"The connection to the peer failed during '{machine.Phase}'"), canSend: false);
        }
        var body = row.Body!;
        var frame = body.AsSpan(0, (int)row.Length);
        (row.Length, row.PrefixRead, row.Body, row.BodyRead) = (0, 0, null, 0);
        ValueTask<HandshakeStep<TMessage, TResult>> pending;
        try
        {
            pending = _codec.TryDecode(frame, out var message, out var error)
                ? machine.ReceiveAsync(message, _stopping.Token)
                : machine.FailAsync(new HandshakeError(machine.MalformedCode, machine.Phase, machine.Role, error.Detail), _stopping.Token);
        }
        catch (Exception exception)
        {
            pending = ValueTask.FromException<HandshakeStep<TMessage, TResult>>(exception);
        }
        finally
        {
            // The message owns what it decoded: the frame's bytes go back before the machine's own work.
            ArrayPool<byte>.Shared.Return(body);
        }
        return AdvanceAsync(row, pending, canSend: true);
    }

    /// <summary>Moves the frame under way into a larger rented buffer.</summary>
    private static void Grow(Row row, int size)
    {
        var larger = ArrayPool<byte>.Shared.Rent(size);
        row.Body.AsSpan(0, row.BodyRead).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(row.Body!);
        row.Body = larger;
    }

    /// <summary>Part of a frame is in: the row waits for the rest under the deadlines it has.</summary>
    private ValueTask<bool> Waits(Row row)
    {
        lock (_gate)
        {
            if (row.Ended) return new ValueTask<bool>(false);
            row.Busy = false;
            return new ValueTask<bool>(true);
        }
    }

    private ValueTask<HandshakeStep<TMessage, TResult>> Fail(Row row, string code, string detail, CancellationToken? cancellationToken = null)
        => row.Machine!.FailAsync(new HandshakeError(code, row.Machine.Phase, row.Machine.Role, detail), cancellationToken ?? _stopping.Token);

    private static HandshakeOutcome<TResult> Failure(IHandshakeMachine<TMessage, TResult> machine, string code, string detail)
        => HandshakeOutcome<TResult>.Failure(new HandshakeError(code, machine.Phase, machine.Role, detail));

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
    /// Runs the machine from <paramref name="pending"/> until it waits again or ends: sends what it asks to send, then
    /// either files the row under its next deadline (true: the caller listens again), or ends it. Synchronous as long as
    /// the machine and the socket's sends are.
    /// </summary>
    private async ValueTask<bool> AdvanceAsync(Row row, ValueTask<HandshakeStep<TMessage, TResult>> pending, bool canSend)
    {
        var machine = row.Machine!;
        HandshakeStep<TMessage, TResult> step;
        try
        {
            step = await pending.ConfigureAwait(false);
            while (step.Kind == HandshakeStepKind.Send)
            {
                await SendAsync(row, step.Message!).ConfigureAwait(false);
                step = await machine.ContinueAsync(_stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception exception)
        {
            // A machine returns its failures; what it throws is cancellation (the host stopping), a send that failed, or a bug.
            var error = exception switch
            {
                OperationCanceledException when _stopping.IsCancellationRequested => new HandshakeError(HandshakeErrorCodes.Cancelled, machine.Phase, machine.Role, "The host stopped"),
                SocketException or ObjectDisposedException => new HandshakeError(HandshakeErrorCodes.TransportFailed, machine.Phase, machine.Role, $"The connection to the peer failed during '{machine.Phase}': {exception.Message}"),
                _ => HandshakeError.Internal(machine.Phase, machine.Role, exception),
            };
            canSend &= exception is not (SocketException or ObjectDisposedException);
            step = HandshakeStep<TMessage, TResult>.Fail(error, null);
            try
            {
                using var effects = new CancellationTokenSource(machine.Options.ErrorDeliveryTimeout, _time);
                var failed = await machine.FailAsync(error, effects.Token).ConfigureAwait(false);
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
                return Wait(row, step.Timeout);
            case HandshakeStepKind.Succeeded:
                End(row, HandshakeOutcome<TResult>.Success(step.Result!));
                return false;
            default:
                var error = step.Error!;
                if (canSend && !row.Ended && step.Message is { } errorMessage && !error.RaisedByPeer)
                {
                    try
                    {
                        await SendAsync(row, errorMessage).ConfigureAwait(false);
                        error = error with { SentToPeer = _codec.GetName(errorMessage) };
                    }
                    catch (Exception)
                    {
                        // The peer is gone: the failure stands without the courtesy message.
                    }
                }
                End(row, HandshakeOutcome<TResult>.Failure(error));
                return false;
        }
    }

    /// <summary>Writes one message as a frame: its length prefix and its bytes, in one send from a pooled buffer.</summary>
    private async ValueTask SendAsync(Row row, TMessage message)
    {
        var buffer = new PooledBufferWriter();
        try
        {
            buffer.Advance(PrefixLength);
            _codec.Encode(message, buffer);
            var frame = buffer.WrittenMemory;
            BinaryPrimitives.WriteUInt32BigEndian(System.Runtime.InteropServices.MemoryMarshal.AsMemory(frame).Span, (uint)(frame.Length - PrefixLength));
            while (!frame.IsEmpty)
            {
                var sent = await row.Socket.SendAsync(frame, SocketFlags.None).ConfigureAwait(false);
                frame = frame[sent..];
            }
        }
        finally
        {
            buffer.Dispose();
        }
    }

    /// <summary>The machine waits for the peer: the row is filed under its deadlines; false when it has ended meanwhile.</summary>
    private bool Wait(Row row, TimeSpan? stepTimeout)
    {
        var now = _time.GetUtcNow().UtcTicks;
        lock (_gate)
        {
            if (row.Ended) return false;
            // A step's own timeout (the spec's, for that step) stands unless the host sets one for every step.
            row.StepDue = now + (_options.StepTimeout ?? stepTimeout ?? row.Machine!.Options.StepTimeout).Ticks;
            row.Busy = false;
            Schedule(row);
            return true;
        }
    }

    /// <summary>Files the row under its next deadline; under <see cref="_gate"/>.</summary>
    private void Schedule(Row row)
    {
        row.Queued = Math.Min(row.HandshakeDue, row.StepDue);
        _due.Enqueue(row, row.Queued);
    }

    /// <summary>Takes a row off the books; false when it had ended already.</summary>
    private bool Leave(Row row)
    {
        lock (_gate)
        {
            if (row.Ended) return false;
            row.Ended = true;
            _rows.Release(row);
        }
        // Its receive, if one is pending, completes when the socket closes, and finds the row ended.
        row.Dispose();
        return true;
    }

    /// <summary>A connection that never began a handshake (silent, closed, or refused a machine) leaves with a reset.</summary>
    private void Close(Row row)
    {
        if (Leave(row)) TcpAccept.Reset(row.Socket);
    }

    /// <summary>The handshake is over: the row leaves the table, the outcome is told, and the connection handed over or closed.</summary>
    private void End(Row row, HandshakeOutcome<TResult> outcome)
    {
        // Given up on while a store or hook held it (see OnTick): it was reported then.
        if (!Leave(row)) return;
        if (row.Body is { } body)
        {
            row.Body = null;
            ArrayPool<byte>.Shared.Return(body);
        }
        var machine = row.Machine!;
        var elapsed = machine.StartedAt is { } started ? _time.GetUtcNow() - started : TimeSpan.Zero;
        HandshakeDriver.ReportEnded(machine, row.Peer.ToString(), machine.Options, elapsed, outcome.Error);
        IMessageTransport? transport = null;
        try
        {
            transport = new TcpMessageTransport(row.Socket, new TcpTransportOptions { MaxMessageSize = _options.MaxFrameSize }, row.Peer);
        }
        catch (Exception)
        {
            // Reset by the peer as it ended: there is nothing to hand over or close gracefully.
            TcpAccept.Reset(row.Socket);
        }
        if (!outcome.Succeeded || _completed is null)
        {
            if (outcome.Succeeded && outcome.Result is IDisposable secrets) secrets.Dispose();
            if (transport is not null)
                _ = transport.ReleaseAsync(machine.Options.ErrorDeliveryTimeout, _time, outcome.Error is { } error ? HandshakeDriver.CloseReasonOf(error) : CloseReason.Normal).AsTask();
            if (_completed is null)
            {
                Forget(row);
                return;
            }
            transport = null;
        }
        try
        {
            _completed(row.Peer, outcome, transport);
        }
        catch (Exception exception)
        {
            // The application's callback must not stop the table.
            Report(exception);
        }
        finally
        {
            Forget(row);
        }
    }

    /// <summary>
    /// An ended row may still be queued under a deadline that has not come: it keeps nothing of its handshake meanwhile
    /// (whatever reads it later finds it ended first).
    /// </summary>
    private static void Forget(Row row) => row.Machine = null;

    /// <summary>The table's one timer: fails what is overdue and resets connections silent past the first-byte timeout.</summary>
    private void OnTick()
    {
        var now = _time.GetUtcNow().UtcTicks;
        List<(Row Row, string Code, string Detail)>? overdue = null;
        List<Row>? silent = null, later = null;
        List<(Row Row, IHandshakeMachine<TMessage, TResult> Machine)>? abandoned = null;
        lock (_gate)
        {
            while (_due.TryPeek(out var row, out var due) && due <= now)
            {
                _due.Dequeue();
                if (row.Ended || row.Queued != due) continue;
                if (row.Busy)
                {
                    // Mid-step (a store or a hook is slow, or the peer does not read what is sent): looked at again on the
                    // next tick, and given up on once the handshake's time and the grace to fail it are over.
                    if (row.Machine is { } busy && now >= row.HandshakeDue + busy.Options.ErrorDeliveryTimeout.Ticks) (abandoned ??= new()).Add((row, busy));
                    else (later ??= new List<Row>()).Add(row);
                    continue;
                }
                row.Busy = true;
                if (row.Machine is not { } machine)
                {
                    (silent ??= new()).Add(row);
                    continue;
                }
                if (now >= row.HandshakeDue)
                    (overdue ??= new()).Add((row, HandshakeErrorCodes.HandshakeTimeout, $"The handshake did not complete within {_options.Apply(machine.Options).HandshakeTimeout.TotalSeconds:0.###} s"));
                else
                    (overdue ??= new()).Add((row, HandshakeErrorCodes.StepTimeout, $"No message from the peer within the step timeout in '{machine.Phase}'"));
            }
            if (later is not null)
                foreach (var row in later)
                {
                    row.Queued = now + Tick.Ticks;
                    _due.Enqueue(row, row.Queued);
                }
        }
        if (silent is not null)
            foreach (var row in silent)
            {
                Interlocked.Increment(ref _idleConnectionsClosed);
                Close(row);
            }
        if (overdue is not null)
            foreach (var (row, code, detail) in overdue)
                Then(row, AdvanceAsync(row, Fail(row, code, detail), canSend: true));
        // The machine is still inside the call that hangs, so it cannot run its failure effects: the row leaves with the
        // timeout (its connection reset, which ends a send the peer does not read), and what the call returns is ignored.
        if (abandoned is not null)
            foreach (var (row, machine) in abandoned)
            {
                End(row, Failure(machine, HandshakeErrorCodes.HandshakeTimeout,
                    $"The handshake did not complete within {_options.Apply(machine.Options).HandshakeTimeout.TotalSeconds:0.###} s (a store, a hook or the peer did not let it go on)"));
            }
    }

    private void Report(Exception exception)
    {
        try
        {
            _onError?.Invoke(exception);
        }
        catch (Exception)
        {
            // A failing error callback must not take the table down.
        }
    }

    /// <summary>
    /// One connection: what the table keeps of it while it waits. It is the socket's receive operation too (a zero-byte
    /// one, no buffer), so that waiting costs no delegate, task or awaiter of its own.
    /// </summary>
    private sealed class Row : SocketAsyncEventArgs, IAddressSlot
    {
        public Row(TcpHandshakeTable<TMessage, TResult> table, Socket socket, IPEndPoint peer)
            : base(unsafeSuppressExecutionContextFlow: true)
        {
            Table = table;
            Socket = socket;
            Peer = peer;
        }

        public readonly TcpHandshakeTable<TMessage, TResult> Table;
        public readonly Socket Socket;
        /// <summary>The peer's address and port, as accepted.</summary>
        public readonly IPEndPoint Peer;
        /// <summary>Null until the first byte; guarded by the table's gate, as every field below.</summary>
        public IHandshakeMachine<TMessage, TResult>? Machine;
        public long StepDue = long.MaxValue, HandshakeDue = long.MaxValue, Queued;
        /// <summary>An event is stepping the machine or reading the socket.</summary>
        public bool Busy;
        public bool Ended;
        // The frame under way: its length prefix as read so far, then its body (rented once the prefix is whole).
        public int PrefixRead;
        public uint Length;
        public byte[]? Body;
        public int BodyRead;

        public IPAddress Address => Peer.Address;

        public bool Silent => Machine is null;

        /// <summary>Whether bytes wait to be read (a first byte that arrived but was not yet seen).</summary>
        public bool HasData => TcpAccept.HasData(Socket);

        protected override void OnCompleted(SocketAsyncEventArgs e) => Table.OnReadable(this);
    }
}
