using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Dsl.Generator.Binding.Expressions;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Model;
using Dsl.Generator.Projection;
using Dsl.Generator.Syntax;

namespace Dsl.Generator.Binding;

/// <summary>The bind stage's output for one spec: the model (null when the spec has errors) and the diagnostics.</summary>
internal sealed record BindResult(ProtocolModel? Model, EquatableArray<SpecDiagnostic> Diagnostics);

/// <summary>
/// Bind stage: reads the YAML tree, declares roles, messages, inputs, services and errors, binds the flow
/// and every expression, and projects the flow onto each role. Never throws on bad input.
/// </summary>
internal static class SpecBinder
{
    private static readonly string[] s_topKeys =
        { "protocol", "version", "description", "namespace", "roles", "wire", "inputs", "services", "messages", "errors", "on_failure", "timeouts", "flow", "outcome", "session", "extends", "hooks", "envelope", "on_error", "types", "retry" };

    /// <summary>Keys of the language's design that the generator does not implement yet, and what to do meanwhile.</summary>
    private static readonly (string Key, string Why)[] s_designed =
    {
        ("extends", "specs cannot extend other specs yet; copy the base spec for now"),
        ("hooks", "application hooks are not generated yet"),
        ("on_error", "write the effects of an error under the error's own 'do', and those of any failure under 'on_failure'"),
        ("types", "named object types (nested messages) are not generated yet"),
        ("retry", "handshake-level retries are not generated yet; lossy transports retransmit on their own"),
    };

    public static BindResult Bind(SpecSyntax syntax, CancellationToken cancellationToken)
    {
        if (syntax.Root is null) return new BindResult(null, syntax.Diagnostics);
        var context = new BindingContext(syntax.FilePath, cancellationToken);
        ProtocolModel? model;
        try
        {
            model = BindProtocol(context, syntax.Root);
        }
        catch (System.OperationCanceledException)
        {
            throw;
        }
        catch (System.Exception ex)
        {
            // A bug in the binder must not crash the compiler: report it on the spec instead.
            context.Report(DiagnosticTable.GeneratorFailure, new SourceSpan(1, 1, 0, 0), ex.GetType().Name + ": " + ex.Message);
            model = null;
        }
        var diagnostics = context.Diagnostics.ToEquatableArray();
        return new BindResult(diagnostics.IsEmpty ? model : null, diagnostics);
    }

    private static ProtocolModel? BindProtocol(BindingContext context, YamlNode rootNode)
    {
        var root = context.AsMapping(rootNode, "A spec");
        if (root is null) return null;
        context.CheckKeys(root, "the spec", s_topKeys);

        foreach (var (key, why) in s_designed)
        {
            var entry = root.Entry(key);
            if (entry is not null) context.Report(DiagnosticTable.NotImplemented, entry.Key.Span, key, why);
        }

        var nameScalar = context.Required(root, "protocol", "The spec");
        var versionScalar = context.Required(root, "version", "The spec");
        if (nameScalar is null || versionScalar is null || !context.ValidName(nameScalar, "protocol")) return null;
        var name = nameScalar.Value;
        var prefix = BindingContext.Pascal(name);
        context.Prefix = prefix;
        var ns = context.Text(root, "namespace", "'namespace'") ?? "Dsl.Protocols." + prefix;
        if (!ns.Split('.').All(part => part.Length > 0 && (char.IsLetter(part[0]) || part[0] == '_') && part.All(c => char.IsLetterOrDigit(c) || c == '_')))
            context.Report(DiagnosticTable.InvalidValue, root["namespace"]!.Span, ns, "'namespace'", "a C# namespace is dot-separated identifiers");

        BindRoles(context, root);
        var (discriminator, malformed) = BindWire(context, root);
        var messages = BindMessages(context, root, discriminator);
        BindInputs(context, root);
        BindServices(context, root);
        var errorSyntax = DeclareErrors(context, root);
        if (malformed is not null && !context.ErrorCodes.Contains(malformed.Value))
            context.Report(DiagnosticTable.UnknownErrorCode, malformed.Span, malformed.Value);

        long handshakeTimeout = 30_000, stepTimeout = 10_000;
        var timeouts = context.AsMapping(root["timeouts"], "'timeouts'");
        if (timeouts is not null)
        {
            context.CheckKeys(timeouts, "'timeouts'", "handshake", "step");
            if (timeouts["handshake"] is { } h) handshakeTimeout = context.Duration(h, "the handshake timeout") ?? handshakeTimeout;
            if (timeouts["step"] is { } s) stepTimeout = context.Duration(s, "the step timeout") ?? stepTimeout;
        }

        if (context.Roles.Count != 2 || messages is null) return null;

        var binder = new ExpressionBinder(context);
        DeclareEnvelope(context, root, discriminator);
        var errors = BindErrors(context, binder, errorSyntax, root);
        var flow = FlowBinder.Bind(context, binder, root);
        if (flow is null) return null;
        var envelope = BindEnvelope(context, binder, root);
        errors = BindErrorEffects(context, binder, root, flow, errors, malformed?.Value ?? Runtime.MalformedCode);
        var failureActions = BindFailureEffects(context, binder, root, flow);

        var outcomes = BindOutcome(context, binder, root, flow);
        var heartbeat = BindSession(context, binder, root, flow);

        ReportUnusedMessages(context, root, flow, errors, heartbeat);
        if (context.HasErrors) return null;

        var roles = context.Roles.Select(role => RoleProjector.Project(
            role, prefix, roleDoc: RoleDoc(root, role), context, flow, outcomes[role])).ToEquatableArray();

        return new ProtocolModel(
            context.FilePath, name, versionScalar.Value, context.Text(root, "description", "'description'")?.Trim(), ns, prefix,
            discriminator, malformed?.Value ?? Runtime.MalformedCode,
            messages.ToEquatableArray(), errors.ToEquatableArray(), roles, heartbeat,
            handshakeTimeout, stepTimeout, nameScalar.Span, envelope, failureActions);
    }

