using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;

namespace Dsl.Generator.Emit;

/// <summary>Emits the message types, the message base record, the envelope record and the error codes of a protocol.</summary>
internal static class MessageEmitter
{
    public static string Emit(BoundProtocol protocol)
    {
        var prefix = Naming.Pascal(protocol.Name);
        var w = Header(protocol);
        w.Summary($"A message of the {protocol.Name} protocol, version {protocol.Version}. {protocol.Description}");
        w.Line(CSharp.GeneratedCode);
        w.Open($"public abstract partial record {Naming.MessageBase(prefix)}");
        w.Summary($"The message's wire name, the value of its '{protocol.Discriminator}' field.");
        w.Line("public abstract string MessageType { get; }");
        if (protocol.Envelope is { } envelope)
        {
            w.Line();
            w.Summary($"The {envelope.Name} the message travels in: set by the sender when it seals the message, and by the codec on every message it decodes.");
            w.Line($"public {Naming.Pascal(envelope.Name)}? Envelope {{ get; init; }}");
        }
        w.Close();
        if (protocol.Envelope is { } wrapper)
        {
            w.Line();
            w.Summary($"The envelope every {protocol.Name} message travels in: the message under '{wrapper.PayloadField}', as canonical JSON (RFC 8785), beside these fields, which the sender computes over those bytes.");
            w.Line(CSharp.GeneratedCode);
            w.Open($"public sealed partial record {Naming.Pascal(wrapper.Name)}");
            w.Summary("The message as canonical JSON: the bytes the envelope's fields were computed over.");
            w.Line($"public required {CSharp.Codecs}.Bytes {Naming.EnvelopePayload} {{ get; init; }}");
            if (wrapper.SignsItself)
            {
                w.Line();
                w.Summary($"The envelope as canonical JSON without {string.Join(" and ", wrapper.SignatureFields.Select(f => "'" + f + "'"))}: the bytes the signature covers. Set when the message is sealed, and by the codec on every message it decodes.");
                w.Line($"public {CSharp.Codecs}.Bytes {Naming.EnvelopeUnsigned} {{ get; init; }}");
            }
            foreach (var field in wrapper.Fields)
            {
                w.Line();
                EmitProperty(w, protocol, field);
            }
            w.Close();
        }

        foreach (var message in protocol.Messages)
        {
            w.Line();
            w.Summary(message.Doc ?? $"The '{message.Name}' message.");
            w.Line(CSharp.GeneratedCode);
            w.Open($"public sealed partial record {Naming.Pascal(message.Name)} : {Naming.MessageBase(prefix)}");
            w.Summary($"The wire name of this message: \"{message.Wire}\".");
            w.Line($"public const string WireName = {CSharp.Literal(message.Wire)};");
            w.Line();
            w.Line("/// <inheritdoc />");
            w.Line("public override string MessageType => WireName;");
            if (message.SignsItself)
            {
                w.Line();
                w.Summary($"The message as canonical JSON (RFC 8785) without {string.Join(" and ", message.SignatureFields.Select(f => "'" + f + "'"))}: the bytes the signature covers. Not on the wire: set by the sender when it builds the message, and by the codec from the bytes it decodes.");
                w.Line($"public {CSharp.Codecs}.Bytes {Naming.EnvelopeUnsigned} {{ get; init; }}");
            }
            foreach (var field in message.Fields)
            {
                w.Line();
                EmitProperty(w, protocol, field);
            }
            w.Close();
        }

        foreach (var type in protocol.Types) EmitDeclaredType(w, protocol, type);

        w.Line();
        w.Summary($"The error codes of the {protocol.Name} protocol; '{protocol.MalformedCode}' is raised for a message that cannot be decoded, is not expected, or is too large. The runtime adds its own (see Dsl.Runtime.Handshakes.HandshakeErrorCodes).");
        w.Line(CSharp.GeneratedCode);
        w.Open($"public static partial class {Naming.ErrorCodes(prefix)}");
        foreach (var error in protocol.Errors)
        {
            w.Summary(error.Doc ?? $"The error code \"{error.Code}\".");
            w.Line($"public const string {Naming.Pascal(error.Code)} = {CSharp.Literal(error.Code)};");
            w.Line();
        }
        w.Close();
        return Footer(w);
    }

