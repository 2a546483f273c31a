using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax.Yaml;

namespace Dsl.Generator.Syntax;

/// <summary>
/// What <c>extends:</c> produced for one spec: the YAML it stands for (its base's, with its own sections merged in
/// and its flow edits applied), the base it extends, and the diagnostics: misuse (DSL402–DSL405) and, as
/// information, every change the extension makes (DSL406).
/// </summary>
internal sealed record ExtendedDocument(YamlNode? Root, YamlDocument? Base, SourceSpan ExtendsSpan, EquatableArray<SpecDiagnostic> Diagnostics);

/// <summary>
/// The first step of the parse stage for a spec that extends another: merges the two YAML trees before the typed
/// parse, so every later stage sees one spec. Nodes from a base keep their own file in their spans, so diagnostics
/// and <c>#line</c> directives point into the base. Sections merge by name; the flow holds edits addressed by label
/// (<c>at</c>, <c>before</c>, <c>after</c>); constraints and timeouts may only tighten; what identifies the protocol
/// on the wire (its name, roles, discriminator, message and field wire names, types, constants) does not change.
/// </summary>
internal sealed class SpecExtender
{
    private static readonly string[] s_stepKeysAt = { "set", "let", "ensure", "require", "do", "timeout" };

    private readonly YamlDocument _document;
    private readonly string _basePath;
    private readonly CancellationToken _cancellationToken;
    private readonly List<SpecDiagnostic> _diagnostics = new();

    /// <summary>How long a step of the base waits when it says nothing itself: its <c>timeouts.step</c>, or the default.</summary>
    private long _baseStepMs = 10_000;

    private SpecExtender(YamlDocument document, string basePath, CancellationToken cancellationToken)
    {
        _document = document;
        _basePath = basePath;
        _cancellationToken = cancellationToken;
    }

    /// <summary>The spec as its own YAML when it extends nothing; otherwise its base (itself extended first) with this spec merged in.</summary>
    public static ExtendedDocument Extend(YamlDocument document, IReadOnlyList<YamlDocument> project, CancellationToken cancellationToken)
        => Extend(document, project, new HashSet<string>(StringComparer.Ordinal), cancellationToken);

