using System;
using System.IO;
using System.Linq;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>The seed specs: generate cleanly, compile against the runtime, and match their golden files.</summary>
public sealed class SeedGenerationTests
{
    private const string SpecPath = "protocols/ltp/ltp-0.2.yaml";

    /// <summary>A seed spec, with the specs it extends (LTP 0.3 extends 0.2): the sources of its own namespace.</summary>
    private static (GeneratorRun Run, System.Collections.Generic.List<Microsoft.CodeAnalysis.GeneratedSourceResult> Sources) RunSeed(string spec, string ns)
    {
        var specs = new[] { spec }.Concat(spec == "protocols/ltp/ltp-0.3.yaml" ? new[] { SpecPath } : Array.Empty<string>())
            .Select(p => (p, GeneratorHarness.ReadRepoFile(p))).ToArray();
        var run = GeneratorHarness.Run(specs);
        return (run, run.Sources.Where(s => s.HintName.StartsWith(ns + ".", StringComparison.Ordinal)).ToList());
    }

    [Fact]
    public void Ltp_spec_generates_without_diagnostics_and_compiles_against_the_runtime()
    {
        var run = GeneratorHarness.Run((SpecPath, GeneratorHarness.ReadRepoFile(SpecPath)));
        MiscompileTests.AssertCompilesClean(run);
        Assert.Equal(
            new[] { "Dsl.Protocols.Ltp.Client.Machine.g.cs", "Dsl.Protocols.Ltp.Codec.g.cs", "Dsl.Protocols.Ltp.Messages.g.cs", "Dsl.Protocols.Ltp.Server.Machine.g.cs" },
            run.Sources.Select(s => s.HintName).OrderBy(n => n, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("protocols/ltp/ltp-0.2.yaml", "Dsl.Protocols.Ltp")]
    [InlineData("protocols/stt/stt-0.2.yaml", "Dsl.Protocols.Stt")]
    [InlineData("protocols/mesh/mesh-1.0.yaml", "Dsl.Protocols.Mesh")]
    [InlineData("protocols/cahp/cahp-1.1.yaml", "Dsl.Protocols.Cahp")]
    [InlineData("protocols/entft/entft-1.0.yaml", "Dsl.Protocols.Entft")]
    [InlineData("protocols/ltp/ltp-0.3.yaml", "Dsl.Protocols.Ltp03")]
    public void Every_seed_spec_generates_cleanly_and_compiles(string path, string ns)
    {
        var (run, sources) = RunSeed(path, ns);
        MiscompileTests.AssertCompilesClean(run);
        Assert.Equal(4, sources.Count);
    }

    /// <summary>Re-accept with <c>DSL_ACCEPT_GOLDEN=1 dotnet test tests/Dsl.Generator.Tests</c>, then read the diff line by line.</summary>
    [Theory]
    [InlineData("protocols/ltp/ltp-0.2.yaml", "ltp")]
    [InlineData("protocols/stt/stt-0.2.yaml", "stt")]
    [InlineData("protocols/mesh/mesh-1.0.yaml", "mesh")]
    [InlineData("protocols/cahp/cahp-1.1.yaml", "cahp")]
    [InlineData("protocols/entft/entft-1.0.yaml", "entft")]
    [InlineData("protocols/ltp/ltp-0.3.yaml", "ltp-0.3")]
    public void Every_seed_spec_output_matches_its_golden_files(string spec, string folder)
    {
        var (_, sources) = RunSeed(spec, folder == "ltp-0.3" ? "Dsl.Protocols.Ltp03" : "Dsl.Protocols." + char.ToUpperInvariant(folder[0]) + folder.Substring(1));
        var golden = Path.Combine(GeneratorHarness.RepoRoot(), "tests", "Dsl.Generator.Tests", "Golden", folder);
        var accept = Environment.GetEnvironmentVariable("DSL_ACCEPT_GOLDEN") == "1";
        if (accept) Directory.CreateDirectory(golden);
        foreach (var source in sources)
        {
            var path = Path.Combine(golden, source.HintName + ".txt");
            var actual = source.SourceText.ToString();
            if (accept) File.WriteAllText(path, actual);
            Assert.True(File.Exists(path), $"missing golden file {path}; run with DSL_ACCEPT_GOLDEN=1 to create it");
            var expected = File.ReadAllText(path).Replace("\r\n", "\n");
            Assert.True(expected == actual, $"{source.HintName} differs from its golden file; review the change, then re-accept with DSL_ACCEPT_GOLDEN=1");
        }
        Assert.Equal(sources.Count, Directory.GetFiles(golden, "*.g.cs.txt").Length);
    }

    [Theory]
    [InlineData("protocols/ltp/ltp-0.2.yaml")]
    [InlineData("protocols/stt/stt-0.2.yaml")]
    [InlineData("protocols/mesh/mesh-1.0.yaml")]
    [InlineData("protocols/cahp/cahp-1.1.yaml")]
    [InlineData("protocols/entft/entft-1.0.yaml")]
    [InlineData("protocols/ltp/ltp-0.3.yaml")]
    public void Each_step_reads_the_clock_once_and_maps_its_checks_to_the_spec(string spec)
    {
        var (_, sources) = RunSeed(spec, spec.EndsWith("ltp-0.3.yaml", StringComparison.Ordinal) ? "Dsl.Protocols.Ltp03" : "Dsl.Protocols.");
        foreach (var machine in sources.Where(s => s.HintName.EndsWith(".Machine.g.cs", StringComparison.Ordinal)).Select(s => s.SourceText.ToString()))
        {
            // Each state's case in the core: at most one clock read, and every now() is that reading.
            var core = machine.Substring(machine.IndexOf("private async", machine.IndexOf("AdvanceAsync(", StringComparison.Ordinal) - 200, StringComparison.Ordinal));
            core = core.Substring(0, core.IndexOf("catch (global::System.OperationCanceledException)", StringComparison.Ordinal));
            var cases = core.Split("                        case ").Skip(1);
            Assert.All(cases, c => Assert.True(c.Split("Builtins.Clock(").Length <= 2, "a state reads the clock more than once:\n" + c));
            Assert.DoesNotContain("Builtins.Now(_options", machine);
            // Every check is preceded by a #line naming the spec line it was written on.
            var lines = machine.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                if (!lines[i].Contains("Check failed: ")) continue;
                var directive = lines[i - 1].Trim();
                Assert.StartsWith("#line ", directive);
                // An extension's checks map to its own file, its base's to the base's.
                var parts = directive.Split(' ');
                var line = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                var yaml = GeneratorHarness.ReadRepoFile(parts[2].Trim('"')).Split('\n');
                Assert.Contains("else", yaml[line - 1]);
            }
            // Doc comments hold real tags, not escaped ones.
            Assert.Contains("<paramref name=\"transport\"/>", machine);
            Assert.DoesNotContain("&lt;paramref", machine);
        }
    }

    [Fact]
    public void Output_is_deterministic_and_uses_unix_line_endings()
    {
        var yaml = GeneratorHarness.ReadRepoFile(SpecPath);
        var first = GeneratorHarness.Run((SpecPath, yaml)).Sources.Select(s => s.SourceText.ToString()).ToList();
        var second = GeneratorHarness.Run((SpecPath, yaml.Replace("\n", "\r\n"))).Sources.Select(s => s.SourceText.ToString()).ToList();
        Assert.Equal(first, second);
        Assert.All(first, text =>
        {
            Assert.DoesNotContain("\r", text);
            Assert.StartsWith("// <auto-generated/>", text);
            Assert.Contains("#nullable enable", text);
        });
    }

    [Theory]
    [InlineData("protocols/ltp/ltp-0.2.yaml")]
    [InlineData("protocols/stt/stt-0.2.yaml")]
    [InlineData("protocols/mesh/mesh-1.0.yaml")]
    [InlineData("protocols/cahp/cahp-1.1.yaml")]
    [InlineData("protocols/entft/entft-1.0.yaml")]
    public void Output_does_not_depend_on_the_build_machines_culture(string spec)
    {
        // Swedish writes minus as U+2212 and Arabic-Egyptian its own digits: neither may reach the code or the state identity.
        var yaml = GeneratorHarness.ReadRepoFile(spec);
        var invariant = RunIn(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var culture in new[] { "sv-SE", "ar-EG", "tr-TR" })
            Assert.Equal(invariant, RunIn(new System.Globalization.CultureInfo(culture)));

        System.Collections.Generic.List<string> RunIn(System.Globalization.CultureInfo culture)
        {
            var saved = System.Globalization.CultureInfo.CurrentCulture;
            System.Globalization.CultureInfo.CurrentCulture = culture;
            try { return GeneratorHarness.Run((spec, yaml)).Sources.Select(s => s.SourceText.ToString()).ToList(); }
            finally { System.Globalization.CultureInfo.CurrentCulture = saved; }
        }
    }
}
