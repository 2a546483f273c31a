using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Dsl.Generator.Tests;

/// <summary>A spec given to the generator as an in-memory AdditionalFile.</summary>
internal sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
{
    private readonly SourceText _text = SourceText.From(text);

    public override string Path { get; } = path;

    public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
}

/// <summary>Drives the generator with <see cref="CSharpGeneratorDriver"/> directly, as STYLE.md asks.</summary>
internal static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(() =>
    {
        var trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(System.IO.Path.PathSeparator);
        return trusted
            .Where(p => System.IO.Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || System.IO.Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll")
            .Append(typeof(Dsl.Runtime.Handshakes.HandshakeDriver).Assembly.Location)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    });

    /// <summary>Documentation comments are checked, so that a malformed or missing doc on generated code is a warning.</summary>
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    /// <summary>The framework and the runtime, which generated code compiles against.</summary>
    public static ImmutableArray<MetadataReference> References => s_references.Value;

    public static CSharpCompilation Compilation(params string[] sources)
        => CSharpCompilation.Create("Generated",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Source{i}.cs")),
            s_references.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver(params AdditionalText[] texts)
        => CSharpGeneratorDriver.Create(
            new[] { new HandshakeGenerator().AsSourceGenerator() },
            texts,
            ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator on specs given as (path, YAML) pairs.</summary>
    public static GeneratorRun Run(params (string Path, string Yaml)[] specs)
    {
        var driver = Driver(specs.Select(s => (AdditionalText)new InMemoryAdditionalText(s.Path, s.Yaml)).ToArray());
        var compilation = Compilation("namespace User { /// <summary>The user's own code.</summary>\n public sealed class Placeholder { } }");
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        return new GeneratorRun(driver, output, diagnostics, driver.GetRunResult());
    }

    public static GeneratorRun Run(string yaml) => Run(("spec.yaml", yaml));

    /// <summary>Runs the generator on one spec, in a compilation that also holds the user's own C# (which may use the generated types).</summary>
    public static GeneratorRun RunWithUserCode(string yaml, string userCode)
    {
        var driver = Driver(new InMemoryAdditionalText("spec.yaml", yaml));
        driver = driver.RunGeneratorsAndUpdateCompilation(Compilation(userCode), out var output, out var diagnostics);
        return new GeneratorRun(driver, output, diagnostics, driver.GetRunResult());
    }

    /// <summary>Runs the generator on several specs, in a compilation that also holds the user's own C#.</summary>
    public static GeneratorRun RunWithUserCode(string userCode, params (string Path, string Yaml)[] specs)
    {
        var driver = Driver(specs.Select(s => (AdditionalText)new InMemoryAdditionalText(s.Path, s.Yaml)).ToArray());
        driver = driver.RunGeneratorsAndUpdateCompilation(Compilation(userCode), out var output, out var diagnostics);
        return new GeneratorRun(driver, output, diagnostics, driver.GetRunResult());
    }

    /// <summary>The C# the spec generated, by hint-name suffix ("Client.Machine.g.cs").</summary>
    public static string Source(this GeneratorRun run, string suffix) => run.Sources.Single(s => s.HintName.EndsWith(suffix, StringComparison.Ordinal)).SourceText.ToString();

    public static string RepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "Dsl.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Dsl.sln not found above " + AppContext.BaseDirectory);
    }

    public static string ReadRepoFile(string relative) => File.ReadAllText(System.IO.Path.Combine(RepoRoot(), relative));
}

internal sealed record GeneratorRun(GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> Diagnostics, GeneratorDriverRunResult Result)
{
    /// <summary>The specs' diagnostics, less the security lints (DSL5xx warnings): most test specs are toys, not about security; <see cref="Lints"/> holds those.</summary>
    public IReadOnlyList<Diagnostic> SpecDiagnostics => Result.Diagnostics.Where(d => !IsLint(d)).ToList();

    /// <summary>The security lints the specs raised.</summary>
    public IReadOnlyList<Diagnostic> Lints => Result.Diagnostics.Where(IsLint).ToList();

    private static bool IsLint(Diagnostic diagnostic) => diagnostic.Id.StartsWith("DSL5", StringComparison.Ordinal) && diagnostic.Severity == DiagnosticSeverity.Warning;

    public IEnumerable<Diagnostic> CompileErrors => Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error);

    public IReadOnlyList<GeneratedSourceResult> Sources => Result.Results.SelectMany(r => r.GeneratedSources).ToList();

    /// <summary>Emits the generated code and loads it, in a context of its own, to run it.</summary>
    public System.Reflection.Assembly Load()
    {
        using var image = new MemoryStream();
        var emitted = Output.Emit(image);
        if (!emitted.Success) throw new InvalidOperationException(string.Join("\n", emitted.Diagnostics));
        image.Position = 0;
        return new System.Runtime.Loader.AssemblyLoadContext("generated", isCollectible: true).LoadFromStream(image);
    }
}