    private static string? RoleDoc(YamlMapping root, string role)
        => root["roles"] is YamlMapping roles && roles[role] is YamlScalar { IsNull: false } doc ? doc.Value.Trim() : null;

    private static void BindRoles(BindingContext context, YamlMapping root)
    {
        var node = root["roles"];
        if (node is null)
        {
            context.Report(DiagnosticTable.MissingKey, root.Span, "The spec", "roles");
            return;
        }
        var names = new List<YamlScalar>();
        if (node is YamlSequence sequence)
        {
            foreach (var item in sequence.Items)
                if (context.AsScalar(item, "A role") is { } scalar) names.Add(scalar);
        }
        else if (context.AsMapping(node, "'roles'") is { } mapping)
        {
            context.CheckKeys(mapping, "'roles'", mapping.Entries.Select(e => e.Key.Value).Distinct().ToArray());
            names.AddRange(mapping.Entries.Select(e => e.Key));
        }
        foreach (var scalar in names)
        {
            if (!context.ValidName(scalar, "role")) continue;
            if (context.Roles.Contains(scalar.Value)) context.Report(DiagnosticTable.DuplicateKey, scalar.Span, scalar.Value, "'roles'");
            else context.Roles.Add(scalar.Value);
        }
        if (context.Roles.Count != 2) context.Report(DiagnosticTable.RoleCount, node.Span, context.Roles.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var role in context.Roles) context.Inputs[role] = new List<FieldModel>();
    }

    private static (string Discriminator, YamlScalar? Malformed) BindWire(BindingContext context, YamlMapping root)
    {
        var wire = context.AsMapping(root["wire"], "'wire'");
        if (wire is null) return ("type", null);
        context.CheckKeys(wire, "'wire'", "encoding", "discriminator", "malformed");
        if (context.AsScalar(wire["encoding"], "'encoding'") is { } encoding && encoding.Value != "json")
        {
            if (encoding.Value == "binary")
                context.Report(DiagnosticTable.NotImplemented, encoding.Span, "encoding: binary", "only JSON is generated so far");
            else
                context.Report(DiagnosticTable.InvalidValue, encoding.Span, encoding.Value, "'encoding'", "expected json (binary is planned)");
        }
        var discriminator = "type";
        if (context.AsScalar(wire["discriminator"], "'discriminator'") is { } d && context.ValidName(d, "discriminator field"))
            discriminator = d.Value;
        return (discriminator, context.AsScalar(wire["malformed"], "'malformed'"));
    }

