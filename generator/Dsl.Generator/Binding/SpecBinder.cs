using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax;

namespace Dsl.Generator.Binding;

/// <summary>The bind stage's output for one spec: the bound protocol (null when the spec has errors) and the diagnostics.</summary>
internal sealed record BindResult(BoundProtocol? Protocol, EquatableArray<SpecDiagnostic> Diagnostics);

/// <summary>
/// Bind stage: from typed syntax to a bound tree. Declares roles, messages, inputs, services and errors, binds
/// the flow (<see cref="FlowBinder"/>), then what is evaluated around it: the envelope's and the errors' values,
/// effects, outcomes and the heartbeat. Every problem is a located diagnostic.
/// </summary>
internal static class SpecBinder
{
    public static BindResult Bind(SpecSyntax syntax, CancellationToken cancellationToken)
    {
        if (syntax.Protocol is null) return new BindResult(null, syntax.Diagnostics);
        if (syntax.Base is { } @base)
        {
            // The base reports its own errors where it is compiled; here they only stop the extension.
            var errors = Bind(@base, cancellationToken).Diagnostics.Count(d => d.IsError);
            if (errors > 0)
                return new BindResult(null, syntax.Diagnostics.Append(SpecDiagnostic.Create(DiagnosticTable.BaseHasErrors, syntax.FilePath, syntax.ExtendsSpan,
                    @base.FilePath, errors.ToString(CultureInfo.InvariantCulture))).ToEquatableArray());
        }
        var context = new BindingContext(syntax.FilePath, cancellationToken);
        var protocol = BindProtocol(context, syntax.Protocol);
        if (protocol is not null) protocol = protocol with { Acknowledgements = BindAcknowledgements(context, syntax.Protocol) };
        var diagnostics = syntax.Diagnostics.Concat(context.Diagnostics).ToList();
        // The security lints read a whole, sound protocol.
        if (protocol is not null && !diagnostics.Any(d => d.IsError)) diagnostics.AddRange(Analysis.SecurityLints.Check(protocol));
        return new BindResult(diagnostics.Any(d => d.IsError) ? null : protocol, diagnostics.ToEquatableArray());
    }

    private static EquatableArray<AcknowledgementSymbol> BindAcknowledgements(BindingContext context, ProtocolSyntax syntax)
    {
        var bound = new List<AcknowledgementSymbol>();
        foreach (var acknowledgement in syntax.Acknowledgements)
        {
            if (Analysis.SecurityLints.Find(acknowledgement.Lint.Value) is null)
            {
                context.Report(DiagnosticTable.UnknownLint, acknowledgement.Lint.Span, acknowledgement.Lint.Value, string.Join(", ", Analysis.SecurityLints.All.Select(l => l.Name)));
                continue;
            }
            if (acknowledgement.Because is not { IsNull: false } because) continue;
            bound.Add(new AcknowledgementSymbol(acknowledgement.Lint.Value, acknowledgement.At.Select(a => a.Value).ToEquatableArray(), because.Value.Trim(), acknowledgement.Span));
        }
        return bound.ToEquatableArray();
    }

    private static BoundProtocol? BindProtocol(BindingContext context, ProtocolSyntax syntax)
    {
        var name = syntax.Name.Value;
        context.Prefix = Naming.Pascal(name);
        context.Protocol = name;
        context.Version = syntax.Version.Value;
        var ns = syntax.Namespace?.Value ?? "Dsl.Protocols." + context.Prefix;
        if (!ns.Split('.').All(part => part.Length > 0 && (char.IsLetter(part[0]) || part[0] == '_') && part.All(c => char.IsLetterOrDigit(c) || c == '_') && !Naming.IsReservedKeyword(part)))
            context.Report(DiagnosticTable.InvalidValue, syntax.Namespace!.Span, ns, "'namespace'", "a C# namespace is dot-separated identifiers, none of them a C# keyword");

        BindRoles(context, syntax);
        context.ClockSkewMs = syntax.Timeouts?.ClockSkew?.Milliseconds;
        foreach (var message in syntax.Messages) context.MessageTypeNames.Add(Naming.Pascal(message.Name.Value));
        if (syntax.Envelope?.Name is { } envelopeName) context.MessageTypeNames.Add(Naming.Pascal(envelopeName.Value));
        TypeBinder.Bind(context, syntax);
        var discriminator = syntax.Wire?.Discriminator?.Value ?? "type";
        var messages = BindMessages(context, syntax, discriminator);
        BindInputs(context, syntax);
        BindServices(context, syntax);
        BindHooks(context, syntax);
        DeclareErrors(context, syntax);
        var malformed = syntax.Wire?.Malformed;
        if (malformed is not null && !context.ErrorCodes.Contains(malformed.Value))
            context.Report(DiagnosticTable.UnknownErrorCode, malformed.Span, malformed.Value);
        DeclareEnvelope(context, syntax, discriminator);
        if (context.Roles.Count != 2) return null;

        var flow = FlowBinder.Bind(context, syntax.Flow);
        if (flow is null) return null;
        var malformedCode = malformed?.Value ?? "malformed";
        var envelope = BindEnvelope(context, flow, syntax);
        var errors = BindErrors(context, flow, syntax, malformedCode, envelope);
        var failureEffects = syntax.OnFailure is { } onFailure
            ? BindEffects(context, flow.Binder, onFailure, "'on_failure'", _ => true, role => EffectsScope(flow, role, "'on_failure'", flow.AnyPaths), EffectMessage).ToEquatableArray()
            : EquatableArray<RoleEffects>.Empty;
        var roles = BindOutcomes(context, flow, syntax);
        var heartbeat = BindSession(context, flow, syntax);
        var channel = BindChannel(context, roles, syntax.Session?.Channel);
        ReportUnusedMessages(context, flow, errors, heartbeat, syntax.Session);
        if (context.HasErrors) return null;

        return new BoundProtocol(
            context.FilePath, name, syntax.Version.Value, syntax.Description?.Value.Trim(), ns, discriminator, malformedCode,
            roles, messages.ToEquatableArray(), envelope, context.Wrap, context.Services.Values.OrderBy(s => s.Name, System.StringComparer.Ordinal).ToEquatableArray(),
            context.Hooks.Values.OrderBy(h => h.Name, System.StringComparer.Ordinal).ToEquatableArray(),
            context.Types.Values.Where(t => t is not null).Select(t => t!).OrderBy(t => t.Name, System.StringComparer.Ordinal).ToEquatableArray(),
            errors.ToEquatableArray(), failureEffects,
            syntax.Timeouts?.Handshake?.Milliseconds ?? 30_000, syntax.Timeouts?.Step?.Milliseconds ?? 10_000, context.ClockSkewMs,
            flow.Flow!, heartbeat, syntax.Name.Span) { Channel = channel };
    }

