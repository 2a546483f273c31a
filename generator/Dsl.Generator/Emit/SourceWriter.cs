using System.Text;
using Dsl.Generator.Diagnostics;

namespace Dsl.Generator.Emit;

/// <summary>A small indented text writer; output uses '\n' line endings whatever the platform.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _text = new();
    private static readonly char[] s_unwritable = { '"', '\n', '\r' };
    private readonly string? _specPath;
    private int _indent;

    /// <param name="specPath">The spec's path, for <c>#line</c> directives; null writes none.</param>
    public SourceWriter(string? specPath = null)
    {
        // A path that a #line directive cannot hold gets none: the code still compiles, it just maps nowhere.
        _specPath = specPath is null || specPath.IndexOfAny(s_unwritable) >= 0 ? null : specPath;
    }

    public SourceWriter Line(string line = "")
    {
        if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
        _text.Append('\n');
        return this;
    }

    public SourceWriter Open(string line)
    {
        if (line.Length > 0) Line(line);
        Line("{");
        _indent++;
        return this;
    }

    public SourceWriter Close(string suffix = "")
    {
        _indent--;
        return Line("}" + suffix);
    }

    public SourceWriter Indent()
    {
        _indent++;
        return this;
    }

    public SourceWriter Outdent()
    {
        _indent--;
        return this;
    }

    /// <summary>Writes an XML doc summary of plain text, escaping it.</summary>
    public SourceWriter Summary(string? text) => string.IsNullOrWhiteSpace(text) ? this : SummaryXml(Escape(text!));

    /// <summary>Writes an XML doc summary that is already XML (escaped text and tags such as <c>&lt;paramref&gt;</c>).</summary>
    public SourceWriter SummaryXml(string xml)
    {
        Line("/// <summary>");
        foreach (var line in xml.Replace("\r", "").Trim().Split('\n'))
            Line("/// " + line.Trim());
        return Line("/// </summary>");
    }

    /// <summary>Writes a <c>&lt;param&gt;</c> tag; <paramref name="xml"/> is already XML.</summary>
    public SourceWriter Param(string name, string xml) => Line($"/// <param name=\"{name}\">{xml}</param>");

    /// <summary>Maps the next line to a line of the spec, so a stack trace or a debugger lands there.</summary>
    public SourceWriter LineFrom(SourceSpan span)
    {
        if (_specPath is null || span.Line <= 0) return this;
        if (span.File is { } file && file.IndexOfAny(s_unwritable) >= 0) return this;
        var path = span.File ?? _specPath;
        _text.Append("#line ").Append(span.Line).Append(" \"").Append(path).Append("\"\n");
        return this;
    }

    /// <summary>Ends a mapping started by <see cref="LineFrom"/>.</summary>
    public SourceWriter LineDefault()
    {
        if (_specPath is null) return this;
        _text.Append("#line default\n");
        return this;
    }

    /// <summary>Text for a <c>//</c> comment: one line.</summary>
    public static string OneLine(string text) => text.Replace("\r", " ").Replace("\n", " ");

    /// <summary>Escapes text for an XML doc comment.</summary>
    public static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    public override string ToString() => _text.ToString();
}
