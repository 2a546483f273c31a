using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Cli.Attack;
using Xunit;

namespace Dsl.Cli.Tests;

/// <summary>
/// <c>dsl attack</c> on the five seed specs: a bounded, seeded sample on every run (DSL_ATTACK_CASES cases of the
/// mutation, order and bytes classes besides every check's misbehaving peer; DSL_ATTACK_SEED), with no violation
/// and every check a peer can reach reached. The full run is <c>dsl attack protocols</c> (docs/attack.md).
/// </summary>
[Collection(CommandLine.Collection)]
public sealed class AttackTests
{
    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("DSL_ATTACK_SEED"), out var seed) ? seed : 1;

    private static int Sample => int.TryParse(Environment.GetEnvironmentVariable("DSL_ATTACK_CASES"), out var cases) ? cases : 300;

    /// <summary>Each seed spec, with the checks no peer can reach and why (empty for most).</summary>
    public static IEnumerable<object[]> Seeds() => new[]
    {
        new object[] { "protocols/ltp/ltp-0.2.yaml", Array.Empty<string>() },
        new object[] { "protocols/mesh/mesh-1.0.yaml", Array.Empty<string>() },
        new object[] { "protocols/stt/stt-0.2.yaml", Array.Empty<string>() },
        new object[] { "protocols/cahp/cahp-1.1.yaml", Array.Empty<string>() },
        // The server signs the X25519 public key of its own key pair: a server that signed a low-order point instead
        // would reach it, but no rewrite of a field or a let can make an honest key pair's public key low-order.
        new object[] { "protocols/entft/entft-1.0.yaml", new[] { "KEY_AGREEMENT" } },
    };

    private static async Task<Adversary> Prepare(string spec)
    {
        var path = Path.Combine(Repository.Root, spec);
        var (named, all) = SpecFiles.Find(new[] { path }, new List<string>());
        var compiled = Running.GeneratedSpec.Compile(named[0], all, out var problem, CancellationToken.None);
        Assert.True(compiled is not null, problem);
        var hooksFile = Vectors.TestVectors.Folder(path) + ".hooks.json";
        var hooks = File.Exists(hooksFile)
            ? System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(hooksFile))!.AsObject().ToDictionary(h => h.Key, h => h.Value?.ToJsonString() ?? "null")
            : new Dictionary<string, string>();
        // A low hashcash difficulty keeps CAHP's cases fast; the checks are the same.
        var adversary = new Adversary(compiled, Seed, hooks, new Dictionary<string, string> { ["open_weight.difficulty"] = "8" });
        Assert.Null(await adversary.PrepareAsync(CancellationToken.None));
        return adversary;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task A_seeded_sample_finds_no_violation_and_reaches_every_check_a_peer_can(string spec, string[] unreachable)
    {
        var adversary = await Prepare(spec);
        var report = await Campaign.RunAsync(adversary, new AttackSettings(Seed, Sample), _ => { }, CancellationToken.None);
        var violations = report.Results.Where(r => r.Violations.Count > 0).ToList();
        Assert.True(violations.Count == 0, string.Join("\n", violations.Take(10).Select(v =>
            $"{v.Case.Id}: {string.Join("; ", v.Violations)} (reproduce: dsl attack {spec} --seed {Seed} --case '{v.Case.Id}')")));
        Assert.Equal(unreachable.OrderBy(c => c), report.Unreached.Keys.Select(c => c.Code).OrderBy(c => c));
        foreach (var kind in new[] { AttackClass.Check, AttackClass.Mutation, AttackClass.Order, AttackClass.Bytes })
            Assert.Contains(report.Results, r => r.Case.Class == kind);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task The_full_run_has_at_least_ten_thousand_cases(string spec, string[] _)
    {
        var adversary = await Prepare(spec);
        Assert.True(adversary.Cases().Count() >= 10_000);
    }

    [Fact]
    public async Task Over_UDP_STT_completes_with_any_one_datagram_lost_duplicated_or_reordered()
    {
        var adversary = await Prepare("protocols/stt/stt-0.2.yaml");
        var cases = adversary.Cases().Where(c => c.Id.StartsWith("udp/", StringComparison.Ordinal)).ToList();
        // Each role's datagrams (its flights, and the retransmissions a loss causes) times three faults.
        Assert.True(cases.Count >= 12, $"{cases.Count} UDP cases");
        foreach (var attack in cases)
        {
            var result = await adversary.RunAsync(attack, CancellationToken.None);
            Assert.True(result.Violations.Count == 0, $"{attack.Id}: {string.Join("; ", result.Violations)}");
            Assert.True(result.Ending == "initiator succeeded, responder succeeded", $"{attack.Id}: {result.Ending}");
        }
    }

    [Fact]
    public async Task A_spec_whose_outcome_nothing_protects_fails_with_a_case_that_reproduces_by_its_id()
    {
        var folder = Directory.CreateTempSubdirectory("dsl-attack-").FullName;
        var spec = Path.Combine(folder, "greet.yaml");
        File.WriteAllText(spec, """
            protocol: greet
            version: "1"
            roles: [client, server]
            inputs:
              client:
                name: string
            messages:
              hello:
                fields:
                  name: string
              welcome:
                fields:
                  greeting: string
            flow:
              - client -> server: hello
                set: { name: self.name }
              - server -> client: welcome
                set: { greeting: hello.name }
            outcome:
              server: { name: hello.name }
            """);
        var output = new StringWriter();
        Assert.Equal(1, await Program.RunAsync(new[] { "attack", spec, "--cases", "50" }, output, interactive: false));
        var text = output.ToString();
        Assert.Contains("server succeeded with Name other than the honest handshake gives, though nobody signed the change", text);
        var reproduce = text.Split('\n').First(l => l.Contains("reproduce: dsl attack")).Trim();
        var id = reproduce[(reproduce.IndexOf("--case '", StringComparison.Ordinal) + 8)..^1];
        var again = new StringWriter();
        Assert.Equal(1, await Program.RunAsync(new[] { "attack", spec, "--case", id }, again, interactive: false));
        Assert.Contains("VIOLATION " + id, again.ToString());
    }
}
