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

    public static async Task<(List<TestVector> Vectors, List<string> Unreached)> ExploreAsync(GeneratedSpec spec, CancellationToken cancellationToken)
    {
        var replay = new Replay(Seed, Clock);
        var roles = spec.Model.Protocol.Roles.Select(r => r.Name).ToArray();
        var scenarios = new List<(string Label, Dictionary<string, string> Given, int Runs, string[]? Keep, Tamper? Tamper)>
        {
            ("made-up inputs", new Dictionary<string, string>(), 1, null, null),
            ("twice, the second over the first's stores", new Dictionary<string, string>(), 2, null, null),
        };
        foreach (var role in roles)
            scenarios.Add(($"twice, only the {role} keeping its stores", new Dictionary<string, string>(), 2, new[] { role }, null));
        foreach (var role in spec.Model.Protocol.Roles)
            foreach (var input in role.Inputs)
                foreach (var (value, why) in Alternatives(input))
                    scenarios.Add(($"{role.Name}.{input.Name} {why}", new Dictionary<string, string> { [role.Name + "." + input.Name] = value }, 1, null, null));
        var vectors = new List<TestVector>();
        var paths = new HashSet<string>(StringComparer.Ordinal);
        var reached = new HashSet<string>(StringComparer.Ordinal);
        async Task ExploreAll(IEnumerable<(string Label, Dictionary<string, string> Given, int Runs, string[]? Keep, Tamper? Tamper)> list)
        {
            foreach (var (label, given, count, keep, tamper) in list)
            {
                var peers = new Peers(1, given) { Now = Clock, KeepStores = true, KeepStoresOf = keep?.ToHashSet(StringComparer.Ordinal) };
                var runs = new List<VectorRun>();
                for (var i = 0; i < count; i++)
                {
                    var messages = new List<TracedMessage>();
                    // Each run its own seed: a second run draws other random bytes (nonces, ids) than the first. A tamper is for the last run.
                    var tampered = i == count - 1 ? tamper : null;
                    var result = await HandshakeRun.RunAsync(spec, spec, peers, "memory", m => { lock (messages) messages.Add(m); }, _ => { }, cancellationToken, RunReplay(replay, i), tampered).ConfigureAwait(false);
                    if (result is not { } outcomes) break;
                    runs.Add(new VectorRun(new SortedDictionary<string, string>(peers.Chosen, StringComparer.Ordinal), messages, outcomes.First, outcomes.Second) { Tamper = tampered });
                    foreach (var code in new[] { outcomes.First.ErrorCode, outcomes.Second.ErrorCode }.Where(c => c is not null)) reached.Add(code!);
                }
                if (runs.Count != count) continue;
                // A path is what the last run did: an earlier run only sets up the stores.
                var last = runs[^1];
                if (!paths.Add(Path(last))) continue;
                vectors.Add(new TestVector($"{vectors.Count + 1:00}-{Slug(last)}", $"{Describe(last)} ({label})", replay, runs)
                {
                    KeepStoresOf = keep,
                    Label = label,
                    Given = given,
                });
            }
        }

        await ExploreAll(scenarios).ConfigureAwait(false);
        // Then a peer that changes one member of one message on the way: every member of every message of the last run of
        // every path found so far, after the runs before it as that path had them.
        var tampers = new List<(string, Dictionary<string, string>, int, string[]?, Tamper?)>();
        foreach (var vector in vectors.ToList())
        {
            var sent = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var message in vector.Runs[^1].Messages)
            {
                var index = sent.TryGetValue(message.From, out var already) ? already : 0;
                sent[message.From] = index + 1;
                foreach (var (member, value) in Tamper.Changes(message.Bytes))
                    tampers.Add(($"{message.From}'s {Type(message.Bytes)} with {member} changed to {value} on the way, after: {vector.Label}",
                        vector.Given, vector.Runs.Count, vector.KeepStoresOf, new Tamper(message.From, index, member, value)));
            }
        }
        await ExploreAll(tampers).ConfigureAwait(false);
        var unreached = spec.Model.Protocol.Errors.Select(e => e.Code).Where(c => !reached.Contains(c)).ToList();
        return (vectors, unreached);
    }

    /// <summary>The seed and clock of a vector's run <paramref name="index"/> (from 0).</summary>
    private static Replay RunReplay(Replay replay, int index) => replay with { Seed = replay.Seed + " " + (index + 1).ToString(CultureInfo.InvariantCulture) };

    /// <summary>Values an input is set to besides the made-up one, each with why.</summary>
    private static IEnumerable<(string Value, string Why)> Alternatives(FieldSymbol input)
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
           + (Raised(run.Second) ? "*" : Ending(run.First)) + "/" + (Raised(run.First) ? "*" : Ending(run.Second));

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
                    ["about"] = "this role's message (counted from 0 among those it sends) left it as it was built, then had this member set to this value on the way; messages below are what crossed the wire",
                } : null,
                ["messages"] = new JsonArray(run.Messages.Select(m => (JsonNode)new JsonObject
                {
                    ["from"] = m.From,
                    ["to"] = m.To,
                    ["hex"] = Convert.ToHexString(m.Bytes).ToLowerInvariant(),
                    ["text"] = Encoding.UTF8.GetString(m.Bytes),
                }).ToArray()),
                ["outcome"] = new JsonObject
                {
                    [run.First.Role] = Recorded(run.First, run.Second),
                    [run.Second.Role] = Recorded(run.Second, run.First),
                },
            }).ToArray()),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }

    /// <summary>Runs a vector file again: every message must be the same bytes, and every outcome the same. The differences, if any.</summary>
    public static async Task<List<string>> ReplayAsync(GeneratedSpec spec, string json, CancellationToken cancellationToken)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        var clock = DateTimeOffset.FromUnixTimeSeconds((long)root["clock"]!);
        var problems = new List<string>();
        Peers? peers = null;
        var index = 0;
        foreach (var run in root["runs"]!.AsArray().Select(r => r!.AsObject()))
        {
            index++;
            var given = run["inputs"]!.AsObject().ToDictionary(i => i.Key, i => (string)i.Value!);
            // Later runs see the stores the earlier ones left: one set of peers across the file.
            peers ??= new Peers(1, given)
            {
                Now = clock,
                KeepStores = true,
                KeepStoresOf = root["stores_kept_by"]!.AsArray().Select(r => (string)r!).ToHashSet(StringComparer.Ordinal),
            };
            var messages = new List<TracedMessage>();
            var replay = new Replay((string)run["seed"]!, clock);
            var tamper = run["tamper"] is JsonObject t ? new Tamper((string)t["from"]!, (int)t["message"]!, (string)t["member"]!, t["value"]!.ToJsonString()) : null;
            var result = await HandshakeRun.RunAsync(spec, spec, peers, "memory", m => { lock (messages) messages.Add(m); }, p => problems.Add($"run {index}: {p}"), cancellationToken, replay, tamper).ConfigureAwait(false);
            if (result is not { } outcomes) return problems;
            var expected = run["messages"]!.AsArray().Select(m => (From: (string)m!["from"]!, Hex: (string)m["hex"]!)).ToList();
            for (var i = 0; i < Math.Max(expected.Count, messages.Count); i++)
            {
                var actual = i < messages.Count ? Convert.ToHexString(messages[i].Bytes).ToLowerInvariant() : null;
                if (i >= expected.Count) problems.Add($"run {index}: message {i + 1} is new: {messages[i]}");
                else if (actual is null) problems.Add($"run {index}: message {i + 1} from {expected[i].From} was not sent");
                else if (messages[i].From != expected[i].From || actual != expected[i].Hex)
                    problems.Add($"run {index}: message {i + 1} differs: expected {Encoding.UTF8.GetString(Convert.FromHexString(expected[i].Hex))}, sent {messages[i]}");
            }
            var outcome = run["outcome"]!.AsObject();
            foreach (var (role, peer) in new[] { (outcomes.First, outcomes.Second), (outcomes.Second, outcomes.First) })
                if (!Matches((string)outcome[role.Role]!, role, peer))
                    problems.Add($"run {index}: {role.Role} ends {Ending(role)}, the vector says {(string)outcome[role.Role]!}");
        }
        return problems;
    }
}
