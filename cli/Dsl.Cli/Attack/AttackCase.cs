using System;
using System.Collections.Generic;

namespace Dsl.Cli.Attack;

/// <summary>The four kinds of adversary <c>dsl attack</c> derives from a spec.</summary>
internal enum AttackClass
{
    /// <summary>A peer that makes exactly one of the spec's checks fail while passing the ones before it.</summary>
    Check,
    /// <summary>Typed fields changed, then signed again (with the sender's own keys, or another's); fields swapped between messages; messages spliced from another session, reflected, sent as the wrong role.</summary>
    Mutation,
    /// <summary>Messages skipped, repeated, reordered, sent early, replayed, or the connection dropped.</summary>
    Order,
    /// <summary>Bit and byte flips, truncations, trailing bytes, unknown, duplicated and retyped members, invalid UTF-8.</summary>
    Bytes,
}

/// <summary>What happens to one datagram on a lossy network.</summary>
internal enum DatagramFault
{
    /// <summary>Lost.</summary>
    Drop,
    /// <summary>Delivered twice.</summary>
    Duplicate,
    /// <summary>Delivered after the next datagram in the same direction (or on its own, when there is none).</summary>
    Reorder,
}

/// <summary>Who holds the keys behind a change: no one (a man in the middle), the sender itself, or someone else.</summary>
internal enum Signer
{
    /// <summary>Nobody signs the change: bytes changed on the way between two honest parties.</summary>
    None,
    /// <summary>The sending role, with its own keys: a misbehaving peer, whose choices a victim may accept.</summary>
    Sender,
    /// <summary>A third party with keys of its own, re-signing what it changed.</summary>
    Other,
}

/// <summary>
/// What the attacker does to the messages its role sends in one session: each is replaced by the messages
/// <see cref="OnSend"/> returns (none to drop it), or the connection is closed there (null).
/// </summary>
/// <param name="OnSend">The attacker's <c>index</c>-th message (from 0) as the honest machine sent it, and what goes on the wire instead.</param>
internal sealed record WirePlan(Func<int, byte[], IReadOnlyList<byte[]>?> OnSend);

/// <summary>
/// A change the sending machine makes before signing: the <paramref name="Occurrence"/>-th <paramref name="Message"/> it
/// builds gets <paramref name="Property"/> set to <paramref name="Value"/>; or, when <paramref name="Message"/> is null,
/// the <paramref name="Occurrence"/>-th value of its let <paramref name="Property"/> is <paramref name="Value"/> instead.
/// </summary>
internal sealed record Rewrite(string? Message, int Occurrence, string Property, object? Value, string Shown)
{
    /// <summary>What it changes, as a case id reads it: <c>MESSAGE#N.Property</c> or <c>let NAME#N</c>.</summary>
    public string Target => Message is null ? $"let {Property}#{Occurrence}" : $"{Message}#{Occurrence}.{Property}";
}

/// <summary>One handshake of a case: the attacker's wire plan and rewrite, and the seed suffix of its random bytes.</summary>
/// <param name="Wire">What the attacker does to its role's messages on the wire; null: nothing.</param>
/// <param name="Rewrite">What the attacker's machine changes in a message before signing it; null: nothing.</param>
/// <param name="Seed">The suffix of the session's random seed (a second session draws other bytes).</param>
/// <param name="Given">Inputs given for this session only (a peer that comes back with another key).</param>
internal sealed record Session(WirePlan? Wire = null, Rewrite? Rewrite = null, string Seed = "1", IReadOnlyDictionary<string, string>? Given = null)
{
    /// <summary>A late message: before the attacker's message of this index (from 0) arrives, the victim's clock moves on by <see cref="Late"/>.</summary>
    public (int Index, TimeSpan By)? Late { get; init; }

    /// <summary>Whether the session runs over UDP through the handshake managers (retransmission and all), not an in-memory pair.</summary>
    public bool Udp { get; init; }

    /// <summary>Over UDP: the attacker's datagram of this index (from 0, retransmissions counted) lost, duplicated or held back behind the next.</summary>
    public (int Index, DatagramFault Fault)? Datagram { get; init; }

    /// <summary>Whether the attacker does anything in this session.</summary>
    public bool Honest => Wire is null && Rewrite is null && Given is null && Late is null && Datagram is null;

    /// <summary>Whether the attacker does anything to messages, datagrams or time in this session (inputs aside).</summary>
    public bool Attacked => Wire is not null || Rewrite is not null || Late is not null || Datagram is not null;
}

