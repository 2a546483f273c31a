using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Emit;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Dsl.Generator;

/// <summary>
/// Turns each handshake spec (a <c>.yaml</c> or <c>.yml</c> AdditionalFile) into typed messages, a codec and
/// one state machine per role. This class only wires the pipeline: parse → bind (with projection) → emit.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class HandshakeGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var bound = context.AdditionalTextsProvider
            .Where(static text => IsSpec(text.Path))
            .Select(static (text, ct) => YamlSyntaxParser.Parse(text.Path, text.GetText(ct)?.ToString(), ct))
            .WithTrackingName(TrackingNames.Parse)
            .Select(static (syntax, ct) => SpecBinder.Bind(syntax, ct))
            .WithTrackingName(TrackingNames.Bind);

        var diagnostics = bound
            .Select(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);
        context.RegisterSourceOutput(diagnostics, static (spc, list) =>
        {
            foreach (var diagnostic in list) spc.ReportDiagnostic(ToDiagnostic(diagnostic));
        });

        var models = bound
            .Where(static result => result.Model is not null)
            .Select(static (result, _) => result.Model!)
            .WithTrackingName(TrackingNames.Model);

        // Across files: two specs must not define the same protocol version or share a namespace. The
        // identities are small values, so combining them with each model keeps unrelated models cached.
        var identities = models
            .Select(static (model, _) => new ProtocolIdentity(model.Name, model.Version, model.Namespace, model.FilePath))
            .WithTrackingName(TrackingNames.Identities)
            .Collect();

        context.RegisterSourceOutput(models.Combine(identities), static (spc, pair) =>
        {
            var (model, all) = pair;
            if (FirstClash(model.Name, model.Version, model.Namespace, model.FilePath, all) is not null) return;
            foreach (var file in ProtocolEmitter.Emit(model))
                spc.AddSource(file.HintName, SourceText.From(file.Text, System.Text.Encoding.UTF8));
        });

        var clashes = models
            .Select(static (model, _) => (model.Name, model.Version, model.Namespace, model.FilePath, model.ProtocolSpan))
            .Combine(identities)
            .Select(static (pair, _) =>
            {
                var ((name, version, ns, path, span), all) = pair;
                var first = FirstClash(name, version, ns, path, all);
                return first is null ? null : SpecDiagnostic.Create(DiagnosticTable.DuplicateProtocol, path, span, name, version, first);
            })
            .Where(static diagnostic => diagnostic is not null);
        context.RegisterSourceOutput(clashes, static (spc, diagnostic) => spc.ReportDiagnostic(ToDiagnostic(diagnostic!)));
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

    private static Diagnostic ToDiagnostic(SpecDiagnostic diagnostic)
    {
        var start = new LinePosition(Math.Max(0, diagnostic.Span.Line - 1), Math.Max(0, diagnostic.Span.Column - 1));
        var end = new LinePosition(start.Line, start.Character + Math.Max(0, diagnostic.Span.Length));
        var location = Location.Create(diagnostic.FilePath, new TextSpan(diagnostic.Span.Offset, Math.Max(0, diagnostic.Span.Length)), new LinePositionSpan(start, end));
        return Diagnostic.Create(DiagnosticTable.Descriptor(diagnostic.Id), location, diagnostic.Arguments.Cast<object>().ToArray());
    }

    private sealed record ProtocolIdentity(string Name, string Version, string Namespace, string FilePath);
}
