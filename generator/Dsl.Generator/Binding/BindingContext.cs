using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Dsl.Generator.Language;
using Dsl.Generator.Diagnostics;

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

    /// <summary>The spec's <c>protocol</c> and <c>version</c>, which <c>spec.protocol</c> and <c>spec.version</c> read.</summary>
    public string Protocol { get; set; } = "";
    public string Version { get; set; } = "";

    public List<string> Roles { get; } = new();
    public Dictionary<string, string?> RoleDocs { get; } = new();

    /// <summary>The C# prefix of the protocol's generated types (Ltp for ltp), for the names that must not collide with them.</summary>
    public string Prefix { get; set; } = "";

    public Dictionary<string, MessageSymbol> Messages { get; } = new();
    public Dictionary<string, ServiceSymbol> Services { get; } = new();
    public Dictionary<string, HookSymbol> Hooks { get; } = new();

    /// <summary>Declared object and enum types, by name; an entry is null while its own fields are being bound.</summary>
    public Dictionary<string, TypeSymbol?> Types { get; } = new();

    /// <summary>The kinds of the names under <c>types</c>, known before any field is bound (types may refer to each other).</summary>
    public Dictionary<string, TypeKind> DeclaredKinds { get; } = new();

    /// <summary>The C# type names the spec's messages and envelope will take, known before declared types are bound (DSL112).</summary>
    public HashSet<string> MessageTypeNames { get; } = new();

    /// <summary>The C# names of declared types and the spec names that took them, for DSL112.</summary>
    public Dictionary<string, string> TypeNames { get; } = new();
    public Dictionary<string, List<FieldSymbol>> Inputs { get; } = new();
    public HashSet<string> ErrorCodes { get; } = new();
    public EnvelopeSymbol? Envelope { get; set; }

    /// <summary>The plain envelope's property (<c>wrap</c>), or null.</summary>
    public string? Wrap { get; set; }

    /// <summary>The spec's <c>timeouts.clock_skew</c>, which <c>fresh(t)</c> reads; null when it gives none.</summary>
    public long? ClockSkewMs { get; set; }

    /// <summary>Reports a problem; the same problem found twice (once per role, say) is reported once.</summary>
    public void Report(DiagnosticKind kind, SourceSpan span, params string[] arguments)
    {
        var diagnostic = SpecDiagnostic.Create(kind, FilePath, span, arguments);
        if (!_diagnostics.Contains(diagnostic)) _diagnostics.Add(diagnostic);
    }

    public string RoleList => string.Join(" and ", Roles.Select(r => "'" + r + "'"));

    public FieldSymbol? Input(string role, string name)
        => Inputs.TryGetValue(role, out var inputs) ? inputs.FirstOrDefault(i => i.Name == name) : null;
}
