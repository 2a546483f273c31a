using System;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Services;

/// <summary>
/// The threads a server has issued (the spec's <c>thread_store</c> service): which thread belongs to
/// which client, so that a client can resume it on a later connection.
/// </summary>
public interface IThreadStore
{
    /// <summary>Whether <paramref name="threadId"/> was issued to <paramref name="clientId"/>.</summary>
    ValueTask<bool> ContainsAsync(Guid threadId, string clientId, CancellationToken cancellationToken);

    /// <summary>Records a newly issued thread and the session that opened it.</summary>
    ValueTask OpenAsync(Guid threadId, string clientId, Guid sessionId, CancellationToken cancellationToken);

    /// <summary>Records that <paramref name="sessionId"/> resumed the thread.</summary>
    ValueTask TouchAsync(Guid threadId, Guid sessionId, CancellationToken cancellationToken);
}

/// <summary>
/// A string-keyed store of single values (the spec's <c>value_store</c> service), for example the thread
/// id a client was given, kept for its next connection.
/// </summary>
/// <typeparam name="TValue">The type of the values.</typeparam>
public interface IValueStore<TValue> where TValue : struct
{
    /// <summary>The value stored under <paramref name="key"/>, or <see langword="null"/>.</summary>
    ValueTask<TValue?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, replacing any earlier value.</summary>
    ValueTask SetAsync(string key, TValue value, CancellationToken cancellationToken);

    /// <summary>Removes the value under <paramref name="key"/>, if any.</summary>
    ValueTask RemoveAsync(string key, CancellationToken cancellationToken);
}
