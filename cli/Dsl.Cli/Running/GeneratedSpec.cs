using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using System.Threading;
using Dsl.Generator;
using Dsl.Generator.Language;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Dsl.Cli.Running;

/// <summary>A spec's generated code, compiled and loaded into this process (a context of its own), to run its machines.</summary>
internal sealed class GeneratedSpec
{
    private readonly Assembly _assembly;

    private GeneratedSpec(SpecModel model, Assembly assembly)
    {
        Model = model;
        _assembly = assembly;
    }

    public SpecModel Model { get; }

    /// <summary>Compiles <paramref name="path"/> (with the specs of <paramref name="project"/> it extends); null, with the reason, when it cannot.</summary>
    public static GeneratedSpec? Compile(string path, IReadOnlyList<string> project, out string? problem, CancellationToken cancellationToken)
    {
        var model = SpecModel.Load(path, project, cancellationToken);
        if (model is null)
        {
            problem = $"{SpecFiles.Display(path)} has errors; 'dsl check {SpecFiles.Display(path)}' lists them.";
            return null;
        }
        var texts = project.Append(path).Distinct().Select(p => (AdditionalText)new FileText(p)).ToImmutableArray();
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new HandshakeGenerator().AsSourceGenerator() }, texts, new CSharpParseOptions(LanguageVersion.Latest));
        var compilation = CSharpCompilation.Create("Dsl.Run." + Guid.NewGuid().ToString("N"), references: SpecChecker.References(),
            options: new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _, cancellationToken);
        using var image = new MemoryStream();
        var emitted = output.Emit(image, cancellationToken: cancellationToken);
        if (!emitted.Success)
        {
            problem = "the generated code does not compile (please report it): " + string.Join("; ", emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(3));
            return null;
        }
        image.Position = 0;
        problem = null;
        // Its own context, so that two versions of one protocol load side by side; the runtime is shared with this process.
        // Not collectible: hooks are answered by DispatchProxy, whose proxies live in a non-collectible assembly.
        return new GeneratedSpec(model, new AssemblyLoadContext(model.Protocol.Name + " " + model.Protocol.Version, isCollectible: false).LoadFromStream(image));
    }

    /// <summary>The machine class of <paramref name="role"/>.</summary>
    public Type Machine(string role)
        => _assembly.GetType($"{Model.Protocol.Namespace}.{Naming.Pascal(Model.Protocol.Name)}{Naming.Pascal(role)}", throwOnError: true)!;

    private sealed class FileText(string path) : AdditionalText
    {
        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(File.ReadAllText(Path));
    }
}
