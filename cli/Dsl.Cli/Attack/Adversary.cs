using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Cli.Running;
using Dsl.Cli.Vectors;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Transports;

namespace Dsl.Cli.Attack;

/// <summary>What <c>dsl attack</c> found for one spec: every case's result, and which checks a misbehaving peer reached.</summary>
internal sealed record AttackReport(IReadOnlyList<CaseResult> Results, IReadOnlyList<SpecCheck> Checks, IReadOnlyList<SpecCheck> Exercised, IReadOnlyDictionary<SpecCheck, string> Unreached)
{
    /// <summary>How many cases of the mutation, order and bytes classes the full run has (a sample runs fewer).</summary>
    public int Available { get; init; }
}

/// <summary>
/// An adversary derived from a spec. It records a good handshake (seeded random bytes, a fixed clock), then plays each
/// role against the other, honest one, and judges every case: a typed failure with the transport released, or an
/// acceptance that changes nothing the spec protects, and never an internal error, an outcome past the timeout, a
/// store written by a handshake that failed, or a success with content nobody entitled to has changed.
/// </summary>
internal sealed class Adversary
{
    /// <summary>How long a case's roles may take at most (each machine's timeouts are cut to fit, so a hang shows quickly).</summary>
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(2), HandshakeTimeout = TimeSpan.FromSeconds(4);

    private readonly GeneratedSpec _spec;
    private readonly BoundProtocol _protocol;
    private readonly string[] _roles;
    private readonly int _seed;
    private readonly IReadOnlyDictionary<string, string> _hooks;
    private readonly Dictionary<string, Execution> _baselines = new(StringComparer.Ordinal);
    private readonly Dictionary<SpecCheck, BoundExpression> _conditions = new();
    private IReadOnlyDictionary<string, string> _given = new Dictionary<string, string>();
    private readonly IReadOnlyDictionary<string, string> _inputs;
    private readonly HashSet<(string Role, string Value)> _documented;
    private readonly bool _unprotected;
    private Recording _good = null!, _otherSession = null!, _otherPeer = null!;
    private readonly List<Recording> _paths = new();

    /// <summary>A way into a path of the flow: honest sessions before the one attacked, over stores that carry over (all roles', or only some).</summary>
    private sealed record Stage(string Name, string Slug, int Before, string[]? KeepStoresOf);

    /// <summary>The last session of an honest run of a stage: the messages sent, the records each role built, each role's outcome and the inputs each had.</summary>
    private sealed record Recording(Stage Stage, List<TracedMessage> Messages, Dictionary<string, Rewrites.Recorder> Built, RoleOutcome First, RoleOutcome Second, IReadOnlyDictionary<string, string> Keys)
    {
        public bool Succeeded => First.Succeeded && Second.Succeeded;
    }

    private static readonly Stage OneSession = new("one session", "", 0, null);

    public Adversary(GeneratedSpec spec, int seed, IReadOnlyDictionary<string, string> hooks, IReadOnlyDictionary<string, string>? inputs = null)
    {
        _inputs = inputs ?? new Dictionary<string, string>();
        // The outcome values the spec acknowledges nothing protects: a change to them on the way is documented, not a violation.
        _documented = Dsl.Generator.Analysis.SecurityLints.Findings(spec.Model.Protocol)
            .Where(f => f.Lint == Dsl.Generator.Analysis.SecurityLints.UnprotectedField && Dsl.Generator.Analysis.SecurityLints.Acknowledgement(spec.Model.Protocol, f) is not null)
            .Select(f => (f.Arguments[0], Naming.Pascal(f.Arguments[1])))
            .ToHashSet();
        // A spec that acknowledges, for all of it, that nothing binds its messages to their senders (LTP v0.2 over TLS)
        // documents every change on the way.
        // (Only while the lint still finds something: an extension that signs what its base left open is held to it.)
        _unprotected = spec.Model.Protocol.Acknowledgements.Any(a => a.Lint == Dsl.Generator.Analysis.SecurityLints.UnprotectedField.Name && a.At.IsEmpty)
            && Dsl.Generator.Analysis.SecurityLints.Findings(spec.Model.Protocol).Any(f => f.Lint == Dsl.Generator.Analysis.SecurityLints.UnprotectedField);
        _spec = spec;
        _protocol = spec.Model.Protocol;
        _roles = _protocol.Roles.Select(r => r.Name).ToArray();
        _seed = seed;
        _hooks = hooks;
    }

    public string Protocol => $"{_protocol.Name} {_protocol.Version}";

    /// <summary>The checks of the spec, as each role runs them: a step's require (its receiver), ensure (its sender), the envelope's.</summary>
    public IReadOnlyList<SpecCheck> Checks() => _checks ??= FindChecks();

    private IReadOnlyList<SpecCheck>? _checks;

    private IReadOnlyList<SpecCheck> FindChecks()
    {
        var checks = new List<SpecCheck>();
        var conditions = new Dictionary<SpecCheck, BoundExpression>();
        void Add(SpecCheck check, BoundCheck bound)
        {
            if (conditions.ContainsKey(check)) return;
            conditions[check] = bound.Condition;
            checks.Add(check);
        }
        foreach (var node in _protocol.Flow.Nodes.OfType<MessageNode>())
        {
            foreach (var check in node.Ensures) Add(new SpecCheck(node.Sender, node.Phase, check.Code, check.Source, check.Span.Line, $"before {node.Sender} sends {node.Message}") { Message = node.Message }, check);
            foreach (var check in node.Requires) Add(new SpecCheck(node.Receiver, node.Phase, check.Code, check.Source, check.Span.Line, $"when {node.Receiver} receives {node.Message}") { Message = node.Message }, check);
        }
        foreach (var role in _protocol.Envelope?.Checks ?? default)
            foreach (var check in role.Checks) Add(new SpecCheck(role.Role, null, check.Code, check.Source, check.Span.Line, $"on every {_protocol.Envelope!.Name} {role.Role} receives"), check);
        // A key that survives edits elsewhere in the spec (a case id, a vector names it): the code, and its rank among
        // the role's checks that raise it.
        var ranks = new Dictionary<(string, string), int>();
        var keyed = new List<SpecCheck>();
        foreach (var check in checks)
        {
            var rank = ranks[(check.Role, check.Code)] = ranks.TryGetValue((check.Role, check.Code), out var n) ? n + 1 : 1;
            var withKey = check with { Key = rank == 1 ? check.Code : $"{check.Code}-{rank}" };
            _conditions[withKey] = conditions[check];
            keyed.Add(withKey);
        }
        return keyed;
    }

    /// <summary>Records the good handshakes the cases start from; a problem when the spec's roles cannot complete one.</summary>
    public async Task<string?> PrepareAsync(CancellationToken cancellationToken)
    {
        // The made-up inputs, or else the first single input set otherwise (a larger amount, another of its values)
        // with which both roles succeed, as the vectors' search finds them.
        var tries = new List<IReadOnlyDictionary<string, string>> { _inputs };
        foreach (var role in _protocol.Roles)
            foreach (var input in role.Inputs.Where(i => !_inputs.ContainsKey(role.Name + "." + i.Name)))
                foreach (var (value, _) in TestVectors.Alternatives(input))
                    tries.Add(new Dictionary<string, string>(_inputs) { [role.Name + "." + input.Name] = value });
        string? failure = null;
        foreach (var given in tries)
        {
            _given = given;
            if (await RecordAsync(OneSession, _seed, 0, cancellationToken).ConfigureAwait(false) is not { Succeeded: true } good)
            {
                failure ??= "the honest handshake does not succeed with the made-up inputs, nor with any one of them set otherwise; give hook answers with which it does ('dsl run' shows how it fails)";
                continue;
            }
            _good = good;
            _otherSession = (await RecordAsync(OneSession, _seed, 1, cancellationToken).ConfigureAwait(false))!;
            _otherPeer = (await RecordAsync(OneSession, _seed + 1000, 2, cancellationToken).ConfigureAwait(false))!;
            // The other paths a second session takes: over both roles' stores (a resume), over only one role's (a refused resume).
            _paths.Add(good);
            _udpSends = await UdpSendsAsync(cancellationToken).ConfigureAwait(false);
            var stages = new List<Stage> { new("a second session over the first's stores", "second", 1, null) };
            stages.AddRange(_roles.Select(r => new Stage($"a second session, only the {r} keeping its stores", "second-" + r, 1, [r])));
            // Every stage reaches its checks over other stores (a server that remembers a client the client forgot);
            // the other classes take each distinct sequence of messages once.
            foreach (var stage in stages)
                if (await RecordAsync(stage, _seed, 0, cancellationToken).ConfigureAwait(false) is { } recording)
                    _paths.Add(recording);
            return null;
        }
        return failure;
    }

