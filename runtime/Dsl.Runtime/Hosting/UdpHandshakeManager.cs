using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Udp;

namespace Dsl.Runtime.Hosting;

/// <summary>How a handshake tracked by a <see cref="UdpHandshakeManager"/> stands.</summary>
public enum HandshakeStatus
{
    /// <summary>The handshake is under way.</summary>
    Running,
    /// <summary>It completed; the manager still answers the peer's retransmissions until the linger ends.</summary>
    Succeeded,
    /// <summary>It failed.</summary>
    Failed,
}

/// <summary>A handshake the manager tracks, keyed by its peer's address.</summary>
public abstract class HandshakeEntry
{
    private protected HandshakeEntry(IPEndPoint peer, bool isInitiator)
    {
        Peer = peer;
        IsInitiator = isInitiator;
    }

    /// <summary>The peer's address.</summary>
    public IPEndPoint Peer { get; }

    /// <summary>Whether this side started the handshake.</summary>
    public bool IsInitiator { get; }

    /// <summary>Where the handshake stands.</summary>
    public abstract HandshakeStatus Status { get; }

    /// <summary>Completes when the handshake ends, whatever the outcome.</summary>
    public abstract Task Completion { get; }

    /// <summary>The failure, once <see cref="Status"/> is <see cref="HandshakeStatus.Failed"/>.</summary>
    public abstract HandshakeError? Error { get; }
}

/// <summary>A tracked handshake with its typed outcome.</summary>
/// <typeparam name="TResult">The role's result type.</typeparam>
public sealed class HandshakeEntry<TResult> : HandshakeEntry where TResult : class
{
    internal HandshakeEntry(IPEndPoint peer, bool isInitiator, Task<HandshakeOutcome<TResult>> outcome) : base(peer, isInitiator)
        => Outcome = outcome;

    /// <summary>The outcome, when the handshake ends.</summary>
    public Task<HandshakeOutcome<TResult>> Outcome { get; }

    /// <inheritdoc />
    public override Task Completion => Outcome;

    /// <inheritdoc />
    public override HandshakeStatus Status => !Outcome.IsCompleted ? HandshakeStatus.Running
        : Outcome.Result.Succeeded ? HandshakeStatus.Succeeded : HandshakeStatus.Failed;

    /// <inheritdoc />
    public override HandshakeError? Error => Outcome.IsCompleted ? Outcome.Result.Error : null;
}

/// <summary>Settings of a <see cref="UdpHandshakeManager"/>.</summary>
public sealed record UdpHandshakeOptions
{
    /// <summary>Retransmission of lost flights (DTLS-style).</summary>
    public ReliabilityOptions Reliability { get; init; } = new();

    /// <summary>
    /// How long a completed handshake keeps answering its peer's retransmissions (its last flight may have
    /// been lost). Its transport is released at once: the endpoint answers from the last flight alone, and a new
    /// handshake from the same address and port starts at once. A handshake that failed is released at once.
    /// </summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The most handshakes under way at once (lingering ones do not count); a new peer beyond it is ignored until one ends.</summary>
    public int MaxHandshakes { get; init; } = 1024;

    /// <summary>The most handshakes under way at once with one IP address (any port); more from it are ignored.</summary>
    public int MaxHandshakesPerAddress { get; init; } = 64;

    /// <summary>Addresses whose new handshakes are ignored, asked before a handshake starts (the spec's <c>address_block_list</c> store).</summary>
    public Services.IAddressBlockList? BlockList { get; init; }

    /// <summary>Wraps each peer's raw datagram transport (for example with a fault injector in tests).</summary>
    public Func<IMessageTransport, IMessageTransport>? WrapTransport { get; init; }
}

/// <summary>
/// Runs many handshakes at once over one UDP endpoint, keyed by peer address: the STT seed's
/// HandshakeManager. <see cref="Create{TResult}"/> starts one as the initiator; <see cref="Serve{TResult}"/>
/// answers every new peer as the responder. Incoming datagrams are routed to their peer's handshake by the
/// endpoint; each runs over a <see cref="ReliableTransport"/>, so lost, duplicated and reordered datagrams
/// are handled, and one handshake never becomes two.
/// </summary>
public sealed class UdpHandshakeManager : IAsyncDisposable
{
    private readonly UdpEndpoint _endpoint;
    private readonly UdpHandshakeOptions _options;
    private readonly ConcurrentDictionary<IPEndPoint, HandshakeEntry> _handshakes = new();
    private readonly CancellationTokenSource _stopping = new();
    // The handshakes' tasks, each removed as it ends: a long-running server keeps only those under way.
    private readonly ConcurrentDictionary<long, Task> _running = new();
    // Handshakes under way by IP address (any port), for the per-address limit without a scan.
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private long _nextTask;
    private Task? _serving;
    private volatile bool _noNewPeers;
    private int _disposed;

