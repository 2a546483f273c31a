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
        context.RegisterSourceOutput(models, static (spc, model) =>
        {
            foreach (var file in ProtocolEmitter.Emit(model))
                spc.AddSource(file.HintName, SourceText.From(file.Text, System.Text.Encoding.UTF8));
        });

        // Across files: two specs must not define the same protocol version or share a namespace.
        var identities = models
            .Select(static (model, _) => new ProtocolIdentity(model.Name, model.Version, model.Namespace, model.FilePath, model.ProtocolSpan))
            .WithTrackingName(TrackingNames.Identities)
            .Collect();
        context.RegisterSourceOutput(identities, static (spc, all) =>
        {
            var ordered = all.OrderBy(i => i.FilePath, StringComparer.Ordinal).ToList();
            for (var i = 0; i < ordered.Count; i++)
            for (var j = 0; j < i; j++)
            {
                var (a, b) = (ordered[j], ordered[i]);
                if ((a.Name == b.Name && a.Version == b.Version) || a.Namespace == b.Namespace)
                {
                    spc.ReportDiagnostic(ToDiagnostic(SpecDiagnostic.Create(DiagnosticTable.DuplicateProtocol, b.FilePath, b.Span, b.Name, b.Version, a.FilePath)));
                    break;
                }
            }
        });
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

    private sealed record ProtocolIdentity(string Name, string Version, string Namespace, string FilePath, SourceSpan Span);
}
