using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace Dsl.Cli.Tests;

/// <summary>
/// The test vectors checked in under protocols/NAME/vectors/: each replays against the generated machines, byte for
/// byte, so any change on the wire fails here (then review it, and rerun <c>dsl vectors SPEC</c>).
/// </summary>
[Collection(CommandLine.Collection)]
public sealed class VectorTests
{

    public static IEnumerable<object[]> Specs() => ProtocolPageTests.Specs();

    [Theory]
    [MemberData(nameof(Specs))]
    public async Task Every_vector_of_the_spec_replays_byte_for_byte(string spec)
    {
        var root = Repository.Root;
        var path = Path.Combine(root, spec);
        var folder = Vectors.TestVectors.Folder(path);
        var files = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.json") : Array.Empty<string>();
        Assert.True(files.Length > 0, $"{spec} has no vectors: dsl vectors {spec}");
        var missing = new List<string>();
        var (named, all) = SpecFiles.Find(new[] { path }, missing);
        var compiled = Running.GeneratedSpec.Compile(named[0], all, out var problem, CancellationToken.None);
        Assert.True(compiled is not null, problem);
        foreach (var file in files.OrderBy(f => f, StringComparer.Ordinal))
        {
            var problems = await Vectors.TestVectors.ReplayAsync(compiled!, File.ReadAllText(file), CancellationToken.None);
            Assert.True(problems.Count == 0, $"{Path.GetRelativePath(root, file)} no longer replays:\n" + string.Join("\n", problems));
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void The_vectors_readme_names_exactly_the_errors_no_vector_reaches(string spec)
    {
        var path = Path.Combine(Repository.Root, spec);
        var folder = Vectors.TestVectors.Folder(path);
        var (named, all) = SpecFiles.Find(new[] { path }, new List<string>());
        var model = SpecModel.Load(named[0], all, CancellationToken.None);
        Assert.NotNull(model);
        var unreached = Vectors.TestVectors.ErrorsNoFileReaches(model!, folder);
        var readme = File.ReadAllText(Path.Combine(folder, "README.md"));
        if (unreached.Count == 0) Assert.Contains("Every error the spec names is reached by a vector.", readme);
        else Assert.Contains(string.Join(", ", unreached.Select(c => "`" + c + "`")) + ".", readme);
    }

    [Fact]
    public void Mesh_vectors_reach_replay_and_the_address_block_through_a_replaying_peer_and_never_blacklist()
    {
        // A peer that replays its HS_SYN from the run before meets REPLAY; after more failures from the address,
        // ADDRESS_BLOCKED. No failure blacklists a node id (only an operator does): the one vector that ends in BLACKLISTED
        // starts from a store in which the operator blacklisted the node.
        var folder = Path.Combine(Repository.Root, "protocols", "mesh", "vectors", "mesh-1.0");
        var vectors = Directory.GetFiles(folder, "*.json").Select(f => System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(f))!).ToList();
        string Responder(System.Text.Json.Nodes.JsonNode v) => v["runs"]!.AsArray()[^1]!["outcome"]!["responder"]!.GetValue<string>();
        var replayed = vectors.Single(v => Responder(v) == "REPLAY" && v["runs"]!.AsArray().Count == 2);
        Assert.Equal("", (string)replayed["runs"]![1]!["tamper"]!["member"]!);
        Assert.Equal((string)replayed["runs"]![0]!["messages"]![0]!["hex"]!, (string)replayed["runs"]![1]!["messages"]![0]!["hex"]!);
        Assert.Contains(vectors, v => Responder(v) == "ADDRESS_BLOCKED");
        var blacklisted = Assert.Single(vectors, v => v["runs"]!.AsArray().Any(r => r!["outcome"]!.AsObject().Any(o => (string)o.Value! == "BLACKLISTED")));
        Assert.Contains("trust.blacklist(", (string)blacklisted["attack"]!["about"]!);
        Assert.Single(blacklisted["runs"]!.AsArray());
    }

    [Fact]
    public async Task A_peer_that_signs_its_change_again_reaches_the_checks_behind_a_signature()
    {
        // CAHP signs every envelope: a changed member alone is INVALID_SIGNATURE; signed again by the sender's own key, the
        // envelope passes and the check on the member itself fails (a day-old timestamp: STALE_MESSAGE).
        var root = Repository.Root;
        var spec = Path.Combine(root, "protocols", "cahp", "cahp-1.1.yaml");
        var (named, all) = SpecFiles.Find(new[] { spec }, new List<string>());
        var compiled = Running.GeneratedSpec.Compile(named[0], all, out var problem, CancellationToken.None);
        Assert.True(compiled is not null, problem);
        var endings = new List<string>();
        foreach (var resign in new[] { false, true })
        {
            var peers = new Running.Peers(1, new Dictionary<string, string>()) { Now = Vectors.TestVectors.Clock };
            var tamper = new Running.Tamper("metabolic", 0, "payload.model", "\"another-model\"") { Resign = resign };
            var result = await Running.HandshakeRun.RunAsync(compiled!, compiled!, peers, "memory", _ => { }, _ => { }, CancellationToken.None,
                new Running.Replay("test", Vectors.TestVectors.Clock), tamper);
            endings.Add(Vectors.TestVectors.Ending(result!.Value.Second));
        }
        Assert.Equal(new[] { "INVALID_SIGNATURE", "MODEL_MISMATCH" }, endings);
    }

    [Fact]
    public async Task A_vector_whose_bytes_changed_fails_to_replay_and_says_where()
    {
        var root = Repository.Root;
        var spec = Path.Combine(root, "protocols", "ltp", "ltp-0.2.yaml");
        var file = Directory.GetFiles(Path.Combine(root, "protocols", "ltp", "vectors", "ltp-0.2"), "*.json").OrderBy(f => f, StringComparer.Ordinal).First();
        var json = File.ReadAllText(file);
        var hex = System.Text.RegularExpressions.Regex.Match(json, "\"hex\": \"([0-9a-f]+)\"").Groups[1].Value;
        var changed = json.Replace(hex, hex.Substring(0, hex.Length - 2) + (hex.EndsWith("7d") ? "20" : "7d"));
        var (named, all) = SpecFiles.Find(new[] { spec }, new List<string>());
        var compiled = Running.GeneratedSpec.Compile(named[0], all, out _, CancellationToken.None)!;
        var problems = await Vectors.TestVectors.ReplayAsync(compiled, changed, CancellationToken.None);
        Assert.Contains(problems, p => p.StartsWith("run 1: message 1 differs", StringComparison.Ordinal));
    }
}
