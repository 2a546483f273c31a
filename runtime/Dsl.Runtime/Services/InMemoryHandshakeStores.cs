using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;

namespace Dsl.Runtime.Services;

/// <summary>An <see cref="IPinnedKeyStore"/> in process memory; pins are lost when the process ends.</summary>
public sealed class InMemoryPinnedKeyStore : IPinnedKeyStore
{
    private readonly ConcurrentDictionary<Bytes, Bytes> _pins = new();

    /// <inheritdoc />
    public ValueTask<Bytes?> GetPinAsync(Bytes nodeId, CancellationToken cancellationToken)
        => new(_pins.TryGetValue(nodeId, out var key) ? key : null);

    /// <inheritdoc />
    public ValueTask<bool> MatchesAsync(Bytes nodeId, Bytes publicKey, CancellationToken cancellationToken)
        => new(!_pins.TryGetValue(nodeId, out var key) || key == publicKey);

    /// <inheritdoc />
    public ValueTask<bool> PinAsync(Bytes nodeId, Bytes publicKey, CancellationToken cancellationToken)
        => new(_pins.GetOrAdd(nodeId, publicKey) == publicKey);
}

/// <summary>An <see cref="ITrustStore"/> in process memory; levels and scores are lost when the process ends.</summary>
public sealed class InMemoryTrustStore : ITrustStore
{
    private readonly Dictionary<Bytes, TrustRecord> _records = new();
    private readonly Lock _gate = new();

    /// <inheritdoc />
    public ValueTask<TrustLevel> GetAsync(Bytes nodeId, CancellationToken cancellationToken)
        => new(Find(nodeId)?.Level ?? TrustLevel.Unknown);

    /// <inheritdoc />
    public ValueTask<TrustRecord?> FindAsync(Bytes nodeId, CancellationToken cancellationToken) => new(Find(nodeId));

    /// <inheritdoc />
    public ValueTask<TrustLevel> TransitionAsync(Bytes nodeId, TrustLevel to, DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var current = _records.GetValueOrDefault(nodeId);
            if (TrustTransitions.Transition(current, nodeId, to, now) is not { } next) return new(current?.Level ?? TrustLevel.Unknown);
            if (!ReferenceEquals(next, current)) _records[nodeId] = next;
            return new(next.Level);
        }
    }

    /// <inheritdoc />
    public ValueTask<int> AddScoreAsync(Bytes nodeId, int delta, DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var next = TrustTransitions.AddScore(_records.GetValueOrDefault(nodeId), nodeId, delta, now);
            _records[nodeId] = next;
            return new(next.Score);
        }
    }

    /// <summary>
    /// An operator's reset: forgets the level and score of <paramref name="nodeId"/>, which is
    /// <see cref="TrustLevel.Unknown"/> again. The only way out of <see cref="TrustLevel.Blacklisted"/>.
    /// </summary>
    public ValueTask ResetAsync(Bytes nodeId, CancellationToken cancellationToken)
    {
        lock (_gate) _records.Remove(nodeId);
        return default;
    }

    /// <summary>
    /// An operator's genesis bootstrap: makes <paramref name="nodeId"/> <see cref="TrustLevel.System"/>, whatever
    /// its level, keeping its score. Handshakes never change it afterwards.
    /// </summary>
    public ValueTask BootstrapSystemAsync(Bytes nodeId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_gate) _records[nodeId] = TrustTransitions.BootstrapSystem(_records.GetValueOrDefault(nodeId), nodeId, now);
        return default;
    }

    private TrustRecord? Find(Bytes nodeId)
    {
        lock (_gate) return _records.GetValueOrDefault(nodeId);
    }
}

/// <summary>
/// An <see cref="IReplayCache"/> in process memory, bounded. When more than the capacity of keys are held, expired
/// keys are dropped; if that does not bring the count down to three quarters of the capacity, the keys nearest
/// their expiry are dropped too, and could be replayed until they would have expired. Size the capacity for the
/// expected message rate times the expiry window.
/// </summary>
public sealed class InMemoryReplayCache : IReplayCache
{
    /// <summary>The capacity when none is given.</summary>
    public const int DefaultCapacity = 100_000;

