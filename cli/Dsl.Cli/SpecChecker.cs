using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using Dsl.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Dsl.Cli;

/// <summary>One diagnostic of a spec, as <c>check</c> prints it.</summary>
internal sealed record SpecProblem(string Path, int Line, int Column, DiagnosticSeverity Severity, string Id, string Message, string? Help);

/// <summary>
/// Runs the generator itself over spec files, as a build would (the same diagnostics, from the same code), and
/// compiles what it generates against the runtime, so a spec that passes here builds in a project.
/// </summary>
internal static class SpecChecker
{
    public static IReadOnlyList<SpecProblem> Check(IReadOnlyList<string> specs, CancellationToken cancellationToken)
    {
        var texts = specs.Select(path => (AdditionalText)new FileText(path)).ToImmutableArray();
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            new[] { new HandshakeGenerator().AsSourceGenerator() }, texts, parse, new DocsOptions(Docs()));
        var compilation = CSharpCompilation.Create("Check", references: References(),
            options: new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _, cancellationToken);

        var problems = new List<SpecProblem>();
        foreach (var diagnostic in driver.GetRunResult().Diagnostics)
        {
            var span = diagnostic.Location.GetLineSpan();
            problems.Add(new SpecProblem(span.Path, span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1, diagnostic.Severity,
                diagnostic.Id, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), diagnostic.Descriptor.HelpLinkUri));
        }
        // The generator promises code that compiles; should it ever break that promise, say so here rather than in a build.
        foreach (var error in output.GetDiagnostics(cancellationToken).Where(d => d.Severity == DiagnosticSeverity.Error))
        {
            var span = error.Location.GetLineSpan();
            problems.Add(new SpecProblem(span.Path, span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1, DiagnosticSeverity.Error,
                error.Id, "the generated code does not compile (please report it): " + error.GetMessage(System.Globalization.CultureInfo.InvariantCulture), null));
        }
        return problems.OrderBy(p => p.Path, StringComparer.Ordinal).ThenBy(p => p.Line).ThenBy(p => p.Column).ToList();
    }

    /// <summary>The docs beside the tool (copied at build), or none.</summary>
    private static string? Docs()
    {
        var docs = Path.Combine(AppContext.BaseDirectory, "docs");
        return Directory.Exists(Path.Combine(docs, "diagnostics")) ? docs + Path.DirectorySeparatorChar : null;
    }

    internal static IEnumerable<MetadataReference> References()
    {
        var platform = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return platform.Append(typeof(Dsl.Runtime.Codecs.Bytes).Assembly.Location)
            .Where(File.Exists).Distinct().Select(path => MetadataReference.CreateFromFile(path));
    }

    private sealed class FileText(string path) : AdditionalText
    {
        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(File.ReadAllText(Path));
    }

    /// <summary>What a build's props give the generator: where the docs are (DslDocs).</summary>
    private sealed class DocsOptions(string? docs) : AnalyzerConfigOptionsProvider
    {
        private readonly Options _global = new(docs is null ? ImmutableDictionary<string, string>.Empty : ImmutableDictionary<string, string>.Empty.Add("build_property.DslDocs", docs));

        public override AnalyzerConfigOptions GlobalOptions => _global;

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Options.Empty;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Options.Empty;

        private sealed class Options(ImmutableDictionary<string, string> values) : AnalyzerConfigOptions
        {
            public static readonly Options Empty = new(ImmutableDictionary<string, string>.Empty);

            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
        }
    }
}
