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
