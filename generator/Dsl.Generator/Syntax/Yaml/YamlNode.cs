using Dsl.Generator.Diagnostics;
using Dsl.Generator.Model;

namespace Dsl.Generator.Syntax.Yaml;

/// <summary>A YAML node that remembers where it came from. Value-equal, so it can be cached.</summary>
internal abstract record YamlNode(SourceSpan Span)
{
    public abstract string KindName { get; }
}

/// <summary>How a scalar was written: plain scalars are expressions, quoted ones are string literals.</summary>
internal enum ScalarStyle { Plain, SingleQuoted, DoubleQuoted, Block }

internal sealed record YamlScalar(SourceSpan Span, string Value, ScalarStyle Style) : YamlNode(Span)
{
    public override string KindName => "a scalar";

    public bool IsQuoted => Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted;

    /// <summary>Where the scalar's text starts (after an opening quote).</summary>
    public SourceSpan ContentSpan => IsQuoted ? Span.Shift(1, Value.Length) : Span;

    public bool IsNull => Style == ScalarStyle.Plain && (Value.Length == 0 || Value == "~" || Value == "null");
}

internal sealed record YamlEntry(YamlScalar Key, YamlNode Value) : System.IEquatable<YamlEntry>;

internal sealed record YamlMapping(SourceSpan Span, EquatableArray<YamlEntry> Entries) : YamlNode(Span)
{
    public override string KindName => "a mapping";

    public YamlNode? this[string key]
    {
        get
        {
            foreach (var entry in Entries)
                if (entry.Key.Value == key) return entry.Value;
            return null;
        }
    }

    public YamlEntry? Entry(string key)
    {
        foreach (var entry in Entries)
            if (entry.Key.Value == key) return entry;
        return null;
    }
}

internal sealed record YamlSequence(SourceSpan Span, EquatableArray<YamlNode> Items) : YamlNode(Span)
{
    public override string KindName => "a sequence";
}

/// <summary>A spec file read as YAML: its root node, or the DSL001 that stopped the reading.</summary>
internal sealed record YamlDocument(string FilePath, YamlNode? Root, EquatableArray<SpecDiagnostic> Diagnostics);
