using System;
using Dsl.Generator.Model;

namespace Dsl.Generator.Diagnostics;

/// <summary>
/// A position in a spec file: 1-based line and column, 0-based character offset. <see cref="File"/> is null in the
/// spec being compiled, and names the file otherwise: a spec that <c>extends</c> another holds its base's nodes.
/// </summary>
internal readonly record struct SourceSpan(int Line, int Column, int Offset, int Length)
{
    public static SourceSpan None => new(0, 0, 0, 0);

    /// <summary>The base spec this position is in, when it is not in the spec being compiled.</summary>
    public string? File { get; init; }

    public SourceSpan Shift(int columns, int length) => new(Line, Column + columns, Offset + columns, length) { File = File };

    /// <summary>This position, in <paramref name="file"/> unless it already names a file.</summary>
    public SourceSpan In(string file) => File is null ? this with { File = file } : this;
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

    /// <summary>The file the diagnostic is in: the spec's own, or a base spec's.</summary>
    public string Path => Span.File ?? FilePath;

    /// <summary>Whether it stops the spec from generating.</summary>
    public bool IsError => DiagnosticTable.ById(Id).IsError;

    public override string ToString() => $"{Path}({Span.Line},{Span.Column}): {Id}: {Format()}";
}

/// <summary>One kind of diagnostic: id, title, message format and the stage that reports it.</summary>
internal sealed record DiagnosticKind(string Id, string Title, string MessageFormat, string Stage)
{
    /// <summary>Error unless said otherwise; only errors stop a spec from generating.</summary>
    public Microsoft.CodeAnalysis.DiagnosticSeverity Severity { get; init; } = Microsoft.CodeAnalysis.DiagnosticSeverity.Error;

    public bool IsError => Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error;

    /// <summary>The page's path from the docs folder (docs/diagnostics/ID.md in the repository and in the generator package).</summary>
    public string HelpPage => $"diagnostics/{Id}.md";

    /// <summary>The page, when the docs folder is not known: the repository-relative path.</summary>
    public string HelpLink => "docs/" + HelpPage;
}