    /// <summary>
    /// How many datagrams each role sends when the good handshake runs over UDP through the handshake managers; null
    /// when it does not complete there (a message too large for a datagram).
    /// </summary>
    private async Task<Dictionary<string, int>?> UdpSendsAsync(CancellationToken cancellationToken)
    {
        var sends = _roles.ToDictionary(r => r, _ => 0, StringComparer.Ordinal);
        var peers = new Peers(_seed, _given) { Now = TestVectors.Clock, HookAnswersGiven = _hooks };
        var replay = new Replay(SessionSeed("1"), TestVectors.Clock) { Adjust = (_, options) => Shorten(options) };
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(HandshakeTimeout + TimeSpan.FromSeconds(3));
        var outcome = await HandshakeRun.RunAsync(_spec, _spec, peers, "udp", m => { lock (sends) sends[m.From]++; }, _ => { }, bound.Token, replay).ConfigureAwait(false);
        return outcome is { } pair && pair.First.Succeeded && pair.Second.Succeeded ? sends : null;
    }

    private Dictionary<string, int>? _udpSends;

    /// <summary>The inputs the good handshake was given (the others made up).</summary>
    public IReadOnlyDictionary<string, string> Given => _given;

    /// <summary>The stages' paths besides the first session's, by name.</summary>
    public IEnumerable<string> Paths => DistinctPaths().Skip(1).Select(p => p.Stage.Name);

    /// <summary>Runs <paramref name="stage"/> honestly and records its last session; null when the roles cannot be made.</summary>
    private async Task<Recording?> RecordAsync(Stage stage, int peersSeed, int seedOffset, CancellationToken cancellationToken)
    {
        var peers = new Peers(peersSeed, _given) { Now = TestVectors.Clock, HookAnswersGiven = _hooks, KeepStores = true, KeepStoresOf = stage.KeepStoresOf?.ToHashSet(StringComparer.Ordinal) };
        (RoleOutcome, RoleOutcome)? result = null;
        var messages = new List<TracedMessage>();
        var built = new Dictionary<string, Rewrites.Recorder>(StringComparer.Ordinal);
        for (var session = 1; session <= stage.Before + 1; session++)
        {
            messages.Clear();
            built.Clear();
            foreach (var role in _roles) built[role] = Rewrites.Record();
            var replay = new Replay(SessionSeed((session + seedOffset).ToString(CultureInfo.InvariantCulture)), TestVectors.Clock)
            {
                // What each role builds and computes before signing: what a misbehaving sender starts its changes from.
                Adjust = (role, options) => Shorten(options) with { Rewriter = built[role] },
            };
            result = await HandshakeRun.RunAsync(_spec, _spec, peers, "memory", m => { lock (messages) messages.Add(m); }, _ => { }, cancellationToken, replay).ConfigureAwait(false);
            if (result is null) return null;
        }
        var (a, b) = result!.Value;
        return new Recording(stage, messages, built, a, b, new Dictionary<string, string>(peers.Chosen, StringComparer.Ordinal));
    }

    /// <summary>A message's name on the wire: its discriminator, inside the wrapper and the envelope's payload.</summary>
    private string WireType(byte[] bytes)
    {
        try
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(bytes);
            if (_protocol.Wrap is { } wrap) node = node?[wrap];
            if (_protocol.Envelope is { } envelope && node?[envelope.PayloadField] is System.Text.Json.Nodes.JsonObject payload) node = payload;
            return node?[_protocol.Discriminator] is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<string>(out var type) ? type : "message";
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
        {
            return "bytes";
        }
    }

    private string SessionSeed(string session) => $"dsl attack {_seed.ToString(CultureInfo.InvariantCulture)} {session}";

    private static HandshakeOptions Shorten(HandshakeOptions options) => options with
    {
        StepTimeout = options.StepTimeout < StepTimeout ? options.StepTimeout : StepTimeout,
        HandshakeTimeout = options.HandshakeTimeout < HandshakeTimeout ? options.HandshakeTimeout : HandshakeTimeout,
    };

    // ---- Cases -------------------------------------------------------------------------------------------

    /// <summary>The messages <paramref name="role"/> sends in a recording's last session, in order.</summary>
    private static List<byte[]> Sent(Recording recording, string role) => recording.Messages.Where(m => m.From == role).Select(m => m.Bytes).ToList();

    private string Other(string role) => _roles[0] == role ? _roles[1] : _roles[0];

    /// <summary>Every case of the mutation, order and bytes classes, in a fixed order.</summary>
    public IEnumerable<AttackCase> Cases() => Unique(AllCases());

