using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.Udp;

/// <summary>What a <see cref="FaultInjectingTransport"/> does to the messages it sends; each probability is between 0 and 1.</summary>
public sealed record FaultOptions
{
    /// <summary>The probability that a message is dropped.</summary>
    public double Loss { get; init; }

    /// <summary>The probability that a message is sent twice.</summary>
    public double Duplication { get; init; }

    /// <summary>The probability that a message is held back and sent after the next one (or after <see cref="ReorderWindow"/>).</summary>
    public double Reordering { get; init; }

    /// <summary>The longest delay before a message goes out; each message waits a random time up to this. Zero sends at once.</summary>
    public TimeSpan MaxDelay { get; init; }

    /// <summary>How long a held-back message waits for a next one before it is sent anyway.</summary>
    public TimeSpan ReorderWindow { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The clock for delays and the reorder window.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>
/// A test decorator that makes a link unreliable: it drops, duplicates, reorders and delays the
/// messages it sends, at random from a seed. Receives, close and disposal go straight through.
/// </summary>
/// <remarks>
/// <para>Each message sent draws four numbers from <c>new Random(seed)</c>, whatever happens to it
/// (loss, duplication, reordering, delay fraction), so a seed and a sequence of sends give the same
/// faults every time; with delays, what the peer sees also depends on timing. A dropped message is
/// gone. A message chosen for reordering is held (unless one is held already) until the next send
/// goes out ahead of it, or for <see cref="FaultOptions.ReorderWindow"/>, so nothing is held
/// forever. A delayed message and its duplicate go out together after the delay, in the background:
/// the send returns at once.</para>
/// <para><see cref="CloseAsync"/> first sends a held message and waits for delayed ones, then
/// closes the inner transport. Failures of background sends are ignored, as a network would.
/// The transport owns the inner transport and disposes it.</para>
/// </remarks>
public sealed class FaultInjectingTransport : IMessageTransport
{
    private readonly IMessageTransport _inner;
    private readonly FaultOptions _options;
    private readonly Random _random;
    private readonly CancellationTokenSource _disposing = new();
    private readonly object _gate = new();
    // Guarded by _gate.
    private readonly HashSet<Task> _background = new();
    private Held? _held;
    private long _dropped, _duplicated, _reordered, _delayed;
    private int _closed;
    private int _disposed;

    /// <summary>Wraps a transport; this transport owns it from now on and disposes it.</summary>
    /// <param name="inner">The transport whose sends are disturbed.</param>
    /// <param name="options">What to do to sent messages.</param>
    /// <param name="seed">The seed of the random choices.</param>
    public FaultInjectingTransport(IMessageTransport inner, FaultOptions options, int seed)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        CheckProbability(options.Loss, nameof(FaultOptions.Loss));
        CheckProbability(options.Duplication, nameof(FaultOptions.Duplication));
        CheckProbability(options.Reordering, nameof(FaultOptions.Reordering));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxDelay, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReorderWindow, TimeSpan.Zero, nameof(options));
        ArgumentNullException.ThrowIfNull(options.TimeProvider, nameof(options));
        _random = new Random(seed);
    }

    /// <inheritdoc />
    public int MaxMessageSize => _inner.MaxMessageSize;

    /// <inheritdoc />
    public string? RemoteAddress => _inner.RemoteAddress;

    /// <summary>How many messages were dropped.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>How many messages were sent twice.</summary>
    public long Duplicated => Interlocked.Read(ref _duplicated);

    /// <summary>How many messages were held back to go out after a later one.</summary>
    public long Reordered => Interlocked.Read(ref _reordered);

    /// <summary>How many messages (with their duplicates and released held messages) went out after a delay.</summary>
    public long Delayed => Interlocked.Read(ref _delayed);

