using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Cli.Running;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;

namespace Dsl.Cli.Vectors;

/// <summary>One handshake of a vector: the inputs each role had, every message in the order sent, and how each role ended.</summary>
internal sealed record VectorRun(IReadOnlyDictionary<string, string> Inputs, IReadOnlyList<TracedMessage> Messages, RoleOutcome First, RoleOutcome Second)
{
    /// <summary>The member a misbehaving peer changed on the way, if any.</summary>
    public Tamper? Tamper { get; init; }
}

/// <summary>A test vector: one path through the flow, as one or more handshakes (later ones see the stores the earlier left).</summary>
internal sealed record TestVector(string Name, string Description, Replay Replay, IReadOnlyList<VectorRun> Runs)
{
    /// <summary>The roles whose stores carry over from one run to the next; null: every role's.</summary>
    public string[]? KeepStoresOf { get; init; }

    /// <summary>How the search came to it, and the inputs it gave (the rest made up).</summary>
    public string Label { get; init; } = "";

    public Dictionary<string, string> Given { get; init; } = new();

    /// <summary>The hooks' answers the path had (JSON, by <c>ROLE.HOOK</c>); the others answered as <see cref="HookAnswers"/> says.</summary>
    public IReadOnlyDictionary<string, string> Hooks { get; init; } = new Dictionary<string, string>();

    /// <summary>Whether its last run was given other inputs than the runs before (the search derives no other path from it).</summary>
    public bool InputsChanged { get; init; }
}

/// <summary>
/// One way the search runs a spec: inputs and hook answers given, and its runs over kept stores, each with its tamper
/// or none (<paramref name="Plan"/>).
/// </summary>
internal sealed record Scenario(string Label, Dictionary<string, string> Given, IReadOnlyDictionary<string, string> Hooks, IReadOnlyList<Tamper?> Plan, string[]? Keep)
{
    /// <summary>Inputs the last run is given besides <see cref="Given"/> (a node that comes back with another key).</summary>
    public Dictionary<string, string>? LastGiven { get; init; }

    /// <summary>Runs without a tamper.</summary>
    public static IReadOnlyList<Tamper?> Honest(int runs) => new Tamper?[runs];

    /// <summary>The plan of <paramref name="vector"/>'s runs.</summary>
    public static List<Tamper?> PlanOf(TestVector vector) => vector.Runs.Select(r => r.Tamper).ToList();
}

