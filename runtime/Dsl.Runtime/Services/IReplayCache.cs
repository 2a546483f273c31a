using System;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;

namespace Dsl.Runtime.Services;

/// <summary>
/// The nonces (or other message keys) seen recently (the spec's <c>replay_cache</c> service): a key seen
/// twice before it expires is a replayed message.
/// </summary>
public interface IReplayCache
{
    /// <summary>
    /// Records <paramref name="key"/> until <paramref name="expiresAt"/>. Returns <see langword="false"/> when the
    /// key is already recorded and has not expired at <paramref name="now"/> (a replay); a key whose earlier
    /// record has expired is recorded afresh. Atomic: of concurrent callers with one key exactly one gets
    /// <see langword="true"/> (for a store in a file, also across processes sharing the file).
    /// </summary>
    ValueTask<bool> TryAddAsync(Bytes key, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    /// <summary>
    /// The spec's <c>fresh(value)</c>: records <paramref name="key"/> for <paramref name="window"/> from
    /// <paramref name="now"/>; <see langword="false"/> for a repeat within the window (a replay).
    /// </summary>
    ValueTask<bool> FreshAsync(Bytes key, DateTimeOffset now, TimeSpan window, CancellationToken cancellationToken)
        => TryAddAsync(key, now, now + window, cancellationToken);
}