    /// <summary>An object type (a record, its fields as a message's) or an enum type (a C# enum, each value's text in its doc).</summary>
    private static void EmitDeclaredType(SourceWriter w, BoundProtocol protocol, TypeSymbol type)
    {
        var name = Naming.DeclaredType(type.Name);
        w.Line();
        if (type.Kind == TypeKind.Object)
        {
            w.Summary(type.Doc ?? $"The object type '{type.Name}'.");
            w.Line(CSharp.GeneratedCode);
            w.Open($"public sealed partial record {name}");
            var first = true;
            foreach (var field in type.Fields)
            {
                if (!first) w.Line();
                first = false;
                EmitProperty(w, protocol, field);
            }
            w.Close();
            return;
        }
        w.Summary((type.Doc ?? $"The enum type '{type.Name}'.") + $" On the wire, each value is its text; {Naming.Codec(Naming.Pascal(protocol.Name))}.ToWire gives it.");
        w.Line(CSharp.GeneratedCode);
        w.Open($"public enum {name}");
        foreach (var value in type.Values)
        {
            w.Summary($"\"{value}\" on the wire.");
            w.Line($"{Naming.EnumMember(value)},");
        }
        w.Close();
    }

    /// <summary>A property for a field of a message or an envelope, or an input.</summary>
    public static void EmitProperty(SourceWriter w, BoundProtocol protocol, FieldSymbol field)
    {
        var emitter = new ExpressionEmitter(protocol);
        var doc = field.Doc ?? $"The '{field.Name}' field.";
        if (field.WireName is { } wire) doc += $" On the wire: \"{wire}\".";
        if (field.Const is { } constant)
        {
            // A constant is no one's to set: the sender always writes it, the receiver refuses any other value.
            var always = emitter.Constant(field.Type, constant);
            w.Summary(doc + $" Always {DefaultText(new BoundLiteral(new ExprType(field.Type, false), constant))}.");
            w.Line($"public {CSharp.Type(field.Type)} {Naming.Pascal(field.Name)} => {always};");
            return;
        }
        var fallback = field.Default is { } value ? emitter.Maybe(value, EmitScope.Empty) : null;
        if (field.Optional) doc += fallback is null ? " Optional." : $" Optional; defaults to {DefaultText(field.Default!)}.";
        w.Summary(doc);
        var type = CSharp.Type(field.Type, field.IsNullable);
        var name = Naming.Pascal(field.Name);
        if (!field.Optional) w.Line($"public required {type} {name} {{ get; init; }}");
        else if (fallback is not null) w.Line($"public {type} {name} {{ get; init; }} = {fallback};");
        else w.Line($"public {type} {name} {{ get; init; }}");
    }

    private static string DefaultText(BoundExpression value) => value switch
    {
        BoundLiteral { Value: StringConstant text } => "\"" + text.Value + "\"",
        BoundLiteral { Value: IntegerConstant number } => number.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        BoundLiteral { Value: BooleanConstant boolean } => boolean.Value ? "true" : "false",
        BoundLiteral { Value: DecimalConstant number } => number.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        BoundList list => "[" + string.Join(", ", list.Items.Select(DefaultText)) + "]",
        _ => "",
    };

    public static SourceWriter Header(BoundProtocol protocol, bool mapToSpec = false)
    {
        var w = new SourceWriter(mapToSpec ? protocol.FilePath : null);
        w.Line("// <auto-generated/>");
        if (mapToSpec)
        {
            // A spec may check a constant (when: true) or compare a value with itself: pointless, but not wrong.
            w.Line("#pragma warning disable CS0162, CS1718");
        }
        w.Line($"// Generated by Dsl.Generator from the {protocol.Name} {SourceWriter.OneLine(protocol.Version)} spec. Edit the spec, not this file.");
        w.Line("#nullable enable");
        w.Line();
        w.Open($"namespace {protocol.Namespace}");
        return w;
    }

    public static string Footer(SourceWriter w)
    {
        w.Close();
        return w.ToString();
    }
}
