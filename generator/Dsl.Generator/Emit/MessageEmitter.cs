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
            w.Summary($"The wire name of this message: \"{message.Name}\".");
            w.Line($"public const string WireName = {CSharp.Literal(message.Name)};");
            w.Line();
            w.Line("/// <inheritdoc />");
            w.Line("public override string MessageType => WireName;");
            foreach (var field in message.Fields)
            {
                w.Line();
                EmitProperty(w, protocol, field);
            }
            w.Close();
        }

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

    /// <summary>A property for a field of a message or an envelope, or an input.</summary>
    public static void EmitProperty(SourceWriter w, BoundProtocol protocol, FieldSymbol field)
    {
        var emitter = new ExpressionEmitter(protocol);
        var doc = field.Doc ?? $"The '{field.Name}' field.";
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
