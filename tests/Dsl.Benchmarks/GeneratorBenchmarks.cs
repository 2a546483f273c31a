using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Dsl.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Dsl.Benchmarks;

/// <summary>
/// The incremental generator as an IDE or a watch build runs it: a driver that has already run once runs again, with
/// nothing changed (every step cached: the baseline, since nothing else is a natural one) and after one spec's
/// description line was edited (that spec is parsed, bound, projected and emitted again; the others should stay
/// cached). On the seed specs (every <c>*.yaml</c> under <c>protocols/</c>, the edit in CAHP, the largest) and on 200
/// synthetic specs (LTP 0.2 under 200 protocol names and namespaces). The targets are absolute: at most 10 ms after an
/// edit among the seeds, 50 ms among 200 specs; read the mean, the ratio only says how much the edit costs over a
/// cached run.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GeneratorBenchmarks
{
    private const string Seeds = "seed specs", Synthetic = "200 synthetic specs";
    private const int SyntheticCount = 200;

    // What the generator tests use: documentation comments are checked, as in a build with a documentation file.
    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    // The generator never looks at the compilation (no CompilationProvider), so a one-class one suffices.
    private readonly CSharpCompilation _compilation = CSharpCompilation.Create("Bench",
        new[] { CSharpSyntaxTree.ParseText("namespace User { /// <summary>The user's own code.</summary>\n public sealed class Placeholder { } }", ParseOptions) },
        new[] { MetadataReference.CreateFromFile(typeof(object).Assembly.Location) },
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
    private GeneratorDriver _seedsWarm = null!, _syntheticWarm = null!;
    private AdditionalText _seedTarget = null!, _seedEdited = null!, _syntheticTarget = null!, _syntheticEdited = null!;


    /// <summary>The seed specs, read from <c>protocols/</c>, run once.</summary>
    [GlobalSetup(Targets = new[] { nameof(Seeds_Unchanged), nameof(Seeds_OneEdited) })]
    public void SetupSeeds()
    {
        var protocols = Path.Combine(RepoRoot(), "protocols");
        var separator = Path.DirectorySeparatorChar;
        var seeds = Directory.EnumerateFiles(protocols, "*.yaml", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{separator}obj{separator}", StringComparison.Ordinal) && !p.Contains($"{separator}bin{separator}", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(p => (AdditionalText)new SpecText(p, File.ReadAllText(p)))
            .ToArray();
        if (seeds.Length < 5) throw new InvalidOperationException($"Found only {seeds.Length} specs under {protocols}");
        _seedTarget = seeds.Single(s => Path.GetFileName(s.Path) == "cahp-1.1.yaml");
        _seedEdited = Edited(_seedTarget);
        _seedsWarm = Prepare(Seeds, seeds, _seedTarget, _seedEdited);
    }

    /// <summary>200 renamed copies of LTP 0.2, run once.</summary>
    [GlobalSetup(Targets = new[] { nameof(Synthetic_Unchanged), nameof(Synthetic_OneEdited) })]
    public void SetupSynthetic()
    {
        var ltp = File.ReadAllText(Path.Combine(RepoRoot(), "protocols", "ltp", "ltp-0.2.yaml"));
        var synthetic = Enumerable.Range(0, SyntheticCount).Select(i => (AdditionalText)new SpecText($"/synthetic/syn{i:D3}/syn{i:D3}-0.2.yaml", Renamed(ltp, i))).ToArray();
        _syntheticTarget = synthetic[SyntheticCount / 2];
        _syntheticEdited = Edited(_syntheticTarget);
        _syntheticWarm = Prepare(Synthetic, synthetic, _syntheticTarget, _syntheticEdited);
    }

    /// <summary>Baseline: the seed specs again, nothing changed.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Seeds)]
    public GeneratorDriver Seeds_Unchanged() => _seedsWarm.RunGenerators(_compilation);

    /// <summary>The seed specs after CAHP's description was edited.</summary>
    [Benchmark, BenchmarkCategory(Seeds)]
    public GeneratorDriver Seeds_OneEdited() => _seedsWarm.ReplaceAdditionalText(_seedTarget, _seedEdited).RunGenerators(_compilation);

    /// <summary>Baseline: 200 specs again, nothing changed.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Synthetic)]
    public GeneratorDriver Synthetic_Unchanged() => _syntheticWarm.RunGenerators(_compilation);

    /// <summary>200 specs after one of them had its description edited.</summary>
    [Benchmark, BenchmarkCategory(Synthetic)]
    public GeneratorDriver Synthetic_OneEdited() => _syntheticWarm.ReplaceAdditionalText(_syntheticTarget, _syntheticEdited).RunGenerators(_compilation);

    /// <summary>
    /// The warm driver the benchmarks start from (untracked, as in a build). First, on a tracked twin, checks that the
    /// specs generate without errors, that a rerun is all cached and that the edit re-emits only its own spec.
    /// </summary>
    private GeneratorDriver Prepare(string name, AdditionalText[] texts, AdditionalText target, AdditionalText edited)
    {
        var tracked = Driver(texts, track: true).RunGenerators(_compilation);
        var errors = tracked.GetRunResult().Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0) throw new InvalidOperationException($"{name}: {errors.Count} errors, first {errors[0]}");
        var sources = tracked.GetRunResult().Results.Single().GeneratedSources.Length;
        if (sources < texts.Length * 2) throw new InvalidOperationException($"{name}: only {sources} sources from {texts.Length} specs");

        var again = tracked.RunGenerators(_compilation).GetRunResult().Results.Single();
        var rerun = again.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Where(o => o.Reason != IncrementalStepRunReason.Cached).ToList();
        if (rerun.Count > 0) throw new InvalidOperationException($"{name}: {rerun.Count} outputs not cached on an unchanged rerun");

        var after = tracked.ReplaceAdditionalText(target, edited).RunGenerators(_compilation).GetRunResult().Results.Single();
        var emitted = after.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Count(o => o.Reason != IncrementalStepRunReason.Cached);
        Console.WriteLine($"// {name}: {texts.Length} specs, {sources} sources; after the edit, {emitted} outputs not cached: "
            + string.Join(", ", after.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).GroupBy(o => o.Reason).Select(g => $"{g.Key} {g.Count()}")));
        // The edited spec's sources (and its diagnostics, if any) and nothing else.
        if (emitted is 0 or > 2) throw new InvalidOperationException($"{name}: the edit re-emitted {emitted} outputs");

        return Driver(texts, track: false).RunGenerators(_compilation);
    }

    private static GeneratorDriver Driver(AdditionalText[] texts, bool track)
        => CSharpGeneratorDriver.Create(
            new[] { new HandshakeGenerator().AsSourceGenerator() },
            texts,
            ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: track));

    /// <summary>LTP 0.2 as protocol <c>syn{i}</c> in namespace <c>Bench.Synthetic.Syn{i}</c>.</summary>
    private static string Renamed(string ltp, int i)
    {
        var renamed = ltp.Replace("\nprotocol: ltp\n", $"\nprotocol: syn{i:D3}\n", StringComparison.Ordinal)
            .Replace("\nnamespace: Dsl.Protocols.Ltp\n", $"\nnamespace: Bench.Synthetic.Syn{i:D3}\n", StringComparison.Ordinal);
        if (renamed.Contains("\nprotocol: ltp\n", StringComparison.Ordinal) || renamed.Contains("namespace: Dsl.Protocols.Ltp\n", StringComparison.Ordinal))
            throw new InvalidOperationException("ltp-0.2.yaml no longer has the protocol and namespace lines this benchmark renames");
        return renamed;
    }

    /// <summary>The spec with words added to the first line of its description: its meaning and line count unchanged.</summary>
    private static AdditionalText Edited(AdditionalText spec)
    {
        var lines = spec.GetText()!.ToString().Split('\n');
        var description = Array.FindIndex(lines, l => l.StartsWith("description:", StringComparison.Ordinal));
        if (description < 0 || description + 1 >= lines.Length) throw new InvalidOperationException($"{spec.Path} has no description");
        lines[description + 1] = lines[description + 1].TrimEnd() + " (edited)";
        return new SpecText(spec.Path, string.Join('\n', lines));
    }

    private static string RepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
                if (File.Exists(Path.Combine(directory.FullName, "Dsl.sln"))) return directory.FullName;
        }
        throw new InvalidOperationException("Dsl.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A spec given to the generator in memory, as the generator tests do.</summary>
    private sealed class SpecText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text);

        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }
}
