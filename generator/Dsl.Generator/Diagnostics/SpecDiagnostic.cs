using System;
using Dsl.Generator.Model;

namespace Dsl.Generator.Diagnostics;

/// <summary>A position in a spec file: 1-based line and column, 0-based character offset.</summary>
internal readonly record struct SourceSpan(int Line, int Column, int Offset, int Length)
{
    public static SourceSpan None => new(0, 0, 0, 0);

    public SourceSpan Shift(int columns, int length) => new(Line, Column + columns, Offset + columns, length);
}

/// <summary>
/// A problem found in a spec, kept as plain values (no <c>Location</c> or <c>Diagnostic</c>) so that it
/// can live in a cached model. Turned into a Roslyn diagnostic only when reported.
/// </summary>
internal sealed record SpecDiagnostic(string Id, string FilePath, SourceSpan Span, EquatableArray<string> Arguments)
{
    public static SpecDiagnostic Create(DiagnosticKind kind, string filePath, SourceSpan span, params string[] arguments)
        => new(kind.Id, filePath, span, new EquatableArray<string>(arguments));

    public string Format()
    {
        var kind = DiagnosticTable.ById(Id);
        return string.Format(System.Globalization.CultureInfo.InvariantCulture, kind.MessageFormat, ToObjects(Arguments));
    }

    private static object[] ToObjects(EquatableArray<string> arguments)
    {
        var result = new object[arguments.Count];
        for (var i = 0; i < result.Length; i++) result[i] = arguments[i];
        return result;
    }

    public override string ToString() => $"{FilePath}({Span.Line},{Span.Column}): {Id}: {Format()}";
}

/// <summary>One kind of diagnostic: id, title, message format and the stage that reports it.</summary>
internal sealed record DiagnosticKind(string Id, string Title, string MessageFormat, string Stage)
{
    public string HelpLink => $"docs/diagnostics/{Id}.md";
}
