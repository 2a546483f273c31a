using System;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;

namespace Dsl.Runtime.Services;

/// <summary>
/// How far a node is trusted: the Mesh seed's trust state machine. Stored by number, so the numbers never change.
/// See <see cref="TrustTransitions"/> for the moves between levels.
/// </summary>
public enum TrustLevel
{
    /// <summary>Never seen.</summary>
    Unknown = 0,

    /// <summary>Seen by heartbeat, not yet authenticated.</summary>
    Discovered = 1,

    /// <summary>Completed a handshake; its public key is pinned.</summary>
    Authenticated = 2,

    /// <summary>Authenticated with a reputation score of at least <see cref="TrustTransitions.TrustedScore"/>.</summary>
    Trusted = 3,

    /// <summary>
    /// Refused: a signature mismatch or a replay (the seed's REJECTED and BLACKLISTED, one state). Only an
    /// operator clears it.
    /// </summary>
    Blacklisted = 4,

    /// <summary>A user-bootstrapped genesis node; set by an operator, never changed by handshakes.</summary>
    System = 5,
}

/// <summary>What a trust store knows of one node.</summary>
/// <param name="NodeId">The node.</param>
/// <param name="Level">Its trust level.</param>
/// <param name="Score">Its reputation score, 0 to <see cref="TrustTransitions.MaxScore"/>.</param>
/// <param name="UpdatedAt">When the level or the score last changed (UTC); a move that changes neither leaves it.</param>
public sealed record TrustRecord(Bytes NodeId, TrustLevel Level, int Score, DateTimeOffset UpdatedAt);

/// <summary>
/// The trust state machine, the Mesh seed's reconciled:
/// <list type="table">
/// <listheader><term>From</term><description>Allowed to</description></listheader>
/// <item><term><see cref="TrustLevel.Unknown"/></term><description><see cref="TrustLevel.Discovered"/> (heartbeat),
/// <see cref="TrustLevel.Authenticated"/> (a handshake with a node no heartbeat announced),
/// <see cref="TrustLevel.Blacklisted"/>.</description></item>
/// <item><term><see cref="TrustLevel.Discovered"/></term><description><see cref="TrustLevel.Authenticated"/>,
/// <see cref="TrustLevel.Blacklisted"/>.</description></item>
/// <item><term><see cref="TrustLevel.Authenticated"/></term><description><see cref="TrustLevel.Authenticated"/>
/// (a repeat handshake: no change but the time), <see cref="TrustLevel.Trusted"/> (only with a score of at least
/// <see cref="TrustedScore"/>), <see cref="TrustLevel.Blacklisted"/>.</description></item>
/// <item><term><see cref="TrustLevel.Trusted"/></term><description><see cref="TrustLevel.Blacklisted"/> only: a new
/// handshake is not a downgrade to <see cref="TrustLevel.Authenticated"/>, and a falling score keeps
/// <see cref="TrustLevel.Trusted"/>.</description></item>
/// <item><term><see cref="TrustLevel.Blacklisted"/></term><description>Nothing; an operator's <c>ResetAsync</c> on a
/// concrete store forgets the node instead.</description></item>
/// <item><term><see cref="TrustLevel.System"/></term><description>Nothing; only an operator's
/// <c>BootstrapSystemAsync</c> on a concrete store sets it.</description></item>
/// </list>
/// Nothing moves to <see cref="TrustLevel.Unknown"/> or <see cref="TrustLevel.System"/>. Stores keep one more rule
/// after every change: an <see cref="TrustLevel.Authenticated"/> node whose score is at least
/// <see cref="TrustedScore"/> is <see cref="TrustLevel.Trusted"/>.
/// </summary>
public static class TrustTransitions
{
    /// <summary>The score at which an authenticated node becomes trusted (the seed's "Score &gt;= 80").</summary>
    public const int TrustedScore = 80;

    /// <summary>The highest score; scores are clamped to 0 and this.</summary>
    public const int MaxScore = 100;

    /// <summary>
    /// Whether the table allows moving from <paramref name="from"/> to <paramref name="to"/>. The
    /// <see cref="TrustLevel.Authenticated"/> to <see cref="TrustLevel.Trusted"/> move is allowed here and guarded
    /// by the score in <see cref="ITrustStore.TransitionAsync"/>.
    /// </summary>
    public static bool IsAllowed(TrustLevel from, TrustLevel to) => (from, to) switch
    {
        (TrustLevel.Blacklisted or TrustLevel.System, _) => false,
        (_, TrustLevel.Blacklisted) => true,
        (TrustLevel.Unknown, TrustLevel.Discovered or TrustLevel.Authenticated) => true,
        (TrustLevel.Discovered, TrustLevel.Authenticated) => true,
        (TrustLevel.Authenticated, TrustLevel.Authenticated or TrustLevel.Trusted) => true,
        _ => false,
    };