    /// <summary>Creates a manager over <paramref name="endpoint"/>, which it does not own.</summary>
    public UdpHandshakeManager(UdpEndpoint endpoint, UdpHandshakeOptions? options = null)
    {
        _endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
        _options = options ?? new UdpHandshakeOptions();
    }

    /// <summary>How many handshake tasks are running (each ends with its handshake; lingering needs none).</summary>
    internal int RunningTasks => _running.Count;

    /// <summary>The handshakes under way (a completed one leaves at once; its endpoint answers late repeats).</summary>
    public IReadOnlyCollection<HandshakeEntry> Handshakes => new List<HandshakeEntry>(_handshakes.Values);

    /// <summary>The handshake with <paramref name="peer"/>, if there is one.</summary>
    public HandshakeEntry? Get(IPEndPoint peer) => _handshakes.TryGetValue(peer, out var entry) ? entry : null;

    /// <summary>Stops tracking the handshake with <paramref name="peer"/> (its task still ends by itself).</summary>
    public bool Remove(IPEndPoint peer) => _handshakes.TryRemove(peer, out _);

    /// <summary>Starts a handshake with <paramref name="peer"/> as the initiator.</summary>
    /// <param name="peer">Whom to handshake with.</param>
    /// <param name="run">Runs the initiator's machine over the transport (for example <c>new SttInitiator(...).RunAsync</c>).</param>
    /// <exception cref="InvalidOperationException">A handshake with that peer is already tracked.</exception>
    public HandshakeEntry<TResult> Create<TResult>(IPEndPoint peer, Func<IMessageTransport, CancellationToken, ValueTask<HandshakeOutcome<TResult>>> run)
        where TResult : class
    {
        if (_handshakes.ContainsKey(peer)) throw new InvalidOperationException($"A handshake with {peer} is already tracked.");
        return Start(peer, isInitiator: true, _endpoint.Connect(peer), run, completed: null)
            ?? throw new InvalidOperationException($"A handshake with {peer} is already tracked.");
    }