    private static List<MessageModel>? BindMessages(BindingContext context, YamlMapping root, string discriminator)
    {
        var node = root["messages"];
        if (node is null)
        {
            context.Report(DiagnosticTable.MissingKey, root.Span, "The spec", "messages");
            return null;
        }
        var mapping = context.AsMapping(node, "'messages'");
        if (mapping is null) return null;
        var result = new List<MessageModel>();
        var typeNames = new Dictionary<string, string>();
        foreach (var entry in mapping.Entries)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            var name = entry.Key.Value;
            if (context.MessagesByName.ContainsKey(name))
            {
                context.Report(DiagnosticTable.DuplicateMessage, entry.Key.Span, name);
                continue;
            }
            if (!context.ValidName(entry.Key, "message")) continue;
            var typeName = BindingContext.Pascal(name);
            if (ReservedTypeName(context, typeName) is { } reserved)
            {
                context.Report(DiagnosticTable.NameCollision, entry.Key.Span, reserved, name, typeName);
                continue;
            }
            if (typeNames.TryGetValue(typeName, out var other))
            {
                context.Report(DiagnosticTable.NameCollision, entry.Key.Span, other, name, typeName);
                continue;
            }
            typeNames[typeName] = name;

            var body = context.AsMapping(entry.Value, $"Message '{name}'");
            if (body is null) continue;
            context.CheckKeys(body, $"message '{name}'", "doc", "fields", "reports");
            var fields = BindFields(context, context.AsMapping(body["fields"], $"The fields of '{name}'"), $"'{name}'", discriminator, isMessage: true);
            if (fields.Count > 64) context.Report(DiagnosticTable.TooManyFields, entry.Key.Span, name, fields.Count.ToString(CultureInfo.InvariantCulture));

            string? reportsCode = null, reportsDetail = null;
            if (context.AsMapping(body["reports"], $"'reports' of '{name}'") is { } reports)
            {
                context.CheckKeys(reports, $"'reports' of '{name}'", "code", "detail");
                var code = context.AsScalar(reports["code"], "'code'");
                if (code is null) context.Report(DiagnosticTable.MissingKey, reports.Span, $"'reports' of '{name}'", "code");
                else if (fields.FirstOrDefault(f => f.Name == code.Value) is not { Type.Kind: TypeKind.String, Optional: false })
                    context.Report(DiagnosticTable.ErrorMessageShape, code.Span, name, $"'code' must name a required string field; '{code.Value}' is not one");
                else reportsCode = code.Value;
                var detail = context.AsScalar(reports["detail"], "'detail'");
                if (detail is not null)
                {
                    if (fields.FirstOrDefault(f => f.Name == detail.Value) is not { Type.Kind: TypeKind.String })
                        context.Report(DiagnosticTable.ErrorMessageShape, detail.Span, name, $"'detail' must name a string field; '{detail.Value}' is not one");
                    else reportsDetail = detail.Value;
                }
            }
            var model = new MessageModel(name, typeName, Doc(body), fields.ToEquatableArray(), reportsCode, reportsDetail, result.Count);
            if (result.Count < 64)
            {
                context.MessagesByName[name] = model;
                result.Add(model);
            }
            else context.Report(DiagnosticTable.InvalidValue, entry.Key.Span, name, "'messages'", "a protocol has at most 64 messages");
        }
        return result;
    }

    /// <summary>The generated type a message's C# name would collide with, if any.</summary>
    private static string? ReservedTypeName(BindingContext context, string typeName)
    {
        var prefix = context.Prefix;
        if (typeName == prefix + "Message" || typeName == prefix + "Codec" || typeName == prefix + "ErrorCodes") return "the generated type";
        foreach (var role in context.Roles)
        {
            var machine = prefix + BindingContext.Pascal(role);
            if (typeName == machine || typeName == machine + "Inputs" || typeName == machine + "Services" || typeName == machine + "Result" || typeName == machine + "State")
                return "the generated type";
        }
        return null;
    }

    private static string? Doc(YamlMapping mapping) => mapping["doc"] is YamlScalar { IsNull: false } doc ? doc.Value.Trim() : null;

    private static List<FieldModel> BindFields(BindingContext context, YamlMapping? mapping, string owner, string? discriminator, bool isMessage)
    {
        var fields = new List<FieldModel>();
        if (mapping is null) return fields;
        var properties = new Dictionary<string, string>();
        foreach (var entry in mapping.Entries)
        {
            var name = entry.Key.Value;
            if (fields.Any(f => f.Name == name))
            {
                context.Report(DiagnosticTable.DuplicateField, entry.Key.Span, name, owner);
                continue;
            }
            if (!context.ValidName(entry.Key, "field")) continue;
            if (name == discriminator)
            {
                context.Report(DiagnosticTable.ReservedField, entry.Key.Span, name, owner.Trim('\'', ' '));
                continue;
            }
            var property = BindingContext.Pascal(name);
            if (properties.TryGetValue(property, out var other))
            {
                context.Report(DiagnosticTable.NameCollision, entry.Key.Span, other, name, property);
                continue;
            }
            if (isMessage && property is "MessageType" or "WireName" or "EqualityContract")
            {
                context.Report(DiagnosticTable.NameCollision, entry.Key.Span, "the generated member", name, property);
                continue;
            }
            properties[property] = name;
            var field = BindField(context, entry, owner, property, isMessage);
            if (field is not null) fields.Add(field);
        }
        return fields;
    }

    private static readonly string[] s_fieldKeys = { "type", "optional", "default", "doc", "min_length", "max_length", "min", "max", "pattern", "one_of", "encoding" };
    private static readonly string[] s_inputKeys = { "type", "optional", "default", "doc", "min_length", "max_length", "min", "max", "pattern", "one_of" };

    private static FieldModel? BindField(BindingContext context, YamlEntry entry, string owner, string property, bool isMessage)
    {
        var name = entry.Key.Value;
        YamlScalar? typeScalar;
        YamlMapping? body = null;
        if (entry.Value is YamlMapping mapping)
        {
            body = mapping;
            context.CheckKeys(mapping, $"field '{name}' of {owner}", isMessage ? s_fieldKeys : s_inputKeys);
            typeScalar = context.Required(mapping, "type", $"Field '{name}' of {owner}");
        }
        else typeScalar = context.AsScalar(entry.Value, $"Field '{name}' of {owner}");
        if (typeScalar is null) return null;
        var typeText = typeScalar.Value.Replace(" ", "");
        var optional = false;
        if (typeText.EndsWith("?"))
        {
            optional = true;
            typeText = typeText.Substring(0, typeText.Length - 1);
        }
        if (!Catalog.TryParseType(typeText, allowKeys: !isMessage, out var type))
        {
            context.Report(DiagnosticTable.UnknownType, typeScalar.Span, typeScalar.Value, Catalog.TypeNames);
            return null;
        }
        if (body is null) return new FieldModel(name, property, type, optional, null, null, Constraints.None);

        var encoding = "hex";
        if (body.Entry("encoding") is { } encodingEntry)
        {
            if (type.Kind != TypeKind.Bytes) context.Report(DiagnosticTable.ConstraintMismatch, encodingEntry.Key.Span, "encoding", type.ToString());
            else if (context.AsScalar(encodingEntry.Value, "'encoding'") is { } encodingScalar)
            {
                if (encodingScalar.Value is "hex" or "base64") encoding = encodingScalar.Value;
                else context.Report(DiagnosticTable.InvalidValue, encodingScalar.Span, encodingScalar.Value, "'encoding'", "bytes travel as hex or base64");
            }
        }

        if (context.AsScalar(body["optional"], "'optional'") is { } optionalScalar)
        {
            if (optionalScalar.Value is "true" or "false") optional |= optionalScalar.Value == "true";
            else context.Report(DiagnosticTable.InvalidValue, optionalScalar.Span, optionalScalar.Value, "'optional'", "expected true or false");
        }
        string? defaultLiteral = null;
        if (body["default"] is { } defaultNode)
        {
            defaultLiteral = DefaultLiteral(context, defaultNode, type);
            optional = true;
        }
        var constraints = BindConstraints(context, body, type);
        return new FieldModel(name, property, type, optional, defaultLiteral, Doc(body), constraints, encoding);
    }

    private static string? DefaultLiteral(BindingContext context, YamlNode node, TypeRef type)
    {
        if (type.Kind == TypeKind.List && node is YamlSequence sequence && type.Element == TypeKind.String)
        {
            var items = sequence.Items.OfType<YamlScalar>().Select(i => ExpressionBinder.Literal(i.Value)).ToList();
            if (items.Count == sequence.Items.Count)
                return "new string[] { " + string.Join(", ", items) + " }";
        }
        if (node is YamlScalar scalar)
        {
            switch (type.Kind)
            {
                case TypeKind.String: return ExpressionBinder.Literal(scalar.Value);
                case TypeKind.Int when long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number):
                    return number.ToString(CultureInfo.InvariantCulture) + "L";
                case TypeKind.Bool when scalar.Value is "true" or "false": return scalar.Value;
            }
        }
        context.Report(DiagnosticTable.BadDefault, node.Span, node is YamlScalar s ? s.Value : "(" + node.KindName + ")", type.ToString());
        return null;
    }

    private static Constraints BindConstraints(BindingContext context, YamlMapping body, TypeRef type)
    {
        long? Number(string key, bool applies)
        {
            var entry = body.Entry(key);
            if (entry is null) return null;
            if (!applies)
            {
                context.Report(DiagnosticTable.ConstraintMismatch, entry.Key.Span, key, type.ToString());
                return null;
            }
            var scalar = context.AsScalar(entry.Value, $"'{key}'");
            if (scalar is null) return null;
            if (long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && (value >= 0 || key is "min" or "max"))
                return value;
            context.Report(DiagnosticTable.InvalidValue, scalar.Span, scalar.Value, $"'{key}'", "expected a whole number");
            return null;
        }
        var lengthApplies = type.Kind is TypeKind.String or TypeKind.List or TypeKind.Bytes;
        var rangeApplies = type.Kind is TypeKind.Int;
        var minLength = Number("min_length", lengthApplies);
        var maxLength = Number("max_length", lengthApplies);
        var min = Number("min", rangeApplies);
        var max = Number("max", rangeApplies);
        string? pattern = null;
        if (body.Entry("pattern") is { } patternEntry)
        {
            if (type.Kind != TypeKind.String) context.Report(DiagnosticTable.ConstraintMismatch, patternEntry.Key.Span, "pattern", type.ToString());
            else if (context.AsScalar(patternEntry.Value, "'pattern'") is { } patternScalar)
            {
                try
                {
                    _ = new System.Text.RegularExpressions.Regex(patternScalar.Value);
                    pattern = patternScalar.Value;
                }
                catch (System.ArgumentException ex)
                {
                    context.Report(DiagnosticTable.InvalidValue, patternScalar.Span, patternScalar.Value, "'pattern'", ex.Message);
                }
            }
        }
        var oneOf = EquatableArray<string>.Empty;
        if (body.Entry("one_of") is { } oneOfEntry)
        {
            if (type.Kind != TypeKind.String) context.Report(DiagnosticTable.ConstraintMismatch, oneOfEntry.Key.Span, "one_of", type.ToString());
            else if (context.AsSequence(oneOfEntry.Value, "'one_of'") is { } values)
                oneOf = values.Items.OfType<YamlScalar>().Select(v => v.Value).ToEquatableArray();
        }
        if (minLength > maxLength) context.Report(DiagnosticTable.InvalidValue, body.Span, $"{minLength}..{maxLength}", "the length constraints", "min_length exceeds max_length");
        if (min > max) context.Report(DiagnosticTable.InvalidValue, body.Span, $"{min}..{max}", "the range constraints", "min exceeds max");
        return new Constraints(minLength, maxLength, min, max, pattern, oneOf);
    }

    private static void BindInputs(BindingContext context, YamlMapping root)
    {
        var inputs = context.AsMapping(root["inputs"], "'inputs'");
        if (inputs is null) return;
        var seen = new HashSet<string>();
        foreach (var entry in inputs.Entries)
        {
            if (!seen.Add(entry.Key.Value))
            {
                context.Report(DiagnosticTable.DuplicateKey, entry.Key.Span, entry.Key.Value, "'inputs'");
                continue;
            }
            if (!context.Roles.Contains(entry.Key.Value))
            {
                context.Report(DiagnosticTable.UnknownRole, entry.Key.Span, entry.Key.Value, context.RoleList);
                continue;
            }
            var fields = BindFields(context, context.AsMapping(entry.Value, $"The inputs of '{entry.Key.Value}'"), $"the inputs of '{entry.Key.Value}'", null, isMessage: false);
            context.Inputs[entry.Key.Value].AddRange(fields);
        }
    }

    private static void BindServices(BindingContext context, YamlMapping root)
    {
        var services = context.AsMapping(root["services"], "'services'");
        if (services is null) return;
        foreach (var entry in services.Entries)
        {
            var name = entry.Key.Value;
            if (!context.ValidName(entry.Key, "service")) continue;
            if (context.ServicesByName.ContainsKey(name) || context.MessagesByName.ContainsKey(name) || name is "msg" or "self" or "peer" or "envelope")
            {
                context.Report(DiagnosticTable.DuplicateKey, entry.Key.Span, name, "the names of messages and services");
                continue;
            }
            var body = context.AsMapping(entry.Value, $"Service '{name}'");
            if (body is null) continue;
            var kindScalar = context.Required(body, "kind", $"Service '{name}'");
            if (kindScalar is null) continue;
            if (!Catalog.Services.TryGetValue(kindScalar.Value, out var kind))
            {
                context.Report(DiagnosticTable.UnknownServiceKind, kindScalar.Span, kindScalar.Value, Catalog.ServiceKindNames);
                continue;
            }
            var keys = new List<string> { "kind", "at", "doc" };
            if (kind.Generic) keys.Add("of");
            keys.AddRange(kind.Settings.Select(x => x.Name));
            context.CheckKeys(body, $"service '{name}' ({kind.Name})", keys.ToArray());

            // 'at' is one role or a list: each role holds its own instance.
            var roles = new List<string>();
            var atNode = body["at"];
            if (atNode is null) context.Report(DiagnosticTable.MissingKey, body.Span, $"Service '{name}'", "at");
            var atScalars = atNode is YamlSequence list ? list.Items.Select(i => context.AsScalar(i, "A role")).ToList() : new List<YamlScalar?> { context.AsScalar(atNode, "'at'") };
            foreach (var at in atScalars)
            {
                if (at is null) continue;
                if (!context.Roles.Contains(at.Value)) context.Report(DiagnosticTable.UnknownRole, at.Span, at.Value, context.RoleList);
                else if (!roles.Contains(at.Value)) roles.Add(at.Value);
            }
            if (roles.Count == 0)
            {
                if (atNode is YamlSequence { Items.Count: 0 } empty) context.Report(DiagnosticTable.InvalidValue, empty.Span, "[]", "'at'", "a service is held by at least one role");
                continue;
            }

            TypeRef? valueType = null;
            var csharp = kind.Interface;
            if (kind.Generic)
            {
                var of = context.AsScalar(body["of"], "'of'");
                if (of is null)
                {
                    context.Report(DiagnosticTable.MissingKey, body.Span, $"Service '{name}' ({kind.Name})", "of");
                    continue;
                }
                if (!Catalog.TryParseType(of.Value, allowKeys: false, out valueType) || !valueType.IsValueType)
                {
                    context.Report(DiagnosticTable.UnknownType, of.Span, of.Value, "int, bool, uuid, timestamp, bytes or bytes<N> (the value types a value_store holds)");
                    continue;
                }
                csharp += "<" + Emit.CSharpTypes.Of(valueType) + ">";
            }
            var settings = new List<SettingValue>();
            foreach (var setting in kind.Settings)
            {
                var value = body[setting.Name];
                if (value is null)
                {
                    context.Report(DiagnosticTable.MissingKey, body.Span, $"Service '{name}' ({kind.Name}: {setting.Doc})", setting.Name);
                    continue;
                }
                if (setting.IsDuration)
                {
                    if (context.Duration(value, $"'{setting.Name}'") is { } ms)
                        settings.Add(new SettingValue(setting.Name, $"global::System.TimeSpan.FromMilliseconds({ms})"));
                }
                else if (context.AsScalar(value, $"'{setting.Name}'") is { } number)
                {
                    if (int.TryParse(number.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0) settings.Add(new SettingValue(setting.Name, n.ToString(CultureInfo.InvariantCulture)));
                    else context.Report(DiagnosticTable.InvalidValue, number.Span, number.Value, $"'{setting.Name}'", "a positive whole number");
                }
            }
            context.ServicesByName[name] = new ServiceModel(name, BindingContext.Pascal(name), kind.Name, roles.ToEquatableArray(), Doc(body), csharp, valueType, settings.ToEquatableArray());
        }
    }

    private static List<(YamlScalar Code, YamlMapping? Body)> DeclareErrors(BindingContext context, YamlMapping root)
    {
        var declared = new List<(YamlScalar, YamlMapping?)>();
        var errors = context.AsMapping(root["errors"], "'errors'");
        if (errors is null) return declared;
        foreach (var entry in errors.Entries)
        {
            if (!context.ValidName(entry.Key, "error code")) continue;
            if (!context.ErrorCodes.Add(entry.Key.Value))
            {
                context.Report(DiagnosticTable.DuplicateKey, entry.Key.Span, entry.Key.Value, "'errors'");
                continue;
            }
            declared.Add((entry.Key, entry.Value is YamlScalar ? null : context.AsMapping(entry.Value, $"Error '{entry.Key.Value}'")));
        }
        return declared;
    }

    private static List<ErrorModel> BindErrors(BindingContext context, ExpressionBinder binder, List<(YamlScalar Code, YamlMapping? Body)> declared, YamlMapping root)
    {
        var result = new List<ErrorModel>();
        var declaredDocs = new Dictionary<string, string>();
        if (root["errors"] is YamlMapping errorsNode)
            foreach (var entry in errorsNode.Entries)
                if (entry.Value is YamlScalar { IsNull: false } text) declaredDocs[entry.Key.Value] = text.Value.Trim();
        var constants = new Dictionary<string, string>();
        foreach (var (code, body) in declared)
        {
            var constant = BindingContext.Pascal(code.Value);
            if (constants.TryGetValue(constant, out var other))
            {
                context.Report(DiagnosticTable.NameCollision, code.Span, other, code.Value, constant);
                continue;
            }
            constants[constant] = code.Value;
            if (body is null)
            {
                // "CODE: some text" documents the code.
                var doc = declaredDocs.TryGetValue(code.Value, out var text) ? text : null;
                result.Add(new ErrorModel(code.Value, constant, doc, null, EquatableArray<Assignment>.Empty));
                continue;
            }
            context.CheckKeys(body, $"error '{code.Value}'", "doc", "send", "set", "do");
            string? send = null;
            var assignments = new List<Assignment>();
            if (context.AsScalar(body["send"], "'send'") is { } sendScalar)
            {
                if (!context.MessagesByName.TryGetValue(sendScalar.Value, out var message))
                    context.Report(DiagnosticTable.UnknownFlowMessage, sendScalar.Span, sendScalar.Value);
                else if (message.ReportsCode is null)
                    context.Report(DiagnosticTable.ErrorMessageShape, sendScalar.Span, message.Name, "a message sent for an error declares 'reports: { code: FIELD }'");
                else
                {
                    send = message.Name;
                    var scope = new Scope
                    {
                        Role = null,
                        Where = $"error '{code.Value}'",
                        AllowTranscript = false,
                        AllowPeer = false,
                        ContextValues = new Dictionary<string, (string, ExprType)>
                        {
                            ["detail"] = ("error.Detail", new ExprType(TypeRef.String, false)),
                            ["code"] = ("error.Code", new ExprType(TypeRef.String, false)),
                        },
                    };
                    var set = context.AsMapping(body["set"], "'set'") ?? new YamlMapping(body.Span, EquatableArray<YamlEntry>.Empty);
                    assignments.AddRange(BindAssignments(context, binder, message, set, scope, preset: new[] { message.ReportsCode }));
                }
            }
            else if (body["set"] is { } setNode)
                context.Report(DiagnosticTable.MissingKey, body.Span, $"Error '{code.Value}' has 'set' and", "send");
            result.Add(new ErrorModel(code.Value, constant, Doc(body), send, assignments.ToEquatableArray()));
        }
        return result;
    }

    private static void DeclareEnvelope(BindingContext context, YamlMapping root, string discriminator)
    {
        var envelope = context.AsMapping(root["envelope"], "'envelope'");
        if (envelope is null) return;
        context.CheckKeys(envelope, "'envelope'", "name", "payload", "fields", "set", "doc");
        var name = context.Required(envelope, "name", "'envelope'");
        if (name is null || !context.ValidName(name, "envelope")) return;
        var payload = context.AsScalar(envelope["payload"], "'payload'") is { } p && context.ValidName(p, "payload field") ? p.Value : "payload";
        var fields = BindFields(context, context.AsMapping(envelope["fields"], "The fields of the envelope"), $"'{name.Value}'", payload, isMessage: true);
        if (fields.Count == 0)
            context.Report(DiagnosticTable.MissingKey, envelope.Span, "An envelope (such as one that carries a signature)", "fields");
        context.Envelope = new EnvelopeModel(name.Value, BindingContext.Pascal(name.Value), payload, fields.ToEquatableArray(), EquatableArray<RoleAssignments>.Empty);
    }

    /// <summary>Each role computes the envelope's fields over <c>payload</c>, the canonical bytes of the message it sends.</summary>
    private static EnvelopeModel? BindEnvelope(BindingContext context, ExpressionBinder binder, YamlMapping root)
    {
        if (context.Envelope is not { } envelope || root["envelope"] is not YamlMapping syntax) return null;
        var set = context.AsMapping(syntax["set"], "'set'") ?? new YamlMapping(syntax.Span, EquatableArray<YamlEntry>.Empty);
        var wrapper = new MessageModel(envelope.Name, envelope.TypeName, null, envelope.Fields, null, null, -1);
        var roles = new List<RoleAssignments>();
        foreach (var role in context.Roles)
        {
            var scope = new Scope
            {
                Role = role,
                Where = "the envelope",
                AllowTranscript = false,
                AllowPeer = false,
                ContextValues = new Dictionary<string, (string, ExprType)> { ["payload"] = ("payload", new ExprType(TypeRef.Bytes, false)) },
            };
            var assignments = BindAssignments(context, binder, wrapper, set, scope, new string[0]);
            if (assignments.Any(a => CallsService(a.Value)))
            {
                context.Report(DiagnosticTable.InvalidValue, set.Span, "set", "the envelope", "an envelope's fields cannot call services");
                return null;
            }
            roles.Add(new RoleAssignments(role, assignments.ToEquatableArray()));
        }
        return envelope with { Roles = roles.ToEquatableArray() };
    }

    /// <summary>Binds each error's <c>do</c>: effects the raising role runs, where that role can raise the code.</summary>
    private static List<ErrorModel> BindErrorEffects(BindingContext context, ExpressionBinder binder, YamlMapping root, FlowGraph flow, List<ErrorModel> errors, string malformed)
    {
        if (root["errors"] is not YamlMapping errorsNode) return errors;
        var result = new List<ErrorModel>();
        foreach (var error in errors)
        {
            if (errorsNode[error.Code] is not YamlMapping body || body["do"] is null)
            {
                result.Add(error);
                continue;
            }
            var effects = BindEffects(context, binder, flow, body["do"]!, $"the 'do' of error '{error.Code}'",
                role => error.Code == malformed ? flow.AnySets : flow.Raised(role, error.Code),
                role => error.Code == malformed || flow.IsRaised(role, error.Code));
            result.Add(error with { Actions = effects.ToEquatableArray() });
        }
        return result;
    }

    /// <summary>Binds <c>on_failure</c>: effects a role runs after any failure (a strike against the peer's address).</summary>
    private static EquatableArray<RoleActions> BindFailureEffects(BindingContext context, ExpressionBinder binder, YamlMapping root, FlowGraph flow)
        => root["on_failure"] is { } node
            ? BindEffects(context, binder, flow, node, "'on_failure'", _ => flow.AnySets, _ => true).ToEquatableArray()
            : EquatableArray<RoleActions>.Empty;

    private static List<RoleActions> BindEffects(BindingContext context, ExpressionBinder binder, FlowGraph flow, YamlNode node, string where,
        System.Func<string, HashSet<ulong>> sets, System.Func<string, bool> raisedBy)
    {
        var result = new List<RoleActions>();
        var mapping = context.AsMapping(node, where);
        if (mapping is null) return result;
        var seen = new HashSet<string>();
        foreach (var entry in mapping.Entries)
        {
            var role = entry.Key.Value;
            if (!seen.Add(role))
            {
                context.Report(DiagnosticTable.DuplicateKey, entry.Key.Span, role, where);
                continue;
            }
            if (!context.Roles.Contains(role))
            {
                context.Report(DiagnosticTable.UnknownRole, entry.Key.Span, role, context.RoleList);
                continue;
            }
            if (!raisedBy(role))
            {
                context.Report(DiagnosticTable.InvalidValue, entry.Key.Span, role, where, $"'{role}' never raises this error, so these effects could never run");
                continue;
            }
            var items = entry.Value is YamlScalar single ? new List<YamlNode> { single } : context.AsSequence(entry.Value, $"The effects of '{role}'")?.Items.ToList();
            if (items is null) continue;
            var roleSets = sets(role).OrderBy(x => x).ToList();
            var scope = new Scope { Role = role, Where = where, SeenSets = roleSets.Count == 0 ? new ulong[] { 0 } : (roleSets.Count > 64 ? roleSets.Take(64).ToList() : roleSets), Locals = flow.LocalsFor(role) };
            var actions = new List<Action>();
            foreach (var item in items)
            {
                if (context.AsScalar(item, "An effect") is not { } scalar) continue;
                var call = binder.BindExpression(scalar, scope, expected: null, requireValue: false, "an effect");
                if (call is null) continue;
                if (call is not ServiceCallExpr)
                {
                    context.Report(DiagnosticTable.BadCall, scalar.Span, "An effect must call a service method, such as 'trust.blacklist(...)'");
                    continue;
                }
                actions.Add(new Action(call));
            }
            result.Add(new RoleActions(role, actions.ToEquatableArray()));
        }
        return result;
    }

    /// <summary>Binds a message's <c>set:</c> and checks that every required field gets a value.</summary>
    public static List<Assignment> BindAssignments(BindingContext context, ExpressionBinder binder, MessageModel message, YamlMapping set, Scope scope, IReadOnlyCollection<string> preset)
    {
        var result = new List<Assignment>();
        var seen = new HashSet<string>();
        foreach (var entry in set.Entries)
        {
            var field = message.Fields.FirstOrDefault(f => f.Name == entry.Key.Value);
            if (field is null)
            {
                context.Report(DiagnosticTable.UnknownMember, entry.Key.Span, message.Name, entry.Key.Value);
                continue;
            }
            if (!seen.Add(field.Name) || preset.Contains(field.Name))
            {
                context.Report(DiagnosticTable.DuplicateKey, entry.Key.Span, field.Name, $"the values of '{message.Name}'");
                continue;
            }
            var value = binder.BindValue(entry.Value, scope, field.Type, allowNull: field.Optional, $"field '{field.Name}' of '{message.Name}'");
            if (value is not null) result.Add(new Assignment(field.Name, field.PropertyName, value));
        }
        foreach (var field in message.Fields)
            if (!field.Optional && !seen.Contains(field.Name) && !preset.Contains(field.Name))
                context.Report(DiagnosticTable.UnsetRequiredField, set.Span, message.Name, field.Name);
        return result;
    }

    private static Dictionary<string, List<OutcomeField>> BindOutcome(BindingContext context, ExpressionBinder binder, YamlMapping root, FlowGraph flow)
    {
        var result = context.Roles.ToDictionary(r => r, _ => new List<OutcomeField>());
        var outcome = context.AsMapping(root["outcome"], "'outcome'");
        if (outcome is null) return result;
        var seenRoles = new HashSet<string>();
        foreach (var entry in outcome.Entries)
        {
            if (!seenRoles.Add(entry.Key.Value))
            {
                context.Report(DiagnosticTable.DuplicateKey, entry.Key.Span, entry.Key.Value, "'outcome'");
                continue;
            }
            if (!result.TryGetValue(entry.Key.Value, out var fields))
            {
                context.Report(DiagnosticTable.UnknownOutcomeRole, entry.Key.Span, entry.Key.Value, context.RoleList);
                continue;
            }
            var values = context.AsMapping(entry.Value, $"The outcome of '{entry.Key.Value}'");
            if (values is null) continue;
            context.CheckKeys(values, $"the outcome of '{entry.Key.Value}'", values.Entries.Select(e => e.Key.Value).Distinct().ToArray());
            var scope = new Scope
            {
                Role = entry.Key.Value,
                Where = $"the outcome of '{entry.Key.Value}'",
                SeenSets = flow.SuccessSeenSets,
                Locals = flow.LocalsFor(entry.Key.Value),
                Narrowed = flow.SuccessNarrowed,
            };
            var properties = new Dictionary<string, string>();
            foreach (var value in values.Entries)
            {
                if (!context.ValidName(value.Key, "outcome")) continue;
                var property = BindingContext.Pascal(value.Key.Value);
                if (properties.TryGetValue(property, out var other))
                {
                    if (other != value.Key.Value) context.Report(DiagnosticTable.NameCollision, value.Key.Span, other, value.Key.Value, property);
                    continue;
                }
                properties[property] = value.Key.Value;
                var scalar = context.AsScalar(value.Value, $"Outcome '{value.Key.Value}'");
                if (scalar is null) continue;
                var bound = binder.BindExpression(scalar, scope, expected: null, requireValue: false, $"outcome '{value.Key.Value}'");
                if (bound is null) continue;
                if (bound.Type.Type.Kind is TypeKind.Null or TypeKind.Void)
                {
                    context.Report(DiagnosticTable.TypeMismatch, scalar.Span, $"outcome '{value.Key.Value}'", "a value", bound.Type.ToString());
                    continue;
                }
                fields.Add(new OutcomeField(value.Key.Value, BindingContext.Pascal(value.Key.Value), bound.Type, bound));
            }
        }
        return result;
    }

    private static HeartbeatModel? BindSession(BindingContext context, ExpressionBinder binder, YamlMapping root, FlowGraph flow)
    {
        var session = context.AsMapping(root["session"], "'session'");
        if (session is null) return null;
        context.CheckKeys(session, "'session'", "heartbeat");
        var heartbeat = context.AsMapping(session["heartbeat"], "'heartbeat'");
        if (heartbeat is null) return null;
        context.CheckKeys(heartbeat, "'heartbeat'", "pinger", "interval_ms", "missed", "ping", "pong");
        var pinger = context.Required(heartbeat, "pinger", "'heartbeat'");
        var interval = context.Required(heartbeat, "interval_ms", "'heartbeat'");
        if (pinger is null || interval is null) return null;
        if (!context.Roles.Contains(pinger.Value))
        {
            context.Report(DiagnosticTable.UnknownRole, pinger.Span, pinger.Value, context.RoleList);
            return null;
        }
        var answerer = context.Roles.First(r => r != pinger.Value);
        var missed = 2;
        if (context.AsScalar(heartbeat["missed"], "'missed'") is { } missedScalar
            && (!int.TryParse(missedScalar.Value, NumberStyles.None, CultureInfo.InvariantCulture, out missed) || missed < 1 || missed > 100))
        {
            context.Report(DiagnosticTable.InvalidValue, missedScalar.Span, missedScalar.Value, "'missed'", "a whole number of intervals from 1 to 100");
            return null;
        }

        (MessageModel Message, YamlMapping Set)? Part(string key)
        {
            var part = context.AsMapping(heartbeat[key], $"'{key}'");
            if (part is null)
            {
                context.Report(DiagnosticTable.MissingKey, heartbeat.Span, "'heartbeat'", key);
                return null;
            }
            context.CheckKeys(part, $"'{key}'", "message", "set");
            var message = context.Required(part, "message", $"'{key}'");
            if (message is null) return null;
            if (!context.MessagesByName.TryGetValue(message.Value, out var model))
            {
                context.Report(DiagnosticTable.UnknownFlowMessage, message.Span, message.Value);
                return null;
            }
            return (model, context.AsMapping(part["set"], "'set'") ?? new YamlMapping(part.Span, EquatableArray<YamlEntry>.Empty));
        }

        var ping = Part("ping");
        var pong = Part("pong");
        if (ping is null || pong is null) return null;
        if (ping.Value.Message == pong.Value.Message || flow.UsedMessages.Contains(ping.Value.Message.Name) || flow.UsedMessages.Contains(pong.Value.Message.Name))
        {
            context.Report(DiagnosticTable.SessionShape, session.Entry("heartbeat")!.Key.Span, "the ping and pong messages must be two messages of their own, not used by the handshake's flow");
            return null;
        }

        var roles = new List<RoleHeartbeat>();
        foreach (var role in context.Roles)
        {
            var scope = new Scope { Role = role, Where = "the heartbeat", SeenSets = flow.SuccessSeenSets, AllowPeer = false };
            var intervalExpr = binder.BindExpression(interval, scope, TypeRef.Int, requireValue: true, "'interval_ms'");
            var isPinger = role == pinger.Value;
            var part = isPinger ? ping.Value : pong.Value;
            var partScope = isPinger ? scope : new Scope
            {
                Role = role,
                Where = "the pong",
                SeenSets = flow.SuccessSeenSets,
                ContextMessages = new Dictionary<string, (MessageModel, string)> { [ping.Value.Message.Name] = (ping.Value.Message, "ping") },
                AllowPeer = false,
            };
            var set = BindAssignments(context, binder, part.Message, part.Set, partScope, new string[0]);
            if ((intervalExpr is not null && CallsService(intervalExpr)) || set.Any(a => CallsService(a.Value)))
            {
                context.Report(DiagnosticTable.SessionShape, session.Entry("heartbeat")!.Key.Span, "the heartbeat's interval and messages cannot call services; compute the value during the handshake and refer to it");
                return null;
            }
            if (intervalExpr is not null) roles.Add(new RoleHeartbeat(role, intervalExpr, set.ToEquatableArray()));
        }
        return new HeartbeatModel(pinger.Value, ping.Value.Message.Name, pong.Value.Message.Name, missed, roles.ToEquatableArray());
    }

    private static bool CallsService(BoundExpr expr) => expr switch
    {
        ServiceCallExpr => true,
        CallExpr call => call.Arguments.Any(CallsService),
        UnaryExpr unary => CallsService(unary.Operand),
        BinaryExpr binary => CallsService(binary.Left) || CallsService(binary.Right),
        ListExpr list => list.Items.Any(CallsService),
        _ => false,
    };

    private static void ReportUnusedMessages(BindingContext context, YamlMapping root, FlowGraph flow, List<ErrorModel> errors, HeartbeatModel? heartbeat)
    {
        if (root["messages"] is not YamlMapping messages) return;
        foreach (var entry in messages.Entries)
        {
            var name = entry.Key.Value;
            if (!context.MessagesByName.TryGetValue(name, out var message)) continue;
            var used = flow.UsedMessages.Contains(name)
                       || message.ReportsCode is not null
                       || errors.Any(e => e.SendMessage == name)
                       || heartbeat?.PingMessage == name || heartbeat?.PongMessage == name;
            if (!used) context.Report(DiagnosticTable.UnusedMessage, entry.Key.Span, name);
        }
    }
}

/// <summary>Names shared with the runtime library.</summary>
internal static class Runtime
{
    public const string MalformedCode = "malformed";
}
