using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax;

namespace Dsl.Generator.Binding;

/// <summary>What the binder knows while it walks one spec: the symbols declared so far and the diagnostics.</summary>
internal sealed class BindingContext
{
    private readonly List<SpecDiagnostic> _diagnostics = new();

    public BindingContext(string filePath, CancellationToken cancellationToken)
    {
        FilePath = filePath;
        CancellationToken = cancellationToken;
    }

    public string FilePath { get; }
    public CancellationToken CancellationToken { get; }
    public IReadOnlyList<SpecDiagnostic> Diagnostics => _diagnostics;
    public bool HasErrors => _diagnostics.Count > 0;

    public List<string> Roles { get; } = new();

    /// <summary>The C# prefix of the protocol's generated types (Ltp for ltp).</summary>
    public string Prefix { get; set; } = "";
    public Dictionary<string, MessageModel> MessagesByName { get; } = new();
    public Dictionary<string, ServiceModel> ServicesByName { get; } = new();
    public Dictionary<string, List<FieldModel>> Inputs { get; } = new();
    public HashSet<string> ErrorCodes { get; } = new();
    public EnvelopeModel? Envelope { get; set; }

    public void Report(DiagnosticKind kind, SourceSpan span, params string[] arguments)
        => _diagnostics.Add(SpecDiagnostic.Create(kind, FilePath, span, arguments));

    public string RoleList => string.Join(" and ", Roles.Select(r => "'" + r + "'"));

    // ---- Reading the YAML tree -------------------------------------------------------------------

    /// <summary>Checks a mapping's keys against the allowed ones (DSL002) and for repeats (DSL003).</summary>
    public void CheckKeys(YamlMapping mapping, string where, params string[] allowed)
    {
        var seen = new HashSet<string>();
        foreach (var entry in mapping.Entries)
        {
            if (!seen.Add(entry.Key.Value))
                Report(DiagnosticTable.DuplicateKey, entry.Key.Span, entry.Key.Value, where);
            else if (System.Array.IndexOf(allowed, entry.Key.Value) < 0)
            {
                // In { a: b, c }, a comma in an unquoted value makes its tail a key with no value.
                var hint = entry.Value is YamlScalar { IsNull: true }
                    ? " (a comma in an unquoted value splits it in a { } mapping; quote that value)"
                    : "";
                Report(DiagnosticTable.UnknownKey, entry.Key.Span, entry.Key.Value, where, string.Join(", ", allowed) + hint);
            }
        }
    }

    public YamlMapping? AsMapping(YamlNode? node, string what)
    {
        if (node is null) return null;
        if (node is YamlMapping mapping) return mapping;
        if (node is YamlScalar { IsNull: true }) return new YamlMapping(node.Span, EquatableArray<YamlEntry>.Empty);
        Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a mapping (key: value lines)");
        return null;
    }

    public YamlSequence? AsSequence(YamlNode? node, string what)
    {
        if (node is null) return null;
        if (node is YamlSequence sequence) return sequence;
        Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a sequence (a list of '- ' items)");
        return null;
    }

    public YamlScalar? AsScalar(YamlNode? node, string what)
    {
        if (node is null) return null;
        if (node is YamlScalar scalar) return scalar;
        Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a single value");
        return null;
    }

    public string? Text(YamlMapping mapping, string key, string what)
        => AsScalar(mapping[key], what)?.Value;

    public YamlScalar? Required(YamlMapping mapping, string key, string what)
    {
        var node = mapping[key];
        if (node is null)
        {
            Report(DiagnosticTable.MissingKey, mapping.Span, what, key);
            return null;
        }
        return AsScalar(node, $"'{key}' of {what}");
    }

    public bool ValidName(YamlScalar scalar, string kind)
    {
        // Only the protocol's name may hold '-': every other name can appear in expressions, where '-' is minus.
        if (IsName(scalar.Value) && (kind == "protocol" || !scalar.Value.Contains("-"))) return true;
        Report(DiagnosticTable.InvalidName, scalar.Span, scalar.Value, kind);
        return false;
    }

    public static bool IsName(string value)
    {
        if (value.Length == 0 || !char.IsLetter(value[0]) || value[0] > 127) return false;
        foreach (var c in value)
            if (!(c < 128 && (char.IsLetterOrDigit(c) || c == '_' || c == '-'))) return false;
        return true;
    }

    /// <summary>handshake_init → HandshakeInit; MALFORMED_HANDSHAKE → MalformedHandshake.</summary>
    public static string Pascal(string name)
    {
        var result = new StringBuilder(name.Length);
        var upper = true;
        var allCaps = name.ToUpperInvariant() == name;
        foreach (var c in name)
        {
            if (c == '_' || c == '-' || c == '.')
            {
                upper = true;
                continue;
            }
            result.Append(upper ? char.ToUpperInvariant(c) : allCaps ? char.ToLowerInvariant(c) : c);
            upper = false;
        }
        return result.ToString();
    }

    /// <summary>Parses 10s, 500ms, 2m into milliseconds.</summary>
    public long? Duration(YamlNode? node, string what)
    {
        var scalar = AsScalar(node, what);
        if (scalar is null) return null;
        var text = scalar.Value.Trim();
        long factor = 0;
        string digits = text;
        if (text.EndsWith("ms")) { factor = 1; digits = text.Substring(0, text.Length - 2); }
        else if (text.EndsWith("s")) { factor = 1000; digits = text.Substring(0, text.Length - 1); }
        else if (text.EndsWith("m")) { factor = 60_000; digits = text.Substring(0, text.Length - 1); }
        if (factor == 0 || !long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) || value <= 0 || value > 86_400_000 / factor)
        {
            Report(DiagnosticTable.InvalidValue, scalar.Span, scalar.Value, what, "a duration is a positive whole number followed by ms, s or m, such as 500ms or 10s, of at most a day");
            return null;
        }
        return value * factor;
    }
}
