using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Services;

/// <summary>An <see cref="IThreadStore"/> in process memory; threads are lost when the process ends.</summary>
public sealed class InMemoryThreadStore : IThreadStore
{
    private readonly ConcurrentDictionary<Guid, ThreadRecord> _threads = new();

    /// <summary>A thread as the store knows it.</summary>
    /// <param name="ClientId">The client the thread was issued to.</param>
    /// <param name="LastSessionId">The session that last opened or resumed it.</param>
    /// <param name="Resumptions">How many times it was resumed.</param>
    public sealed record ThreadRecord(string ClientId, Guid LastSessionId, int Resumptions);

    /// <summary>How many threads are stored.</summary>
    public int Count => _threads.Count;

    /// <summary>The record of a thread, or <see langword="null"/>.</summary>
    public ThreadRecord? Find(Guid threadId) => _threads.TryGetValue(threadId, out var record) ? record : null;

    /// <inheritdoc />
    public ValueTask<bool> ContainsAsync(Guid threadId, string clientId, CancellationToken cancellationToken)
        => new(_threads.TryGetValue(threadId, out var record) && string.Equals(record.ClientId, clientId, StringComparison.Ordinal));

    /// <inheritdoc />
    public ValueTask OpenAsync(Guid threadId, string clientId, Guid sessionId, CancellationToken cancellationToken)
    {
        _threads[threadId] = new ThreadRecord(clientId, sessionId, 0);
        return default;
    }

    /// <inheritdoc />
    public ValueTask TouchAsync(Guid threadId, Guid sessionId, CancellationToken cancellationToken)
    {
        _threads.AddOrUpdate(threadId,
            static (_, _) => throw new InvalidOperationException("Cannot resume a thread that was never opened."),
            static (_, record, session) => record with { LastSessionId = session, Resumptions = record.Resumptions + 1 },
            sessionId);
        return default;
    }
}

/// <summary>An <see cref="IValueStore{TValue}"/> in process memory.</summary>
/// <typeparam name="TValue">The type of the values.</typeparam>
public sealed class InMemoryValueStore<TValue> : IValueStore<TValue> where TValue : struct
{
    private readonly ConcurrentDictionary<string, TValue> _values = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public ValueTask<TValue?> GetAsync(string key, CancellationToken cancellationToken)
        => new(_values.TryGetValue(key, out var value) ? value : null);

    /// <inheritdoc />
    public ValueTask SetAsync(string key, TValue value, CancellationToken cancellationToken)
    {
        _values[key] = value;
        return default;
    }

    /// <inheritdoc />
    public ValueTask RemoveAsync(string key, CancellationToken cancellationToken)
    {
        _values.TryRemove(key, out _);
        return default;
    }
}
