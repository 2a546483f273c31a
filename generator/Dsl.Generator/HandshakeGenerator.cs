using System;
using System.Collections.Immutable;
using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Emit;
using Dsl.Generator.Model;
using Dsl.Generator.Projection;
using Dsl.Generator.Syntax;
using Dsl.Generator.Syntax.Yaml;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Dsl.Generator;

/// <summary>
/// Turns each handshake spec (a <c>.yaml</c> or <c>.yml</c> AdditionalFile) into typed messages, a codec and
/// one state machine per role. This class only wires the pipeline: parse → bind → project → emit, each a
/// tracked step per spec; a crash in any stage is DSL999 on that spec alone.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class HandshakeGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // Each spec's YAML is read once; the typed parse sees the specs that others extend (a spec may extend another),
        // and only those, so that editing a spec nobody extends re-parses that spec alone.
        var documents = context.AdditionalTextsProvider
            .Where(static text => IsSpec(text.Path))
            .Select(static (text, ct) => Stages.Run("parse", text.Path, ct,
                () => YamlReader.Read(text.Path, text.GetText(ct)?.ToString(), ct),
                crash => new YamlDocument(text.Path, null, new EquatableArray<SpecDiagnostic>(new[] { crash }))))
            .WithTrackingName(TrackingNames.Read);
        var bases = documents.Collect()
            .Select(static (all, ct) => SpecExtender.Bases(all, ct))
            .WithTrackingName(TrackingNames.Bases);
        var bound = documents
            .Combine(bases)
            .Select(static (pair, ct) => Stages.Run("parse", pair.Left.FilePath, ct,
                () => SpecParser.Parse(pair.Left, pair.Right, ct),
                crash => new SpecSyntax(pair.Left.FilePath, null, new EquatableArray<SpecDiagnostic>(new[] { crash }))))
            .WithTrackingName(TrackingNames.Parse)
            .Select(static (syntax, ct) => Stages.Run("bind", syntax.FilePath, ct,
                () => SpecBinder.Bind(syntax, ct),
                crash => new BindResult(null, syntax.Diagnostics.Append(crash).ToEquatableArray())))
            .WithTrackingName(TrackingNames.Bind);

        // Where the diagnostics' help pages are: the MSBuild property DslDocs (set by the package's build props).
        var docs = context.AnalyzerConfigOptionsProvider
            .Select(static (options, _) => options.GlobalOptions.TryGetValue("build_property.DslDocs", out var folder) && folder.Length > 0 ? folder : null);

        var diagnostics = bound
            .Select(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);
        context.RegisterSourceOutput(diagnostics.Combine(docs), static (spc, pair) =>
        {
            foreach (var diagnostic in pair.Left) spc.ReportDiagnostic(ToDiagnostic(diagnostic, pair.Right));
        });

        var projected = bound
            .Where(static result => result.Protocol is not null)
            .Select(static (result, ct) => Stages.Run("project", result.Protocol!.FilePath, ct,
                () => new ProjectResult(RoleProjector.Project(result.Protocol!, ct), null),
                crash => new ProjectResult(null, crash)))
            .WithTrackingName(TrackingNames.Project);

        // Across files: two specs must not define the same protocol version or share a namespace. The
        // identities are small values without locations, so combining them with each model keeps unrelated
        // models cached, and editing above one spec's 'protocol:' line re-emits nothing.
        var identities = bound
            .Where(static result => result.Protocol is not null)
            .Select(static (result, _) => new ProtocolIdentity(result.Protocol!.Name, result.Protocol.Version, result.Protocol.Namespace, result.Protocol.FilePath))
            .WithTrackingName(TrackingNames.Identities)
            .Collect();

        context.RegisterSourceOutput(projected.Combine(identities).Combine(docs), static (spc, input) =>
        {
            var ((result, all), docs) = input;
            if (result.Crash is { } crash)
            {
                spc.ReportDiagnostic(ToDiagnostic(crash, docs));
                return;
            }
            var protocol = result.Protocol!.Protocol;
            if (FirstClash(protocol.Name, protocol.Version, protocol.Namespace, protocol.FilePath, all) is not null) return;
            // Emit every file before adding any: a spec whose emission fails adds nothing.
            var files = Stages.Run("emit", protocol.FilePath, spc.CancellationToken,
                () => (Files: ProtocolEmitter.Emit(result.Protocol), Crash: (SpecDiagnostic?)null),
                failure => (Files: Array.Empty<GeneratedFile>(), Crash: failure));
            if (files.Crash is { } emitCrash)
            {
                spc.ReportDiagnostic(ToDiagnostic(emitCrash, docs));
                return;
            }
            foreach (var file in files.Files)
                spc.AddSource(file.HintName, SourceText.From(file.Text, System.Text.Encoding.UTF8));
        });

        var clashes = bound
            .Where(static result => result.Protocol is not null)
            .Select(static (result, _) => (Identity: new ProtocolIdentity(result.Protocol!.Name, result.Protocol.Version, result.Protocol.Namespace, result.Protocol.FilePath), Span: result.Protocol.ProtocolSpan))
            .Collect()
            .SelectMany(static (all, _) =>
            {
                var identities = all.Select(located => located.Identity).ToImmutableArray();
                return all
                    .Select(located => (located, first: FirstClash(located.Identity.Name, located.Identity.Version, located.Identity.Namespace, located.Identity.FilePath, identities)))
                    .Where(pair => pair.first is not null)
                    .Select(pair => SpecDiagnostic.Create(DiagnosticTable.DuplicateProtocol, pair.located.Identity.FilePath, pair.located.Span, pair.located.Identity.Name, pair.located.Identity.Version, pair.first!));
            });
        context.RegisterSourceOutput(clashes.Combine(docs), static (spc, pair) => spc.ReportDiagnostic(ToDiagnostic(pair.Left, pair.Right)));
    }

    /// <summary>The path of an earlier spec (in ordinal path order) that clashes with this one, if any.</summary>
    private static string? FirstClash(string name, string version, string ns, string path, ImmutableArray<ProtocolIdentity> all)
    {
        foreach (var other in all.OrderBy(i => i.FilePath, StringComparer.Ordinal))
        {
            if (string.CompareOrdinal(other.FilePath, path) >= 0) break;
            if ((other.Name == name && other.Version == version) || other.Namespace == ns) return other.FilePath;
        }
        return null;
    }

    private static bool IsSpec(string path)
        => path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);

    private static Diagnostic ToDiagnostic(SpecDiagnostic diagnostic, string? docs)
    {
        var start = new LinePosition(Math.Max(0, diagnostic.Span.Line - 1), Math.Max(0, diagnostic.Span.Column - 1));
        var end = new LinePosition(start.Line, start.Character + Math.Max(0, diagnostic.Span.Length));
        var location = Location.Create(diagnostic.Path, new TextSpan(diagnostic.Span.Offset, Math.Max(0, diagnostic.Span.Length)), new LinePositionSpan(start, end));
        return Diagnostic.Create(DiagnosticTable.Descriptor(diagnostic.Id, docs), location, diagnostic.Arguments.Cast<object>().ToArray());
    }

    /// <summary>The project stage's output: the machines, or the crash that stopped them.</summary>
    private sealed record ProjectResult(ProjectedProtocol? Protocol, SpecDiagnostic? Crash);

    private sealed record ProtocolIdentity(string Name, string Version, string Namespace, string FilePath);
}