    /// <summary>
    /// The documents of <paramref name="project"/> that some document's <c>extends</c> names (every one
    /// <see cref="Extend(YamlDocument, IReadOnlyList{YamlDocument}, CancellationToken)"/> could look up), in project order:
    /// all a spec's parse needs of the others. Editing a spec no one extends leaves this unchanged, so the other specs
    /// stay cached.
    /// </summary>
    public static EquatableArray<YamlDocument> Bases(IReadOnlyList<YamlDocument> project, CancellationToken cancellationToken)
    {
        var targets = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var document in project)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (document.Root is YamlMapping root && root.Entry("extends") is { Value: YamlScalar { IsNull: false } target } && target.Value.Trim().Length > 0)
                targets.Add(Resolve(document.FilePath, target.Value.Trim()));
        }
        return targets.Count == 0 ? EquatableArray<YamlDocument>.Empty
            : project.Where(d => targets.Contains(Normalize(d.FilePath))).ToEquatableArray();
    }

    private static ExtendedDocument Extend(YamlDocument document, IReadOnlyList<YamlDocument> project, HashSet<string> visiting, CancellationToken cancellationToken)
    {
        if (document.Root is not YamlMapping root || root.Entry("extends") is not { } extends)
            return new ExtendedDocument(document.Root, null, SourceSpan.None, EquatableArray<SpecDiagnostic>.Empty);
        ExtendedDocument Fail(SourceSpan span, string message)
            => new(null, null, extends.Key.Span, new EquatableArray<SpecDiagnostic>(new[] { SpecDiagnostic.Create(DiagnosticTable.BaseUnavailable, document.FilePath, span, message) }));

        if (extends.Value is not YamlScalar { IsNull: false } target || target.Value.Trim().Length == 0)
            return Fail(extends.Value.Span, "'extends' names the base spec's file, relative to this one (extends: ltp-0.2.yaml)");
        var path = Resolve(document.FilePath, target.Value.Trim());
        var candidates = project.Where(d => string.Equals(Normalize(d.FilePath), path, StringComparison.Ordinal)).ToList();
        if (candidates.Count == 0)
            candidates = project.Where(d => string.Equals(Normalize(d.FilePath), path, StringComparison.OrdinalIgnoreCase)).ToList();
        if (candidates.Count != 1)
            return Fail(target.Span, $"'{target.Value}' is not one of the project's specs (looked for '{path}'); add the base spec to the project as an AdditionalFile");
        var baseDocument = candidates[0];
        if (string.Equals(Normalize(baseDocument.FilePath), Normalize(document.FilePath), StringComparison.Ordinal) || visiting.Contains(Normalize(baseDocument.FilePath)))
            return Fail(target.Span, $"'{target.Value}' extends this spec in turn: the chain of 'extends' must end in a spec that extends nothing");
        if (baseDocument.Root is null)
            return Fail(target.Span, $"the base spec '{target.Value}' is not valid YAML; fix its own errors first");

        visiting.Add(Normalize(document.FilePath));
        var extendedBase = Extend(baseDocument, project, visiting, cancellationToken);
        visiting.Remove(Normalize(document.FilePath));
        if (extendedBase.Root is null || extendedBase.Diagnostics.Any(d => DiagnosticTable.ById(d.Id).IsError))
            return Fail(target.Span, $"the base spec '{target.Value}' cannot be extended: its own 'extends' fails");

        var baseRoot = Relocate(extendedBase.Root, baseDocument.FilePath);
        var extender = new SpecExtender(document, target.Value.Trim(), cancellationToken);
        var merged = baseRoot is YamlMapping baseMapping ? extender.MergeTop(baseMapping, root, extends.Key.Span) : null;
        // The base as the compiler sees it alone (its own base merged in), for the bind stage to check first.
        var baseAlone = new YamlDocument(baseDocument.FilePath, extendedBase.Root, EquatableArray<SpecDiagnostic>.Empty);
        return new ExtendedDocument(merged, baseAlone, extends.Key.Span, extender._diagnostics.ToEquatableArray());
    }

    // ---- Paths and locations ------------------------------------------------------------------

    private static string Resolve(string specPath, string relative)
    {
        var slash = Math.Max(specPath.LastIndexOf('/'), specPath.LastIndexOf('\\'));
        var rooted = relative.StartsWith("/", StringComparison.Ordinal) || (relative.Length > 1 && relative[1] == ':');
        return Normalize(rooted || slash < 0 ? relative : specPath.Substring(0, slash + 1) + relative);
    }

    /// <summary>A path with '/' separators and '.' and '..' segments resolved, without touching the file system.</summary>
    private static string Normalize(string path)
    {
        var parts = new List<string>();
        var segments = path.Replace('\\', '/').Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            if (segment == "." || (segment.Length == 0 && i > 0)) continue;
            if (segment == ".." && parts.Count > 0 && parts[parts.Count - 1] != ".." && parts[parts.Count - 1].Length > 0) { parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(segment);
        }
        return string.Join("/", parts);
    }

    /// <summary>The tree with every position that names no file placed in <paramref name="file"/>.</summary>
    private static YamlNode Relocate(YamlNode node, string file) => node switch
    {
        YamlScalar scalar => scalar with { Span = scalar.Span.In(file) },
        YamlMapping mapping => new YamlMapping(mapping.Span.In(file), mapping.Entries.Select(e => new YamlEntry((YamlScalar)Relocate(e.Key, file), Relocate(e.Value, file))).ToEquatableArray()),
        YamlSequence sequence => new YamlSequence(sequence.Span.In(file), sequence.Items.Select(i => Relocate(i, file)).ToEquatableArray()),
        _ => node,
    };

    // ---- Reports ------------------------------------------------------------------------------

    private void Cannot(SourceSpan span, string message) => _diagnostics.Add(SpecDiagnostic.Create(DiagnosticTable.CannotChange, _document.FilePath, span, message));

    private void Loosens(SourceSpan span, string message) => _diagnostics.Add(SpecDiagnostic.Create(DiagnosticTable.Loosens, _document.FilePath, span, message));

    private void BadEdit(SourceSpan span, string message) => _diagnostics.Add(SpecDiagnostic.Create(DiagnosticTable.InvalidFlowEdit, _document.FilePath, span, message));

    private void Changes(SourceSpan span, string message) => _diagnostics.Add(SpecDiagnostic.Create(DiagnosticTable.ExtensionChange, _document.FilePath, span, _basePath, message));

    // ---- The top level ------------------------------------------------------------------------

    private YamlMapping MergeTop(YamlMapping @base, YamlMapping extension, SourceSpan extendsSpan)
    {
        var merged = new Entries(@base);
        var baseName = (@base["protocol"] as YamlScalar)?.Value;
        var baseVersion = (@base["version"] as YamlScalar)?.Value;
        if (extension.Entry("version") is null)
            Cannot(extendsSpan, "an extension is a new version of its protocol: give it its own 'version'");
        if (extension.Entry("namespace") is null && baseName is not null && extension["version"] is YamlScalar version)
        {
            // Two versions compiled side by side cannot share a namespace: by default the extension's is the base's
            // followed by its version (Dsl.Protocols.Ltp and version 0.3 give Dsl.Protocols.LtpV0_3).
            var baseNamespace = (@base["namespace"] as YamlScalar)?.Value ?? "Dsl.Protocols." + Naming.Pascal(baseName);
            var suffix = new string(version.Value.Select(c => char.IsLetterOrDigit(c) ? c : '_').ToArray());
            merged.Set(new YamlScalar(version.Span, "namespace", ScalarStyle.Plain), new YamlScalar(version.Span, baseNamespace + "V" + suffix, ScalarStyle.Plain));
        }

        if ((@base["timeouts"] as YamlMapping)?["step"] is YamlScalar baseStep && DurationSyntax.TryParse(baseStep.Value, out var baseStepMs))
            _baseStepMs = baseStepMs;
        foreach (var entry in extension.Entries)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            var key = entry.Key.Value;
            var baseValue = merged.Get(key);
            switch (key)
            {
                case "extends":
                    continue;
                case "protocol":
                    if (entry.Value is YamlScalar name && baseName is not null && name.Value != baseName)
                        Cannot(name.Span, $"an extension keeps its base's protocol name '{baseName}'; a protocol with another name does not extend it");
                    continue;
                case "version":
                    if (entry.Value is YamlScalar newVersion && newVersion.Value == baseVersion)
                        Cannot(newVersion.Span, $"the base is version '{baseVersion}' already; an extension is a new version");
                    else if (entry.Value is YamlScalar v)
                        Changes(v.Span, $"version {baseVersion} becomes {v.Value}; 'spec.version' follows it");
                    merged.Set(entry.Key, entry.Value);
                    continue;
                case "roles":
                    if (baseValue is not null && !RoleNames(baseValue).SetEquals(RoleNames(entry.Value)))
                        Cannot(entry.Value.Span, $"an extension keeps its base's roles ({string.Join(", ", RoleNames(baseValue).OrderBy(r => r, StringComparer.Ordinal))})");
                    merged.Set(entry.Key, entry.Value);
                    continue;
                case "wire":
                    merged.Set(entry.Key, MergeWire(baseValue as YamlMapping, entry.Value));
                    continue;
                case "inputs":
                    merged.Set(entry.Key, PerRole(baseValue, entry.Value, "input"));
                    continue;
                case "services":
                case "hooks":
                    merged.Set(entry.Key, MergeByName(baseValue, entry.Value, (name, b, e) =>
                    {
                        Cannot(e.Span, $"{Singular(key)} '{name}' is declared by the base; an extension adds {key}, it does not redefine them");
                        return b;
                    }, (name, e) => Changes(e.Span, $"adds {Singular(key)} '{name}'")));
                    continue;
                case "types":
                    merged.Set(entry.Key, MergeByName(baseValue, entry.Value, (name, b, e) => MergeType(name, b, e), (name, e) => Changes(e.Span, $"adds type '{name}'")));
                    continue;
                case "envelope":
                    if (baseValue is null) Changes(entry.Key.Span, "adds an envelope: every message travels in it, so no peer of the base can talk to this version");
                    merged.Set(entry.Key, baseValue is null ? entry.Value : MergeEnvelope(baseValue, entry.Value));
                    continue;
                case "messages":
                    merged.Set(entry.Key, MergeByName(baseValue, entry.Value, MergeMessage, (name, e) => Changes(e.Span, $"adds message '{name}'")));
                    continue;
                case "errors":
                    merged.Set(entry.Key, MergeByName(baseValue, entry.Value, MergeError, (name, e) => Changes(e.Span, $"adds error code '{name}'")));
                    continue;
                case "on_failure":
                    merged.Set(entry.Key, MergeEffects(baseValue, entry.Value, "'on_failure'"));
                    continue;
                case "timeouts":
                    merged.Set(entry.Key, MergeTimeouts(baseValue as YamlMapping, entry.Value));
                    continue;
                case "flow":
                    merged.Set(entry.Key, baseValue is YamlSequence flow ? ApplyFlowEdits(flow, entry.Value) : entry.Value);
                    continue;
                case "outcome":
                    merged.Set(entry.Key, PerRole(baseValue, entry.Value, "outcome"));
                    continue;
                case "session":
                    merged.Set(entry.Key, MergeDeep(baseValue, entry.Value));
                    Changes(entry.Key.Span, "changes the session after the handshake");
                    continue;
                case "acknowledge":
                    // The base's acknowledgements stand, unless the extension gives its own for a lint.
                    merged.Set(entry.Key, MergeDeep(baseValue, entry.Value));
                    continue;
                default:
                    // namespace, description, and keys the typed parse reports itself (unknown or reserved ones).
                    merged.Set(entry.Key, entry.Value);
                    continue;
            }
        }
        return merged.ToMapping(@base.Span);
    }

    /// <summary>A section of values per role (inputs, outcome): each role's merged by name, a value the extension gives replacing the base's.</summary>
    private YamlNode PerRole(YamlNode? @base, YamlNode extension, string what)
        => MergeByName(@base, extension, (role, b, e) => MergeByName(b, e, (name, _, value) =>
        {
            Changes(value.Span, $"changes {what} '{role}.{name}'");
            return value;
        }, (name, key) => Changes(key.Span, $"adds {what} '{role}.{name}'")), (_, _) => { });

    private static string Singular(string section) => section == "services" ? "service" : "hook";

    private static HashSet<string> RoleNames(YamlNode node) => node switch
    {
        YamlSequence sequence => new HashSet<string>(sequence.Items.OfType<YamlScalar>().Select(s => s.Value), StringComparer.Ordinal),
        YamlMapping mapping => new HashSet<string>(mapping.Entries.Select(e => e.Key.Value), StringComparer.Ordinal),
        _ => new HashSet<string>(StringComparer.Ordinal),
    };

    private YamlNode MergeWire(YamlMapping? @base, YamlNode extension)
    {
        if (extension is not YamlMapping mapping) return extension;
        var merged = @base is null ? new Entries() : new Entries(@base);
        foreach (var entry in mapping.Entries)
        {
            var before = (merged.Get(entry.Key.Value) as YamlScalar)?.Value ?? (entry.Key.Value switch { "encoding" => "json", "discriminator" => "type", _ => null });
            if (entry.Key.Value is "encoding" or "discriminator" && entry.Value is YamlScalar after && after.Value != before)
                Cannot(after.Span, $"the wire's {entry.Key.Value} is '{before}' in the base; an extension keeps it, or no peer of the base could read a message");
            else if (entry.Key.Value == "malformed" && entry.Value is YamlScalar code && code.Value != before)
                Changes(code.Span, $"a message that cannot be decoded is now '{code.Value}'");
            merged.Set(entry.Key, entry.Value);
        }
        return merged.ToMapping(mapping.Span);
    }

    // ---- Sections merged by name --------------------------------------------------------------

    /// <summary>
    /// Merges two mappings by key: a key only in the extension is added (and <paramref name="added"/> told), a key
    /// in both goes through <paramref name="both"/>. Anything but two mappings is left for the typed parse to report.
    /// </summary>
    private YamlNode MergeByName(YamlNode? @base, YamlNode extension, Func<string, YamlNode, YamlNode, YamlNode> both, Action<string, YamlNode> added)
    {
        if (@base is not YamlMapping baseMapping || extension is not YamlMapping extensionMapping) return @base is null ? extension : MergeDeep(@base, extension);
        var merged = new Entries(baseMapping);
        foreach (var entry in extensionMapping.Entries)
        {
            var existing = merged.Get(entry.Key.Value);
            if (existing is null)
            {
                added(entry.Key.Value, entry.Key);
                merged.Set(entry.Key, entry.Value);
            }
            else
            {
                merged.Set(merged.KeyOf(entry.Key.Value)!, both(entry.Key.Value, existing, entry.Value));
            }
        }
        return merged.ToMapping(baseMapping.Span);
    }

    /// <summary>A plain deep merge: mappings by key, anything else replaced by the extension's.</summary>
    private static YamlNode MergeDeep(YamlNode? @base, YamlNode extension)
    {
        if (@base is not YamlMapping baseMapping || extension is not YamlMapping extensionMapping) return extension;
        var merged = new Entries(baseMapping);
        foreach (var entry in extensionMapping.Entries)
            merged.Set(merged.KeyOf(entry.Key.Value) ?? entry.Key, MergeDeep(merged.Get(entry.Key.Value), entry.Value));
        return merged.ToMapping(baseMapping.Span);
    }

    private YamlNode MergeMessage(string name, YamlNode @base, YamlNode extension)
    {
        if (@base is not YamlMapping baseMapping || extension is not YamlMapping extensionMapping) return MergeDeep(@base, extension);
        var merged = new Entries(baseMapping);
        foreach (var entry in extensionMapping.Entries)
        {
            var existing = merged.Get(entry.Key.Value);
            switch (entry.Key.Value)
            {
                case "fields":
                    merged.Set(merged.KeyOf("fields") ?? entry.Key, MergeFields($"'{name}'", name + ".", existing, entry.Value));
                    continue;
                case "wire":
                case "reports":
                    if (existing is not null && !SameYaml(existing, entry.Value))
                        Cannot(entry.Value.Span, $"message '{name}' has its {entry.Key.Value} from the base; an extension keeps it");
                    else if (existing is null && entry.Key.Value == "wire")
                        Cannot(entry.Value.Span, $"message '{name}' travels as '{name}' in the base; an extension keeps its wire name");
                    else if (existing is null)
                        Cannot(entry.Value.Span, $"message '{name}' is not an error message in the base; an extension keeps what each message is");
                    else merged.Set(entry.Key, entry.Value);
                    continue;
                default:
                    merged.Set(entry.Key, entry.Value);
                    continue;
            }
        }
        return merged.ToMapping(baseMapping.Span);
    }

    private YamlNode MergeFields(string owner, string prefix, YamlNode? @base, YamlNode extension)
        => MergeByName(@base, extension, (field, b, e) => MergeField(owner, prefix + field, b, e), (field, e) =>
        {
            var declaration = extension is YamlMapping m ? m[field] : null;
            var optional = declaration is not null && IsOptional(AsField(declaration));
            Changes(e.Span, optional
                ? $"adds optional field '{prefix}{field}': peers of the base neither send it nor miss it"
                : $"adds required field '{prefix}{field}': a peer of the base does not send it, so its message is refused");
        });

    private YamlNode MergeType(string name, YamlNode @base, YamlNode extension)
    {
        if (@base is not YamlMapping baseMapping || extension is not YamlMapping extensionMapping) return MergeDeep(@base, extension);
        var merged = new Entries(baseMapping);
        foreach (var entry in extensionMapping.Entries)
        {
            var existing = merged.Get(entry.Key.Value);
            if (entry.Key.Value == "fields")
                merged.Set(merged.KeyOf("fields") ?? entry.Key, MergeFields($"type '{name}'", name + ".", existing, entry.Value));
            else if (entry.Key.Value == "values" && existing is not null && !SameYaml(existing, entry.Value))
                Cannot(entry.Value.Span, $"the values of enum '{name}' come from the base; an extension keeps them (a new value is one old peers refuse)");
            else
                merged.Set(entry.Key, entry.Value);
        }
        return merged.ToMapping(baseMapping.Span);
    }

    /// <summary>A field redeclared by an extension: the base's keys, with the extension's, as long as they only tighten.</summary>
    private YamlNode MergeField(string owner, string path, YamlNode @base, YamlNode extension)
    {
        var baseField = AsField(@base);
        var extensionField = AsField(extension);
        var merged = new Entries(baseField);
        var wasOptional = IsOptional(baseField);
        var baseType = (baseField["type"] as YamlScalar)?.Value.Trim().TrimEnd('?');
        foreach (var entry in extensionField.Entries)
        {
            var key = entry.Key.Value;
            var existing = merged.Get(key);
            var value = entry.Value as YamlScalar;
            switch (key)
            {
                case "type" when value is not null:
                    var type = value.Value.Trim();
                    if (baseType is not null && type.TrimEnd('?') != baseType)
                    {
                        Cannot(value.Span, $"field '{path}' is a {baseType} in the base; an extension keeps its type (add a field instead)");
                        continue;
                    }
                    // The extension's type says whether the field stays optional; that is checked below, on the merged keys.
                    merged.Set(merged.KeyOf("type") ?? entry.Key, value);
                    continue;
                case "min_length" or "min" when value is not null:
                    Bound(path, key, existing as YamlScalar, value, tighterIsLarger: true);
                    merged.Set(entry.Key, entry.Value);
                    continue;
                case "max_length" or "max" when value is not null:
                    Bound(path, key, existing as YamlScalar, value, tighterIsLarger: false);
                    merged.Set(entry.Key, entry.Value);
                    continue;
                case "one_of":
                    var before = (existing as YamlSequence)?.Items.OfType<YamlScalar>().Select(s => s.Value).ToList();
                    var after = (entry.Value as YamlSequence)?.Items.OfType<YamlScalar>().ToList() ?? new List<YamlScalar>();
                    if (before is not null && after.FirstOrDefault(a => !before.Contains(a.Value)) is { } widened)
                        Loosens(widened.Span, $"field '{path}' accepts one of [{string.Join(", ", before)}] in the base; an extension may drop values, not add '{widened.Value}'");
                    else Changes(entry.Value.Span, $"narrows the values field '{path}' accepts");
                    merged.Set(entry.Key, entry.Value);
                    continue;
                case "pattern":
                    if (existing is YamlScalar oldPattern && value is not null && oldPattern.Value != value.Value)
                        Loosens(value.Span, $"field '{path}' must match '{oldPattern.Value}' in the base; an extension cannot tell a new pattern only tightens it: keep the base's");
                    else if (existing is null) Changes(entry.Value.Span, $"adds a pattern to field '{path}': values of peers of the base that do not match are refused");
                    merged.Set(entry.Key, entry.Value);
                    continue;
                case "optional":
                    merged.Set(entry.Key, entry.Value);
                    continue;
                case "encoding" or "wire" or "const" or "values":
                    // Adding one changes the wire form too, except spelling out the default encoding.
                    var unchanged = existing is not null ? SameYaml(existing, entry.Value) : key == "encoding" && value?.Value == "hex";
                    if (!unchanged) Cannot(entry.Value.Span, $"the {key} of field '{path}' is part of the wire form the base defines; an extension keeps it");
                    else merged.Set(entry.Key, entry.Value);
                    continue;
                case "fields":
                    merged.Set(merged.KeyOf("fields") ?? entry.Key, MergeFields(owner, path + ".", existing, entry.Value));
                    continue;
                default:
                    // doc, default.
                    merged.Set(entry.Key, entry.Value);
                    continue;
            }
        }
        var result = merged.ToMapping(baseField.Span);
        var nowOptional = IsOptional(result);
        if (wasOptional && !nowOptional)
            Changes(extension.Span, $"field '{path}' becomes required: a peer of the base that leaves it out is refused");
        else if (!wasOptional && nowOptional)
            Loosens(extension.Span, $"field '{path}' is required in the base; an extension may make a field required, not optional");
        return result;
    }

    private void Bound(string path, string key, YamlScalar? before, YamlScalar after, bool tighterIsLarger)
    {
        if (!long.TryParse(after.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var newValue)) return;
        if (before is null || !long.TryParse(before.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var oldValue))
        {
            Changes(after.Span, $"adds {key}: {newValue} to field '{path}'");
            return;
        }
        if (tighterIsLarger ? newValue < oldValue : newValue > oldValue)
            Loosens(after.Span, $"{key} of field '{path}' is {oldValue} in the base; an extension may only tighten it ({(tighterIsLarger ? "raise" : "lower")} it), not set {newValue}");
        else if (newValue != oldValue)
            Changes(after.Span, $"tightens {key} of field '{path}' from {oldValue} to {newValue}");
    }

    /// <summary>A field as a mapping: <c>name: string?</c> is <c>{ type: string? }</c>.</summary>
    private static YamlMapping AsField(YamlNode node) => node is YamlMapping mapping
        ? mapping
        : new YamlMapping(node.Span, new EquatableArray<YamlEntry>(new[] { new YamlEntry(new YamlScalar(node.Span, "type", ScalarStyle.Plain), node) }));

    private static bool IsOptional(YamlMapping field)
        => (field["type"] as YamlScalar)?.Value.Trim().EndsWith("?", StringComparison.Ordinal) == true
           || (field["optional"] as YamlScalar)?.Value == "true"
           || field["default"] is not null;

    private YamlNode MergeEnvelope(YamlNode @base, YamlNode extension)
    {
        if (@base is not YamlMapping baseMapping || extension is not YamlMapping extensionMapping) return extension;
        var merged = new Entries(baseMapping);
        foreach (var entry in extensionMapping.Entries)
        {
            var existing = merged.Get(entry.Key.Value);
            switch (entry.Key.Value)
            {
                case "fields":
                    merged.Set(merged.KeyOf("fields") ?? entry.Key, MergeFields("the envelope", "envelope.", existing, entry.Value));
                    continue;
                case "set":
                    merged.Set(merged.KeyOf("set") ?? entry.Key, MergeDeep(existing, entry.Value));
                    Changes(entry.Key.Span, "changes how the envelope's fields are computed");
                    continue;
                case "require":
                    merged.Set(merged.KeyOf("require") ?? entry.Key, Append(existing, entry.Value));
                    Changes(entry.Key.Span, "adds envelope checks: every message of a peer of the base that fails them is refused");
                    continue;
                case "name" or "wrap" or "payload" or "signature":
                    if (existing is null || !SameYaml(existing, entry.Value))
                        Cannot(entry.Value.Span, $"the envelope's {entry.Key.Value} is part of the wire form the base defines; an extension keeps it");
                    else merged.Set(entry.Key, entry.Value);
                    continue;
                default:
                    merged.Set(entry.Key, entry.Value);
                    continue;
            }
        }
        return merged.ToMapping(baseMapping.Span);
    }

    private YamlNode MergeError(string code, YamlNode @base, YamlNode extension)
    {
        Changes(extension.Span, $"changes error '{code}'");
        if (extension is YamlScalar doc)
            return @base is YamlMapping m ? new Entries(m).With(new YamlScalar(doc.Span, "doc", ScalarStyle.Plain), doc).ToMapping(m.Span) : extension;
        if (extension is not YamlMapping extensionMapping) return extension;
        var merged = @base is YamlMapping baseMapping ? new Entries(baseMapping)
            : @base is YamlScalar { IsNull: false } baseDoc ? new Entries().With(new YamlScalar(baseDoc.Span, "doc", ScalarStyle.Plain), baseDoc) : new Entries();
        foreach (var entry in extensionMapping.Entries)
        {
            var existing = merged.Get(entry.Key.Value);
            var value = entry.Key.Value switch
            {
                "set" => MergeDeep(existing, entry.Value),
                "do" => MergeEffects(existing, entry.Value, $"the 'do' of error '{code}'"),
                _ => entry.Value,
            };
            merged.Set(merged.KeyOf(entry.Key.Value) ?? entry.Key, value);
        }
        return merged.ToMapping(@base.Span);
    }

    /// <summary>Service calls per role: the extension's are added after the base's.</summary>
    private YamlNode MergeEffects(YamlNode? @base, YamlNode extension, string where)
    {
        if (@base is not YamlMapping baseMapping || extension is not YamlMapping extensionMapping) return extension;
        var merged = new Entries(baseMapping);
        foreach (var entry in extensionMapping.Entries)
        {
            merged.Set(merged.KeyOf(entry.Key.Value) ?? entry.Key, Append(merged.Get(entry.Key.Value), entry.Value));
            Changes(entry.Key.Span, $"adds effects for '{entry.Key.Value}' in {where}");
        }
        return merged.ToMapping(baseMapping.Span);
    }

    /// <summary>The base's items, then the extension's (a single scalar counts as one item).</summary>
    private static YamlNode Append(YamlNode? @base, YamlNode extension)
    {
        static IEnumerable<YamlNode> Items(YamlNode? node) => node switch
        {
            null or YamlScalar { IsNull: true } => Enumerable.Empty<YamlNode>(),
            YamlSequence sequence => sequence.Items,
            _ => new[] { node },
        };
        if (extension is YamlMapping) return extension; // the typed parse reports the shape
        return new YamlSequence(@base?.Span ?? extension.Span, Items(@base).Concat(Items(extension)).ToEquatableArray());
    }

    private YamlNode MergeTimeouts(YamlMapping? @base, YamlNode extension)
    {
        if (extension is not YamlMapping mapping) return extension;
        var merged = @base is null ? new Entries() : new Entries(@base);
        foreach (var entry in mapping.Entries)
        {
            var before = merged.Get(entry.Key.Value) as YamlScalar;
            var defaultMs = entry.Key.Value switch { "handshake" => 30_000L, "step" => 10_000L, _ => (long?)null };
            long? oldMs = before is not null && DurationSyntax.TryParse(before.Value, out var parsed) ? parsed : before is null ? defaultMs : null;
            if (entry.Value is YamlScalar after && DurationSyntax.TryParse(after.Value, out var newMs))
            {
                if (oldMs is { } limit && newMs > limit)
                    Loosens(after.Span, $"timeouts.{entry.Key.Value} is {Duration(limit)} in the base{(before is null ? " (the default)" : "")}; an extension may shorten it, not lengthen it to {after.Value.Trim()}");
                else if (oldMs is null && before is null)
                    Changes(after.Span, $"sets timeouts.{entry.Key.Value} to {after.Value.Trim()}");
                else if (oldMs != newMs)
                    Changes(after.Span, $"shortens timeouts.{entry.Key.Value} from {Duration(oldMs ?? 0)} to {after.Value.Trim()}");
            }
            merged.Set(merged.KeyOf(entry.Key.Value) ?? entry.Key, entry.Value);
        }
        return merged.ToMapping(@base?.Span ?? mapping.Span);
    }

    private static string Duration(long milliseconds)
        => milliseconds % 60_000 == 0 ? $"{milliseconds / 60_000}m" : milliseconds % 1000 == 0 ? $"{milliseconds / 1000}s" : $"{milliseconds}ms";

    // ---- The flow -----------------------------------------------------------------------------

    private sealed class Edit
    {
        public YamlMapping? At;
        public List<YamlNode> Before = new();
        public List<YamlNode> After = new();
        public bool Used;
        public SourceSpan Span;
    }

    private YamlNode ApplyFlowEdits(YamlSequence flow, YamlNode extension)
    {
        if (extension is not YamlSequence edits)
        {
            BadEdit(extension.Span, "in an extension, 'flow' is a list of edits, each 'at', 'before' or 'after' a step's label");
            return flow;
        }
        var byLabel = new Dictionary<string, Edit>(StringComparer.Ordinal);
        foreach (var item in edits.Items)
        {
            if (item is not YamlMapping edit)
            {
                BadEdit(item.Span, "a flow edit is a mapping: 'at: LABEL' with what it adds, or 'before: LABEL' / 'after: LABEL' with 'steps'");
                continue;
            }
            var anchors = edit.Entries.Where(e => e.Key.Value is "at" or "before" or "after").ToList();
            if (anchors.Count != 1 || anchors[0].Value is not YamlScalar label)
            {
                BadEdit(edit.Span, "a flow edit names exactly one step: 'at: LABEL', 'before: LABEL' or 'after: LABEL' (a step's 'label')");
                continue;
            }
            if (!byLabel.TryGetValue(label.Value, out var target)) byLabel[label.Value] = target = new Edit { Span = label.Span };
            var anchor = anchors[0].Key.Value;
            if (anchor == "at")
            {
                foreach (var other in edit.Entries.Where(e => e.Key.Value != "at" && !s_stepKeysAt.Contains(e.Key.Value)))
                    BadEdit(other.Key.Span, $"an 'at' edit adds {string.Join(", ", s_stepKeysAt.Take(5))} and may shorten 'timeout'; '{other.Key.Value}' cannot be edited");
                if (target.At is not null) BadEdit(anchors[0].Key.Span, $"step '{label.Value}' is edited by an earlier 'at' already: put both edits in one");
                else target.At = edit;
                continue;
            }
            var steps = edit["steps"];
            foreach (var other in edit.Entries.Where(e => e.Key.Value != anchor && e.Key.Value != "steps"))
                BadEdit(other.Key.Span, $"a '{anchor}' edit inserts 'steps'; '{other.Key.Value}' does not belong in it");
            if (steps is not YamlSequence { Items.Count: > 0 } inserted)
            {
                BadEdit(edit.Span, $"a '{anchor}' edit needs 'steps': a list of the steps to insert");
                continue;
            }
            (anchor == "before" ? target.Before : target.After).AddRange(inserted.Items);
            Changes(anchors[0].Key.Span, $"inserts {inserted.Items.Count} step(s) {anchor} step '{label.Value}': a peer of the base that does not take them cannot complete the handshake");
        }

        var labels = new List<string>();
        var result = RewriteSteps(flow, byLabel, labels);
        foreach (var pair in byLabel.Where(p => !p.Value.Used))
            BadEdit(pair.Value.Span, $"no step of the base is labelled '{pair.Key}'; {(labels.Count == 0 ? "the base labels no step: add 'label' to the steps to edit" : "labels: " + string.Join(", ", labels))}");
        return result;
    }

    private YamlSequence RewriteSteps(YamlSequence steps, Dictionary<string, Edit> edits, List<string> labels)
    {
        var items = new List<YamlNode>();
        foreach (var item in steps.Items)
        {
            if (item is not YamlMapping step)
            {
                items.Add(item);
                continue;
            }
            var rewritten = RewriteBranches(step, edits, labels);
            var label = (step["label"] as YamlScalar)?.Value;
            if (label is not null) labels.Add(label);
            if (label is null || !edits.TryGetValue(label, out var edit))
            {
                items.Add(rewritten);
                continue;
            }
            edit.Used = true;
            items.AddRange(edit.Before);
            items.Add(edit.At is null ? rewritten : ApplyAt(label, rewritten, edit.At));
            items.AddRange(edit.After);
        }
        return new YamlSequence(steps.Span, items.ToEquatableArray());
    }

    /// <summary>A choice's branches, with their steps rewritten.</summary>
    private YamlMapping RewriteBranches(YamlMapping step, Dictionary<string, Edit> edits, List<string> labels)
    {
        if (step["branches"] is not YamlSequence branches) return step;
        var rewritten = branches.Items.Select(branch => branch is YamlMapping b && b["steps"] is YamlSequence branchSteps
            ? new Entries(b).With(b.Entry("steps")!.Key, RewriteSteps(branchSteps, edits, labels)).ToMapping(b.Span)
            : branch).ToEquatableArray();
        return new Entries(step).With(step.Entry("branches")!.Key, new YamlSequence(branches.Span, rewritten)).ToMapping(step.Span);
    }

    private YamlMapping ApplyAt(string label, YamlMapping step, YamlMapping edit)
    {
        var isChoice = step["choice"] is not null;
        var merged = new Entries(step);
        foreach (var entry in edit.Entries)
        {
            var key = entry.Key.Value;
            if (key == "at" || !s_stepKeysAt.Contains(key)) continue;
            if (isChoice && key is not ("let" or "timeout"))
            {
                BadEdit(entry.Key.Span, $"step '{label}' is a choice: an 'at' edit may add to its 'let' and shorten its 'timeout'");
                continue;
            }
            var existing = merged.Get(key);
            switch (key)
            {
                case "set":
                    if (existing is YamlMapping fields && entry.Value is YamlMapping values)
                        foreach (var value in values.Entries.Where(v => fields[v.Key.Value] is not null))
                            Changes(value.Key.Span, $"changes the value of '{value.Key.Value}' sent at step '{label}'");
                    merged.Set(merged.KeyOf(key) ?? entry.Key, MergeDeep(existing, entry.Value));
                    continue;
                case "let":
                    if (existing is YamlMapping lets && entry.Value is YamlMapping newLets)
                        foreach (var let in newLets.Entries.Where(l => lets[l.Key.Value] is not null))
                            Cannot(let.Key.Span, $"step '{label}' has a let '{let.Key.Value}' already; an extension adds lets under new names");
                    merged.Set(merged.KeyOf(key) ?? entry.Key, MergeDeep(existing, entry.Value));
                    continue;
                case "ensure":
                case "require":
                    merged.Set(merged.KeyOf(key) ?? entry.Key, Append(existing, entry.Value));
                    Changes(entry.Key.Span, key == "require"
                        ? $"adds checks the receiver makes at step '{label}', after the base's: a peer of the base that fails them is refused"
                        : $"adds checks the sender makes at step '{label}', after the base's");
                    continue;
                case "do":
                    merged.Set(merged.KeyOf(key) ?? entry.Key, MergeEffects(existing, entry.Value, $"step '{label}'"));
                    continue;
                case "timeout":
                    var before = existing is YamlScalar b && DurationSyntax.TryParse(b.Value, out var oldMs) ? oldMs : existing is null ? _baseStepMs : (long?)null;
                    if (entry.Value is YamlScalar after && DurationSyntax.TryParse(after.Value, out var newMs) && before is { } limit && newMs > limit)
                        Loosens(after.Span, $"step '{label}' waits {Duration(limit)} in the base; an extension may shorten it, not lengthen it to {after.Value.Trim()}");
                    merged.Set(merged.KeyOf(key) ?? entry.Key, entry.Value);
                    continue;
            }
        }
        return merged.ToMapping(step.Span);
    }

    // ---- YAML helpers -------------------------------------------------------------------------

    /// <summary>Whether two nodes hold the same YAML, wherever they are.</summary>
    private static bool SameYaml(YamlNode a, YamlNode b) => (a, b) switch
    {
        (YamlScalar x, YamlScalar y) => x.Value == y.Value && x.IsQuoted == y.IsQuoted,
        (YamlSequence x, YamlSequence y) => x.Items.Count == y.Items.Count && x.Items.Zip(y.Items, SameYaml).All(s => s),
        (YamlMapping x, YamlMapping y) => x.Entries.Count == y.Entries.Count
            && x.Entries.All(e => y[e.Key.Value] is { } other && SameYaml(e.Value, other)),
        _ => false,
    };

    /// <summary>A mapping's entries being merged: order kept, a key set again replaced in place.</summary>
    private sealed class Entries
    {
        private readonly List<YamlEntry> _entries = new();

        public Entries() { }

        public Entries(YamlMapping mapping) => _entries.AddRange(mapping.Entries);

        public YamlNode? Get(string key) => _entries.FirstOrDefault(e => e.Key.Value == key)?.Value;

        public YamlScalar? KeyOf(string key) => _entries.FirstOrDefault(e => e.Key.Value == key)?.Key;

        public void Set(YamlScalar key, YamlNode value)
        {
            var index = _entries.FindIndex(e => e.Key.Value == key.Value);
            if (index < 0) _entries.Add(new YamlEntry(key, value));
            else _entries[index] = new YamlEntry(_entries[index].Key, value);
        }

        public Entries With(YamlScalar key, YamlNode value)
        {
            Set(key, value);
            return this;
        }

        public YamlMapping ToMapping(SourceSpan span) => new(span, _entries.ToEquatableArray());
    }
}
