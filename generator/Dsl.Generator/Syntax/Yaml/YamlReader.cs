using System.Collections.Generic;
using System.IO;
using System.Threading;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Model;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Dsl.Generator.Syntax.Yaml;

/// <summary>
/// The first half of the parse stage: YAML text to a tree of <see cref="YamlNode"/>s with line and column. Duplicate keys are
/// kept (the binder reports them with context); YAML errors become DSL001 at the parser's mark.
/// </summary>
internal static class YamlReader
{
    public static YamlDocument Read(string filePath, string? text, CancellationToken cancellationToken)
    {
        if (text is null)
            return new YamlDocument(filePath, null, new EquatableArray<SpecDiagnostic>(new[]
            {
                SpecDiagnostic.Create(DiagnosticTable.YamlSyntax, filePath, new SourceSpan(1, 1, 0, 0), "the file could not be read"),
            }));
        var parser = new Parser(new StringReader(text));
        try
        {
            var anchors = new Dictionary<string, YamlNode>();
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
                return Fail(filePath, new SourceSpan(1, 1, 0, 0), "the file is empty");
            parser.Consume<DocumentStart>();
            var root = ParseNode(parser, anchors, cancellationToken);
            parser.Consume<DocumentEnd>();
            if (parser.Current is DocumentStart extra)
                return Fail(filePath, Span(extra.Start, extra.End), "a spec file holds one YAML document; found a second '---'");
            return new YamlDocument(filePath, root, EquatableArray<SpecDiagnostic>.Empty);
        }
        catch (YamlException ex)
        {
            var message = ex.InnerException?.Message ?? ex.Message;
            var prefix = message.IndexOf("): ", System.StringComparison.Ordinal);
            if (message.StartsWith("(") && prefix > 0) message = message.Substring(prefix + 3);
            return Fail(filePath, Span(ex.Start, ex.End), message);
        }
        catch (System.Exception ex) when (ex is not System.OperationCanceledException)
        {
            // YamlDotNet throws a few plain exceptions on truncated input; place them at the last event read.
            var at = parser.Current is { } current ? Span(current.Start, current.End) : LastLine(text);
            return Fail(filePath, at, "the document ends before its structure is complete (" + ex.Message + ")");
        }
    }

    private static SourceSpan LastLine(string text)
    {
        var line = 1;
        foreach (var c in text) if (c == '\n') line++;
        return new SourceSpan(line, 1, text.Length, 0);
    }

    private static YamlDocument Fail(string filePath, SourceSpan span, string message)
        => new(filePath, null, new EquatableArray<SpecDiagnostic>(new[]
        {
            SpecDiagnostic.Create(DiagnosticTable.YamlSyntax, filePath, span, message),
        }));

    private static YamlNode ParseNode(IParser parser, Dictionary<string, YamlNode> anchors, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            if (anchors.TryGetValue(alias.Value.Value, out var target)) return target;
            throw new YamlException(alias.Start, alias.End, $"unknown alias '*{alias.Value.Value}'");
        }
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            if (!scalar.Tag.IsEmpty && !scalar.Tag.Value.StartsWith("tag:yaml.org,2002:", System.StringComparison.Ordinal))
                throw new YamlException(scalar.Start, scalar.End,
                    $"'{scalar.Tag.Value}' is read as a YAML tag because the value starts with '!'; quote the expression, as in \"!{scalar.Tag.Value.TrimStart('!')} ...\", or write it without a leading '!'");
            var node = new YamlScalar(Span(scalar.Start, scalar.End), scalar.Value, StyleOf(scalar.Style));
            Remember(anchors, scalar.Anchor, node);
            return node;
        }
        if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            var items = new List<YamlNode>();
            while (!parser.TryConsume<SequenceEnd>(out _))
                items.Add(ParseNode(parser, anchors, cancellationToken));
            var node = new YamlSequence(Span(sequenceStart.Start, sequenceStart.End), items.ToEquatableArray());
            Remember(anchors, sequenceStart.Anchor, node);
            return node;
        }
        if (parser.TryConsume<MappingStart>(out var mappingStart))
        {
            var entries = new List<YamlEntry>();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var keyEvent = parser.Current!;
                var key = ParseNode(parser, anchors, cancellationToken);
                if (key is not YamlScalar keyScalar)
                    throw new YamlException(keyEvent.Start, keyEvent.End, "mapping keys must be plain scalars");
                entries.Add(new YamlEntry(keyScalar, ParseNode(parser, anchors, cancellationToken)));
            }
            var node = new YamlMapping(Span(mappingStart.Start, mappingStart.End), entries.ToEquatableArray());
            Remember(anchors, mappingStart.Anchor, node);
            return node;
        }
        var unexpected = parser.Current!;
        throw new YamlException(unexpected.Start, unexpected.End, $"unexpected {unexpected.GetType().Name}");
    }

    private static void Remember(Dictionary<string, YamlNode> anchors, YamlDotNet.Core.AnchorName anchor, YamlNode node)
    {
        if (!anchor.IsEmpty) anchors[anchor.Value] = node;
    }

    private static ScalarStyle StyleOf(YamlDotNet.Core.ScalarStyle style) => style switch
    {
        YamlDotNet.Core.ScalarStyle.SingleQuoted => ScalarStyle.SingleQuoted,
        YamlDotNet.Core.ScalarStyle.DoubleQuoted => ScalarStyle.DoubleQuoted,
        YamlDotNet.Core.ScalarStyle.Literal or YamlDotNet.Core.ScalarStyle.Folded => ScalarStyle.Block,
        _ => ScalarStyle.Plain,
    };

    // YamlDotNet marks are 1-based for line and column; Index is a 0-based character offset.
    private static SourceSpan Span(Mark start, Mark end)
        => new(System.Math.Max(1, (int)start.Line), System.Math.Max(1, (int)start.Column), (int)start.Index, (int)System.Math.Max(0, end.Index - start.Index));
}