/// <summary>
/// One attack: sessions run in order over the same stores (the earlier ones set the stage: a session to replay,
/// failures that count against an address), the last one judged.
/// </summary>
/// <param name="Id">Stable within a spec and seed: <c>dsl attack SPEC --seed S --case ID</c> runs it again.</param>
/// <param name="Class">Which of the four adversaries made it.</param>
/// <param name="Kind">What it does, in a few words (the counts are kept by it).</param>
/// <param name="Attacker">The role whose messages the attacker changes (or whose machine misbehaves).</param>
/// <param name="Victim">The honest role it runs against.</param>
/// <param name="Description">What it does, in a sentence.</param>
/// <param name="Sessions">The handshakes it runs, over the same stores; the last is judged.</param>
internal sealed record AttackCase(string Id, AttackClass Class, string Kind, string Attacker, string Victim, string Description, IReadOnlyList<Session> Sessions)
{
    /// <summary>Who signs what the attacker changed.</summary>
    public Signer Signer { get; init; } = Signer.None;

    /// <summary>Inputs given (by <c>ROLE.NAME</c>) instead of the made-up ones: a peer with another secret.</summary>
    public IReadOnlyDictionary<string, string> Given { get; init; } = new Dictionary<string, string>();

    /// <summary>The hooks' answers (JSON, by <c>ROLE.HOOK</c>), where the case asks the application otherwise.</summary>
    public IReadOnlyDictionary<string, string> Hooks { get; init; } = new Dictionary<string, string>();

    /// <summary>For a field changed on the way: the field, as <c>MESSAGE.FIELD</c> (what an acknowledgement's <c>at</c> names).</summary>
    public string? Touches { get; init; }

    /// <summary>The roles whose stores carry over from one session to the next; null: every role's.</summary>
    public string[]? KeepStoresOf { get; init; }

    /// <summary>Calls made on the victim's stores before the first session: the state a check asks about (an operator's blacklisting, a key pinned before).</summary>
    public IReadOnlyList<StoreCall> Prepare { get; init; } = Array.Empty<StoreCall>();

    /// <summary>For <see cref="AttackClass.Check"/>: the check the case is meant to make fail.</summary>
    public SpecCheck? Target { get; init; }
}

/// <summary>A call on one of a role's stores: the service's property, the runtime method, and the spec's arguments (the rest, clock and settings, filled in).</summary>
internal sealed record StoreCall(string Role, string Service, string Method, IReadOnlyList<object?> Arguments, string Shown);

/// <summary>A check of the spec: who runs it, where, and the error it raises.</summary>
/// <param name="Role">The role that runs it.</param>
/// <param name="Phase">The phase it runs in; null for an envelope check, run on every message.</param>
/// <param name="Code">The error it raises.</param>
/// <param name="Source">The condition as written.</param>
/// <param name="Line">Its line in the spec.</param>
/// <param name="Where">When it runs, in words.</param>
internal sealed record SpecCheck(string Role, string? Phase, string Code, string Source, int Line, string Where)
{
    /// <summary>The message the check is about (received, or about to be sent); null for an envelope check.</summary>
    public string? Message { get; init; }

    /// <summary>What a case id names the check by: its code, and its rank among the role's checks raising it when there are several (<c>INVALID_SIGNATURE-2</c>).</summary>
    public string Key { get; init; } = "";

    /// <summary>Whether <paramref name="error"/> is this check failing.</summary>
    public bool RaisedBy(Dsl.Runtime.Handshakes.HandshakeError? error)
        => error is { RaisedByPeer: false } && error.Code == Code && error.Role == Role && error.Detail == "Check failed: " + Source
           && (Phase is null || error.Phase == Phase);

    public override string ToString() => $"{Role}: {Source} else {Code} (line {Line}, {Where})";
}

/// <summary>How a case ended, and what was wrong with it.</summary>
/// <param name="Case">The case.</param>
/// <param name="Ending">What each role did, in a line.</param>
/// <param name="Violations">Empty when the verdict is clean: a typed failure with the transport closed, or an acceptance that changes nothing the spec protects.</param>
internal sealed record CaseResult(AttackCase Case, string Ending, IReadOnlyList<string> Violations)
{
    /// <summary>For a check case: whether its target check was the one that failed.</summary>
    public bool HitTarget { get; init; }

    /// <summary>Whether the case did not apply (the roles' own constraints refuse the inputs it gives).</summary>
    public bool NotRun { get; init; }

    /// <summary>The victim's error code, when it failed.</summary>
    public string? VictimCode { get; init; }

    /// <summary>The victim's error detail, when it failed.</summary>
    public string? VictimDetail { get; init; }
}