/// <summary>
/// <c>dsl vectors</c>: runs a spec's two roles deterministically (seeded random bytes, a clock fixed at one instant)
/// under varied inputs and stores, and keeps one vector per distinct path (the messages each role sends and how
/// each ends): the first run; a second one over the first's stores (LTP's resume); and one per input set to other
/// values (an empty string, other bytes, another key...). It says which of the spec's checks and branches no vector
/// reaches. A replayed vector must send the same bytes; any change on the wire shows.
/// </summary>
internal static class TestVectors
{
    public static readonly DateTimeOffset Clock = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Where a spec's vectors live: <c>vectors/SPEC</c> beside the spec file.</summary>
    public static string Folder(string specPath) => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(specPath)!, "vectors", System.IO.Path.GetFileNameWithoutExtension(specPath));
    private const string Seed = "dsl vectors";

    /// <summary>
    /// Searches the spec's paths; <paramref name="hooks"/> are the hooks' answers every run starts from (JSON, by
    /// <c>ROLE.HOOK</c>), each hook then also answered otherwise (no for a yes-or-no question, nothing where nothing may
    /// be answered).
    /// </summary>
    public static async Task<(List<TestVector> Vectors, List<string> Unreached)> ExploreAsync(GeneratedSpec spec, IReadOnlyDictionary<string, string> hooks, CancellationToken cancellationToken)
    {
        var replay = new Replay(Seed, Clock);
        var protocol = spec.Model.Protocol;
        var roles = protocol.Roles.Select(r => r.Name).ToArray();
        var none = new Dictionary<string, string>();
        var scenarios = new List<Scenario>
        {
            new("made-up inputs", none, hooks, Scenario.Honest(1), null),
            new("twice, the second over the first's stores", none, hooks, Scenario.Honest(2), null),
        };
        foreach (var role in roles)
            scenarios.Add(new($"twice, only the {role} keeping its stores", none, hooks, Scenario.Honest(2), new[] { role }));
        foreach (var role in protocol.Roles)
            foreach (var input in role.Inputs)
                foreach (var (value, why) in Alternatives(input))
                {
                    scenarios.Add(new($"{role.Name}.{input.Name} {why}", new Dictionary<string, string> { [role.Name + "." + input.Name] = value }, hooks, Scenario.Honest(1), null));
                    // A node that comes back with another identity key, to peers that remember the first.
                    if (input.Type.Kind == TypeKind.Ed25519Key)
                        scenarios.Add(new($"twice, the second over the first's stores with {role.Name}.{input.Name} {why}", none, hooks, Scenario.Honest(2), null)
                        {
                            LastGiven = new Dictionary<string, string> { [role.Name + "." + input.Name] = value },
                        });
                }
        var vectors = new List<TestVector>();
        var paths = new HashSet<string>(StringComparer.Ordinal);
        var reached = new HashSet<string>(StringComparer.Ordinal);
        // Every untampered scenario of more than one run, a path found or not: a replaying peer starts from them.
        var overStores = new List<(Scenario Scenario, List<VectorRun> Runs)>();
        async Task ExploreAll(IEnumerable<Scenario> list)
        {
            foreach (var scenario in list)
            {
                var peers = new Peers(1, scenario.Given) { Now = Clock, KeepStores = true, KeepStoresOf = scenario.Keep?.ToHashSet(StringComparer.Ordinal), HookAnswersGiven = scenario.Hooks };
                var runs = new List<VectorRun>();
                for (var i = 0; i < scenario.Plan.Count; i++)
                {
                    var messages = new List<TracedMessage>();
                    // Each run its own seed: a second run draws other random bytes (nonces, ids) than the first.
                    var tampered = scenario.Plan[i];
                    if (i == scenario.Plan.Count - 1 && scenario.LastGiven is { } changed)
                        peers.Given = scenario.Given.Concat(changed).GroupBy(g => g.Key).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
                    var result = await HandshakeRun.RunAsync(spec, spec, peers, "memory", m => { lock (messages) messages.Add(m); }, _ => { }, cancellationToken, RunReplay(replay, i), tampered).ConfigureAwait(false);
                    if (result is not { } outcomes) break;
                    runs.Add(new VectorRun(new SortedDictionary<string, string>(peers.Chosen, StringComparer.Ordinal), messages, outcomes.First, outcomes.Second) { Tamper = tampered });
                    foreach (var code in new[] { outcomes.First.ErrorCode, outcomes.Second.ErrorCode }.Where(c => c is not null)) reached.Add(code!);
                }
                if (runs.Count != scenario.Plan.Count) continue;
                if (scenario.Plan.All(t => t is null) && runs.Count > 1) overStores.Add((scenario, runs));
                // A path is what the last run did: an earlier run only sets up the stores.
                var last = runs[^1];
                if (!paths.Add(Path(last))) continue;
                vectors.Add(new TestVector($"{vectors.Count + 1:00}-{Slug(last)}", $"{Describe(last)} ({scenario.Label})", replay, runs)
                {
                    KeepStoresOf = scenario.Keep,
                    Label = scenario.Label,
                    Given = scenario.Given,
                    Hooks = scenario.Hooks,
                    InputsChanged = scenario.LastGiven is not null,
                });
            }
        }

        await ExploreAll(scenarios).ConfigureAwait(false);
        // Each hook answered otherwise, on the way of every path where both roles succeeded (a hook asked late is only
        // reached once the checks before it pass).
        var answered = new List<Scenario>();
        foreach (var vector in vectors.Where(v => !v.InputsChanged && v.Runs[^1].First.Succeeded && v.Runs[^1].Second.Succeeded).ToList())
        {
            // And once more over its stores, where given inputs made it succeed (a burn spent twice).
            if (vector.Runs.Count == 1 && vector.Given.Count > 0)
                answered.Add(new($"twice, the second over the first's stores, after: {vector.Label}", vector.Given, vector.Hooks, Scenario.Honest(2), null));
            foreach (var hook in protocol.Hooks)
                foreach (var role in hook.Roles)
                    foreach (var (answer, why) in HookAlternatives(hook, vector.Hooks.ContainsKey(role + "." + hook.Name)))
                        answered.Add(new($"hook {role}.{hook.Name} {why}, after: {vector.Label}", vector.Given,
                            new Dictionary<string, string>(vector.Hooks) { [role + "." + hook.Name] = answer }, Scenario.Honest(vector.Runs.Count), vector.KeepStoresOf));
        }
        await ExploreAll(answered).ConfigureAwait(false);
        // Then a peer that changes one member of one message on the way: every member of every message of the last run of
        // every path found so far, after the runs before it as that path had them.
        var tampers = new List<Scenario>();
        var resigns = Resigner.Signs(protocol) ? new[] { false, true } : new[] { false };
        var enums = protocol.Types.Where(t => !t.Values.IsEmpty).Select(t => (IReadOnlyList<string>)t.Values.ToArray()).ToList();
        foreach (var vector in vectors.Where(v => !v.InputsChanged).ToList())
        {
            var sent = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var message in vector.Runs[^1].Messages)
            {
                var index = sent.TryGetValue(message.From, out var already) ? already : 0;
                sent[message.From] = index + 1;
                foreach (var (member, value) in Tamper.Changes(message.Bytes, enums))
                    foreach (var resign in resigns)
                        tampers.Add(new($"{message.From}'s {Type(message.Bytes)} with {member} changed to {value}{(resign ? " and signed again" : "")} on the way, after: {vector.Label}",
                            vector.Given, vector.Hooks, [.. Scenario.Honest(vector.Runs.Count - 1), new Tamper(message.From, index, member, value) { Resign = resign }], vector.KeepStoresOf));
            }
        }
        // And a peer that replays: in place of a message, the one it sent at that point of the run before (over the
        // stores that run left).
        foreach (var (scenario, runs) in overStores)
        {
            var before = runs[^2].Messages;
            var sent = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var message in runs[^1].Messages)
            {
                var index = sent.TryGetValue(message.From, out var already) ? already : 0;
                sent[message.From] = index + 1;
                if (before.Where(m => m.From == message.From).ElementAtOrDefault(index) is { } earlier && !earlier.Bytes.AsSpan().SequenceEqual(message.Bytes))
                    tampers.Add(scenario with
                    {
                        Label = $"{message.From}'s {Type(message.Bytes)} replaced by the one it sent in the run before, after: {scenario.Label}",
                        Plan = [.. Scenario.Honest(runs.Count - 1), Tamper.Replace(message.From, index, earlier.Bytes)],
                    });
            }
        }
        await ExploreAll(tampers).ConfigureAwait(false);
        // Where a failure leaves a mark (a strike, a block, a trust state), what an honest run meets after it: once
        // more, and after the same misbehaviour five times more.
        if (!protocol.FailureEffects.IsEmpty || protocol.Errors.Any(e => !e.Effects.IsEmpty))
        {
            var after = new List<Scenario>();
            foreach (var vector in vectors.Where(v => !v.InputsChanged && v.Runs[^1].Tamper is not null && (Raised(v.Runs[^1].First) || Raised(v.Runs[^1].Second))).ToList())
            {
                var plan = Scenario.PlanOf(vector);
                after.Add(new($"an honest run after: {vector.Label}", vector.Given, vector.Hooks, [.. plan, null], vector.KeepStoresOf));
                after.Add(new($"an honest run after six times: {vector.Label}", vector.Given, vector.Hooks, [.. plan, .. Enumerable.Repeat(plan[^1], 5), null], vector.KeepStoresOf));
            }
            await ExploreAll(after).ConfigureAwait(false);
        }
        var unreached = protocol.Errors.Select(e => e.Code).Where(c => !reached.Contains(c)).ToList();
        return (vectors, unreached);
    }

    /// <summary>Other answers a hook is given, each with why: no to a yes-or-no question; nothing, where the hook may answer nothing and was given an answer.</summary>
    internal static IEnumerable<(string Answer, string Why)> HookAlternatives(HookSymbol hook, bool given)
    {
        if (hook.Output.Kind == TypeKind.Bool && !hook.OutputMayBeAbsent) yield return ("false", "answering no");
        else if (hook.OutputMayBeAbsent && given) yield return ("null", "answering nothing");
    }

    /// <summary>The seed and clock of a vector's run <paramref name="index"/> (from 0).</summary>
    private static Replay RunReplay(Replay replay, int index) => replay with { Seed = replay.Seed + " " + (index + 1).ToString(CultureInfo.InvariantCulture) };

    /// <summary>Values an input is set to besides the made-up one, each with why.</summary>
    internal static IEnumerable<(string Value, string Why)> Alternatives(FieldSymbol input)
    {
        var type = input.Type;
        switch (type.Kind)
        {
            case TypeKind.String:
                yield return ("", "empty");
                if (!input.Constraints.OneOf.IsEmpty && input.Constraints.OneOf.Count > 1) yield return (input.Constraints.OneOf[1], "another of its values");
                break;
            case TypeKind.Bytes:
                yield return (new string('0', (type.Length > 0 ? type.Length : 32) * 2).Remove(0, 2) + "01", "other bytes");
                break;
            case TypeKind.Ed25519Key or TypeKind.X25519Key:
                yield return (new string('0', 62) + "07", "another key");
                break;
            case TypeKind.Bool:
                yield return ("false", "false");
                break;
            case TypeKind.Int:
                if (input.Constraints.Min is null or <= 0) yield return ("0", "zero");
                yield return ((input.Constraints.Max ?? 1_000_000_000L).ToString(CultureInfo.InvariantCulture), "large");
                break;
            case TypeKind.List when type.Element == TypeKind.String:
                yield return ("", "empty");
                break;
        }
    }

    private static string Path(VectorRun run)
        => string.Join(", ", run.Messages.Select(m => m.From + ":" + Type(m.Bytes))) + " => "
           + Recorded(run.First, run.Second) + "/" + Recorded(run.Second, run.First);

    /// <summary>Whether the role ended with an error of its own (a spec's code or the runtime's, not the connection ending under it).</summary>
    private static bool Raised(RoleOutcome outcome) => Ending(outcome) is not ("succeeded" or "connection_ended");

    /// <summary>
    /// A role's ending as the vector records it. When its peer raised an error and it did not, it either finished first or
    /// saw the connection end, depending on timing: the vector says so, and either matches.
    /// </summary>
    private static string Recorded(RoleOutcome role, RoleOutcome peer)
        => Raised(peer) && !Raised(role) ? EitherEnding : Ending(role);

    private const string EitherEnding = "succeeded_or_connection_ended";

    private static bool Matches(string expected, RoleOutcome role, RoleOutcome peer)
        => expected == Ending(role) || (expected == EitherEnding && Recorded(role, peer) == EitherEnding);

    /// <summary>
    /// How a role ended, as a vector records it: succeeded, or its error code; a connection that ended under it is one
    /// ending, whether the runtime saw it as the peer closing or as the transport failing (which it sees depends on timing).
    /// </summary>
    internal static string Ending(RoleOutcome outcome) => outcome.ErrorCode switch
    {
        null => "succeeded",
        "peer_closed" or "transport_failed" => "connection_ended",
        var code => code,
    };

    private static string Describe(VectorRun run)
        => string.Join("; ", run.Messages.Select(m => $"{m.From} sends {Type(m.Bytes)}")) + "; "
           + $"{run.First.Role} {Says(run.First, run.Second)}, {run.Second.Role} {Says(run.Second, run.First)}";

    private static string Says(RoleOutcome role, RoleOutcome peer) => Recorded(role, peer) switch
    {
        "succeeded" => "succeeds",
        EitherEnding => "finishes or sees the connection end",
        var ending => "fails with " + ending,
    };

    private static string Slug(VectorRun run)
    {
        var ending = run.First.Succeeded && run.Second.Succeeded ? "success"
            : (new[] { run.First, run.Second }.Where(Raised).Select(Ending).FirstOrDefault() ?? "connection-ended").ToLowerInvariant().Replace('_', '-');
        var last = run.Messages.Count == 0 ? "nothing" : Type(run.Messages[^1].Bytes).Replace('_', '-').ToLowerInvariant();
        return $"{run.Messages.Count}-messages-{last}-{ending}";
    }

    /// <summary>The message's name on the wire: the first string member named type, phase or a discriminator-looking name, found anywhere.</summary>
    internal static string Type(byte[] bytes)
    {
        try
        {
            var node = JsonNode.Parse(bytes);
            return Find(node) ?? "message";
        }
        catch (JsonException)
        {
            return "bytes";
        }

        static string? Find(JsonNode? node)
        {
            if (node is not JsonObject obj) return null;
            foreach (var name in new[] { "type", "phase" })
                if (obj[name] is JsonValue value && value.TryGetValue<string>(out var text)) return text;
            foreach (var member in obj)
                if (Find(member.Value) is { } inner) return inner;
            return null;
        }
    }

    public static string ToJson(TestVector vector, BoundProtocol protocol)
    {
        var root = new JsonObject
        {
            ["protocol"] = protocol.Name,
            ["version"] = protocol.Version,
            ["description"] = vector.Description,
            ["random"] = "each role's random bytes in a run: HMAC-SHA256 over a big-endian 64-bit block counter from 0, keyed by HMAC-SHA256(key: the run's seed, a space and the role's name in UTF-8; message: \"dsl seeded random\")",
            ["clock"] = vector.Replay.Clock.ToUnixTimeSeconds(),
            ["hooks"] = new JsonObject(vector.Hooks.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => KeyValuePair.Create(h.Key, JsonNode.Parse(h.Value)))),
            ["stores_kept_by"] = new JsonArray((vector.KeepStoresOf ?? vector.Runs[0].Inputs.Keys.Select(k => k.Split('.')[0]).Distinct().ToArray()).Select(r => (JsonNode)JsonValue.Create(r)!).ToArray()),
            ["runs"] = new JsonArray(vector.Runs.Select((run, index) => (JsonNode)new JsonObject
            {
                ["seed"] = RunReplay(vector.Replay, index).Seed,
                ["inputs"] = new JsonObject(run.Inputs.Select(i => KeyValuePair.Create(i.Key, (JsonNode?)JsonValue.Create(i.Value)))),
                ["tamper"] = run.Tamper is { } t ? new JsonObject
                {
                    ["from"] = t.From,
                    ["message"] = t.Index,
                    ["member"] = t.Member,
                    ["value"] = JsonNode.Parse(t.Value),
                    ["resigned"] = t.Resign,
                    ["about"] = (t.Replaces
                        ? "this role's message (counted from 0 among those it sends) was replaced on the way by the bytes in value (hex): the message it sent at that point of the run before"
                        : "this role's message (counted from 0 among those it sends) left it as it was built, then had this member set to this value on the way"
                          + (t.Resign ? ", then was signed again by the role's own key as the spec signs it (each signature field over what the language says it covers)" : ""))
                        + "; messages below are what crossed the wire",
                } : null,
                ["messages"] = Messages(run),
                ["outcome"] = Outcome(run),
            }).ToArray()),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }

    /// <summary>A run's messages as a vector records them: who sent each to whom, its bytes in hex, and as text.</summary>
    private static JsonArray Messages(VectorRun run) => new(run.Messages.Select(m => (JsonNode)new JsonObject
    {
        ["from"] = m.From,
        ["to"] = m.To,
        ["hex"] = Convert.ToHexString(m.Bytes).ToLowerInvariant(),
        ["text"] = Encoding.UTF8.GetString(m.Bytes),
    }).ToArray());

    /// <summary>How each role of a run ended, as a vector records it.</summary>
    private static JsonObject Outcome(VectorRun run) => new()
    {
        [run.First.Role] = Recorded(run.First, run.Second),
        [run.Second.Role] = Recorded(run.Second, run.First),
    };

    /// <summary>The differences between a vector's run and the run made again: every message the same bytes from the same role, and every ending the same.</summary>
    private static IEnumerable<string> Differences(int index, JsonObject expectedRun, IReadOnlyList<TracedMessage> messages, RoleOutcome first, RoleOutcome second)
    {
        var expected = expectedRun["messages"]!.AsArray().Select(m => (From: (string)m!["from"]!, Hex: (string)m["hex"]!)).ToList();
        for (var i = 0; i < Math.Max(expected.Count, messages.Count); i++)
        {
            var actual = i < messages.Count ? Convert.ToHexString(messages[i].Bytes).ToLowerInvariant() : null;
            if (i >= expected.Count) yield return $"run {index}: message {i + 1} is new: {messages[i]}";
            else if (actual is null) yield return $"run {index}: message {i + 1} from {expected[i].From} was not sent";
            else if (messages[i].From != expected[i].From || actual != expected[i].Hex)
                yield return $"run {index}: message {i + 1} differs: expected {Encoding.UTF8.GetString(Convert.FromHexString(expected[i].Hex))}, sent {messages[i]}";
        }
        var outcome = expectedRun["outcome"]!.AsObject();
        foreach (var (role, peer) in new[] { (first, second), (second, first) })
            if (!Matches((string)outcome[role.Role]!, role, peer))
                yield return $"run {index}: {role.Role} ends {Ending(role)}, the vector says {(string)outcome[role.Role]!}";
    }

    /// <summary>
    /// For each error the search reached no path to, the first case of <c>dsl attack</c>'s misbehaving peer that makes a
    /// check raising it fail (a field its sender changed before signing, a store that says otherwise, a peer with another
    /// key...), as a vector: its sessions' exact bytes, inputs and outcomes, and what the attacker did. Numbered from
    /// <paramref name="first"/>; the errors still unreached are returned beside them.
    /// </summary>
    public static async Task<(List<(string Name, string Json)> Vectors, List<string> Unreached)> AttackVectorsAsync(
        GeneratedSpec spec, IReadOnlyDictionary<string, string> hooks, IReadOnlyList<string> unreached, int first, CancellationToken cancellationToken)
    {
        var written = new List<(string, string)>();
        var still = new List<string>();
        if (unreached.Count == 0) return (written, still);
        var adversary = new Attack.Adversary(spec, AttackSeed, hooks);
        if (await adversary.PrepareAsync(cancellationToken).ConfigureAwait(false) is not null) return (written, unreached.ToList());
        foreach (var code in unreached)
        {
            if (await adversary.ReachAsync(code, 1000, cancellationToken).ConfigureAwait(false) is not { } reached)
            {
                still.Add(code);
                continue;
            }
            var (attack, runs, seeds) = reached;
            var protocol = spec.Model.Protocol;
            var root = new JsonObject
            {
                ["protocol"] = protocol.Name,
                ["version"] = protocol.Version,
                ["description"] = $"{attack.Description}; {attack.Victim} fails with {code} (dsl attack's misbehaving peer for the check at line {attack.Target!.Line}: {attack.Target.Source})",
                ["random"] = "each role's random bytes in a run: HMAC-SHA256 over a big-endian 64-bit block counter from 0, keyed by HMAC-SHA256(key: the run's seed, a space and the role's name in UTF-8; message: \"dsl seeded random\")",
                ["clock"] = Clock.ToUnixTimeSeconds(),
                ["hooks"] = new JsonObject((attack.Hooks.Count > 0 ? attack.Hooks : hooks).OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => KeyValuePair.Create(h.Key, JsonNode.Parse(h.Value)))),
                ["stores_kept_by"] = new JsonArray((attack.KeepStoresOf ?? protocol.Roles.Select(r => r.Name).ToArray()).Select(r => (JsonNode)JsonValue.Create(r)!).ToArray()),
                ["attack"] = new JsonObject
                {
                    ["seed"] = AttackSeed,
                    ["case"] = attack.Id,
                    ["attacker"] = attack.Attacker,
                    ["about"] = (attack.Sessions.All(x => !x.Attacked) && attack.Given.Count == 0 && attack.Hooks.Count == 0
                            ? "Nobody misbehaves on the wire. "
                            : $"{attack.Attacker} misbehaves: {attack.Description}. ")
                        + (attack.Prepare.Count > 0 ? $"Before the first run, {attack.Victim}'s stores hold what this call leaves (an operator's decision, or a state an earlier peer left): {string.Join("; ", attack.Prepare.Select(p => p.Shown))}. " : "")
                        + "Messages below are what crossed the wire; 'dsl attack SPEC --seed 1 --case ID' runs it again.",
                },
                ["runs"] = new JsonArray(runs.Select((run, index) => (JsonNode)new JsonObject
                {
                    ["seed"] = seeds[index],
                    ["inputs"] = new JsonObject(run.Inputs.Select(i => KeyValuePair.Create(i.Key, (JsonNode?)JsonValue.Create(i.Value)))),
                    ["messages"] = Messages(run),
                    ["outcome"] = Outcome(run),
                }).ToArray()),
            };
            var last = runs[^1];
            var name = $"{first + written.Count:00}-{last.Messages.Count}-messages-attack-{code.ToLowerInvariant().Replace('_', '-')}";
            written.Add((name, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n"));
        }
        return (written, still);
    }

    /// <summary>The seed of the attacks that make vectors (and of 'dsl attack' by default).</summary>
    private const int AttackSeed = 1;

    /// <summary>Runs an attack vector's case again: every session must send the same bytes and end the same way.</summary>
    private static async Task<List<string>> ReplayAttackAsync(GeneratedSpec spec, JsonObject root, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var attack = root["attack"]!.AsObject();
        var hooks = root["hooks"] is JsonObject given ? given.ToDictionary(h => h.Key, h => h.Value?.ToJsonString() ?? "null") : new Dictionary<string, string>();
        var adversary = new Attack.Adversary(spec, (int)attack["seed"]!, hooks);
        if (await adversary.PrepareAsync(cancellationToken).ConfigureAwait(false) is { } cannot) return new List<string> { "the attack cannot start: " + cannot };
        if (await adversary.RecordAsync((string)attack["case"]!, cancellationToken).ConfigureAwait(false) is not { } recorded)
            return new List<string> { $"no case '{(string)attack["case"]!}' any more, or it now breaks the verdict" };
        var expectedRuns = root["runs"]!.AsArray().Select(r => r!.AsObject()).ToList();
        if (expectedRuns.Count != recorded.Runs.Count) problems.Add($"{recorded.Runs.Count} runs, the vector has {expectedRuns.Count}");
        for (var r = 0; r < Math.Min(expectedRuns.Count, recorded.Runs.Count); r++)
            problems.AddRange(Differences(r + 1, expectedRuns[r], recorded.Runs[r].Messages, recorded.Runs[r].First, recorded.Runs[r].Second));
        return problems;
    }

    /// <summary>The spec's errors that no vector file in <paramref name="folder"/> records as a role's ending.</summary>
    public static List<string> ErrorsNoFileReaches(SpecModel spec, string folder)
    {
        var reached = Directory.GetFiles(folder, "*.json")
            .SelectMany(f => JsonNode.Parse(File.ReadAllText(f))!["runs"]!.AsArray())
            .SelectMany(r => r!["outcome"]!.AsObject().Select(o => (string)o.Value!))
            .ToHashSet(StringComparer.Ordinal);
        return spec.Protocol.Errors.Select(e => e.Code).Where(c => !reached.Contains(c)).ToList();
    }

    /// <summary>Runs a vector file again: every message must be the same bytes, and every outcome the same. The differences, if any.</summary>
    public static async Task<List<string>> ReplayAsync(GeneratedSpec spec, string json, CancellationToken cancellationToken)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        if (root["attack"] is JsonObject) return await ReplayAttackAsync(spec, root, cancellationToken).ConfigureAwait(false);
        var clock = DateTimeOffset.FromUnixTimeSeconds((long)root["clock"]!);
        var problems = new List<string>();
        Peers? peers = null;
        var index = 0;
        foreach (var run in root["runs"]!.AsArray().Select(r => r!.AsObject()))
        {
            index++;
            var given = run["inputs"]!.AsObject().ToDictionary(i => i.Key, i => (string)i.Value!);
            if (peers is not null) peers.Given = given;
            // Later runs see the stores the earlier ones left: one set of peers across the file.
            peers ??= new Peers(1, given)
            {
                Now = clock,
                HookAnswersGiven = root["hooks"] is JsonObject hooks ? hooks.ToDictionary(h => h.Key, h => h.Value?.ToJsonString() ?? "null") : new Dictionary<string, string>(),
                KeepStores = true,
                KeepStoresOf = root["stores_kept_by"]!.AsArray().Select(r => (string)r!).ToHashSet(StringComparer.Ordinal),
            };
            var messages = new List<TracedMessage>();
            var replay = new Replay((string)run["seed"]!, clock);
            var tamper = run["tamper"] is JsonObject t ? new Tamper((string)t["from"]!, (int)t["message"]!, (string)t["member"]!, t["value"]!.ToJsonString()) { Resign = (bool?)t["resigned"] ?? false } : null;
            var result = await HandshakeRun.RunAsync(spec, spec, peers, "memory", m => { lock (messages) messages.Add(m); }, p => problems.Add($"run {index}: {p}"), cancellationToken, replay, tamper).ConfigureAwait(false);
            if (result is not { } outcomes) return problems;
            problems.AddRange(Differences(index, run, messages, outcomes.First, outcomes.Second));
        }
        return problems;
    }
}