    /// <summary>
    /// Answers every new peer as the responder: the first datagram from an address starts a handshake with
    /// it; later datagrams from that address go to the same handshake.
    /// </summary>
    /// <param name="run">Runs the responder's machine over the transport.</param>
    /// <param name="completed">Told of each handshake's outcome.</param>
    public void Serve<TResult>(Func<IMessageTransport, CancellationToken, ValueTask<HandshakeOutcome<TResult>>> run, Action<IPEndPoint, HandshakeOutcome<TResult>>? completed = null)
        where TResult : class
    {
        if (_serving is not null) throw new InvalidOperationException("The manager already serves.");
        _serving = Task.Run(async () =>
        {
            while (!_stopping.IsCancellationRequested)
            {
                UdpPeerTransport peer;
                try
                {
                    peer = await _endpoint.AcceptAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch (Exception) when (_stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                if (_noNewPeers || !await AdmitsAsync(peer.RemoteEndPoint).ConfigureAwait(false) || Start(peer.RemoteEndPoint, isInitiator: false, peer, run, completed) is null)
                    await peer.DisposeAsync().ConfigureAwait(false);
            }
        });
    }

    /// <summary>Adds <paramref name="delta"/> to the handshakes under way from <paramref name="address"/>, forgetting an address at zero.</summary>
    private void CountFrom(IPAddress address, int delta)
    {
        while (true)
        {
            if (_perAddress.TryGetValue(address, out var count))
            {
                var next = count + delta;
                if (next <= 0 ? _perAddress.TryRemove(new KeyValuePair<IPAddress, int>(address, count)) : _perAddress.TryUpdate(address, next, count)) return;
            }
            else if (delta <= 0 || _perAddress.TryAdd(address, delta))
            {
                return;
            }
        }
    }

    /// <summary>Whether a new peer may start a handshake: under the limits, and not refused by the block list.</summary>
    private async ValueTask<bool> AdmitsAsync(IPEndPoint peer)
    {
        if (_handshakes.Count >= _options.MaxHandshakes) return false;
        if (_perAddress.TryGetValue(peer.Address, out var fromAddress) && fromAddress >= _options.MaxHandshakesPerAddress) return false;
        if (_options.BlockList is { } blocked)
        {
            try
            {
                return !await blocked.IsBlockedAsync(peer.Address.ToString(), DateTimeOffset.UtcNow, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception) when (!_stopping.IsCancellationRequested)
            {
                // A store that fails refuses no one: the handshake's own checks still run.
            }
        }
        return true;
    }

    /// <summary>
    /// Stops gracefully: answers no new peer from now on, lets the handshakes under way finish for up to
    /// <paramref name="drain"/> (or until <paramref name="cancellationToken"/> is cancelled), then cancels the rest.
    /// </summary>
    public async Task StopAsync(TimeSpan drain, CancellationToken cancellationToken = default)
    {
        _noNewPeers = true;
        try
        {
            await Task.WhenAll(_running.Values).WaitAsync(drain, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
        {
            // The deadline: what is still running is cancelled by the disposal.
        }
        await DisposeAsync().ConfigureAwait(false);
    }

    private HandshakeEntry<TResult>? Start<TResult>(IPEndPoint peer, bool isInitiator, IMessageTransport raw,
        Func<IMessageTransport, CancellationToken, ValueTask<HandshakeOutcome<TResult>>> run, Action<IPEndPoint, HandshakeOutcome<TResult>>? completed)
        where TResult : class
    {
        var reliable = new ReliableTransport(_options.WrapTransport?.Invoke(raw) ?? raw, _options.Reliability);
        var outcome = new TaskCompletionSource<HandshakeOutcome<TResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var entry = new HandshakeEntry<TResult>(peer, isInitiator, outcome.Task);
        if (!_handshakes.TryAdd(peer, entry))
        {
            // A handshake that has ended but not yet left the table gives way to a new one from the same address.
            if (!_handshakes.TryGetValue(peer, out var existing) || !existing.Completion.IsCompleted || !_handshakes.TryUpdate(peer, entry, existing))
            {
                _ = reliable.DisposeAsync();
                return null;
            }
        }
        var id = Interlocked.Increment(ref _nextTask);
        CountFrom(peer.Address, +1);
        var task = Task.Run(async () =>
        {
            HandshakeOutcome<TResult> result;
            try
            {
                result = await run(reliable, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // A machine never throws; a delegate that does (a machine reused) is reported as an outcome.
                result = HandshakeOutcome<TResult>.Failure(new HandshakeError(HandshakeErrorCodes.InternalError, "start", isInitiator ? "initiator" : "responder", ex.Message));
                await reliable.DisposeAsync().ConfigureAwait(false);
            }
            // Our last flight may have been lost: the peer's repeats are answered for a while. The endpoint does it without
            // a task or a transport, handed over before anyone hears of the outcome, so a peer that starts again at once
            // from the same port finds the address free; over a wrapped transport, this task keeps receiving instead.
            var handedOver = false;
            if (result.Succeeded)
            {
                reliable.CompleteHandshake();
                handedOver = await reliable.TryHandOverLingerAsync(_options.Linger).ConfigureAwait(false);
            }
            outcome.TrySetResult(result);
            try
            {
                completed?.Invoke(peer, result);
            }
            catch (Exception)
            {
                // The application's callback must not stop the manager.
            }
            if (result.Succeeded && !handedOver)
            {
                await LingerAsync(reliable).ConfigureAwait(false);
                await reliable.DisposeAsync().ConfigureAwait(false);
            }
            _handshakes.TryRemove(new KeyValuePair<IPEndPoint, HandshakeEntry>(peer, entry));
            CountFrom(peer.Address, -1);
            _running.TryRemove(id, out _);
        });
        _running[id] = task;
        if (task.IsCompleted) _running.TryRemove(id, out _);
        return entry;
    }

    private async Task LingerAsync(ReliableTransport transport)
    {
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        linger.CancelAfter(_options.Linger);
        using var buffer = new PooledBufferWriter();
        try
        {
            while (true)
            {
                buffer.Clear();
                if (!await transport.ReceiveAsync(buffer, linger.Token).ConfigureAwait(false)) return;
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (TransportException)
        {
        }
    }

    /// <summary>Stops serving, cancels every handshake and waits for all of them to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        if (_serving is not null) await _serving.ConfigureAwait(false);
        foreach (var task in _running.Values) await task.ConfigureAwait(false);
        _stopping.Dispose();
    }
}