    /// <summary>The cases with their ids made unique (a second case of one id gets <c>~2</c>, and so on).</summary>
    private static IEnumerable<AttackCase> Unique(IEnumerable<AttackCase> cases)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var attack in cases)
        {
            var count = seen.TryGetValue(attack.Id, out var n) ? n + 1 : 1;
            seen[attack.Id] = count;
            yield return count == 1 ? attack : attack with { Id = attack.Id + "~" + count.ToString(CultureInfo.InvariantCulture) };
        }
    }

    /// <summary>The recorded paths, each distinct sequence of messages once.</summary>
    private IEnumerable<Recording> DistinctPaths()
    {
        var seen = new List<IReadOnlyList<string>>();
        foreach (var path in _paths)
        {
            var types = path.Messages.Select(m => m.From + ":" + WireType(m.Bytes)).ToList();
            if (seen.Any(s => s.SequenceEqual(types))) continue;
            seen.Add(types);
            yield return path;
        }
    }

    private IEnumerable<AttackCase> AllCases()
    {
        foreach (var path in DistinctPaths())
            foreach (var attacker in _roles)
            {
                var victim = Other(attacker);
                var mine = Sent(path, attacker);
                // The first session's path gets every class; the paths a second session takes (a resume, a refused one)
                // get the orders and the bytes, after their first session.
                var cases = path.Stage.Before == 0
                    ? Mutations(attacker, victim, mine, Sent(path, victim)).Concat(Orders(attacker, victim, mine))
                    : Orders(attacker, victim, mine).Where(c => c.Sessions.Count == 1);
                for (var i = 0; i < mine.Count; i++)
                {
                    var index = i;
                    cases = cases.Concat(ByteMutations.All(mine[i]).Select(change => new AttackCase($"bytes/{attacker}/{index}/{change.Name}", AttackClass.Bytes, change.Name.Split('/')[0], attacker, victim,
                        $"{attacker}'s {WireType(mine[index])}: {change.Name}", [new Session(Replace(index, change.Bytes))])));
                }
                foreach (var attack in cases) yield return OnPath(path, attack);
            }
        // Over UDP, through the handshake managers: each datagram of each role lost, duplicated, reordered.
        foreach (var (attacker, count) in _udpSends ?? new Dictionary<string, int>())
            for (var i = 0; i < count; i++)
                foreach (var fault in new[] { DatagramFault.Drop, DatagramFault.Duplicate, DatagramFault.Reorder })
                {
                    var (kind, what) = fault switch
                    {
                        DatagramFault.Drop => ("datagram lost", "lost"),
                        DatagramFault.Duplicate => ("datagram duplicated", "delivered twice"),
                        _ => ("datagram reordered", "held back behind the next"),
                    };
                    yield return new AttackCase($"udp/{attacker}/{i}/{fault.ToString().ToLowerInvariant()}", AttackClass.Order, kind, attacker, Other(attacker),
                        $"over UDP, {attacker}'s datagram {i + 1} {what}",
                        [new Session { Udp = true, Datagram = (i, fault) }]);
                }
    }

    /// <summary>A one-session case moved onto a path: after the path's honest sessions, over the stores it keeps.</summary>
    private static AttackCase OnPath(Recording path, AttackCase attack)
        => path.Stage.Before == 0 ? attack : attack with
        {
            Id = path.Stage.Slug + "/" + attack.Id,
            Description = path.Stage.Name + ": " + attack.Description,
            Sessions = Sessions(path.Stage, attack.Sessions[^1]),
            KeepStoresOf = path.Stage.KeepStoresOf,
        };

    private static WirePlan Replace(int index, params byte[][] instead) => new((i, honest) => i == index ? instead : [honest]);

    private IEnumerable<AttackCase> Mutations(string attacker, string victim, List<byte[]> mine, List<byte[]> theirs)
    {
        var enums = Enums();
        var signs = Resigner.Signs(_protocol);
        var own = new Resigner(_protocol, _good.Keys);
        var other = new Resigner(_protocol, _otherPeer.Keys);
        var everywhere = _good.Messages.SelectMany(m => Strings(m.Bytes)).Select(v => v.Value).Distinct().ToList();
        for (var i = 0; i < mine.Count; i++)
        {
            var type = WireType(mine[i]);
            foreach (var (member, value) in Tamper.Changes(mine[i], enums))
            {
                var changed = new Tamper(attacker, i, member, value).Apply(mine[i]);
                yield return new AttackCase($"mutation/{attacker}/{i}/field/{member}={value}", AttackClass.Mutation, "field changed", attacker, victim,
                    $"{attacker}'s {type} with {member} set to {value} on the way", [new Session(Replace(i, changed))]) { Touches = FieldAt(type, member) };
                if (signs)
                    yield return new AttackCase($"mutation/{attacker}/{i}/field-resigned-other/{member}={value}", AttackClass.Mutation, "field changed, signed by a third party", attacker, victim,
                        $"{attacker}'s {type} with {member} set to {value}, signed again with a third party's key", [new Session(Replace(i, other.Resign(attacker, changed)))]) { Signer = Signer.Other };
            }
            // Swapped fields: a member given the value of another member (of any message) of the same length.
            foreach (var (member, current) in Strings(mine[i]))
                foreach (var swapped in everywhere.Where(v => v.Length == current.Length && v != current))
                {
                    var changed = new Tamper(attacker, i, member, System.Text.Json.JsonSerializer.Serialize(swapped)).Apply(mine[i]);
                    yield return new AttackCase($"mutation/{attacker}/{i}/swap/{member}={Short(swapped)}", AttackClass.Mutation, "fields swapped", attacker, victim,
                        $"{attacker}'s {type} with {member} given another field's value ({Short(swapped)})", [new Session(Replace(i, changed))]);
                    if (signs)
                        yield return new AttackCase($"mutation/{attacker}/{i}/swap-resigned/{member}={Short(swapped)}", AttackClass.Mutation, "fields swapped, signed by the sender", attacker, victim,
                            $"{attacker}'s {type} with {member} given another field's value ({Short(swapped)}), signed again by {attacker}", [new Session(Replace(i, own.Resign(attacker, changed)))]) { Signer = Signer.Sender };
                }
            // Spliced from another session with the same peer, and from another peer's session.
            if (Sent(_otherSession, attacker).ElementAtOrDefault(i) is { } spliced)
                yield return new AttackCase($"mutation/{attacker}/{i}/splice/other-session", AttackClass.Mutation, "spliced from another session", attacker, victim,
                    $"{attacker}'s {type} replaced by the one from another session between the same peers", [new Session(Replace(i, spliced))]);
            if (Sent(_otherPeer, attacker).ElementAtOrDefault(i) is { } foreign)
                yield return new AttackCase($"mutation/{attacker}/{i}/splice/other-peer", AttackClass.Mutation, "spliced from another peer's session", attacker, victim,
                    $"{attacker}'s {type} replaced by the one another peer sent in its own session", [new Session(Replace(i, foreign))]);
            // Reflected: the victim's own messages sent back to it; and as the wrong role, signed by the attacker.
            for (var j = 0; j < theirs.Count; j++)
            {
                yield return new AttackCase($"mutation/{attacker}/{i}/reflect/{j}", AttackClass.Mutation, "reflected", attacker, victim,
                    $"{attacker}'s {type} replaced by {victim}'s own {WireType(theirs[j])}", [new Session(Replace(i, theirs[j]))]);
                if (signs)
                    yield return new AttackCase($"mutation/{attacker}/{i}/wrong-role/{j}", AttackClass.Mutation, "sent as the wrong role", attacker, victim,
                        $"{attacker}'s {type} replaced by a {WireType(theirs[j])} (a message only {victim} sends) signed by {attacker}", [new Session(Replace(i, own.Resign(attacker, theirs[j])))]) { Signer = Signer.Sender };
            }
        }
        // A misbehaving sender: each field of each message it builds changed before it signs, MACs or derives anything from it.
        foreach (var rewrite in SenderRewrites(_good, attacker))
            yield return new AttackCase($"mutation/{attacker}/rewrite/{rewrite.Target}/{Slug(rewrite.Shown)}", AttackClass.Mutation, "field changed by the sender, then signed", attacker, victim,
                $"{attacker} {Says(rewrite)}, then signs and sends what follows as the spec says", [new Session(Rewrite: rewrite)]) { Signer = Signer.Sender };
    }

    private static string Says(Rewrite rewrite)
        => rewrite.Message is null ? $"computes its {rewrite.Property} {rewrite.Shown}" : $"builds its {rewrite.Message} with {rewrite.Property} {rewrite.Shown}";

    /// <summary>
    /// The spec's name of the field a JSON member path of a message names (<c>MESSAGE.FIELD</c>, as an acknowledgement's
    /// <c>at</c> writes it): the wrapper and the envelope's payload left out, the wire name mapped to the field's.
    /// </summary>
    private string? FieldAt(string wireType, string member)
    {
        var parts = member.Split('.').ToList();
        if (_protocol.Wrap is { } wrap && parts.Count > 1 && parts[0] == wrap) parts.RemoveAt(0);
        if (_protocol.Envelope is { } envelope && parts.Count > 1 && parts[0] == envelope.PayloadField) parts.RemoveAt(0);
        var message = _protocol.Messages.FirstOrDefault(m => m.Wire == wireType);
        var field = message?.Fields.FirstOrDefault(f => f.Wire == parts[0]);
        return message is null || field is null ? null : message.Name + "." + field.Name;
    }

    /// <summary>The closed sets of text values the spec declares: its enums, and every field's <c>one_of</c> (a cipher's names): a value swapped for another of its set passes the codec.</summary>
    private List<IReadOnlyList<string>> Enums()
        => _protocol.Types.Where(t => !t.Values.IsEmpty).Select(t => (IReadOnlyList<string>)t.Values.ToArray())
            .Concat(_protocol.Messages.SelectMany(m => m.Fields).Concat(_protocol.Types.SelectMany(t => t.Fields))
                .Where(f => f.Constraints.OneOf.Count > 1).Select(f => (IReadOnlyList<string>)f.Constraints.OneOf.ToArray()))
            .ToList();

    /// <summary>Each field of each message <paramref name="role"/> builds in a recording, changed each way <see cref="Rewrites.Alternatives"/> knows.</summary>
    private IEnumerable<Rewrite> SenderRewrites(Recording recording, string role, Func<string?, string, bool>? only = null)
    {
        if (!recording.Built.TryGetValue(role, out var built)) yield break;
        // Its lets first: a value several fields are computed from (a stamp and its hash) changes them all together.
        var lets = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, current) in built.Lets)
        {
            var occurrence = lets.TryGetValue(name, out var n) ? n : 0;
            lets[name] = occurrence + 1;
            if (only is not null && !only(null, name)) continue;
            foreach (var (value, shown) in Rewrites.Alternatives(current?.GetType() ?? typeof(object), current))
                yield return new Rewrite(null, occurrence, name, value, shown);
        }
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var record in built.Messages)
        {
            var message = _protocol.Messages.FirstOrDefault(m => Naming.Pascal(m.Name) == record.GetType().Name);
            if (message is null) continue;
            var occurrence = seen.TryGetValue(message.Name, out var n) ? n : 0;
            seen[message.Name] = occurrence + 1;
            foreach (var field in message.Fields)
            {
                if (only is not null && !only(message.Name, field.Name)) continue;
                var property = record.GetType().GetProperty(Naming.Pascal(field.Name));
                // A constant has no setter: the codec writes its one value.
                if (property?.SetMethod is null || field.Const is not null) continue;
                foreach (var (value, shown) in Rewrites.Alternatives(property.PropertyType, property.GetValue(record)))
                    yield return new Rewrite(message.Name, occurrence, property.Name, value, shown);
            }
        }
    }

    private IEnumerable<AttackCase> Orders(string attacker, string victim, List<byte[]> mine)
    {
        for (var i = 0; i < mine.Count; i++)
        {
            var type = WireType(mine[i]);
            var index = i;
            AttackCase Case(string id, string kind, string description, WirePlan plan) => new($"order/{attacker}/{index}/{id}", AttackClass.Order, kind, attacker, victim, description, [new Session(plan)]);
            if (i + 1 < mine.Count)
            {
                yield return Case("skip", "skipped", $"{attacker} skips its {type} and sends the next message in its place", Replace(i, mine[i + 1]));
                yield return Case("reorder", "reordered", $"{attacker} sends its next message before its {type}", Replace(i, mine[i + 1], mine[i]));
            }
            for (var j = i + 2; j < mine.Count; j++)
                yield return Case($"early/{j}", "sent early", $"{attacker} sends its {WireType(mine[j])} (message {j + 1}) in place of its {type}", Replace(i, mine[j]));
            for (var j = 0; j < i; j++)
                yield return Case($"replay/{j}", "replayed", $"{attacker} sends its earlier {WireType(mine[j])} again in place of its {type}", Replace(i, mine[j]));
            yield return Case("repeat", "repeated", $"{attacker} sends its {type} twice", Replace(i, mine[i], mine[i]));
            yield return Case("drop", "connection dropped", $"{attacker} hangs up instead of sending its {type}", new WirePlan((k, honest) => k == index ? null : [honest]));
            // A replay across sessions: the message as it was sent in an earlier session, over the stores that session left.
            yield return new AttackCase($"order/{attacker}/{i}/replay-session", AttackClass.Order, "replayed from an earlier session", attacker, victim,
                $"{attacker} replays its {type} from an earlier session with the same peer, in a new session", [new Session(), new Session(Replace(index, mine[index]), Seed: "2")]);
        }
        yield return new AttackCase($"order/{attacker}/again", AttackClass.Order, "whole session replayed", attacker, victim,
            $"{attacker} replays a whole session, byte for byte, over the stores it left", [new Session(), new Session()]);
    }

    private static IEnumerable<(string Member, string Value)> Strings(byte[] message)
    {
        System.Text.Json.Nodes.JsonNode? root;
        try { root = System.Text.Json.Nodes.JsonNode.Parse(message); }
        catch (System.Text.Json.JsonException) { yield break; }
        foreach (var pair in Walk(root as System.Text.Json.Nodes.JsonObject, "", 0)) yield return pair;

        static IEnumerable<(string, string)> Walk(System.Text.Json.Nodes.JsonObject? obj, string prefix, int depth)
        {
            if (obj is null) yield break;
            foreach (var (name, node) in obj)
            {
                if (node is System.Text.Json.Nodes.JsonObject inner && depth < 2)
                    foreach (var pair in Walk(inner, prefix + name + ".", depth + 1)) yield return pair;
                else if (node is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<string>(out var text) && text.Length >= 8)
                    yield return (prefix + name, text);
            }
        }
    }

    private static string Short(string value) => value.Length <= 12 ? value : value[..12] + "…";

    private static string Slug(string text) => new(text.Select(c => char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());

    // ---- The misbehaving peer per check ------------------------------------------------------------------------

    /// <summary>
    /// The candidates for making <paramref name="check"/> fail, most targeted first, on every path that reaches it (a
    /// first session, a second over kept stores): the fields it reads changed by their sender before signing; the
    /// victim's store saying otherwise (an operator's blacklisting, a key pinned before); the attacker's inputs (a
    /// key, a secret) other than the victim expects; the victim's hooks answering otherwise; every other field so
    /// changed; members changed or removed on the way (unsigned, or signed by a third party); the session replayed;
    /// failures before it that count against the address (<paramref name="failing"/>: a case that made the victim fail
    /// with each code, found so far).
    /// </summary>
    public IEnumerable<AttackCase> CheckCandidates(SpecCheck check, IReadOnlyDictionary<(string Victim, string Code), AttackCase>? failing = null)
        => Unique(AllCheckCandidates(check, failing ?? new Dictionary<(string, string), AttackCase>()));

    private IEnumerable<AttackCase> AllCheckCandidates(SpecCheck check, IReadOnlyDictionary<(string Victim, string Code), AttackCase> failing)
    {
        var victim = check.Role;
        var attacker = Other(victim);
        var read = Reads(check);
        // The paths on which the victim runs the check: the message it is about crosses the wire in their last session.
        var wire = check.Message is { } name ? _protocol.Message(name).Wire : null;
        var paths = _paths.Where(p => wire is null || p.Messages.Any(m => WireType(m.Bytes) == wire)).ToList();
        AttackCase Case(Recording path, string how, string kind, string description, Session last)
            => new($"check/{victim}/{check.Key}/{(path.Stage.Slug.Length == 0 ? "" : path.Stage.Slug + "/")}{how}", AttackClass.Check, kind, attacker, victim,
                (path.Stage.Before == 0 ? "" : path.Stage.Name + ": ") + description, Sessions(path.Stage, last))
            {
                Target = check,
                KeepStoresOf = path.Stage.KeepStoresOf,
            };
        foreach (var path in paths)
            foreach (var rewrite in SenderRewrites(path, attacker, (message, field) => read.Contains((message, field))))
                yield return Case(path, $"rewrite/{rewrite.Target}/{Slug(rewrite.Shown)}", "field the check reads, changed by its sender",
                    $"{attacker} {Says(rewrite)}, then signs it", new Session(Rewrite: rewrite)) with { Signer = Signer.Sender };
        foreach (var path in paths)
            foreach (var call in Refutations(check, path))
                yield return Case(path, $"store/{call.Shown}", "the victim's store says otherwise", $"{victim}'s store prepared ({call.Shown}), then an honest session", new Session())
                    with { Prepare = [call] };
        foreach (var input in _protocol.Role(attacker).Inputs)
            foreach (var (value, why) in TestVectors.Alternatives(input))
            {
                var changed = new Dictionary<string, string> { [attacker + "." + input.Name] = value };
                yield return Case(_good, $"input/{attacker}.{input.Name}/{Slug(why)}", "a peer with other inputs", $"{attacker} with {input.Name} {why}", new Session()) with { Given = changed, Signer = Signer.Sender };
                // A peer that comes back with another input (another key) to a victim that remembers the first.
                foreach (var path in _paths.Where(p => p.Stage.Before > 0 && paths.Contains(p)))
                    yield return Case(path, $"input/{attacker}.{input.Name}/{Slug(why)}", "a peer that comes back with other inputs", $"{attacker} comes back with {input.Name} {why}", new Session(Given: changed)) with { Signer = Signer.Sender };
            }
        // The victim configured otherwise (fewer ciphers, another limit): what its own inputs decide.
        foreach (var input in _protocol.Role(victim).Inputs)
            foreach (var (value, why) in TestVectors.Alternatives(input))
            {
                var changed = new Dictionary<string, string> { [victim + "." + input.Name] = value };
                foreach (var path in paths)
                    yield return Case(path, $"victim-input/{victim}.{input.Name}/{Slug(why)}", "the victim configured otherwise", $"{victim} with {input.Name} {why}", new Session()) with { Given = changed, Signer = Signer.Sender };
            }
        foreach (var hook in _protocol.HooksOf(victim))
            foreach (var (answer, why) in TestVectors.HookAlternatives(hook, _hooks.ContainsKey(victim + "." + hook.Name)))
                foreach (var path in paths)
                    yield return Case(path, $"hook/{hook.Name}/{Slug(why)}", "the application answering otherwise", $"{victim}'s hook {hook.Name} {why}", new Session())
                        with { Hooks = new Dictionary<string, string>(_hooks) { [victim + "." + hook.Name] = answer } };
        foreach (var path in paths)
        {
            var mine = Sent(path, attacker);
            for (var i = 0; i < mine.Count; i++)
            {
                for (var j = 0; j < i; j++)
                    yield return Case(path, $"wire/{i}/replay/{j}", "an earlier message replayed", $"{attacker} sends its {WireType(mine[j])} again in place of its {WireType(mine[i])}", new Session(Replace(i, mine[j])));
                foreach (var late in Delays())
                    yield return Case(path, $"late/{i}/{(long)late.TotalSeconds}s", "a message late", $"{attacker}'s {WireType(mine[i])} arrives {Seconds(late)} late", new Session { Late = (i, late) });
                if (AsThirdParty(attacker, mine[i]) is { } foreign)
                    yield return Case(path, $"third-party/{i}", "signed by a third party as itself", $"{attacker}'s {WireType(mine[i])} signed by a third party with its own key, named as the signer", new Session(Replace(i, foreign))) with { Signer = Signer.Other };
            }
        }
        yield return Case(_good, "replayed-session", "the session replayed", $"{attacker} replays a whole session over the stores it left", new Session()) with { Sessions = [new Session(), new Session()] };
        // Failures before it, as many as a block list counts: each a connection whose first message is not JSON, or a
        // case that made the victim fail with a code whose effects count against the address.
        var strikes = _protocol.Services.Where(s => s.Roles.Contains(victim)).SelectMany(s => s.Settings).Where(s => s.Name == "max_failures")
            .Select(s => s.Value is IntegerConstant count ? (int)count.Value : 0).DefaultIfEmpty(0).Max();
        if (strikes > 0)
        {
            var recipes = new List<(string Name, IReadOnlyList<Session> Sessions, AttackCase? From)> { ("not-json", [new Session(Replace(0, "{"u8.ToArray()))], null) };
            foreach (var ((role, code), attack) in failing.OrderBy(f => f.Key.Code, StringComparer.Ordinal))
                if (role == victim && attack.Sessions.Count == 1 && attack.Prepare.Count == 0 && Strikes(victim, code)) recipes.Add((code, attack.Sessions, attack));
            foreach (var (recipe, sessions, from) in recipes)
                yield return new AttackCase($"check/{victim}/{check.Key}/after-failures/{strikes}x-{Slug(recipe)}", AttackClass.Check, "after repeated failures", attacker, victim,
                    $"{strikes} session(s) failing ({(from is null ? "a first message that is not JSON" : from.Description)}), then an honest one",
                    [.. Enumerable.Range(0, strikes).SelectMany(_ => sessions), new Session(Seed: "9")])
                {
                    Target = check,
                    Hooks = from?.Hooks ?? new Dictionary<string, string>(),
                    Given = from?.Given ?? new Dictionary<string, string>(),
                    Signer = from?.Signer ?? Signer.None,
                };
        }
        foreach (var path in paths)
            foreach (var rewrite in SenderRewrites(path, attacker, (message, field) => !read.Contains((message, field))))
                yield return Case(path, $"rewrite/{rewrite.Target}/{Slug(rewrite.Shown)}", "another field, changed by its sender",
                    $"{attacker} {Says(rewrite)}, then signs it", new Session(Rewrite: rewrite)) with { Signer = Signer.Sender };
        var enums = Enums();
        var other = new Resigner(_protocol, _otherPeer.Keys);
        foreach (var path in paths)
        {
            var mine = Sent(path, attacker);
            for (var i = 0; i < mine.Count; i++)
            {
                foreach (var (member, value) in Tamper.Changes(mine[i], enums))
                {
                    var changed = new Tamper(attacker, i, member, value).Apply(mine[i]);
                    yield return Case(path, $"wire/{i}/{member}={value}", "member changed on the way", $"{attacker}'s {WireType(mine[i])} with {member} set to {value} on the way", new Session(Replace(i, changed)));
                    yield return Case(path, $"wire-resigned/{i}/{member}={value}", "member changed on the way, signed by a third party",
                        $"{attacker}'s {WireType(mine[i])} with {member} set to {value}, signed by a third party", new Session(Replace(i, other.Resign(attacker, changed)))) with { Signer = Signer.Other };
                }
                foreach (var (removed, bytes) in ByteMutations.Removals(mine[i]))
                    yield return Case(path, $"wire/{i}/remove/{removed}", "member removed on the way", $"{attacker}'s {WireType(mine[i])} without {removed}", new Session(Replace(i, bytes)));
            }
        }
    }

    /// <summary>
    /// How late a message may come: a second past each duration the spec names (its clock skew, its services' windows,
    /// the durations in its expressions: an expiry 30 s after a challenge), and a day.
    /// </summary>
    private IEnumerable<TimeSpan> Delays()
    {
        var durations = new SortedSet<long> { 86_400_000 };
        if (_protocol.ClockSkewMs is { } skew) durations.Add(skew + 1000);
        foreach (var setting in _protocol.Services.SelectMany(s => s.Settings))
            if (setting.Value is DurationConstant duration) durations.Add(duration.Milliseconds + 1000);
        var pending = new Stack<BoundExpression>(Expressions());
        while (pending.Count > 0)
        {
            var next = pending.Pop();
            if (next is BoundLiteral { Value: DurationConstant literal }) durations.Add(literal.Milliseconds + 1000);
            foreach (var child in next.Children) pending.Push(child);
        }
        return durations.Select(d => TimeSpan.FromMilliseconds(d)).ToList();
    }

    /// <summary>Every expression of the flow: lets, sets, checks.</summary>
    private IEnumerable<BoundExpression> Expressions()
    {
        foreach (var node in _protocol.Flow.Nodes.OfType<MessageNode>())
        {
            foreach (var let in node.Lets) yield return let.Value;
            foreach (var set in node.Set) yield return set.Value;
            foreach (var check in node.Requires.Concat(node.Ensures)) yield return check.Condition;
        }
        foreach (var let in _protocol.Flow.Lets) yield return let.Value;
    }

    private static string Seconds(TimeSpan delay) => delay.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";

    /// <summary>
    /// <paramref name="message"/> as a third party would send it in the sender's place: every spelling of the sender's
    /// public keys replaced by the third party's, then signed with the third party's keys; null when the spec signs nothing.
    /// </summary>
    private byte[]? AsThirdParty(string role, byte[] message)
    {
        if (!Resigner.Signs(_protocol)) return null;
        var text = Encoding.UTF8.GetString(message);
        foreach (var (mine, theirs) in PublicKeys(_good.Keys, role).Zip(PublicKeys(_otherPeer.Keys, role)))
        {
            text = text.Replace(Convert.ToHexStringLower(mine), Convert.ToHexStringLower(theirs), StringComparison.Ordinal);
            text = text.Replace(Convert.ToBase64String(mine), Convert.ToBase64String(theirs), StringComparison.Ordinal);
        }
        return new Resigner(_protocol, _otherPeer.Keys).Resign(role, Encoding.UTF8.GetBytes(text));
    }

    /// <summary>The public halves of a role's Ed25519 key inputs, in declaration order.</summary>
    private IEnumerable<byte[]> PublicKeys(IReadOnlyDictionary<string, string> keys, string role)
    {
        foreach (var input in _protocol.Role(role).Inputs.Where(i => i.Type.Kind == TypeKind.Ed25519Key))
            if (keys.TryGetValue(role + "." + input.Name, out var seed))
            {
                using var key = Ed25519.Instance.ImportSeed(Convert.FromHexString(seed));
                yield return key.PublicKeyBytes();
            }
    }

    /// <summary>Whether failing with <paramref name="code"/> leaves a mark at <paramref name="role"/> (an error's effects, or the role's effects on any failure).</summary>
    private bool Strikes(string role, string code)
        => _protocol.FailureEffects.Any(e => e.Role == role && !e.Calls.IsEmpty)
           || _protocol.Errors.Any(e => e.Code == code && e.Effects.Any(x => x.Role == role && !x.Calls.IsEmpty));

    /// <summary>The honest sessions a stage runs first, then <paramref name="last"/> (its seed set to follow them).</summary>
    private static IReadOnlyList<Session> Sessions(Stage stage, Session last)
        => [.. Enumerable.Range(1, stage.Before).Select(i => new Session(Seed: i.ToString(CultureInfo.InvariantCulture))), last with { Seed = (stage.Before + 1).ToString(CultureInfo.InvariantCulture) }];

    /// <summary>Makes <paramref name="call"/> on <paramref name="store"/>: the spec's arguments first, then the clock, settings (an hour, one) and no cancellation.</summary>
    private static void Call(Type service, object store, StoreCall call)
    {
        var method = service.GetMethod(call.Method) ?? service.GetInterfaces().Select(i => i.GetMethod(call.Method)).First(m => m is not null)!;
        var given = 0;
        var arguments = method.GetParameters().Select(p =>
            given < call.Arguments.Count && (call.Arguments[given] is null || p.ParameterType.IsInstanceOfType(call.Arguments[given])) ? call.Arguments[given++]
            : p.ParameterType == typeof(DateTimeOffset) ? TestVectors.Clock
            : p.ParameterType == typeof(TimeSpan) ? TimeSpan.FromHours(1)
            : p.ParameterType == typeof(int) ? 1
            : p.ParameterType == typeof(CancellationToken) ? (object)CancellationToken.None
            : null).ToArray();
        var pending = method.Invoke(store, arguments)!;
        var task = (Task)pending.GetType().GetMethod("AsTask")!.Invoke(pending, null)!;
        task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// For each question the check asks the victim's stores (<see cref="ServiceMethodDescriptor.AnsweredOtherwiseAfter"/>),
    /// the call that makes it answer the other way, with the arguments the path's honest session gives it.
    /// </summary>
    private IEnumerable<StoreCall> Refutations(SpecCheck check, Recording path)
    {
        if (!_conditions.TryGetValue(check, out var condition)) yield break;
        var pending = new Stack<BoundExpression>();
        pending.Push(condition);
        while (pending.Count > 0)
        {
            var next = pending.Pop();
            foreach (var child in next.Children) pending.Push(child);
            if (next is not BoundServiceCall { Descriptor.AnsweredOtherwiseAfter: { } method } call) continue;
            var service = _protocol.Services.First(s => s.Name == call.Service);
            var refuter = service.Descriptor.Method(method)!;
            var arguments = call.Arguments.Select(a => Evaluate(a, path, Other(check.Role))).ToList();
            if (arguments.Any(a => a is null)) continue;
            if (call.Descriptor.WithAnotherLastArgument && arguments[^1] is Bytes last)
            {
                var other = last.ToArray();
                other[0] ^= 1;
                arguments[^1] = new Bytes(other);
            }
            yield return new StoreCall(check.Role, Naming.Pascal(service.Name), refuter.RuntimeMember, arguments,
                $"{service.Name}.{method}({string.Join(", ", call.Arguments.Select(Describe))}{(call.Descriptor.WithAnotherLastArgument ? " changed" : "")})");
        }
    }

    private static string Describe(BoundExpression expression) => expression switch
    {
        BoundField field => $"{field.Message}.{field.Field}",
        BoundEnvelopeField { Field: { } name } envelope => $"{envelope.Message}.envelope.{name}",
        _ => "…",
    };

    /// <summary>The value an argument had in a path's honest session: a field of a message as its sender built it; null when it is not that.</summary>
    private object? Evaluate(BoundExpression expression, Recording path, string sender)
    {
        if (expression is BoundEnvelopeField { Field: { } name } envelopeField && _protocol.Envelope is { } envelope)
        {
            // An envelope's field is sealed after the record is built: read it from the wire. An envelope check's
            // "envelope" is any message's: the sender's first.
            var wire = _protocol.Messages.FirstOrDefault(m => m.Name == envelopeField.Message)?.Wire;
            var sent = path.Messages.FirstOrDefault(m => wire is null ? m.From == sender : WireType(m.Bytes) == wire);
            var symbol = envelope.Fields.FirstOrDefault(f => f.Name == name);
            if (sent is null || symbol is null || symbol.Type.Kind != TypeKind.Bytes) return null;
            var root = System.Text.Json.Nodes.JsonNode.Parse(sent.Bytes);
            if (_protocol.Wrap is { } wrap) root = root?[wrap];
            var text = root?[symbol.Wire] is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<string>(out var t) ? t : null;
            if (text is null) return null;
            return symbol.Encoding == Dsl.Generator.Binding.BytesEncoding.Hex ? Bytes.TryFromHex(text, out var hex) ? hex : null : Bytes.TryFromBase64(text, out var b64) ? b64 : null;
        }
        if (expression is not BoundField field) return null;
        foreach (var built in path.Built.Values)
            if (built.Messages.FirstOrDefault(r => r.GetType().Name == Naming.Pascal(field.Message)) is { } record)
                return Rewrites.Current(record, Naming.Pascal(field.Field));
        return null;
    }

    /// <summary>The (message, field) pairs a check's condition reads, through the lets it reads too.</summary>
    private HashSet<(string?, string)> Reads(SpecCheck check)
    {
        var read = new HashSet<(string?, string)>();
        var lets = _protocol.Flow.Lets.ToDictionary(l => l.Id);
        var seen = new HashSet<int>();
        var pending = new Stack<BoundExpression>();
        if (_conditions.TryGetValue(check, out var condition)) pending.Push(condition);
        while (pending.Count > 0)
            foreach (var reference in Dsl.Generator.Projection.RoleProjector.References(pending.Pop()))
                switch (reference)
                {
                    case BoundField field:
                        read.Add((field.Message, field.Field));
                        break;
                    case BoundLet let when seen.Add(let.LetId) && lets.TryGetValue(let.LetId, out var symbol):
                        pending.Push(symbol.Value);
                        break;
                }
        // And the sender's lets those fields are computed from (a stamp a nonce and a hash are made of).
        foreach (var node in _protocol.Flow.Nodes.OfType<MessageNode>())
            foreach (var set in node.Set.Where(a => read.Contains((node.Message, a.Field))))
                foreach (var let in Dsl.Generator.Projection.RoleProjector.References(set.Value).OfType<BoundLet>())
                    read.Add((null, let.Name));
        return read;
    }

    // ---- Running and judging --------------------------------------------------------------------------------

    /// <summary>How a case's sessions went: each role's outcome in the last, what was wrong on the way, and what each role that failed wrote to its stores, by session.</summary>
    private sealed record Execution(RoleOutcome? First, RoleOutcome? Second, List<string> Violations, bool Ran)
    {
        /// <summary>By session (from 0) and role: the writes of every session, and whether the role failed in it.</summary>
        public List<Dictionary<string, (bool Failed, List<string> Writes)>> Sessions { get; } = new();

        /// <summary>Each session as it ran: its seed, each role's inputs, every message that crossed the wire, each role's outcome.</summary>
        public List<Vectors.VectorRun> Runs { get; } = new();

        /// <summary>Each session's random seed, in order.</summary>
        public List<string> Seeds { get; } = new();
    }

    /// <summary>Runs <paramref name="attack"/>'s sessions over one set of stores, judging what every session must never do.</summary>
    private async Task<Execution> ExecuteAsync(AttackCase attack, CancellationToken cancellationToken)
    {
        var writes = _roles.ToDictionary(r => r, _ => new List<string>(), StringComparer.Ordinal);
        var given = _given.Concat(attack.Given).GroupBy(g => g.Key).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
        var peers = new Peers(_seed, given)
        {
            Now = TestVectors.Clock,
            KeepStores = true,
            KeepStoresOf = attack.KeepStoresOf?.ToHashSet(StringComparer.Ordinal),
            HookAnswersGiven = attack.Hooks.Count > 0 ? attack.Hooks : _hooks,
            WrapStore = (role, property, service, store) =>
            {
                foreach (var call in attack.Prepare.Where(c => c.Role == role && c.Service == property)) Call(service, store, call);
                return StoreWatch.Create(service, store, property, writes[role]);
            },
        };
        var violations = new List<string>();
        var sessions = new List<Dictionary<string, (bool Failed, List<string> Writes)>>();
        var runs = new List<Vectors.VectorRun>();
        var seeds = new List<string>();
        RoleOutcome? first = null, second = null;
        for (var s = 0; s < attack.Sessions.Count; s++)
        {
            var session = attack.Sessions[s];
            var which = attack.Sessions.Count == 1 ? "" : $" (session {s + 1} of {attack.Sessions.Count})";
            foreach (var list in writes.Values) list.Clear();
            peers.Given = session.Given is null ? given : given.Concat(session.Given).GroupBy(g => g.Key).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
            var watched = new Dictionary<string, WatchedTransport>(StringComparer.Ordinal);
            var victimClock = new MovingClock(TestVectors.Clock);
            var replay = new Replay(SessionSeed(session.Seed), TestVectors.Clock)
            {
                Adjust = (role, options) => Shorten(options) with
                {
                    Rewriter = role == attack.Attacker && session.Rewrite is { } rewrite ? Rewrites.Apply(rewrite) : null,
                    TimeProvider = role == attack.Victim ? victimClock : options.TimeProvider,
                },
            };
            IMessageTransport Interpose(string role, IMessageTransport transport)
            {
                if (role == attack.Attacker && session.Datagram is { } datagram) transport = new FaultyDatagrams(transport, datagram.Index, datagram.Fault);
                if (role == attack.Attacker && (session.Wire is not null || session.Late is not null)) transport = new AttackerTransport(transport, session.Wire, session.Late, victimClock);
                var watch = new WatchedTransport(transport);
                lock (watched) watched[role] = watch;
                return watch;
            }
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // Past its handshake timeout, the time to deliver an error and a margin, a role has hung: cancel it.
            bound.CancelAfter(HandshakeTimeout + TimeSpan.FromSeconds(3));
            string? cannot = null;
            (RoleOutcome, RoleOutcome)? outcomes;
            var messages = new List<TracedMessage>();
            try
            {
                outcomes = await HandshakeRun.RunAsync(_spec, _spec, peers, session.Udp ? "udp" : "memory", m => { lock (messages) messages.Add(m); }, p => cannot = p, bound.Token, replay, null, Interpose).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                violations.Add($"an exception escaped a handshake{which}: {ex.GetType().Name}: {ex.Message}");
                return new Execution(null, null, violations, true);
            }
            // Inputs the roles' own constraints refuse (an empty id): the case does not apply.
            if (outcomes is not { } pair) return new Execution(null, null, violations, false);
            (first, second) = pair;
            runs.Add(new Vectors.VectorRun(new SortedDictionary<string, string>(peers.Chosen, StringComparer.Ordinal), messages, first, second));
            seeds.Add(replay.Seed);
            // A misbehaving sender's own machine computes what it was made to: its failures are its own, not a finding.
            var judged = new[] { first, second }.Where(o => !(attack.Signer == Signer.Sender && o.Role == attack.Attacker && session.Attacked)).ToList();
            sessions.Add(new[] { first, second }.ToDictionary(o => o.Role, o => (!o.Succeeded, writes[o.Role].ToList()), StringComparer.Ordinal));
            foreach (var outcome in judged)
            {
                if (outcome.ErrorCode == HandshakeErrorCodes.Cancelled)
                    violations.Add($"{outcome.Role} had no outcome within its handshake timeout{which}");
                else if (outcome.ErrorCode == HandshakeErrorCodes.InternalError)
                    violations.Add($"{outcome.Role} failed with an internal error{which}: {outcome.Error?.Detail}");
                if (outcome.Succeeded) continue;
                if (!session.Udp && watched.TryGetValue(outcome.Role, out var transport) && !transport.Released)
                    violations.Add($"{outcome.Role} failed ({outcome.ErrorCode}) but did not release its transport{which}");
            }
        }
        var execution = new Execution(first, second, violations, true);
        execution.Sessions.AddRange(sessions);
        execution.Runs.AddRange(runs);
        execution.Seeds.AddRange(seeds);
        return execution;
    }

    /// <summary>
    /// The first case of the misbehaving peer that makes a check raising <paramref name="code"/> fail (at most
    /// <paramref name="candidates"/> tried per check), with its sessions as they ran; null when none does.
    /// </summary>
    public async Task<(AttackCase Case, IReadOnlyList<Vectors.VectorRun> Runs, IReadOnlyList<string> Seeds)?> ReachAsync(string code, int candidates, CancellationToken cancellationToken)
    {
        foreach (var check in Checks().Where(c => c.Code == code))
            foreach (var candidate in CheckCandidates(check).Take(candidates))
                if (await RecordAsync(candidate, cancellationToken).ConfigureAwait(false) is { Hit: true } recorded)
                    return (candidate, recorded.Runs, recorded.Seeds);
        return null;
    }

    /// <summary>Runs a case (found by its id among the checks' candidates) and returns its sessions as they ran; null when there is no such case.</summary>
    public async Task<(IReadOnlyList<Vectors.VectorRun> Runs, IReadOnlyList<string> Seeds, bool Hit)?> RecordAsync(string id, CancellationToken cancellationToken)
    {
        var found = Checks().SelectMany(c => CheckCandidates(c)).FirstOrDefault(c => c.Id == id);
        return found is null ? null : await RecordAsync(found, cancellationToken).ConfigureAwait(false);
    }

    private async Task<(IReadOnlyList<Vectors.VectorRun> Runs, IReadOnlyList<string> Seeds, bool Hit)?> RecordAsync(AttackCase attack, CancellationToken cancellationToken)
    {
        var execution = await ExecuteAsync(attack, cancellationToken).ConfigureAwait(false);
        if (!execution.Ran || execution.First is not { } a || execution.Second is not { } b || execution.Violations.Count > 0) return null;
        var victim = a.Role == attack.Victim ? a : b;
        return (execution.Runs, execution.Seeds, attack.Target?.RaisedBy(victim.Error) == true);
    }

    /// <summary>Runs <paramref name="attack"/> and judges it.</summary>
    public async Task<CaseResult> RunAsync(AttackCase attack, CancellationToken cancellationToken)
    {
        var execution = await ExecuteAsync(attack, cancellationToken).ConfigureAwait(false);
        if (!execution.Ran) return new CaseResult(attack, "not run: a role's own constraints refuse its inputs", execution.Violations) { NotRun = true };
        var violations = execution.Violations;
        if (execution.First is not { } a || execution.Second is not { } b) return new CaseResult(attack, "exception", violations);
        // A role that failed may have written only what the same sessions write when nobody misbehaves (its own
        // bookkeeping before the failure), besides what counts against the connection; anything else rests on a claim
        // that did not hold. A peer's own signed choices are its own: the victim of a sender's rewrite is not judged.
        if (execution.Sessions.Any(s => s.Values.Any(r => r.Failed && r.Writes.Count > 0)))
        {
            var honest = await HonestAsync(attack, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < execution.Sessions.Count; i++)
                foreach (var (role, (failed, writes)) in execution.Sessions[i])
                {
                    // The victim of a sender's own signed choices, and that sender itself, write what those choices say.
                    if (!failed || attack.Signer == Signer.Sender) continue;
                    var allowed = i < honest.Sessions.Count && honest.Sessions[i].TryGetValue(role, out var h) ? h.Writes : new List<string>();
                    var unearned = writes.Where(w => !allowed.Contains(w)).Distinct().ToList();
                    if (unearned.Count > 0)
                        violations.Add($"{role} failed but wrote to its stores what no honest session writes{(execution.Sessions.Count > 1 ? $" (session {i + 1})" : "")}: {string.Join(", ", unearned)}");
                }
        }
        // A success must be the one the same sessions give when the last is left alone, unless the sender itself made the
        // change and signed it: a peer may choose what it sends, and the checks are what hold it to the spec.
        // A late message changes the time, not the content: the roles' clocks differ, and so may what they compute.
        if (attack.Signer != Signer.Sender && attack.Sessions[^1] is { Wire: not null } or { Rewrite: not null } or { Datagram: not null } && (a.Succeeded || b.Succeeded))
        {
            var honest = await BaselineAsync(attack, cancellationToken).ConfigureAwait(false);
            foreach (var outcome in new[] { a, b }.Where(o => o.Succeeded))
            {
                var expected = outcome.Role == honest.First?.Role ? honest.First : honest.Second;
                if (expected is null) continue;
                if (!expected.Succeeded)
                {
                    violations.Add($"{outcome.Role} succeeded where the same sessions without the attack fail ({expected.ErrorCode})");
                    continue;
                }
                // A change on the way to a field the spec acknowledges nothing protects is documented, and so is all that follows from it.
                var acknowledged = attack.Touches is { } touched && _protocol.Acknowledgements.Any(a => a.Lint == Dsl.Generator.Analysis.SecurityLints.UnprotectedField.Name && a.At.Contains(touched));
                var differences = acknowledged ? new List<string>()
                    : Differences(expected.Result!, outcome.Result!).Where(d => !_documented.Contains((outcome.Role, d)) && !(_unprotected && attack.Signer == Signer.None)).ToList();
                if (differences.Count > 0)
                    violations.Add($"{outcome.Role} succeeded with {string.Join(", ", differences)} other than the honest handshake gives, though {(attack.Signer == Signer.Other ? "only a third party signed the change" : "nobody signed the change")}");
            }
        }
        var victim = a.Role == attack.Victim ? a : b;
        return new CaseResult(attack, $"{a.Role} {Ending(a)}, {b.Role} {Ending(b)}", violations)
        {
            HitTarget = attack.Target?.RaisedBy(victim.Error) == true,
            VictimCode = victim.ErrorCode,
            VictimDetail = victim.Error?.Detail,
        };
    }

    private static string Ending(RoleOutcome outcome) => outcome.Succeeded ? "succeeded" : "failed with " + outcome.ErrorCode;

    /// <summary>The same sessions with nobody misbehaving (inputs as given): what each role may write to its stores.</summary>
    private async Task<Execution> HonestAsync(AttackCase attack, CancellationToken cancellationToken)
    {
        var honest = attack with { Sessions = attack.Sessions.Select(s => new Session(Seed: s.Seed, Given: s.Given)).ToList() };
        var key = "honest|" + string.Join(",", honest.Sessions.Select(s => s.Seed + string.Join("", (s.Given ?? new Dictionary<string, string>()).Select(g => $"[{g.Key}={g.Value}]"))))
                  + "|" + string.Join(",", attack.Given.OrderBy(g => g.Key).Select(g => g.Key + "=" + g.Value))
                  + "|" + string.Join(",", attack.Hooks.OrderBy(g => g.Key).Select(g => g.Key + "=" + g.Value)) + "|" + string.Join(",", attack.Prepare.Select(p => p.Shown))
                  + "|" + string.Join(",", attack.KeepStoresOf ?? Array.Empty<string>());
        if (_baselines.TryGetValue(key, out var cached)) return cached;
        return _baselines[key] = await ExecuteAsync(honest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The same sessions with the last one left alone: what each role's success must be.</summary>
    private async Task<Execution> BaselineAsync(AttackCase attack, CancellationToken cancellationToken)
    {
        var honest = attack with { Sessions = [.. attack.Sessions.Take(attack.Sessions.Count - 1), new Session(Seed: attack.Sessions[^1].Seed, Given: attack.Sessions[^1].Given)] };
        var key = string.Join(",", honest.Sessions.Select(s => !s.Attacked ? s.Seed + string.Join("", (s.Given ?? new Dictionary<string, string>()).Select(g => $"[{g.Key}={g.Value}]")) : "?")) + "|" + string.Join(",", attack.Given.OrderBy(g => g.Key).Select(g => g.Key + "=" + g.Value))
                  + "|" + string.Join(",", attack.Hooks.OrderBy(g => g.Key).Select(g => g.Key + "=" + g.Value)) + "|" + string.Join(",", attack.Prepare.Select(p => p.Shown))
                  + "|" + string.Join(",", attack.KeepStoresOf ?? Array.Empty<string>());
        // Earlier sessions that misbehave are not shared between cases: run those each time.
        var shared = honest.Sessions.All(s => !s.Attacked);
        if (shared && _baselines.TryGetValue(key, out var cached)) return cached;
        var execution = await ExecuteAsync(honest, cancellationToken).ConfigureAwait(false);
        if (shared) _baselines[key] = execution;
        return execution;
    }

    /// <summary>The names of the result's values that differ: bytes by content, secrets by content (never shown), lists item by item.</summary>
    private static List<string> Differences(object expected, object actual)
    {
        var differences = new List<string>();
        foreach (var property in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0) continue;
            if (!Same(property.GetValue(expected), property.GetValue(actual))) differences.Add(property.Name);
        }
        return differences;
    }

    private static bool Same(object? x, object? y) => (x, y) switch
    {
        (null, null) => true,
        (null, _) or (_, null) => false,
        (SecretBytes s, SecretBytes t) => s.IsDisposed || t.IsDisposed || s.ContentEquals(t),
        (string s, string t) => s == t,
        (IEnumerable s, IEnumerable t) => s.Cast<object?>().Count() == t.Cast<object?>().Count() && s.Cast<object?>().Zip(t.Cast<object?>()).All(p => Same(p.First, p.Second)),
        _ => x.Equals(y),
    };
}
