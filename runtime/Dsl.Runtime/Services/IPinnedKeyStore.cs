using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;

namespace Dsl.Runtime.Services;

/// <summary>
/// The public key each node id was first seen with (the spec's <c>pin_store</c> service): trust on first
/// use. Once a key is pinned for a node id, a handshake presenting a different key for it is identity theft.
/// </summary>
public interface IPinnedKeyStore
{
    /// <summary>The key pinned for <paramref name="nodeId"/>, or <see langword="null"/> when none is.</summary>
    ValueTask<Bytes?> GetPinAsync(Bytes nodeId, CancellationToken cancellationToken);

    /// <summary>
    /// <see langword="true"/> when <paramref name="nodeId"/> has no pin, or is pinned to exactly
    /// <paramref name="publicKey"/>; <see langword="false"/> when a different key is pinned.
    /// </summary>
    ValueTask<bool> MatchesAsync(Bytes nodeId, Bytes publicKey, CancellationToken cancellationToken);

    /// <summary>
    /// Pins <paramref name="publicKey"/> for <paramref name="nodeId"/> if the node id has no pin yet, atomically:
    /// of concurrent callers with different keys exactly one wins. Returns <see langword="true"/> when the key
    /// is now pinned (newly or already); <see langword="false"/>, changing nothing, when a different key is pinned.
    /// </summary>
    ValueTask<bool> PinAsync(Bytes nodeId, Bytes publicKey, CancellationToken cancellationToken);
}
