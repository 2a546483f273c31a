using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Dsl.Generator.Tests.Properties;

/// <summary>What became of one spec: it reported diagnostics, or it compiled clean, or it broke the property.</summary>
internal enum Verdict { Valid, Diagnosed, Broken }

/// <summary>The verdict on one spec, with the generator's diagnostics and, when broken, what broke.</summary>
internal sealed record SpecVerdict(string Yaml, Verdict Verdict, IReadOnlyList<string> DiagnosticIds, IReadOnlyList<Diagnostic> Problems, string? Crash)
{
    /// <summary>The generator's diagnostics as text (id, line and message).</summary>
    public IReadOnlyList<string> Reported { get; init; } = Array.Empty<string>();

    /// <summary>How it broke, one name per cause: the generator's exception, DSL999, or each compiler diagnostic id.</summary>
    public IEnumerable<string> FailureClasses => Crash is not null ? new[] { "generator exception: " + Crash.Split('\n')[0] }
        : DiagnosticIds.Contains("DSL999") ? new[] { "DSL999" }
        : Problems.Count == 0 ? new[] { "no diagnostic and no output" }
        : Problems.Select(p => p.Id).Distinct().OrderBy(id => id, StringComparer.Ordinal);

    public string FailureClass => string.Join("+", FailureClasses);

    public string Describe()
        => $"--- {FailureClass} ---\n{Yaml}\n"
           + (Crash is not null ? Crash + "\n" : "")
           + string.Join("\n", Problems.Take(8).Select(p => $"{p.Id} {p.Severity}: {p.GetMessage()}\n    at: {Line(p)}"));

    private static string Line(Diagnostic d)
    {
        var tree = d.Location.SourceTree;
        if (tree is null) return "(no location)";
        var line = d.Location.GetLineSpan().StartLinePosition.Line;
        return tree.GetText().Lines[line].ToString().Trim();
    }
}

/// <summary>
/// The property's oracle. Runs the generator over specs (several at once, one driver and one compilation, to share
/// the compiler's cost), then compiles what it generated against the runtime with nullable enabled and
/// <see cref="DocumentationMode.Diagnose"/>, so that a bad XML doc or an undocumented public member shows up as a
/// warning. Each spec must either report at least one diagnostic (and never DSL999), or generate code that has
/// no error and no warning.
/// </summary>
internal static class CompileCheck
{
    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly CSharpCompilationOptions CompilationOptions = new(
        OutputKind.DynamicallyLinkedLibrary,
        nullableContextOptions: NullableContextOptions.Enable,
        warningLevel: 9999);

    private static readonly Regex NamespaceLine = new(@"^namespace ([A-Za-z0-9_.@]+)", RegexOptions.Multiline | RegexOptions.CultureInvariant);

    /// <summary>Verdicts for <paramref name="specs"/>, each given with the namespace it generates into (to attribute compiler diagnostics).</summary>
    public static IReadOnlyList<SpecVerdict> Run(IReadOnlyList<(string Yaml, string Namespace)> specs)
    {
        var verdicts = RunTogether(specs);
        // A clash between two specs of one batch (DSL401), or output that cannot be told apart, is the batching's
        // doing, not the spec's: check those specs alone.
        return verdicts.Select((v, i) => v ?? RunTogether(new[] { specs[i] })[0] ?? throw new InvalidOperationException("unattributed")).ToList();
    }

    private static SpecVerdict?[] RunTogether(IReadOnlyList<(string Yaml, string Namespace)> specs)
    {
        var texts = specs.Select((s, i) => (AdditionalText)new InMemoryAdditionalText($"spec{i}.yaml", s.Yaml)).ToArray();
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            new[] { new HandshakeGenerator().AsSourceGenerator() }, texts, ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: false));
        var compilation = CSharpCompilation.Create("Generated", Array.Empty<SyntaxTree>(), GeneratorHarness.References, CompilationOptions);
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        var result = driver.GetRunResult().Results.Single();
        var single = specs.Count == 1;
        if (result.Exception is { } exception)
        {
            if (!single) return new SpecVerdict?[specs.Count];
            return new[] { new SpecVerdict(specs[0].Yaml, Verdict.Broken, Ids(result.Diagnostics), Array.Empty<Diagnostic>(), exception.ToString()) };
        }

        var diagnosticsBySpec = result.Diagnostics
            .GroupBy(d => d.Location.GetLineSpan().Path)
            .ToDictionary(g => g.Key, g => g.ToList());
        var namespaceOfTree = result.GeneratedSources.ToDictionary(
            s => s.SyntaxTree,
            s => NamespaceLine.Match(s.SourceText.ToString()) is { Success: true } m ? m.Groups[1].Value : "");
        var problems = output.GetDiagnostics()
            .Where(d => d.Severity is DiagnosticSeverity.Error or DiagnosticSeverity.Warning)
            .ToList();
        var verdicts = new SpecVerdict?[specs.Count];
        var attributed = 0;
        for (var i = 0; i < specs.Count; i++)
        {
            var own = diagnosticsBySpec.TryGetValue($"spec{i}.yaml", out var list) ? list : new List<Diagnostic>();
            var ids = Ids(own);
            var reported = own.Select(d => d.ToString()).ToList();
            if (!single && ids.Contains("DSL401")) continue;
            var ns = specs[i].Namespace;
            // A spec with diagnostics generated nothing, so the code in its namespace (if any) is another spec's.
            var mine = ids.Count > 0 ? new List<Diagnostic>()
                : problems.Where(p => single || (p.Location.SourceTree is { } tree && namespaceOfTree.TryGetValue(tree, out var treeNs) && treeNs == ns)).ToList();
            attributed += mine.Count;
            var generated = single ? result.GeneratedSources.Length : namespaceOfTree.Values.Count(v => v == ns);
            var verdict = ids.Contains("DSL999") ? Verdict.Broken
                : ids.Count > 0 ? Verdict.Diagnosed
                : mine.Count > 0 || generated == 0 ? Verdict.Broken
                : Verdict.Valid;
            verdicts[i] = new SpecVerdict(specs[i].Yaml, verdict, ids, mine, null) { Reported = reported };
        }
        // Diagnostics in no spec's namespace (or in a namespace two specs share): recheck the batch spec by spec.
        if (attributed != problems.Count && !single) return new SpecVerdict?[specs.Count];
        return verdicts;
    }

    private static IReadOnlyList<string> Ids(IEnumerable<Diagnostic> diagnostics) => diagnostics.Select(d => d.Id).Distinct().ToList();
}