    /// <inheritdoc />
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _closed) != 0 || Volatile.Read(ref _disposed) != 0)
            throw new TransportException(TransportError.Closed, "The transport is closed");
        var copy = message.ToArray();
        var batch = new List<byte[]>(3);
        TimeSpan delay;
        lock (_gate)
        {
            // Four draws for every message, so the faults depend on the seed and the number of sends only.
            var lose = _random.NextDouble() < _options.Loss;
            var duplicate = _random.NextDouble() < _options.Duplication;
            var reorder = _random.NextDouble() < _options.Reordering;
            delay = _options.MaxDelay * _random.NextDouble();
            if (lose)
            {
                _dropped++;
                return;
            }
            if (reorder && _held is null)
            {
                _reordered++;
                _held = new Held(copy, CancellationTokenSource.CreateLinkedTokenSource(_disposing.Token));
                Track(ReleaseHeldLaterAsync(_held));
                return;
            }
            batch.Add(copy);
            if (duplicate)
            {
                _duplicated++;
                batch.Add(copy);
            }
            if (TakeHeld() is { } held) batch.Add(held);
            if (delay > TimeSpan.Zero)
            {
                _delayed++;
                Track(SendLaterAsync(batch, delay));
                return;
            }
        }
        foreach (var item in batch)
            await _inner.SendAsync(item, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
        => _inner.ReceiveAsync(destination, cancellationToken);

    /// <summary>Sends a held message, waits for delayed ones, then closes the inner transport.</summary>
    public async ValueTask CloseAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0 || Interlocked.Exchange(ref _closed, 1) != 0) return;
        byte[]? held;
        Task[] background;
        lock (_gate)
        {
            held = TakeHeld();
            background = _background.ToArray();
        }
        if (held is not null) await SendQuietlyAsync(held).ConfigureAwait(false);
        await Task.WhenAll(background).WaitAsync(cancellationToken).ConfigureAwait(false);
        await _inner.CloseAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Abandons held and delayed messages, waits for their tasks to end, and disposes the inner transport. Safe to call more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _disposing.Cancel();
        Task[] background;
        lock (_gate) background = _background.ToArray();
        await Task.WhenAll(background).ConfigureAwait(false);
        await _inner.DisposeAsync().ConfigureAwait(false);
    }

    private static void CheckProbability(double value, string name)
    {
        if (!(value >= 0 && value <= 1))
            throw new ArgumentOutOfRangeException(name, value, "A probability is between 0 and 1.");
    }

    // Call under _gate.
    private byte[]? TakeHeld()
    {
        if (_held is not { } held) return null;
        _held = null;
        held.Release.Cancel();
        return held.Message;
    }

    // Call under _gate.
    private void Track(Task task)
    {
        _background.Add(task);
        task.ContinueWith(static (done, state) =>
        {
            var self = (FaultInjectingTransport)state!;
            lock (self._gate) self._background.Remove(done);
        }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ReleaseHeldLaterAsync(Held held)
    {
        await Task.Yield();
        try
        {
            await Task.Delay(_options.ReorderWindow, _options.TimeProvider, held.Release.Token).ConfigureAwait(false);
            lock (_gate)
            {
                // Sent behind a later message already, or abandoned.
                if (!ReferenceEquals(_held, held)) return;
                _held = null;
            }
            await SendQuietlyAsync(held.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Released by a later send or by close, or the transport is disposed.
        }
        finally
        {
            // Abandoned on dispose: forget it here, so no one cancels a disposed source.
            lock (_gate)
            {
                if (ReferenceEquals(_held, held)) _held = null;
            }
            held.Release.Dispose();
        }
    }

    private async Task SendLaterAsync(List<byte[]> batch, TimeSpan delay)
    {
        await Task.Yield();
        try
        {
            await Task.Delay(delay, _options.TimeProvider, _disposing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        foreach (var message in batch) await SendQuietlyAsync(message).ConfigureAwait(false);
    }

    private async ValueTask SendQuietlyAsync(byte[] message)
    {
        try
        {
            await _inner.SendAsync(message, _disposing.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Lost, as a datagram would be.
        }
    }

    private sealed record Held(byte[] Message, CancellationTokenSource Release);
}