    /// <summary>The ciphers a channel can use, by the names specs give them.</summary>
    internal static readonly string[] ChannelCiphers = { "chacha20-poly1305", "aes-256-gcm" };

    /// <summary>
    /// <c>session.channel</c>: a known cipher (or an outcome value of every role that names one), and for each role two
    /// different outcome values of type bytes&lt;32&gt;, always present, as its send and receive keys.
    /// </summary>
    private static ChannelSymbol? BindChannel(BindingContext context, EquatableArray<RoleSymbol> roles, ChannelSyntax? syntax)
    {
        if (syntax is null) return null;
        var ok = true;
        OutcomeSymbol? Value(string role, Syntax.Yaml.YamlScalar name, string what, System.Func<OutcomeSymbol, bool> fits, string expected)
        {
            var value = roles.First(r => r.Name == role).Outcome.FirstOrDefault(o => o.Name == name.Value);
            if (value is null) context.Report(DiagnosticTable.UnknownMember, name.Span, $"the outcome of '{role}'", name.Value);
            else if (!fits(value)) context.Report(DiagnosticTable.TypeMismatch, name.Span, what, expected, value.Type.ToString());
            else return value;
            ok = false;
            return null;
        }
        static bool IsKey(OutcomeSymbol value) => value.Type is { MayBeAbsent: false, Type: { Kind: TypeKind.Bytes, Length: 32 } };
        var keys = new List<ChannelKeys>();
        foreach (var role in syntax.Keys)
        {
            if (!context.Roles.Contains(role.Role.Value))
            {
                context.Report(DiagnosticTable.UnknownRole, role.Role.Span, role.Role.Value, context.RoleList);
                ok = false;
                continue;
            }
            var send = Value(role.Role.Value, role.Send, "the channel's send key", IsKey, "bytes<32>, always present");
            var receive = Value(role.Role.Value, role.Receive, "the channel's receive key", IsKey, "bytes<32>, always present");
            if (send is not null && receive is not null && send.Name == receive.Name)
            {
                context.Report(DiagnosticTable.InvalidValue, role.Receive.Span, role.Receive.Value, "'receive'", "each direction needs its own key; the same one both ways would reuse nonces");
                ok = false;
            }
            keys.Add(new ChannelKeys(role.Role.Value, role.Send.Value, role.Receive.Value));
        }
        foreach (var missing in context.Roles.Where(r => !syntax.Keys.Any(k => k.Role.Value == r)))
        {
            context.Report(DiagnosticTable.MissingKey, syntax.Span, "'session.channel.keys'", missing, " (each role's send and receive keys)");
            ok = false;
        }
        string? cipher = null, cipherValue = null;
        if (ChannelCiphers.Contains(syntax.Cipher.Value)) cipher = syntax.Cipher.Value;
        else
        {
            // An outcome value of every role: a string, or an enum whose values are all cipher names.
            bool Names(OutcomeSymbol value) => value.Type is { MayBeAbsent: false } && (value.Type.Type.Kind == TypeKind.String
                || value.Type.Type.Kind == TypeKind.Enum && context.Types[value.Type.Type.Name!] is { } e && e.Values.All(v => ChannelCiphers.Contains(v)));
            if (!roles.All(r => r.Outcome.Any(o => o.Name == syntax.Cipher.Value)))
            {
                context.Report(DiagnosticTable.InvalidValue, syntax.Cipher.Span, syntax.Cipher.Value, "'cipher'",
                    $"expected {string.Join(" or ", ChannelCiphers)}, or an outcome value of each role that names one");
                ok = false;
            }
            else
            {
                foreach (var role in context.Roles) Value(role, syntax.Cipher, "the channel's cipher", Names, "a string or an enum of cipher names, always present");
                cipherValue = syntax.Cipher.Value;
            }
        }
        if (syntax.Binding is { } binding)
            foreach (var role in context.Roles)
                Value(role, binding, "the channel's binding", v => v.Type is { MayBeAbsent: false, Type.Kind: TypeKind.Bytes }, "bytes, always present");
        return ok ? new ChannelSymbol(cipher, cipherValue, syntax.Binding?.Value, keys.ToEquatableArray()) : null;
    }

    private static void BindRoles(BindingContext context, ProtocolSyntax syntax)
    {
        // A spec without roles has been reported by the parser.
        if (syntax.Roles is not { } roles) return;
        var typeNames = new Dictionary<string, string>();
        foreach (var role in roles.Roles)
        {
            if (context.Roles.Contains(role.Name.Value))
            {
                context.Report(DiagnosticTable.DuplicateKey, role.Name.Span, role.Name.Value, "'roles'");
                continue;
            }
            var machine = Naming.Machine(context.Prefix, role.Name.Value);
            if (typeNames.TryGetValue(machine, out var other))
            {
                context.Report(DiagnosticTable.NameCollision, role.Name.Span, other, role.Name.Value, machine);
                continue;
            }
            typeNames[machine] = role.Name.Value;
            context.Roles.Add(role.Name.Value);
            context.RoleDocs[role.Name.Value] = role.Doc;
        }
        // A role's machine must not take the name of another generated type (role 'client_inputs' beside 'client').
        var generated = Naming.GeneratedTypes(context.Prefix, context.Roles).ToList();
        foreach (var role in roles.Roles.Where(r => context.Roles.Contains(r.Name.Value)).ToList())
        {
            var machine = Naming.Machine(context.Prefix, role.Name.Value);
            if (generated.Count(t => t == machine) < 2) continue;
            context.Report(DiagnosticTable.NameCollision, role.Name.Span, "another generated type", role.Name.Value, machine);
        }
        if (context.Roles.Count != 2) context.Report(DiagnosticTable.RoleCount, roles.Span, context.Roles.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var role in context.Roles) context.Inputs[role] = new List<FieldSymbol>();
    }

    // ---- Messages and fields -----------------------------------------------------------------

