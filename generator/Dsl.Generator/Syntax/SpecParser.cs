using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax.Yaml;

namespace Dsl.Generator.Syntax;

/// <summary>
/// Parse stage: a spec's text to typed syntax. Reads the YAML (DSL001), then each construct through its key set
/// (DSL002 unknown, DSL003 repeated, DSL005 missing, DSL110 designed but not implemented), checks the shape of
/// each node (DSL004), names (DSL007), durations and flags (DSL006), and parses every expression once (DSL201).
/// What names mean, types and the flow are the binder's.
/// </summary>
internal sealed class SpecParser
{
    private readonly string _filePath;
    private readonly CancellationToken _cancellationToken;
    private readonly List<SpecDiagnostic> _diagnostics = new();

    private SpecParser(string filePath, CancellationToken cancellationToken)
    {
        _filePath = filePath;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Parses one spec on its own (a spec that extends another needs the project: see the other overload).</summary>
    public static SpecSyntax Parse(string filePath, string? text, CancellationToken cancellationToken)
    {
        var document = YamlReader.Read(filePath, text, cancellationToken);
        return Parse(document, new[] { document }, cancellationToken);
    }

    /// <summary>
    /// Parses one spec of a project: when it extends another (<see cref="SpecExtender"/>), the merged YAML, and the
    /// base as the compiler sees it alone, for the binder to check first.
    /// </summary>
    public static SpecSyntax Parse(YamlDocument document, IReadOnlyList<YamlDocument> project, CancellationToken cancellationToken)
    {
        var filePath = document.FilePath;
        if (document.Root is null) return new SpecSyntax(filePath, null, document.Diagnostics);
        var extended = SpecExtender.Extend(document, project, cancellationToken);
        if (extended.Root is null) return new SpecSyntax(filePath, null, extended.Diagnostics);
        var parser = new SpecParser(filePath, cancellationToken);
        var protocol = parser.ReadProtocol(extended.Root);
        var baseSyntax = extended.Base is { } @base ? Parse(@base, project, cancellationToken) : null;
        if (baseSyntax is not null && baseSyntax.Diagnostics.Count(d => d.IsError) is var errors and > 0)
        {
            // The base reports its own errors where it is compiled; here they only stop the extension.
            return new SpecSyntax(filePath, null, extended.Diagnostics.Where(d => !d.IsError).Append(SpecDiagnostic.Create(DiagnosticTable.BaseHasErrors, filePath,
                extended.ExtendsSpan, baseSyntax.FilePath, errors.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToEquatableArray());
        }
        return new SpecSyntax(filePath, protocol, extended.Diagnostics.Concat(parser._diagnostics).ToEquatableArray())
        {
            Base = baseSyntax,
            ExtendsSpan = extended.ExtendsSpan,
        };
    }

    private void Report(DiagnosticKind kind, SourceSpan span, params string[] arguments)
        => _diagnostics.Add(SpecDiagnostic.Create(kind, _filePath, span, arguments));

    // ---- The constructs -----------------------------------------------------------------------

    private ProtocolSyntax? ReadProtocol(YamlNode rootNode)
    {
        var root = Mapping(rootNode, ProtocolSyntax.Keys.All, "A spec", "the spec");
        if (root is null) return null;
        var name = root.Scalar(ProtocolSyntax.Keys.Protocol);
        var version = root.Scalar(ProtocolSyntax.Keys.Version);
        var nameValid = name is not null && ValidName(name, "protocol");
        var roles = ReadRoles(root[ProtocolSyntax.Keys.Roles]);
        var wire = ReadWire(root[ProtocolSyntax.Keys.Wire]);
        var inputs = Entries(root[ProtocolSyntax.Keys.Inputs], "'inputs'")
            .Select(e => new RoleInputsSyntax(e.Key, ReadFields(e.Value, $"The inputs of '{e.Key.Value}'", $"the inputs of '{e.Key.Value}'", FieldSyntax.Keys.Input)))
            .ToEquatableArray();
        var services = ReadServices(root[ProtocolSyntax.Keys.Services]);
        var hooks = ReadHooks(root[ProtocolSyntax.Keys.Hooks]);
        var types = ReadTypes(root[ProtocolSyntax.Keys.Types]);
        var envelope = ReadEnvelope(root[ProtocolSyntax.Keys.Envelope]);
        var messages = ReadMessages(root[ProtocolSyntax.Keys.Messages]);
        var errors = ReadErrors(root[ProtocolSyntax.Keys.Errors]);
        var onFailure = root[ProtocolSyntax.Keys.OnFailure] is { } onFailureNode ? ReadEffects(onFailureNode, "'on_failure'") : null;
        var timeouts = ReadTimeouts(root[ProtocolSyntax.Keys.Timeouts]);
        var flow = root[ProtocolSyntax.Keys.Flow] is { } flowNode ? ReadSteps(flowNode, "'flow'") : null;
        var outcome = ReadOutcome(root[ProtocolSyntax.Keys.Outcome]);
        var session = ReadSession(root[ProtocolSyntax.Keys.Session]);
        if (name is null || version is null || !nameValid) return null;
        var acknowledgements = ReadAcknowledgements(root[ProtocolSyntax.Keys.Acknowledge]);
        return new ProtocolSyntax(root.Span, name, version, root.Scalar(ProtocolSyntax.Keys.Description), root.Scalar(ProtocolSyntax.Keys.Namespace),
            roles, wire, inputs, services, hooks, types, envelope, messages, errors, onFailure, timeouts, flow, outcome, session)
        {
            Acknowledgements = acknowledgements,
        };
    }

    /// <summary><c>acknowledge</c>: lint names, each with its reason (a line), or with <c>at</c> and <c>because</c>.</summary>
    private EquatableArray<AcknowledgementSyntax> ReadAcknowledgements(YamlNode? node)
    {
        var acknowledgements = new List<AcknowledgementSyntax>();
        foreach (var entry in Entries(node, "'acknowledge'"))
        {
            if (entry.Value is YamlScalar reason)
            {
                if (reason.IsNull || reason.Value.Trim().Length == 0)
                    Report(DiagnosticTable.MissingKey, entry.Key.Span, $"The acknowledgement of '{entry.Key.Value}'", "because", " (why the spec accepts it: give it as the value)");
                else acknowledgements.Add(new AcknowledgementSyntax(entry.Key, EquatableArray<YamlScalar>.Empty, reason, entry.Key.Span));
                continue;
            }
            var mapping = Mapping(entry.Value, AcknowledgementSyntax.Keys.All, $"The acknowledgement of '{entry.Key.Value}'", $"the acknowledgement of '{entry.Key.Value}'");
            if (mapping is null) continue;
            var at = mapping[AcknowledgementSyntax.Keys.At] switch
            {
                null => EquatableArray<YamlScalar>.Empty,
                YamlSequence items => items.Items.Select(i => Scalar(i, "An item of 'at'")).Where(i => i is not null).Select(i => i!).ToEquatableArray(),
                var one => Scalar(one, "'at'") is { } scalar ? new EquatableArray<YamlScalar>(new[] { scalar }) : EquatableArray<YamlScalar>.Empty,
            };
            acknowledgements.Add(new AcknowledgementSyntax(entry.Key, at, mapping.Scalar(AcknowledgementSyntax.Keys.Because), entry.Key.Span));
        }
        return acknowledgements.ToEquatableArray();
    }

    private RolesSyntax? ReadRoles(YamlNode? node)
    {
        if (node is null) return null;
        var roles = new List<RoleSyntax>();
        if (node is YamlSequence sequence)
        {
            foreach (var item in sequence.Items)
                if (Scalar(item, "A role") is { } scalar && ValidName(scalar, "role")) roles.Add(new RoleSyntax(scalar, null));
        }
        else
        {
            foreach (var entry in Entries(node, "'roles'"))
                if (ValidName(entry.Key, "role")) roles.Add(new RoleSyntax(entry.Key, Doc(entry.Value)));
        }
        return new RolesSyntax(node.Span, roles.ToEquatableArray());
    }

    private WireSyntax? ReadWire(YamlNode? node)
    {
        var wire = Mapping(node, WireSyntax.Keys.All, "'wire'", "'wire'");
        if (wire is null) return null;
        var encoding = wire.Scalar(WireSyntax.Keys.Encoding);
        if (encoding is not null && encoding.Value != "json")
        {
            if (encoding.Value == "binary") Report(DiagnosticTable.NotImplemented, encoding.Span, "encoding: binary", "only JSON is generated so far");
            else Report(DiagnosticTable.InvalidValue, encoding.Span, encoding.Value, "'encoding'", "expected json (binary is planned)");
        }
        var discriminator = wire.Scalar(WireSyntax.Keys.Discriminator);
        if (discriminator is not null && !ValidName(discriminator, "discriminator field")) discriminator = null;
        return new WireSyntax(encoding, discriminator, wire.Scalar(WireSyntax.Keys.Malformed));
    }

    private EquatableArray<FieldSyntax> ReadFields(YamlNode? node, string what, string owner, KeySet keys)
    {
        var fields = new List<FieldSyntax>();
        foreach (var entry in Entries(node, what))
        {
            if (!ValidName(entry.Key, "field")) continue;
            if (ReadField(entry, owner, keys) is { } field) fields.Add(field);
        }
        return fields.ToEquatableArray();
    }

    private static readonly Regex s_type = new(@"^([A-Za-z0-9_]+)(?:<([^<>]*)>)?(\?)?$", RegexOptions.CultureInvariant);

    private FieldSyntax? ReadField(YamlEntry entry, string owner, KeySet keys)
    {
        var name = entry.Key.Value;
        var what = $"Field '{name}' of {owner}";
        if (entry.Value is not YamlMapping)
        {
            var shortType = Scalar(entry.Value, what);
            return shortType is null ? null
                : new FieldSyntax(entry.Key, ReadType(shortType), null, null, null, EquatableArray<ConstraintSyntax>.Empty, null, null, entry.Value.Span);
        }
        var body = Mapping(entry.Value, keys, what, $"field '{name}' of {owner}")!;
        var typeScalar = body.Scalar(FieldSyntax.Keys.Type);
        if (typeScalar is null) return null;

        var optional = body.Scalar(FieldSyntax.Keys.Optional);
        if (optional is not null && optional.Value is not ("true" or "false"))
        {
            Report(DiagnosticTable.InvalidValue, optional.Span, optional.Value, "'optional'", "expected true or false");
            optional = null;
        }

        DefaultSyntax? defaultValue = null;
        if (keys.Contains(FieldSyntax.Keys.Default) && body[FieldSyntax.Keys.Default] is { } defaultNode)
        {
            defaultValue = defaultNode switch
            {
                YamlScalar scalar => new DefaultSyntax(scalar.Span, scalar, EquatableArray<YamlScalar>.Empty, false, defaultNode.KindName),
                YamlSequence sequence => new DefaultSyntax(sequence.Span, null, sequence.Items.OfType<YamlScalar>().ToEquatableArray(),
                    sequence.Items.All(i => i is YamlScalar), defaultNode.KindName),
                _ => new DefaultSyntax(defaultNode.Span, null, EquatableArray<YamlScalar>.Empty, false, defaultNode.KindName),
            };
        }

        var constraints = new List<ConstraintSyntax>();
        foreach (var (key, kind) in FieldSyntax.Keys.Constraints)
        {
            if (!keys.Contains(key) || body.Entry(key) is not { } constraintEntry) continue;
            if (kind == ConstraintKind.OneOf)
            {
                var values = Sequence(constraintEntry.Value, "'one_of'");
                constraints.Add(new ConstraintSyntax(constraintEntry.Key, kind, null,
                    values is null ? EquatableArray<YamlScalar>.Empty : values.Items.Select(v => Scalar(v, "A value of 'one_of'")).Where(v => v is not null).Select(v => v!).ToEquatableArray()));
            }
            else
            {
                constraints.Add(new ConstraintSyntax(constraintEntry.Key, kind, Scalar(constraintEntry.Value, $"'{key.Name}'"), EquatableArray<YamlScalar>.Empty));
            }
        }

        YamlScalar? encodingKey = null, encoding = null;
        if (keys.Contains(FieldSyntax.Keys.Encoding) && body.Entry(FieldSyntax.Keys.Encoding) is { } encodingEntry)
        {
            encodingKey = encodingEntry.Key;
            encoding = Scalar(encodingEntry.Value, "'encoding'");
        }
        var wire = keys.Contains(FieldSyntax.Keys.Wire) ? body.Scalar(FieldSyntax.Keys.Wire) : null;
        var constant = keys.Contains(FieldSyntax.Keys.Const) ? body.Scalar(FieldSyntax.Keys.Const) : null;
        var secret = keys.Contains(FieldSyntax.Keys.Secret) ? body.Scalar(FieldSyntax.Keys.Secret) : null;
        var fields = keys.Contains(FieldSyntax.Keys.Fields) && body[FieldSyntax.Keys.Fields] is { } fieldsNode
            ? ReadFields(fieldsNode, $"The fields of '{name}'", $"the object '{name}' of {owner}", FieldSyntax.Keys.Message)
            : (EquatableArray<FieldSyntax>?)null;
        var enumValues = keys.Contains(FieldSyntax.Keys.Values) && body[FieldSyntax.Keys.Values] is { } valuesNode ? EnumValues(valuesNode) : null;
        return new FieldSyntax(entry.Key, ReadType(typeScalar), optional, defaultValue, Doc(body.Node), constraints.ToEquatableArray(), encodingKey, encoding, body.Span)
        {
            Wire = wire, Const = constant, Fields = fields, Values = enumValues, Secret = secret,
        };
    }

    /// <summary>An enum's values: a list of scalars.</summary>
    private EquatableArray<YamlScalar>? EnumValues(YamlNode node)
    {
        var sequence = Sequence(node, "'values'");
        return sequence?.Items.Select(v => Scalar(v, "A value of an enum")).Where(v => v is not null).Select(v => v!).ToEquatableArray();
    }

    private EquatableArray<TypeDeclarationSyntax> ReadTypes(YamlNode? node)
    {
        var types = new List<TypeDeclarationSyntax>();
        foreach (var entry in Entries(node, "'types'"))
        {
            var name = entry.Key.Value;
            if (!ValidName(entry.Key, "type")) continue;
            var body = Mapping(entry.Value, TypeDeclarationSyntax.Keys.All, $"Type '{name}'", $"type '{name}'");
            if (body is null) continue;
            var fields = body[TypeDeclarationSyntax.Keys.Fields] is { } fieldsNode
                ? ReadFields(fieldsNode, $"The fields of '{name}'", $"'{name}'", FieldSyntax.Keys.Message) : (EquatableArray<FieldSyntax>?)null;
            var values = body[TypeDeclarationSyntax.Keys.Values] is { } valuesNode ? EnumValues(valuesNode) : null;
            types.Add(new TypeDeclarationSyntax(entry.Key, Doc(body.Node), fields, values, body.Span));
        }
        return types.ToEquatableArray();
    }

    private static TypeSyntax ReadType(YamlScalar scalar)
    {
        var text = scalar.Value.Replace(" ", "");
        var match = s_type.Match(text);
        if (!match.Success) return new TypeSyntax(scalar, text.TrimEnd('?'), null, text.EndsWith("?"));
        return new TypeSyntax(scalar, match.Groups[1].Value, match.Groups[2].Success ? match.Groups[2].Value : null, match.Groups[3].Success);
    }

    private EquatableArray<ServiceSyntax> ReadServices(YamlNode? node)
    {
        var services = new List<ServiceSyntax>();
        foreach (var entry in Entries(node, "'services'"))
        {
            var name = entry.Key.Value;
            if (!ValidName(entry.Key, "service")) continue;
            // The keys a service accepts depend on its kind: read the kind first.
            var probe = entry.Value as YamlMapping;
            var kindNode = probe?[ServiceSyntax.Keys.Kind.Name];
            var kind = kindNode is YamlScalar kindScalar ? ServiceKinds.Find(kindScalar.Value) : null;
            var keys = kind is null ? ServiceSyntax.Keys.Common : ServiceSyntax.Keys.For(kind);
            var body = Mapping(entry.Value, keys, $"Service '{name}'", kind is null ? $"service '{name}'" : $"service '{name}' ({kind.Name})",
                checkKeys: kind is not null || kindNode is null);
            if (body is null) continue;
            var kindSyntax = body.Scalar(ServiceSyntax.Keys.Kind);
            if (kindSyntax is null) continue;
            var atNode = body[ServiceSyntax.Keys.At];
            var at = ReadRoleList(atNode);
            var settings = new List<SettingSyntax>();
            if (kind is not null)
                foreach (var setting in kind.Settings)
                    if (body.Entry(setting.Name) is { } settingEntry && Scalar(settingEntry.Value, $"'{setting.Name}'") is { } value)
                        settings.Add(new SettingSyntax(settingEntry.Key, value));
            var of = kind is { Generic: true } && body.Scalar(ServiceSyntax.Keys.Of) is { } ofScalar ? ReadType(ofScalar) : null;
            services.Add(new ServiceSyntax(entry.Key, kindSyntax, at.ToEquatableArray(), atNode?.Span ?? body.Span, of, Doc(body.Node), settings.ToEquatableArray(), body.Span));
        }
        return services.ToEquatableArray();
    }

    /// <summary><c>at: ROLE</c> or <c>at: [ROLE, ...]</c>.</summary>
    private List<YamlScalar> ReadRoleList(YamlNode? node)
    {
        var at = new List<YamlScalar>();
        if (node is YamlSequence list)
        {
            foreach (var item in list.Items)
                if (Scalar(item, "A role") is { } role) at.Add(role);
        }
        else if (node is not null && Scalar(node, "'at'") is { } role) at.Add(role);
        return at;
    }

    private EquatableArray<HookSyntax> ReadHooks(YamlNode? node)
    {
        var hooks = new List<HookSyntax>();
        foreach (var entry in Entries(node, "'hooks'"))
        {
            var name = entry.Key.Value;
            if (!ValidName(entry.Key, "hook")) continue;
            var body = Mapping(entry.Value, HookSyntax.Keys.All, $"Hook '{name}'", $"hook '{name}'");
            if (body is null) continue;
            var atNode = body[HookSyntax.Keys.At];
            var at = ReadRoleList(atNode);
            var inputs = ReadFields(body[HookSyntax.Keys.Inputs], $"The inputs of hook '{name}'", $"hook '{name}'", FieldSyntax.Keys.HookInput);
            var output = body.Scalar(HookSyntax.Keys.Output) is { } outputScalar ? ReadType(outputScalar) : null;
            if (output is null) continue;
            hooks.Add(new HookSyntax(entry.Key, at.ToEquatableArray(), atNode?.Span ?? body.Span, inputs, output, Doc(body.Node), body.Span));
        }
        return hooks.ToEquatableArray();
    }

    private EnvelopeSyntax? ReadEnvelope(YamlNode? node)
    {
        var envelope = Mapping(node, EnvelopeSyntax.Keys.All, "'envelope'", "'envelope'");
        if (envelope is null) return null;
        var name = envelope.Scalar(EnvelopeSyntax.Keys.Name);
        var payload = envelope.Scalar(EnvelopeSyntax.Keys.Payload);
        if (payload is not null && !ValidName(payload, "payload field")) payload = null;
        var fields = ReadFields(envelope[EnvelopeSyntax.Keys.Fields], "The fields of the envelope", $"'{name?.Value ?? "envelope"}'", FieldSyntax.Keys.Message);
        var set = envelope[EnvelopeSyntax.Keys.Set] is { } setNode ? ReadAssignments(setNode, "'set'") : null;
        var wrap = envelope.Scalar(EnvelopeSyntax.Keys.Wrap);
        var signature = SignatureFields(envelope[EnvelopeSyntax.Keys.Signature]);
        var require = ReadChecks(envelope[EnvelopeSyntax.Keys.Require], "'require'");
        if (wrap is not null)
        {
            // The plain form is a property name and nothing else.
            foreach (var key in new[] { EnvelopeSyntax.Keys.Name, EnvelopeSyntax.Keys.Payload, EnvelopeSyntax.Keys.Fields, EnvelopeSyntax.Keys.Set, EnvelopeSyntax.Keys.Signature, EnvelopeSyntax.Keys.Require })
                if (envelope.Entry(key) is { } extra)
                    Report(DiagnosticTable.InvalidValue, extra.Key.Span, key.Name, "a 'wrap' envelope", "it only names the property each message travels in; an envelope with fields has a 'name' instead");
            // The property's name is any JSON name but an empty one.
            if (wrap.Value.Length == 0)
            {
                Report(DiagnosticTable.InvalidValue, wrap.Span, "", "'wrap'", "the property every message travels in needs a name");
                return null;
            }
            return new EnvelopeSyntax(envelope.Span, null, null, EquatableArray<FieldSyntax>.Empty, null) { Wrap = wrap };
        }
        if (name is null)
        {
            Report(DiagnosticTable.MissingKey, envelope.Span, "'envelope'", "name", " (or 'wrap', for the plain form)");
            return null;
        }
        if (!ValidName(name, "envelope")) return null;
        return new EnvelopeSyntax(envelope.Span, name, payload, fields, set) { Signature = signature, Require = require };
    }

    /// <summary>A <c>signature</c> key: one field name, or a list of them.</summary>
    private EquatableArray<YamlScalar> SignatureFields(YamlNode? node) => node switch
    {
        YamlSequence list => list.Items.Select(i => Scalar(i, "A signature field")).Where(i => i is not null).Select(i => i!).ToEquatableArray(),
        { } one when Scalar(one, "'signature'") is { } field => new EquatableArray<YamlScalar>(new[] { field }),
        _ => EquatableArray<YamlScalar>.Empty,
    };

    private EquatableArray<MessageSyntax> ReadMessages(YamlNode? node)
    {
        var messages = new List<MessageSyntax>();
        foreach (var entry in Entries(node, "'messages'"))
        {
            _cancellationToken.ThrowIfCancellationRequested();
            var name = entry.Key.Value;
            if (!ValidName(entry.Key, "message")) continue;
            var body = Mapping(entry.Value, MessageSyntax.Keys.All, $"Message '{name}'", $"message '{name}'");
            if (body is null) continue;
            var fields = ReadFields(body[MessageSyntax.Keys.Fields], $"The fields of '{name}'", $"'{name}'", FieldSyntax.Keys.Message);
            ReportsSyntax? reports = null;
            if (Mapping(body[MessageSyntax.Keys.Reports], ReportsSyntax.Keys.All, $"'reports' of '{name}'", $"'reports' of '{name}'") is { } reportsBody
                && reportsBody.Scalar(ReportsSyntax.Keys.Code) is { } code)
                reports = new ReportsSyntax(reportsBody.Span, code, reportsBody.Scalar(ReportsSyntax.Keys.Detail));
            messages.Add(new MessageSyntax(entry.Key, Doc(body.Node), fields, reports, entry.Key.Span)
            {
                Wire = body.Scalar(MessageSyntax.Keys.Wire),
                Signature = SignatureFields(body[MessageSyntax.Keys.Signature]),
            });
        }
        return messages.ToEquatableArray();
    }

    private EquatableArray<ErrorSyntax> ReadErrors(YamlNode? node)
    {
        var errors = new List<ErrorSyntax>();
        foreach (var entry in Entries(node, "'errors'"))
        {
            if (!ValidName(entry.Key, "error code")) continue;
            if (entry.Value is YamlScalar text)
            {
                // "CODE: some text" documents the code.
                errors.Add(new ErrorSyntax(entry.Key, text.IsNull ? null : text.Value.Trim(), null, null, null, entry.Key.Span));
                continue;
            }
            var body = Mapping(entry.Value, ErrorSyntax.Keys.All, $"Error '{entry.Key.Value}'", $"error '{entry.Key.Value}'");
            if (body is null) continue;
            var set = body[ErrorSyntax.Keys.Set] is { } setNode ? ReadAssignments(setNode, "'set'") : null;
            var effects = body[ErrorSyntax.Keys.Do] is { } doNode ? ReadEffects(doNode, $"the 'do' of error '{entry.Key.Value}'") : null;
            errors.Add(new ErrorSyntax(entry.Key, Doc(body.Node), body.Scalar(ErrorSyntax.Keys.Send), set, effects, body.Span));
        }
        return errors.ToEquatableArray();
    }

    private EffectsSyntax? ReadEffects(YamlNode node, string what)
    {
        if (node is YamlScalar { IsNull: true }) return new EffectsSyntax(node.Span, EquatableArray<RoleEffectsSyntax>.Empty);
        if (node is not YamlMapping mapping)
        {
            Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a mapping (key: value lines)");
            return null;
        }
        var roles = new List<RoleEffectsSyntax>();
        foreach (var entry in mapping.Entries)
        {
            var items = entry.Value is YamlScalar single ? new List<YamlNode> { single } : Sequence(entry.Value, $"The effects of '{entry.Key.Value}'")?.Items.ToList();
            if (items is null) continue;
            var calls = new List<ExpressionText>();
            foreach (var item in items)
                if (Scalar(item, "An effect") is { } scalar && Expression(scalar) is { } call) calls.Add(call);
            roles.Add(new RoleEffectsSyntax(entry.Key, calls.ToEquatableArray()));
        }
        return new EffectsSyntax(mapping.Span, roles.ToEquatableArray());
    }

    private TimeoutsSyntax? ReadTimeouts(YamlNode? node)
    {
        var timeouts = Mapping(node, TimeoutsSyntax.Keys.All, "'timeouts'", "'timeouts'");
        if (timeouts is null) return null;
        return new TimeoutsSyntax(
            Duration(timeouts[TimeoutsSyntax.Keys.Handshake], "the handshake timeout"),
            Duration(timeouts[TimeoutsSyntax.Keys.Step], "the step timeout"),
            Duration(timeouts[TimeoutsSyntax.Keys.ClockSkew], "the clock skew"));
    }

    private FlowSyntax? ReadSteps(YamlNode node, string what)
    {
        var sequence = Sequence(node, what);
        if (sequence is null) return null;
        var steps = new List<StepSyntax>();
        foreach (var item in sequence.Items)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            if (ReadStep(item) is { } step) steps.Add(step);
        }
        return new FlowSyntax(sequence.Span, steps.ToEquatableArray());
    }

    private StepSyntax? ReadStep(YamlNode item)
    {
        if (item is YamlScalar { Value: "success", IsQuoted: false }) return new SuccessStepSyntax(item.Span);
        if (item is YamlMapping m && m[GotoStepSyntax.Keys.Goto.Name] is not null)
        {
            var step = Mapping(item, GotoStepSyntax.Keys.All, "A goto step", "a goto step")!;
            var label = step.Scalar(GotoStepSyntax.Keys.Goto);
            return label is null ? null : new GotoStepSyntax(item.Span, label);
        }
        if (item is YamlMapping f && f[FailStepSyntax.Keys.Fail.Name] is not null)
        {
            var step = Mapping(item, FailStepSyntax.Keys.All, "A fail step", "a fail step")!;
            var code = step.Scalar(FailStepSyntax.Keys.Fail);
            return code is null ? null : new FailStepSyntax(item.Span, code);
        }
        if (item is YamlMapping c && c[ChoiceStepSyntax.Keys.Choice.Name] is not null)
            return ReadChoice(item);
        if (item is YamlMapping stepMapping && stepMapping.Entries.Any(e => MessageStepSyntax.Keys.All.IsDynamicKey!(e.Key.Value)))
            return ReadMessageStep(stepMapping);
        if (item is YamlMapping or YamlScalar { IsNull: true })
            Report(DiagnosticTable.WrongNodeKind, item.Span, "A flow step", "a message ('sender -> receiver: message'), a 'choice', 'goto', 'fail' or 'success'");
        else
            Report(DiagnosticTable.WrongNodeKind, item.Span, "A flow step", "a mapping (key: value lines)");
        return null;
    }

    private MessageStepSyntax? ReadMessageStep(YamlMapping node)
    {
        var step = Mapping(node, MessageStepSyntax.Keys.All, "A message step", "a message step")!;
        var arrows = node.Entries.Where(e => MessageStepSyntax.Keys.All.IsDynamicKey!(e.Key.Value)).ToList();
        var arrow = arrows[0];
        foreach (var extra in arrows.Skip(1))
            Report(DiagnosticTable.BadStepRoles, extra.Key.Span, extra.Key.Value, "a step sends one message: it has one 'sender -> receiver' key");
        var parts = arrow.Key.Value.Split(new[] { "->" }, System.StringSplitOptions.None);
        var sender = parts.Length == 2 ? parts[0].Trim() : "";
        var receiver = parts.Length == 2 ? parts[1].Trim() : "";
        var message = Scalar(arrow.Value, $"The message of step '{arrow.Key.Value}'");
        if (message is null) return null;
        return new MessageStepSyntax(
            node.Span, arrow.Key, sender, receiver, message,
            ReadLets(step[MessageStepSyntax.Keys.Let]),
            ReadChecks(step[MessageStepSyntax.Keys.Ensure], "'ensure'"),
            step[MessageStepSyntax.Keys.Set] is { } set ? ReadAssignments(set, "'set'") : null,
            ReadChecks(step[MessageStepSyntax.Keys.Require], "'require'", out var receiverLets),
            step[MessageStepSyntax.Keys.Do] is { } effects ? ReadEffects(effects, "'do'") : null,
            Duration(step[MessageStepSyntax.Keys.Timeout], "the step timeout"),
            step.Scalar(MessageStepSyntax.Keys.Phase),
            Label(step.Scalar(MessageStepSyntax.Keys.Label))) { ReceiverLets = receiverLets };
    }

    private ChoiceStepSyntax? ReadChoice(YamlNode node)
    {
        var step = Mapping(node, ChoiceStepSyntax.Keys.All, "A choice", "a choice")!;
        var chooser = step.Scalar(ChoiceStepSyntax.Keys.Choice);
        var branchesNode = step[ChoiceStepSyntax.Keys.Branches];
        var branches = new List<BranchSyntax>();
        if (branchesNode is not null && Sequence(branchesNode, "'branches'") is { } list)
        {
            foreach (var item in list.Items)
            {
                var branch = Mapping(item, BranchSyntax.Keys.All, "A branch", "a branch");
                if (branch is null) continue;
                var whenNode = branch[BranchSyntax.Keys.When];
                var when = Scalar(whenNode, "'when'") is { } whenScalar ? Expression(whenScalar) : null;
                var stepsNode = branch[BranchSyntax.Keys.Steps];
                var steps = stepsNode is null ? null : ReadSteps(stepsNode, "'steps'");
                if (steps is null) continue;
                branches.Add(new BranchSyntax(branch.Span, when, whenNode is not null, whenNode?.Span ?? branch.Span, steps));
            }
        }
        if (chooser is null || branchesNode is null) return null;
        if (branchesNode is YamlSequence { Items.Count: < 2 } few)
        {
            Report(DiagnosticTable.InvalidValue, few.Span, few.Items.Count + " branch", "'branches'", "a choice needs two or more branches");
            return null;
        }
        return new ChoiceStepSyntax(node.Span, chooser, branches.ToEquatableArray(), ReadLets(step[ChoiceStepSyntax.Keys.Let]),
            step.Scalar(ChoiceStepSyntax.Keys.Phase), Label(step.Scalar(ChoiceStepSyntax.Keys.Label)), Duration(step[ChoiceStepSyntax.Keys.Timeout], "the step timeout"));
    }

    private YamlScalar? Label(YamlScalar? label) => label is not null && ValidName(label, "label") ? label : null;

    private EquatableArray<LetSyntax> ReadLets(YamlNode? node)
    {
        var lets = new List<LetSyntax>();
        foreach (var entry in Entries(node, "'let'"))
        {
            if (!ValidName(entry.Key, "let")) continue;
            if (Scalar(entry.Value, $"let '{entry.Key.Value}'") is { } scalar && Expression(scalar) is { } value)
                lets.Add(new LetSyntax(entry.Key, value));
        }
        return lets.ToEquatableArray();
    }

    private EquatableArray<CheckSyntax> ReadChecks(YamlNode? node, string what)
    {
        var checks = ReadChecks(node, what, out var lets, allowLets: false);
        return checks;
    }

    /// <summary>
    /// A list of checks; with <paramref name="allowLets"/>, items may also be <c>let: { name: value }</c> mappings, the
    /// receiver's lets, each placed after the checks before it.
    /// </summary>
    private EquatableArray<CheckSyntax> ReadChecks(YamlNode? node, string what, out EquatableArray<PositionedLetSyntax> lets, bool allowLets = true)
    {
        var checks = new List<CheckSyntax>();
        var positioned = new List<PositionedLetSyntax>();
        lets = EquatableArray<PositionedLetSyntax>.Empty;
        if (node is null || Sequence(node, what) is not { } sequence) return checks.ToEquatableArray();
        foreach (var item in sequence.Items)
        {
            if (allowLets && item is YamlMapping mapping)
            {
                var body = Mapping(mapping, MessageStepSyntax.Keys.RequireItem, "A let among the checks", "a let among the checks");
                if (body?[MessageStepSyntax.Keys.RequireLet] is { } letNode)
                    foreach (var let in ReadLets(letNode)) positioned.Add(new PositionedLetSyntax(checks.Count, let));
                continue;
            }
            if (Scalar(item, allowLets ? "A check (or a 'let:' mapping)" : "A check") is { } scalar && Check(scalar) is { } check) checks.Add(check);
        }
        lets = positioned.ToEquatableArray();
        return checks.ToEquatableArray();
    }


    private AssignmentsSyntax? ReadAssignments(YamlNode node, string what)
    {
        if (node is YamlScalar { IsNull: true }) return new AssignmentsSyntax(node.Span, EquatableArray<AssignmentSyntax>.Empty);
        if (node is not YamlMapping mapping)
        {
            Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a mapping (key: value lines)");
            return null;
        }
        var entries = new List<AssignmentSyntax>();
        // A value that does not parse is reported here; its field still counts as set, so no DSL116 follows.
        foreach (var entry in mapping.Entries)
            entries.Add(new AssignmentSyntax(entry.Key, Value(entry.Value, $"field '{entry.Key.Value}'")));
        return new AssignmentsSyntax(mapping.Span, entries.ToEquatableArray());
    }

    /// <summary>A value under <c>set</c>: a quoted or block scalar is a string literal, a plain one an expression, a list a list.</summary>
    private ValueSyntax? Value(YamlNode node, string what)
    {
        switch (node)
        {
            case YamlScalar { IsQuoted: true } or YamlScalar { Style: ScalarStyle.Block }:
            {
                var scalar = (YamlScalar)node;
                return new ExpressionValueSyntax(scalar.Span, new ExpressionText(scalar, new LiteralSyntax(0, scalar.Value.Length, LiteralKind.String, scalar.Value)));
            }
            case YamlScalar scalar:
                return Expression(scalar) is { } expression ? new ExpressionValueSyntax(scalar.Span, expression) : null;
            case YamlSequence sequence:
            {
                var items = new List<ValueSyntax>();
                foreach (var item in sequence.Items)
                {
                    var value = Value(item, what + " item");
                    if (value is null) return null;
                    items.Add(value);
                }
                return new ListValueSyntax(sequence.Span, items.ToEquatableArray());
            }
            case YamlMapping mapping:
            {
                // An object's value: its fields, each a value.
                var entries = new List<AssignmentSyntax>();
                foreach (var entry in mapping.Entries)
                {
                    var value = Value(entry.Value, $"field '{entry.Key.Value}'");
                    if (value is null) return null;
                    entries.Add(new AssignmentSyntax(entry.Key, value));
                }
                return new ObjectValueSyntax(mapping.Span, new AssignmentsSyntax(mapping.Span, entries.ToEquatableArray()));
            }
            default:
                Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a value (a scalar, a list or a mapping)");
                return null;
        }
    }

    private OutcomeSyntax? ReadOutcome(YamlNode? node)
    {
        if (node is null) return null;
        var roles = new List<RoleOutcomeSyntax>();
        foreach (var entry in Entries(node, "'outcome'"))
        {
            var values = new List<OutcomeValueSyntax>();
            foreach (var value in Entries(entry.Value, $"The outcome of '{entry.Key.Value}'"))
            {
                if (!ValidName(value.Key, "outcome")) continue;
                if (Scalar(value.Value, $"Outcome '{value.Key.Value}'") is { } scalar && Expression(scalar) is { } expression)
                    values.Add(new OutcomeValueSyntax(value.Key, expression));
            }
            roles.Add(new RoleOutcomeSyntax(entry.Key, values.ToEquatableArray()));
        }
        return new OutcomeSyntax(node.Span, roles.ToEquatableArray());
    }

    private SessionSyntax? ReadSession(YamlNode? node)
    {
        var session = Mapping(node, SessionSyntax.Keys.All, "'session'", "'session'");
        if (session is null) return null;
        var channel = ReadChannel(session[SessionSyntax.Keys.Channel]);
        var heartbeatKey = session.Entry(SessionSyntax.Keys.Heartbeat)?.Key;
        var heartbeat = Mapping(session[SessionSyntax.Keys.Heartbeat], HeartbeatSyntax.Keys.All, "'heartbeat'", "'heartbeat'");
        if (heartbeat is null) return new SessionSyntax(session.Span, heartbeatKey, null) { Channel = channel };
        var pinger = heartbeat.Scalar(HeartbeatSyntax.Keys.Pinger);
        var interval = heartbeat.Scalar(HeartbeatSyntax.Keys.IntervalMs) is { } intervalScalar ? Expression(intervalScalar) : null;
        HeartbeatPartSyntax? Part(SyntaxKey key)
        {
            var part = Mapping(heartbeat[key], HeartbeatPartSyntax.Keys.All, $"'{key.Name}'", $"'{key.Name}'");
            if (part is null || part.Scalar(HeartbeatPartSyntax.Keys.Message) is not { } message) return null;
            var set = part[HeartbeatPartSyntax.Keys.Set] is { } setNode ? ReadAssignments(setNode, "'set'") : null;
            return new HeartbeatPartSyntax(part.Span, message, set);
        }
        var ping = Part(HeartbeatSyntax.Keys.Ping);
        var pong = Part(HeartbeatSyntax.Keys.Pong);
        if (pinger is null || ping is null || pong is null) return new SessionSyntax(session.Span, heartbeatKey, null) { Channel = channel };
        return new SessionSyntax(session.Span, heartbeatKey, new HeartbeatSyntax(heartbeat.Span, pinger, interval, heartbeat.Scalar(HeartbeatSyntax.Keys.Missed), ping, pong)) { Channel = channel };
    }

    private ChannelSyntax? ReadChannel(YamlNode? node)
    {
        var channel = Mapping(node, ChannelSyntax.KeyNames.All, "'channel'", "'session.channel'");
        if (channel is null) return null;
        var cipher = channel.Scalar(ChannelSyntax.KeyNames.Cipher);
        var keys = new List<ChannelKeysSyntax>();
        foreach (var entry in Entries(channel[ChannelSyntax.KeyNames.KeysKey], "'keys'"))
        {
            var role = Mapping(entry.Value, ChannelKeysSyntax.Keys.All, $"The keys of '{entry.Key.Value}'", $"the channel keys of '{entry.Key.Value}'");
            if (role?.Scalar(ChannelKeysSyntax.Keys.Send) is { } send && role.Scalar(ChannelKeysSyntax.Keys.Receive) is { } receive)
                keys.Add(new ChannelKeysSyntax(entry.Key, send, receive));
        }
        return cipher is null ? null : new ChannelSyntax(channel.Span, cipher, channel.Scalar(ChannelSyntax.KeyNames.Binding), keys.ToEquatableArray());
    }

    // ---- Reading nodes ------------------------------------------------------------------------

    /// <summary>
    /// A mapping read through its key set: a repeated key is DSL003, an unknown one DSL002, a missing required one
    /// DSL005, a designed one DSL110. A YAML null reads as an empty mapping. Null (after DSL004) for another node.
    /// </summary>
    private KeyedMapping? Mapping(YamlNode? node, KeySet keys, string what, string where, bool checkKeys = true)
    {
        if (node is null) return null;
        YamlMapping mapping;
        if (node is YamlMapping m) mapping = m;
        else if (node is YamlScalar { IsNull: true }) mapping = new YamlMapping(node.Span, EquatableArray<YamlEntry>.Empty);
        else
        {
            Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a mapping (key: value lines)");
            return null;
        }
        var seen = new HashSet<string>();
        foreach (var entry in mapping.Entries)
        {
            var name = entry.Key.Value;
            if (!seen.Add(name))
            {
                Report(DiagnosticTable.DuplicateKey, entry.Key.Span, name, where);
                continue;
            }
            var key = keys.Find(name);
            if (key?.Designed is { } why) Report(DiagnosticTable.NotImplemented, entry.Key.Span, name, why);
            else if (key is null && checkKeys && keys.IsDynamicKey?.Invoke(name) != true)
            {
                // In { a: b, c }, a comma in an unquoted value makes its tail a key with no value.
                var hint = entry.Value is YamlScalar { IsNull: true } ? " (a comma in an unquoted value splits it in a { } mapping; quote that value)" : "";
                Report(DiagnosticTable.UnknownKey, entry.Key.Span, name, where, keys.Expected + hint);
            }
        }
        foreach (var key in keys.Keys)
            if (key.Required && mapping[key.Name] is null)
                Report(DiagnosticTable.MissingKey, mapping.Span, what, key.Name, " (" + char.ToLowerInvariant(key.Doc[0]) + key.Doc.Substring(1).TrimEnd('.') + ")");
        return new KeyedMapping(mapping, keys, this, where);
    }

    /// <summary>A mapping whose keys are names the spec declares (roles, messages, fields): its entries, repeats included.</summary>
    private IReadOnlyList<YamlEntry> Entries(YamlNode? node, string what)
    {
        if (node is null || node is YamlScalar { IsNull: true }) return new YamlEntry[0];
        if (node is YamlMapping mapping) return mapping.Entries.ToList();
        Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a mapping (key: value lines)");
        return new YamlEntry[0];
    }

    private YamlSequence? Sequence(YamlNode? node, string what)
    {
        if (node is null) return null;
        if (node is YamlSequence sequence) return sequence;
        Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a sequence (a list of '- ' items)");
        return null;
    }

    private YamlScalar? Scalar(YamlNode? node, string what)
    {
        if (node is null) return null;
        if (node is YamlScalar scalar) return scalar;
        Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a single value");
        return null;
    }

    private static string? Doc(YamlNode? node) => node switch
    {
        YamlMapping mapping => mapping["doc"] is YamlScalar { IsNull: false } doc ? doc.Value.Trim() : null,
        YamlScalar { IsNull: false } text => text.Value.Trim(),
        _ => null,
    };

    private bool ValidName(YamlScalar scalar, string kind)
    {
        // Only the protocol's name may hold '-': every other name can appear in expressions, where '-' is minus.
        if (IsName(scalar.Value) && (kind == "protocol" || !scalar.Value.Contains("-"))) return true;
        Report(DiagnosticTable.InvalidName, scalar.Span, scalar.Value, kind);
        return false;
    }

    private static bool IsName(string value)
    {
        if (value.Length == 0 || !char.IsLetter(value[0]) || value[0] > 127) return false;
        foreach (var c in value)
            if (!(c < 128 && (char.IsLetterOrDigit(c) || c == '_' || c == '-'))) return false;
        return true;
    }

    /// <summary>Parses 10s, 500ms, 2m into milliseconds (DSL006 otherwise).</summary>
    private DurationSyntax? Duration(YamlNode? node, string what)
    {
        var scalar = Scalar(node, what);
        if (scalar is null) return null;
        if (DurationSyntax.TryParse(scalar.Value, out var milliseconds)) return new DurationSyntax(scalar, milliseconds);
        Report(DiagnosticTable.InvalidValue, scalar.Span, scalar.Value, what, DurationSyntax.Rule);
        return null;
    }

    /// <summary>A scalar read as an expression; DSL201 (and null) when it does not parse.</summary>
    private ExpressionText? Expression(YamlScalar scalar)
    {
        try
        {
            return new ExpressionText(scalar, ExpressionParser.ParseExpression(scalar.Value));
        }
        catch (ExprSyntaxException ex)
        {
            Report(DiagnosticTable.ExpressionSyntax, new ExpressionText(scalar, new NameSyntax(0, 0, "")).At(ex.Offset, ex.ErrorLength), ex.Message);
            return null;
        }
    }

    /// <summary>A scalar read as <c>condition else CODE</c>.</summary>
    private CheckSyntax? Check(YamlScalar scalar)
    {
        var at = new ExpressionText(scalar, new NameSyntax(0, 0, ""));
        try
        {
            var (condition, code, codeStart) = ExpressionParser.ParseCheck(scalar.Value);
            if (code is null)
            {
                Report(DiagnosticTable.ExpressionSyntax, at.At(scalar.Value.Length, 0), "a check ends with 'else ERROR_CODE' naming the error it raises");
                return null;
            }
            return new CheckSyntax(new ExpressionText(scalar, condition), code, codeStart);
        }
        catch (ExprSyntaxException ex)
        {
            Report(DiagnosticTable.ExpressionSyntax, at.At(ex.Offset, ex.ErrorLength), ex.Message);
            return null;
        }
    }

    /// <summary>A YAML mapping read through a key set: lookups name a <see cref="SyntaxKey"/> of that set.</summary>
    private sealed class KeyedMapping(YamlMapping mapping, KeySet keys, SpecParser parser, string where)
    {
        public YamlMapping Node => mapping;

        public SourceSpan Span => mapping.Span;

        public YamlNode? this[SyntaxKey key] => Entry(key)?.Value;

        public YamlEntry? Entry(SyntaxKey key)
        {
            if (!keys.Contains(key)) throw new System.InvalidOperationException($"'{key.Name}' is not a key of {keys.Place}.");
            return mapping.Entry(key.Name);
        }

        /// <summary>Looks up a setting key that a kind adds to the set.</summary>
        public YamlEntry? Entry(string settingName) => keys.Find(settingName) is { } key ? Entry(key) : null;

        public YamlScalar? Scalar(SyntaxKey key) => this[key] is { } node ? parser.Scalar(node, $"'{key.Name}' of {where}") : null;
    }
}