    private readonly Dictionary<Bytes, DateTimeOffset> _expiries = new();
    private readonly Lock _gate = new();
    private readonly int _capacity;

    /// <summary>A cache holding about <paramref name="capacity"/> keys at most.</summary>
    public InMemoryReplayCache(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 4);
        _capacity = capacity;
    }

    /// <summary>How many keys are held, expired ones included until they are pruned.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _expiries.Count;
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> TryAddAsync(Bytes key, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_expiries.TryGetValue(key, out var expiry) && expiry > now) return new(false);
            _expiries[key] = expiresAt;
            if (_expiries.Count > _capacity) Prune(now);
            return new(true);
        }
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var (key, expiry) in _expiries)
        {
            if (expiry <= now) _expiries.Remove(key);
        }
        // Down to three quarters, so that a cache full of live keys is not scanned on every insert.
        var excess = _expiries.Count - _capacity / 4 * 3;
        if (excess <= 0) return;
        var entries = new KeyValuePair<Bytes, DateTimeOffset>[_expiries.Count];
        ((ICollection<KeyValuePair<Bytes, DateTimeOffset>>)_expiries).CopyTo(entries, 0);
        Array.Sort(entries, static (left, right) => left.Value.CompareTo(right.Value));
        for (var i = 0; i < excess; i++) _expiries.Remove(entries[i].Key);
    }
}

/// <summary>
/// An <see cref="IAddressBlockList"/> in process memory. Addresses with neither a block nor a failure within their
/// window are forgotten when the list grows past its capacity.
/// </summary>
public sealed class InMemoryAddressBlockList : IAddressBlockList
{
    /// <summary>The capacity when none is given.</summary>
    public const int DefaultCapacity = 100_000;

    private readonly Dictionary<string, AddressRecord> _addresses = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly int _capacity;
    private int _pruneAbove;

    /// <summary>A list that prunes stale addresses once it holds more than <paramref name="capacity"/>.</summary>
    public InMemoryAddressBlockList(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _pruneAbove = capacity;
    }

    /// <inheritdoc />
    public ValueTask<bool> IsBlockedAsync(string address, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        lock (_gate) return new(_addresses.TryGetValue(address, out var record) && record.BlockedUntil > now);
    }

    /// <inheritdoc />
    public ValueTask<bool> RecordFailureAsync(string address, DateTimeOffset now, int maxFailures, TimeSpan within, TimeSpan blockFor, CancellationToken cancellationToken)
    {
        AddressBlockListArguments.Check(address, maxFailures, within, blockFor);
        lock (_gate)
        {
            if (!_addresses.TryGetValue(address, out var record))
            {
                if (_addresses.Count >= _pruneAbove) Prune(now);
                _addresses[address] = record = new AddressRecord();
            }
            if (record.BlockedUntil > now) return new(true);
            record.Within = within;
            var windowStart = now - within;
            record.Failures.RemoveAll(at => at < windowStart);
            record.Failures.Add(now);
            if (record.Failures.Count < maxFailures) return new(false);
            record.Failures.Clear();
            record.BlockedUntil = now + blockFor;
            return new(true);
        }
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var (address, record) in _addresses)
        {
            if (record.BlockedUntil <= now && !record.Failures.Exists(at => at >= now - record.Within)) _addresses.Remove(address);
        }
        // Live addresses stay; doubling the threshold keeps pruning amortised while they do.
        _pruneAbove = Math.Max(_capacity, _addresses.Count * 2);
    }

    private sealed class AddressRecord
    {
        public List<DateTimeOffset> Failures { get; } = new();
        public TimeSpan Within { get; set; }
        public DateTimeOffset BlockedUntil { get; set; } = DateTimeOffset.MinValue;
    }
}