    private static List<MessageSymbol> BindMessages(BindingContext context, ProtocolSyntax syntax, string discriminator)
    {
        var result = new List<MessageSymbol>();
        var typeNames = new Dictionary<string, string>();
        var wireNames = new HashSet<string>();
        var generated = new HashSet<string>(Naming.GeneratedTypes(context.Prefix, context.Roles));
        foreach (var message in syntax.Messages)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            var name = message.Name.Value;
            if (context.Messages.ContainsKey(name))
            {
                context.Report(DiagnosticTable.DuplicateMessage, message.Name.Span, name);
                continue;
            }
            var typeName = Naming.Pascal(name);
            if (generated.Contains(typeName))
            {
                context.Report(DiagnosticTable.NameCollision, message.Name.Span, "the generated type", name, typeName);
                continue;
            }
            if (typeNames.TryGetValue(typeName, out var other) || context.TypeNames.TryGetValue(typeName, out other))
            {
                context.Report(DiagnosticTable.NameCollision, message.Name.Span, other, name, typeName);
                continue;
            }
            typeNames[typeName] = name;
            // A message that signs itself has Unsigned beside its fields: a field may not take that name then.
            var members = message.Signature.IsEmpty ? Naming.MessageMembers : Naming.MessageMembers.Concat(new[] { Naming.EnvelopeUnsigned }).ToArray();
            var fields = BindFields(context, message.Fields, $"'{name}'", discriminator, TypePlaces.Message, typeName, members, name);
            var signature = new List<string>();
            foreach (var field in message.Signature)
            {
                if (fields.FirstOrDefault(f => f.Name == field.Value) is not { } signing) context.Report(DiagnosticTable.UnknownMember, field.Span, name, field.Value);
                else if (signature.Contains(field.Value)) context.Report(DiagnosticTable.DuplicateKey, field.Span, field.Value, $"the 'signature' of '{name}'");
                else if (signing.Type.Kind != TypeKind.Bytes)
                    context.Report(DiagnosticTable.InvalidValue, field.Span, field.Value, $"the 'signature' of '{name}'", "a signature field holds bytes");
                else signature.Add(field.Value);
            }
            if (fields.Count > 64) context.Report(DiagnosticTable.TooManyFields, message.Name.Span, name, fields.Count.ToString(CultureInfo.InvariantCulture));

            string? reportsCode = null, reportsDetail = null;
            if (message.Reports is { } reports)
            {
                if (fields.FirstOrDefault(f => f.Name == reports.Code.Value) is not { Type.Kind: TypeKind.String, Optional: false })
                    context.Report(DiagnosticTable.ErrorMessageShape, reports.Code.Span, name, $"'code' must name a required string field; '{reports.Code.Value}' is not one");
                else reportsCode = reports.Code.Value;
                if (reports.Detail is { } detail)
                {
                    if (fields.FirstOrDefault(f => f.Name == detail.Value) is not { Type.Kind: TypeKind.String })
                        context.Report(DiagnosticTable.ErrorMessageShape, detail.Span, name, $"'detail' must name a string field; '{detail.Value}' is not one");
                    else reportsDetail = detail.Value;
                }
            }
            var wire = message.Wire?.Value ?? name;
            if (!wireNames.Add(wire))
            {
                context.Report(DiagnosticTable.DuplicateKey, (message.Wire ?? message.Name).Span, wire, "the wire names of messages");
                continue;
            }
            var symbol = new MessageSymbol(name, message.Doc, fields.ToEquatableArray(), reportsCode, reportsDetail, result.Count, message.Name.Span)
            {
                WireName = wire != name ? wire : null,
                SignatureFields = signature.ToEquatableArray(),
            };
            context.Messages[name] = symbol;
            result.Add(symbol);
        }
        return result;
    }

    /// <summary>Binds the fields of a message, an envelope or a role's inputs.</summary>
    /// <param name="reserved">The field names that are taken: the discriminator (or the envelope's payload field).</param>
    /// <param name="typeName">The C# type that will hold the fields (a member may not have its name).</param>
    /// <param name="members">C# members the type already has.</param>
    /// <param name="scope">The spec name inline objects and enums of these fields are named after (<c>auth</c> gives <c>auth_FIELD</c>).</param>
    internal static List<FieldSymbol> BindFields(BindingContext context, EquatableArray<FieldSyntax> syntax, string owner, string? reserved, TypePlaces place, string typeName, IReadOnlyCollection<string> members, string scope)
    {
        var fields = new List<FieldSymbol>();
        var properties = new Dictionary<string, string>();
        var names = new HashSet<string>();
        var wireNames = new HashSet<string>();
        foreach (var field in syntax)
        {
            var name = field.Name.Value;
            if (!names.Add(name))
            {
                context.Report(DiagnosticTable.DuplicateField, field.Name.Span, name, owner);
                continue;
            }
            var wire = field.Wire?.Value ?? name;
            if (wire == reserved)
            {
                context.Report(DiagnosticTable.ReservedField, (field.Wire ?? field.Name).Span, wire, owner.Trim('\'', ' '));
                continue;
            }
            if (!wireNames.Add(wire))
            {
                context.Report(DiagnosticTable.DuplicateKey, (field.Wire ?? field.Name).Span, wire, $"the wire names of the fields of {owner}");
                continue;
            }
            var property = Naming.Pascal(name);
            if (properties.TryGetValue(property, out var other))
            {
                context.Report(DiagnosticTable.NameCollision, field.Name.Span, other, name, property);
                continue;
            }
            if (members.Contains(property) || property == typeName)
            {
                context.Report(DiagnosticTable.NameCollision, field.Name.Span, property == typeName ? "the generated type" : "the generated member", name, property);
                continue;
            }
            properties[property] = name;
            if (BindField(context, field, place, scope) is { } symbol) fields.Add(symbol);
        }
        return fields;
    }

    private static FieldSymbol? BindField(BindingContext context, FieldSyntax field, TypePlaces place, string scope)
    {
        var type = TypeBinder.Resolve(context, field, place, scope);
        if (type is null) return null;
        var optional = field.Type.Optional || field.Optional?.Value == "true";

        var encoding = BytesEncoding.Hex;
        if (field.EncodingKey is { } encodingKey)
        {
            if (type.Kind != TypeKind.Bytes && type is not { Kind: TypeKind.List, Element: TypeKind.Bytes })
                context.Report(DiagnosticTable.ConstraintMismatch, encodingKey.Span, "encoding", type.ToString());
            else if (field.Encoding is { } encodingValue)
            {
                if (encodingValue.Value == "base64") encoding = BytesEncoding.Base64;
                else if (encodingValue.Value != "hex")
                    context.Report(DiagnosticTable.InvalidValue, encodingValue.Span, encodingValue.Value, "'encoding'", "bytes travel as hex or base64");
            }
        }

        BoundExpression? defaultValue = null;
        if (field.Default is { } defaultSyntax)
        {
            defaultValue = Default(context, defaultSyntax, type);
            optional = true;
        }
        var constant = field.Const is { } constSyntax ? TypeBinder.Constant(context, constSyntax, type, optional, defaultValue is not null) : null;
        var secret = false;
        if (field.Secret is { } secretSyntax)
        {
            if (secretSyntax.Value is "true" or "false") secret = secretSyntax.Value == "true";
            else context.Report(DiagnosticTable.InvalidValue, secretSyntax.Span, secretSyntax.Value, "'secret'", "expected true or false");
        }
        return new FieldSymbol(field.Name.Value, type, optional, defaultValue, field.Doc, BindConstraints(context, field, type), encoding, field.Name.Span)
        {
            WireName = field.Wire?.Value is { } wire && wire != field.Name.Value ? wire : null,
            Const = constant,
            Secret = secret,
        };
    }

    /// <summary>A default: a literal of the field's type, read by the type's descriptor (a list of them for a list).</summary>
    private static BoundExpression? Default(BindingContext context, DefaultSyntax syntax, TypeRef type)
    {
        if (type.Kind == TypeKind.List && syntax.IsList && type.ElementType.Descriptor.ParseLiteral is { } parseItem)
        {
            var items = syntax.Items.Select(i => parseItem(i.Value)).ToList();
            if (items.All(i => i is not null))
                return new BoundList(new ExprType(type, false), items.Select(i => (BoundExpression)new BoundLiteral(new ExprType(type.ElementType, false), i!)).ToEquatableArray());
        }
        else if (syntax.Scalar is { } scalar && type.Descriptor.ParseLiteral?.Invoke(scalar.Value) is { } value)
            return new BoundLiteral(new ExprType(type, false), value);
        else if (syntax.Scalar is { } enumValue && type.Kind == TypeKind.Enum && context.Types[type.Name!] is { } enumType && enumType.Values.Contains(enumValue.Value))
            return new BoundLiteral(new ExprType(type, false), new StringConstant(enumValue.Value));
        context.Report(DiagnosticTable.BadDefault, syntax.Span, syntax.Scalar?.Value ?? "(" + syntax.KindName + ")", type.ToString());
        return null;
    }

    private static Constraints BindConstraints(BindingContext context, FieldSyntax field, TypeRef type)
    {
        long? minLength = null, maxLength = null, min = null, max = null;
        string? pattern = null;
        var oneOf = EquatableArray<string>.Empty;
        var kinds = type.Descriptor.Constraints;
        foreach (var constraint in field.Constraints)
        {
            var applies = constraint.Kind switch
            {
                ConstraintKind.MinLength or ConstraintKind.MaxLength => (kinds & ConstraintKinds.Length) != 0,
                ConstraintKind.Min or ConstraintKind.Max => (kinds & ConstraintKinds.Range) != 0,
                ConstraintKind.Pattern => (kinds & ConstraintKinds.Pattern) != 0,
                _ => (kinds & ConstraintKinds.OneOf) != 0,
            };
            if (!applies)
            {
                context.Report(DiagnosticTable.ConstraintMismatch, constraint.Key.Span, constraint.Key.Value, type.ToString());
                continue;
            }
            switch (constraint.Kind)
            {
                case ConstraintKind.Pattern when constraint.Value is { } text:
                    try
                    {
                        _ = new System.Text.RegularExpressions.Regex(text.Value);
                        pattern = text.Value;
                    }
                    catch (System.ArgumentException ex)
                    {
                        context.Report(DiagnosticTable.InvalidValue, text.Span, text.Value, "'pattern'", ex.Message);
                    }
                    break;
                case ConstraintKind.OneOf:
                    oneOf = constraint.Values.Select(v => v.Value).ToEquatableArray();
                    break;
                default:
                    if (constraint.Value is not { } number) break;
                    var signed = constraint.Kind is ConstraintKind.Min or ConstraintKind.Max;
                    if (!long.TryParse(number.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || (value < 0 && !signed))
                    {
                        context.Report(DiagnosticTable.InvalidValue, number.Span, number.Value, $"'{constraint.Key.Value}'", "expected a whole number");
                        break;
                    }
                    switch (constraint.Kind)
                    {
                        case ConstraintKind.MinLength: minLength = value; break;
                        case ConstraintKind.MaxLength: maxLength = value; break;
                        case ConstraintKind.Min: min = value; break;
                        default: max = value; break;
                    }
                    break;
            }
        }
        if (minLength > maxLength) context.Report(DiagnosticTable.InvalidValue, field.Span, $"{minLength}..{maxLength}", "the length constraints", "min_length exceeds max_length");
        if (min > max) context.Report(DiagnosticTable.InvalidValue, field.Span, $"{min}..{max}", "the range constraints", "min exceeds max");
        return new Constraints(minLength, maxLength, min, max, pattern, oneOf);
    }

    // ---- Inputs, services, errors, envelope -------------------------------------------------

    private static void BindInputs(BindingContext context, ProtocolSyntax syntax)
    {
        var seen = new HashSet<string>();
        foreach (var inputs in syntax.Inputs)
        {
            var role = inputs.Role.Value;
            if (!seen.Add(role))
            {
                context.Report(DiagnosticTable.DuplicateKey, inputs.Role.Span, role, "'inputs'");
                continue;
            }
            if (!context.Roles.Contains(role))
            {
                context.Report(DiagnosticTable.UnknownRole, inputs.Role.Span, role, context.RoleList);
                continue;
            }
            context.Inputs[role].AddRange(BindFields(context, inputs.Fields, $"the inputs of '{role}'", null, TypePlaces.Input,
                Naming.RoleTypes(context.Prefix, role).Inputs, Naming.ObjectMembers, role + "_inputs"));
        }
    }

    private static void BindServices(BindingContext context, ProtocolSyntax syntax)
    {
        var properties = new Dictionary<string, string>();
        foreach (var service in syntax.Services)
        {
            var name = service.Name.Value;
            if (context.Services.ContainsKey(name) || context.Messages.ContainsKey(name) || name is "msg" or "self" or "peer" or "envelope")
            {
                context.Report(DiagnosticTable.DuplicateKey, service.Name.Span, name, "the names of messages and services");
                continue;
            }
            var property = Naming.Pascal(name);
            if (properties.TryGetValue(property, out var other) || Naming.ObjectMembers.Contains(property))
            {
                context.Report(DiagnosticTable.NameCollision, service.Name.Span, other ?? "the generated member", name, property);
                continue;
            }
            var kind = ServiceKinds.Find(service.Kind.Value);
            if (kind is null)
            {
                context.Report(DiagnosticTable.UnknownServiceKind, service.Kind.Span, service.Kind.Value, ServiceKinds.Names);
                continue;
            }
            var roles = BindAt(context, service.At, service.AtSpan, service.Span, "a service is held by at least one role");
            if (roles.Count == 0) continue;
            TypeRef? valueType = null;
            if (kind.Generic)
            {
                if (service.Of is not { } of) continue;
                // A store holds values or nothing: its 'of' is never optional.
                valueType = of.Optional ? null : ValueTypes.Resolve(of.Name, of.Argument, TypePlaces.StoredValue);
                if (valueType is null)
                {
                    context.Report(DiagnosticTable.UnknownType, of.Source.Span, of.Source.Value, ValueTypes.Spellings(TypePlaces.StoredValue) + " (the value types a value_store holds)");
                    continue;
                }
            }
            var settings = new List<SettingValue>();
            foreach (var setting in kind.Settings)
            {
                var value = service.Settings.FirstOrDefault(s => s.Key.Value == setting.Name)?.Value;
                if (value is null) continue;
                if (setting.Kind == SettingKind.Duration)
                {
                    if (DurationSyntax.TryParse(value.Value, out var ms)) settings.Add(new SettingValue(setting.Name, new DurationConstant(ms)));
                    else context.Report(DiagnosticTable.InvalidValue, value.Span, value.Value, $"'{setting.Name}'", DurationSyntax.Rule);
                }
                else if (int.TryParse(value.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
                    settings.Add(new SettingValue(setting.Name, new IntegerConstant(n)));
                else context.Report(DiagnosticTable.InvalidValue, value.Span, value.Value, $"'{setting.Name}'", "a positive whole number");
            }
            if (settings.Count != kind.Settings.Count) continue;
            properties[property] = name;
            context.Services[name] = new ServiceSymbol(name, kind.Name, valueType, roles.ToEquatableArray(), service.Doc, settings.ToEquatableArray());
        }
    }

    /// <summary>An <c>at:</c> (a role or a list of roles): the known roles, each once; an unknown one is DSL106, an empty list DSL006.</summary>
    private static List<string> BindAt(BindingContext context, EquatableArray<Syntax.Yaml.YamlScalar> at, SourceSpan atSpan, SourceSpan span, string rule)
    {
        var roles = new List<string>();
        foreach (var role in at)
        {
            if (!context.Roles.Contains(role.Value)) context.Report(DiagnosticTable.UnknownRole, role.Span, role.Value, context.RoleList);
            else if (!roles.Contains(role.Value)) roles.Add(role.Value);
        }
        if (roles.Count == 0 && at.IsEmpty && atSpan != span) context.Report(DiagnosticTable.InvalidValue, atSpan, "[]", "'at'", rule);
        return roles;
    }

    private static void BindHooks(BindingContext context, ProtocolSyntax syntax)
    {
        var methods = new Dictionary<string, string>();
        foreach (var hook in syntax.Hooks)
        {
            var name = hook.Name.Value;
            if (context.Hooks.ContainsKey(name) || context.Services.ContainsKey(name) || context.Messages.ContainsKey(name) || Builtins.Find(name) is not null
                || name is "msg" or "self" or "peer" or "envelope" or "payload")
            {
                context.Report(DiagnosticTable.DuplicateKey, hook.Name.Span, name, "the names of messages, services, hooks and built-in functions");
                continue;
            }
            var method = Naming.Pascal(name) + "Async";
            if (methods.TryGetValue(method, out var other))
            {
                context.Report(DiagnosticTable.NameCollision, hook.Name.Span, other, name, method);
                continue;
            }
            var roles = BindAt(context, hook.At, hook.AtSpan, hook.Span, "a hook is called by at least one role");
            if (roles.Count == 0) continue;
            // A parameter is a value of the language, as a message field is; 'cancellationToken' is the generated method's own.
            var parameters = BindFields(context, hook.Inputs, $"hook '{name}'", null, TypePlaces.Message, method, new[] { "CancellationToken" }, name);
            if (parameters.Count != hook.Inputs.Count) continue;
            var output = hook.Output!;
            var outputType = TypeBinder.Resolve(context, output, TypePlaces.Message);
            if (outputType is null)
            {
                context.Report(DiagnosticTable.UnknownType, output.Source.Span, output.Source.Value, ValueTypes.Spellings(TypePlaces.Message) + ", or a type declared under 'types' (the types a hook can answer)");
                continue;
            }
            methods[method] = name;
            context.Hooks[name] = new HookSymbol(name, roles.ToEquatableArray(), hook.Doc, parameters.ToEquatableArray(), outputType, output.Optional, hook.Name.Span);
        }
    }

    private static void DeclareErrors(BindingContext context, ProtocolSyntax syntax)
    {
        var constants = new Dictionary<string, string>();
        foreach (var error in syntax.Errors)
        {
            var constant = Naming.Pascal(error.Code.Value);
            if (!context.ErrorCodes.Add(error.Code.Value))
            {
                context.Report(DiagnosticTable.DuplicateKey, error.Code.Span, error.Code.Value, "'errors'");
                continue;
            }
            if (constants.TryGetValue(constant, out var other) || constant == Naming.ErrorCodes(context.Prefix) || Naming.ObjectMembers.Contains(constant))
            {
                context.Report(DiagnosticTable.NameCollision, error.Code.Span, other ?? "the generated type", error.Code.Value, constant);
                continue;
            }
            constants[constant] = error.Code.Value;
        }
    }

    private static void DeclareEnvelope(BindingContext context, ProtocolSyntax syntax, string discriminator)
    {
        if (syntax.Envelope is not { } envelope) return;
        if (envelope.Wrap is { } wrap)
        {
            context.Wrap = wrap.Value;
            return;
        }
        if (envelope.Name is null) return;
        var payload = envelope.Payload?.Value ?? "payload";
        var typeName = Naming.Pascal(envelope.Name.Value);
        if (Naming.GeneratedTypes(context.Prefix, context.Roles).Contains(typeName) || context.Messages.Values.Any(m => Naming.Pascal(m.Name) == typeName)
            || context.TypeNames.ContainsKey(typeName))
        {
            context.Report(DiagnosticTable.NameCollision, envelope.Name.Span, "another generated type", envelope.Name.Value, typeName);
            return;
        }
        // An envelope that signs itself has Unsigned beside Payload: a field may not take that name then.
        var members = envelope.Signature.IsEmpty ? Naming.EnvelopeMembers.Where(m => m != Naming.EnvelopeUnsigned).ToArray() : Naming.EnvelopeMembers;
        var fields = BindFields(context, envelope.Fields, $"'{envelope.Name.Value}'", payload, TypePlaces.Message, typeName, members, envelope.Name.Value);
        if (envelope.Fields.IsEmpty)
            context.Report(DiagnosticTable.MissingKey, envelope.Span, "An envelope (such as one that carries a signature)", "fields", "");
        if (fields.Count > 64) context.Report(DiagnosticTable.TooManyFields, envelope.Name.Span, envelope.Name.Value, fields.Count.ToString(CultureInfo.InvariantCulture));
        var signature = new List<string>();
        foreach (var name in envelope.Signature)
        {
            if (!fields.Any(f => f.Name == name.Value)) context.Report(DiagnosticTable.UnknownMember, name.Span, envelope.Name.Value, name.Value);
            else if (signature.Contains(name.Value)) context.Report(DiagnosticTable.DuplicateKey, name.Span, name.Value, "'signature'");
            else signature.Add(name.Value);
        }
        context.Envelope = new EnvelopeSymbol(envelope.Name.Value, payload, fields.ToEquatableArray(), EquatableArray<RoleAssignments>.Empty)
        {
            SignatureFields = signature.ToEquatableArray(),
        };
    }

    /// <summary>Each role computes the envelope's fields over <c>payload</c>, the canonical bytes of the message it sends.</summary>
    private static EnvelopeSymbol? BindEnvelope(BindingContext context, FlowBinder flow, ProtocolSyntax syntax)
    {
        if (context.Envelope is not { } envelope || syntax.Envelope is not { } envelopeSyntax) return null;
        var set = envelopeSyntax.Set ?? new AssignmentsSyntax(envelopeSyntax.Span, EquatableArray<AssignmentSyntax>.Empty);
        var roles = new List<RoleAssignments>();
        foreach (var role in context.Roles)
        {
            var scope = new Scope { Role = role, Where = "the envelope", Paths = flow.Nowhere, AllowTranscript = false, AllowPeer = false, Sealing = true };
            var assignments = BindAssignments(context, flow.Binder, envelope.Name, envelope.Fields, set, scope, new string[0]);
            if (assignments.Any(a => CallsService(a.Value)))
            {
                context.Report(DiagnosticTable.InvalidValue, set.Span, "set", "the envelope", "an envelope's fields cannot call services or hooks");
                return null;
            }
            // 'unsigned' is the envelope without its signature fields: only they can be computed over it.
            foreach (var assignment in assignments.Where(a => !envelope.SignatureFields.Contains(a.Field) && Reads(a.Value, ContextValue.SealedUnsigned)))
                context.Report(DiagnosticTable.InvalidValue, assignment.Span, assignment.Field, "the envelope's set",
                    "'unsigned' is the envelope without its signature fields, so only those (named under 'signature') can be computed over it");
            roles.Add(new RoleAssignments(role, assignments.ToEquatableArray()));
        }
        var checks = new List<RoleChecks>();
        foreach (var role in context.Roles)
        {
            var scope = new Scope { Role = role, Where = "the envelope's require", Paths = flow.AnyPaths, AllowTranscript = false, AnyMessage = true, Advice = AbsenceAdvice.Require };
            var bound = envelopeSyntax.Require.Select(c => flow.Binder.BindCheck(c, scope)).Where(c => c is not null).Select(c => c!).ToList();
            if (bound.Count > 0) checks.Add(new RoleChecks(role, bound.ToEquatableArray()));
        }
        return envelope with { Set = roles.ToEquatableArray(), Checks = checks.ToEquatableArray() };
    }

    private static List<ErrorSymbol> BindErrors(BindingContext context, FlowBinder flow, ProtocolSyntax syntax, string malformed, EnvelopeSymbol? envelope)
    {
        // A code the envelope's checks raise is raised by its role on any message it receives: anywhere, as the malformed code.
        bool Anywhere(string role, string code) => code == malformed
            || envelope?.Checks.Any(c => c.Role == role && c.Checks.Any(k => k.Code == code)) == true;
        var result = new List<ErrorSymbol>();
        var bound = new HashSet<string>();
        foreach (var error in syntax.Errors)
        {
            var code = error.Code.Value;
            if (!bound.Add(code)) continue;
            string? send = null;
            var assignments = new List<BoundAssignment>();
            if (error.Send is { } sendScalar)
            {
                if (!context.Messages.TryGetValue(sendScalar.Value, out var message))
                    context.Report(DiagnosticTable.UnknownFlowMessage, sendScalar.Span, sendScalar.Value);
                else if (message.ReportsCode is null)
                    context.Report(DiagnosticTable.ErrorMessageShape, sendScalar.Span, message.Name, "a message sent for an error declares 'reports: { code: FIELD }'");
                else
                {
                    send = message.Name;
                    var scope = new Scope { Role = null, Where = $"error '{code}'", Paths = flow.Nowhere, AllowTranscript = false, AllowPeer = false, ErrorValues = true };
                    var set = error.Set ?? new AssignmentsSyntax(error.Span, EquatableArray<AssignmentSyntax>.Empty);
                    assignments.AddRange(BindAssignments(context, flow.Binder, message.Name, message.Fields, set, scope, preset: new[] { message.ReportsCode }));
                }
            }
            else if (error.Set is not null)
                context.Report(DiagnosticTable.MissingKey, error.Span, $"Error '{code}' has 'set' and", "send", "");

            var effects = EquatableArray<RoleEffects>.Empty;
            if (error.Do is { } doSyntax)
            {
                // Bound where each role can raise the code: the malformed code anywhere.
                effects = BindEffects(context, flow.Binder, doSyntax, $"the 'do' of error '{code}'",
                    role => Anywhere(role, code) || flow.IsRaised(role, code),
                    role => EffectsScope(flow, role, $"the 'do' of error '{code}'", Anywhere(role, code) ? flow.AnyPaths : flow.Raised(role, code)),
                    EffectMessage).ToEquatableArray();
            }
            result.Add(new ErrorSymbol(code, error.Doc, send, assignments.ToEquatableArray(), effects));
        }
        return result;
    }

    private const string EffectMessage = "An effect must call a service method, such as 'trust.blacklist(...)', or a hook";

    private static Scope EffectsScope(FlowBinder flow, string role, string where, PathSet paths)
        => new() { Role = role, Where = where, Paths = paths, Lets = flow.LetsFor(role) };

    /// <summary>Binds service calls per role: a step's <c>do</c>, an error's <c>do</c>, <c>on_failure</c>.</summary>
    public static IEnumerable<RoleEffects> BindEffects(BindingContext context, ExpressionBinder binder, EffectsSyntax effects, string where,
        System.Func<string, bool> raisedBy, System.Func<string, Scope> scopeFor, string notACall)
    {
        var seen = new HashSet<string>();
        foreach (var roleEffects in effects.Roles)
        {
            var role = roleEffects.Role.Value;
            if (!seen.Add(role))
            {
                context.Report(DiagnosticTable.DuplicateKey, roleEffects.Role.Span, role, where);
                continue;
            }
            if (!context.Roles.Contains(role))
            {
                context.Report(DiagnosticTable.UnknownRole, roleEffects.Role.Span, role, context.RoleList);
                continue;
            }
            if (!raisedBy(role))
            {
                context.Report(DiagnosticTable.InvalidValue, roleEffects.Role.Span, role, where, $"'{role}' never raises this error, so these effects could never run");
                continue;
            }
            var scope = scopeFor(role);
            var calls = new List<BoundEffect>();
            foreach (var call in roleEffects.Calls)
            {
                var bound = binder.BindExpression(call, scope, expected: null, requirePresent: false, "an effect");
                if (bound is null) continue;
                if (bound is not (BoundServiceCall or BoundHookCall))
                {
                    context.Report(DiagnosticTable.BadCall, call.Span, notACall);
                    continue;
                }
                calls.Add(new BoundEffect(bound, call.Source.Span));
            }
            yield return new RoleEffects(role, calls.ToEquatableArray());
        }
    }

    /// <summary>Binds a <c>set</c> and checks that every required field gets a value.</summary>
    public static List<BoundAssignment> BindAssignments(BindingContext context, ExpressionBinder binder, string owner, EquatableArray<FieldSymbol> fields,
        AssignmentsSyntax set, Scope scope, IReadOnlyCollection<string> preset)
    {
        var result = new List<BoundAssignment>();
        var seen = new HashSet<string>();
        foreach (var entry in set.Entries)
        {
            var field = fields.FirstOrDefault(f => f.Name == entry.Field.Value);
            if (field is null)
            {
                // 'set: { x: f(a, b) }' splits at the comma: the tail becomes a key. Say so, as DSL002 does for other keys.
                var split = entry.Field.Value.Any(c => !(char.IsLetterOrDigit(c) || c == '_'))
                    ? "' (a comma in an unquoted value splits it in a { } mapping; write the set as a block, one line per field: 'field: value"
                    : null;
                context.Report(DiagnosticTable.UnknownMember, entry.Field.Span, owner, split is null ? entry.Field.Value : entry.Field.Value.Trim() + split);
                continue;
            }
            if (!seen.Add(field.Name) || preset.Contains(field.Name))
            {
                context.Report(DiagnosticTable.DuplicateKey, entry.Field.Span, field.Name, $"the values of '{owner}'");
                continue;
            }
            if (field.Const is not null)
            {
                context.Report(DiagnosticTable.InvalidConstant, entry.Field.Span, field.Name, $"field '{field.Name}' of '{owner}' is a constant: the sender writes it, a 'set' gives it no value");
                continue;
            }
            if (entry.Value is null) continue;
            var value = binder.BindValue(entry.Value, scope, field.Type, allowAbsent: field.Optional, $"field '{field.Name}' of '{owner}'");
            if (value is not null) result.Add(new BoundAssignment(field.Name, value, entry.Field.Span) { Source = Text(entry.Value) });
        }
        foreach (var field in fields)
            if (!field.Optional && field.Const is null && !seen.Contains(field.Name) && !preset.Contains(field.Name))
                context.Report(DiagnosticTable.UnsetRequiredField, set.Span, owner, field.Name);
        return result;
    }

    // ---- Outcome, session, unused messages ----------------------------------------------------

    private static EquatableArray<RoleSymbol> BindOutcomes(BindingContext context, FlowBinder flow, ProtocolSyntax syntax)
    {
        var outcomes = context.Roles.ToDictionary(r => r, _ => new List<OutcomeSymbol>());
        var seenRoles = new HashSet<string>();
        foreach (var roleOutcome in syntax.Outcome?.Roles ?? EquatableArray<RoleOutcomeSyntax>.Empty)
        {
            var role = roleOutcome.Role.Value;
            if (!seenRoles.Add(role))
            {
                context.Report(DiagnosticTable.DuplicateKey, roleOutcome.Role.Span, role, "'outcome'");
                continue;
            }
            if (!outcomes.TryGetValue(role, out var values))
            {
                context.Report(DiagnosticTable.UnknownOutcomeRole, roleOutcome.Role.Span, role, context.RoleList);
                continue;
            }
            var where = $"the outcome of '{role}'";
            var scope = new Scope { Role = role, Where = where, Paths = flow.SuccessPaths, Lets = flow.LetsFor(role) };
            var properties = new Dictionary<string, string>();
            var names = new HashSet<string>();
            foreach (var value in roleOutcome.Values)
            {
                var name = value.Name.Value;
                if (!names.Add(name))
                {
                    context.Report(DiagnosticTable.DuplicateKey, value.Name.Span, name, where);
                    continue;
                }
                var property = Naming.Pascal(name);
                if (properties.TryGetValue(property, out var other) || Naming.ObjectMembers.Contains(property) || property == Naming.RoleTypes(context.Prefix, role).Result)
                {
                    context.Report(DiagnosticTable.NameCollision, value.Name.Span, other ?? "the generated member", name, property);
                    continue;
                }
                properties[property] = name;
                var bound = flow.Binder.BindExpression(value.Value, scope, expected: null, requirePresent: false, $"outcome '{name}'");
                if (bound is null) continue;
                if (bound.Type.Type.Kind is TypeKind.Null or TypeKind.Void || bound.Type.Type is { Kind: TypeKind.List, Element: TypeKind.Null })
                {
                    context.Report(DiagnosticTable.TypeMismatch, value.Value.Span, $"outcome '{name}'", "a value of a known type", bound.Type.ToString());
                    continue;
                }
                values.Add(new OutcomeSymbol(name, bound.Type, bound, value.Name.Span) { IsSecret = Secrecy.IsSecret(bound, scope.Lets) });
            }
        }
        return context.Roles.Select(role => new RoleSymbol(role, context.RoleDocs[role], context.Inputs[role].ToEquatableArray(), outcomes[role].ToEquatableArray())).ToEquatableArray();
    }

    private static HeartbeatSymbol? BindSession(BindingContext context, FlowBinder flow, ProtocolSyntax syntax)
    {
        if (syntax.Session?.Heartbeat is not { } heartbeat) return null;
        var keySpan = syntax.Session.HeartbeatKey?.Span ?? heartbeat.Span;
        var pinger = heartbeat.Pinger.Value;
        if (!context.Roles.Contains(pinger))
        {
            context.Report(DiagnosticTable.UnknownRole, heartbeat.Pinger.Span, pinger, context.RoleList);
            return null;
        }
        var missed = 2;
        if (heartbeat.Missed is { } missedScalar
            && (!int.TryParse(missedScalar.Value, NumberStyles.None, CultureInfo.InvariantCulture, out missed) || missed < 1 || missed > 100))
        {
            context.Report(DiagnosticTable.InvalidValue, missedScalar.Span, missedScalar.Value, "'missed'", "a whole number of intervals from 1 to 100");
            return null;
        }
        MessageSymbol? Message(HeartbeatPartSyntax part)
        {
            if (context.Messages.TryGetValue(part.Message.Value, out var message)) return message;
            context.Report(DiagnosticTable.UnknownFlowMessage, part.Message.Span, part.Message.Value);
            return null;
        }
        var ping = Message(heartbeat.Ping);
        var pong = Message(heartbeat.Pong);
        if (ping is null || pong is null || heartbeat.IntervalMs is null) return null;
        if (ping == pong || flow.UsedMessages.Contains(ping.Name) || flow.UsedMessages.Contains(pong.Name))
        {
            context.Report(DiagnosticTable.SessionShape, keySpan, "the ping and pong messages must be two messages of their own, not used by the handshake's flow");
            return null;
        }
        var roles = new List<RoleHeartbeat>();
        foreach (var role in context.Roles)
        {
            var scope = new Scope { Role = role, Where = "the heartbeat", Paths = flow.SuccessPaths, Lets = flow.LetsFor(role), AllowPeer = false };
            var interval = flow.Binder.BindExpression(heartbeat.IntervalMs, scope, TypeRef.Int, requirePresent: true, "'interval_ms'");
            var isPinger = role == pinger;
            var part = isPinger ? heartbeat.Ping : heartbeat.Pong;
            var message = isPinger ? ping : pong;
            var partScope = isPinger ? scope : scope with { Where = "the pong", Ping = ping };
            var set = BindAssignments(context, flow.Binder, message.Name, message.Fields,
                part.Set ?? new AssignmentsSyntax(part.Span, EquatableArray<AssignmentSyntax>.Empty), partScope, new string[0]);
            if ((interval is not null && CallsService(interval)) || set.Any(a => CallsService(a.Value)))
            {
                context.Report(DiagnosticTable.SessionShape, keySpan, "the heartbeat's interval and messages cannot call services or hooks; compute the value during the handshake and refer to it");
                return null;
            }
            if (interval is not null) roles.Add(new RoleHeartbeat(role, interval, set.ToEquatableArray()));
        }
        return new HeartbeatSymbol(pinger, ping.Name, pong.Name, missed, roles.ToEquatableArray());
    }

    /// <summary>Whether an expression reads the context value <paramref name="value"/>.</summary>
    /// <summary>A value as written: an expression's text (a string literal quoted), a list, or an object's fields.</summary>
    private static string Text(ValueSyntax value) => value switch
    {
        ExpressionValueSyntax { Expression.Source: { IsQuoted: true } or { Style: Syntax.Yaml.ScalarStyle.Block } } literal => "\"" + literal.Expression.Source.Value.Trim() + "\"",
        ExpressionValueSyntax expression => expression.Expression.Source.Value.Trim(),
        ListValueSyntax list => "[" + string.Join(", ", list.Items.Select(Text)) + "]",
        ObjectValueSyntax obj => "{ " + string.Join(", ", obj.Fields.Entries.Select(e => e.Field.Value + ": " + (e.Value is null ? "" : Text(e.Value)))) + " }",
        _ => "",
    };

    internal static bool Reads(BoundExpression expression, ContextValue value) => expression switch
    {
        BoundContext context => context.Value == value,
        BoundCall call => call.Arguments.Any(a => Reads(a, value)),
        BoundUnary unary => Reads(unary.Operand, value),
        BoundBinary binary => Reads(binary.Left, value) || Reads(binary.Right, value),
        BoundConditional conditional => Reads(conditional.Condition, value) || Reads(conditional.Then, value) || Reads(conditional.Else, value),
        BoundList list => list.Items.Any(i => Reads(i, value)),
        BoundObject obj => obj.Fields.Any(f => Reads(f.Value, value)),
        BoundMember member => Reads(member.Target, value),
        _ => false,
    };

    private static bool CallsService(BoundExpression expression) => expression switch
    {
        BoundServiceCall or BoundHookCall => true,
        // A built-in that runs under the step's timeout (pow_solve) needs a step as a service call does.
        BoundCall call => call.Descriptor.Implicit.Contains(ImplicitArgument.Cancellation) || call.Arguments.Any(CallsService),
        BoundUnary unary => CallsService(unary.Operand),
        BoundBinary binary => CallsService(binary.Left) || CallsService(binary.Right),
        BoundConditional conditional => CallsService(conditional.Condition) || CallsService(conditional.Then) || CallsService(conditional.Else),
        BoundMember member => CallsService(member.Target),
        BoundObject obj => obj.Fields.Any(f => CallsService(f.Value)),
        BoundList list => list.Items.Any(CallsService),
        _ => false,
    };

    private static void ReportUnusedMessages(BindingContext context, FlowBinder flow, List<ErrorSymbol> errors, HeartbeatSymbol? heartbeat, SessionSyntax? session)
    {
        foreach (var message in context.Messages.Values.OrderBy(m => m.Index))
        {
            var used = flow.UsedMessages.Contains(message.Name)
                       || message.IsErrorMessage
                       || errors.Any(e => e.Send == message.Name)
                       || heartbeat?.PingMessage == message.Name || heartbeat?.PongMessage == message.Name
                       // A heartbeat with errors of its own names its messages: they are not unused on top.
                       || (heartbeat is null && session?.Heartbeat is { } named && (named.Ping.Message.Value == message.Name || named.Pong.Message.Value == message.Name));
            if (!used) context.Report(DiagnosticTable.UnusedMessage, message.Span, message.Name);
        }
    }
}