    /// <summary>The record after moving to <paramref name="to"/>, or <see langword="null"/> when the move is refused.</summary>
    internal static TrustRecord? Transition(TrustRecord? current, Bytes nodeId, TrustLevel to, DateTimeOffset now)
    {
        var level = current?.Level ?? TrustLevel.Unknown;
        var score = current?.Score ?? 0;
        if (!IsAllowed(level, to) || (to == TrustLevel.Trusted && score < TrustedScore)) return null;
        var promoted = Promote(to, score);
        // Nothing changes (an authenticated node authenticating again): the same record, so stores write nothing.
        if (current is not null && current.Level == promoted) return current;
        return new TrustRecord(nodeId, promoted, score, now.ToUniversalTime());
    }

    /// <summary>The record after adding <paramref name="delta"/> to the score.</summary>
    internal static TrustRecord AddScore(TrustRecord? current, Bytes nodeId, int delta, DateTimeOffset now)
    {
        var score = (int)Math.Clamp((long)(current?.Score ?? 0) + delta, 0, MaxScore);
        var level = Promote(current?.Level ?? TrustLevel.Unknown, score);
        if (current is not null && current.Score == score && current.Level == level) return current;
        return new TrustRecord(nodeId, level, score, now.ToUniversalTime());
    }

    /// <summary>The record of an operator-bootstrapped genesis node; the score is kept.</summary>
    internal static TrustRecord BootstrapSystem(TrustRecord? current, Bytes nodeId, DateTimeOffset now)
        => new(nodeId, TrustLevel.System, current?.Score ?? 0, now.ToUniversalTime());

    private static TrustLevel Promote(TrustLevel level, int score)
        => level == TrustLevel.Authenticated && score >= TrustedScore ? TrustLevel.Trusted : level;
}

/// <summary>
/// The trust level and reputation score of each node (the spec's <c>trust_store</c> service). Handshakes move
/// nodes only along <see cref="TrustTransitions"/>; operators' resets and genesis bootstrap live on the concrete
/// stores, out of handshakes' reach.
/// </summary>
public interface ITrustStore
{
    /// <summary>The level of <paramref name="nodeId"/>; <see cref="TrustLevel.Unknown"/> when never seen.</summary>
    ValueTask<TrustLevel> GetAsync(Bytes nodeId, CancellationToken cancellationToken);

    /// <summary>What the store knows of <paramref name="nodeId"/>, or <see langword="null"/> when never seen.</summary>
    ValueTask<TrustRecord?> FindAsync(Bytes nodeId, CancellationToken cancellationToken);

    /// <summary>
    /// Moves <paramref name="nodeId"/> to <paramref name="to"/> if <see cref="TrustTransitions.IsAllowed"/> allows it
    /// (and, for <see cref="TrustLevel.Trusted"/>, the score is at least <see cref="TrustTransitions.TrustedScore"/>),
    /// atomically. A refused move changes nothing. Returns the level after, which is
    /// <see cref="TrustLevel.Trusted"/> when the node reaches <see cref="TrustLevel.Authenticated"/> with a score
    /// already high enough.
    /// </summary>
    ValueTask<TrustLevel> TransitionAsync(Bytes nodeId, TrustLevel to, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Adds <paramref name="delta"/> (which may be negative) to the score of <paramref name="nodeId"/>, clamped to
    /// 0 and <see cref="TrustTransitions.MaxScore"/>, and returns the new score. An
    /// <see cref="TrustLevel.Authenticated"/> node whose score reaches <see cref="TrustTransitions.TrustedScore"/>
    /// becomes <see cref="TrustLevel.Trusted"/>; no other level changes.
    /// </summary>
    ValueTask<int> AddScoreAsync(Bytes nodeId, int delta, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Whether <paramref name="nodeId"/> is <see cref="TrustLevel.Blacklisted"/>.</summary>
    async ValueTask<bool> IsBlacklistedAsync(Bytes nodeId, CancellationToken cancellationToken)
        => await GetAsync(nodeId, cancellationToken).ConfigureAwait(false) == TrustLevel.Blacklisted;

    /// <summary>
    /// Records a completed handshake: moves <paramref name="nodeId"/> to <see cref="TrustLevel.Authenticated"/> where
    /// allowed. A trusted node stays <see cref="TrustLevel.Trusted"/>. Returns the level after.
    /// </summary>
    ValueTask<TrustLevel> AuthenticateAsync(Bytes nodeId, DateTimeOffset now, CancellationToken cancellationToken)
        => TransitionAsync(nodeId, TrustLevel.Authenticated, now, cancellationToken);

    /// <summary>
    /// Records a signature mismatch or a replay: moves <paramref name="nodeId"/> to
    /// <see cref="TrustLevel.Blacklisted"/> unless it is <see cref="TrustLevel.System"/>. Returns the level after.
    /// </summary>
    ValueTask<TrustLevel> BlacklistAsync(Bytes nodeId, DateTimeOffset now, CancellationToken cancellationToken)
        => TransitionAsync(nodeId, TrustLevel.Blacklisted, now, cancellationToken);
}
