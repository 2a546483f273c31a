using System.Globalization;
using System.Linq;
using Dsl.Generator.Binding.Expressions;
using Dsl.Generator.Model;

namespace Dsl.Generator.Emit;

/// <summary>
/// Emits the protocol's JSON codec on <c>Utf8JsonWriter</c>/<c>Utf8JsonReader</c>: no reflection, no
/// intermediate DOM (except free-form metadata), a typed <c>DecodeError</c> for every kind of bad input.
/// </summary>
internal static class CodecEmitter
{
    public static string Emit(ProtocolModel protocol)
    {
        var p = protocol.TypePrefix;
        var w = MessageEmitter.Header(protocol);
        var disc = Literal(protocol.Discriminator);
        w.Summary($"Encodes and decodes {protocol.Name} {protocol.Version} messages as JSON objects discriminated by '{protocol.Discriminator}'. " +
                  "Unknown fields are ignored; a missing required field, a wrong type, a repeated field, an unknown message type, a broken constraint or trailing data is a DecodeError.");
        w.Line(CSharpTypes.GeneratedCode);
        w.Open($"public sealed partial class {p}Codec : global::Dsl.Runtime.Codecs.IMessageCodec<{p}Message>");
        w.Summary("The shared instance; the codec holds no state.");
        w.Line($"public static {p}Codec Instance {{ get; }} = new();");
        w.Line();
        w.Line($"private {p}Codec() {{ }}");
        w.Line();

        // Encode
        w.Line("/// <inheritdoc />");
        w.Open($"public void Encode({p}Message message, global::System.Buffers.IBufferWriter<byte> output)");
        w.Line("var writer = global::Dsl.Runtime.Codecs.JsonEncoding.RentWriter(output);");
        if (protocol.Envelope is { } envelope)
        {
            w.Line($"var envelope = message.Envelope ?? throw new global::System.ArgumentException(\"A {protocol.Name} message travels sealed in its {envelope.Name}; seal it first.\", nameof(message));");
            w.Line("writer.WriteStartObject();");
            w.Line($"writer.WritePropertyName({Literal(envelope.PayloadField)}u8);");
            w.Line("writer.WriteRawValue(envelope.Payload.Span, skipInputValidation: true);");
            w.Line($"Write{envelope.TypeName}(writer, envelope);");
            w.Line("writer.WriteEndObject();");
        }
        else w.Line("WriteMessage(writer, message);");
        w.Line("writer.Flush();");
        w.Close();
        w.Line();
        w.Open($"private static void WriteMessage(global::System.Text.Json.Utf8JsonWriter writer, {p}Message message)");
        w.Line("writer.WriteStartObject();");
        w.Line($"writer.WriteString({disc}u8, message.MessageType);");
        w.Open("switch (message)");
        foreach (var message in protocol.Messages)
            w.Line($"case {message.TypeName} m: Write{message.TypeName}(writer, m); break;");
        w.Line($"default: throw new global::System.ArgumentException(\"Not a message of this protocol: \" + message.GetType().Name, nameof(message));");
        w.Close();
        w.Line("writer.WriteEndObject();");
        w.Close();
        w.Line();
        if (protocol.Envelope is not null)
        {
            w.Summary("The message (without its envelope) as canonical JSON (RFC 8785): the bytes a sender computes the envelope's fields over.");
            w.Open($"public global::Dsl.Runtime.Codecs.Bytes EncodeCanonicalPayload({p}Message message)");
            w.Line("using var buffer = new global::Dsl.Runtime.Codecs.PooledBufferWriter();");
            w.Line("var writer = global::Dsl.Runtime.Codecs.JsonEncoding.RentWriter(buffer);");
            w.Line("WriteMessage(writer, message);");
            w.Line("writer.Flush();");
            w.Line("return new global::Dsl.Runtime.Codecs.Bytes(global::Dsl.Runtime.Codecs.JsonCanonicalizer.Canonicalize(buffer.WrittenSpan));");
            w.Close();
            w.Line();
        }

        w.Line("/// <inheritdoc />");
        w.Line($"public string GetName({p}Message message) => message.MessageType;");
        w.Line();

        // Decode dispatcher
        w.Line("/// <inheritdoc />");
        w.Open($"public bool TryDecode(global::System.ReadOnlySpan<byte> data, [global::System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out {p}Message? message, out global::Dsl.Runtime.Codecs.DecodeError error)");
        if (protocol.Envelope is { } sealedIn)
        {
            w.Line("message = null;");
            w.Line($"if (!TryDecode{sealedIn.TypeName}(data, out var envelope, out var payloadStart, out var payloadEnd, out error)) return false;");
            w.Line("var payload = data[payloadStart..payloadEnd];");
            w.Line("if (!TryDecodeMessage(payload, out var inner, out error)) return false;");
            w.Line("using var canonical = new global::Dsl.Runtime.Codecs.PooledBufferWriter();");
            w.Line("if (!global::Dsl.Runtime.Codecs.JsonCanonicalizer.TryCanonicalize(payload, canonical, out var why))");
            w.Open("");
            w.Line($"error = new global::Dsl.Runtime.Codecs.DecodeError(global::Dsl.Runtime.Codecs.DecodeErrorKind.InvalidSyntax, null, {Literal(sealedIn.PayloadField)}, \"The payload is not canonicalizable JSON: \" + why);");
            w.Line("return false;");
            w.Close();
            w.Line("message = inner with { Envelope = envelope! with { Payload = global::Dsl.Runtime.Codecs.Bytes.CopyFrom(canonical.WrittenSpan) } };");
            w.Line("return true;");
            w.Close();
            w.Line();
            w.Open($"private bool TryDecodeMessage(global::System.ReadOnlySpan<byte> data, [global::System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out {p}Message? message, out global::Dsl.Runtime.Codecs.DecodeError error)");
        }
        w.Line("message = null;");
        w.Line($"if (!global::Dsl.Runtime.Codecs.JsonDecoding.TryFindDiscriminator(data, {disc}u8, {disc}, out var discriminator, out error)) return false;");
        w.Open("try");
        foreach (var message in protocol.Messages)
            w.Line($"if (discriminator.ValueTextEquals({Literal(message.Name)}u8)) return TryDecode{message.TypeName}(data, out message, out error);");
        w.Close();
        w.Line("catch (global::System.Exception ex) when (ex is global::System.Text.Json.JsonException or global::System.InvalidOperationException or global::System.FormatException)");
        w.Open("");
        w.Line("message = null;");
        w.Line("error = new global::Dsl.Runtime.Codecs.DecodeError(global::Dsl.Runtime.Codecs.DecodeErrorKind.InvalidSyntax, null, null, \"Invalid message: \" + ex.Message);");
        w.Line("return false;");
        w.Close();
        w.Line($"error = global::Dsl.Runtime.Codecs.JsonDecoding.UnknownMessage(discriminator, {disc});");
        w.Line("return false;");
        w.Close();

        foreach (var message in protocol.Messages)
        {
            w.Line();
            EmitWriter(w, message);
            w.Line();
            EmitReader(w, p, message);
        }
        if (protocol.Envelope is { } env)
        {
            var asMessage = new MessageModel(env.Name, env.TypeName, null, env.Fields, null, null, -1);
            w.Line();
            EmitWriter(w, asMessage);
            w.Line();
            EmitReader(w, p, asMessage, env.PayloadField);
        }
        EmitPatterns(w, protocol);
        w.Close();
        return MessageEmitter.Footer(w);
    }

    private static string Literal(string text) => ExpressionBinder.Literal(text);

    private static void EmitWriter(SourceWriter w, MessageModel message)
    {
        w.Open($"private static void Write{message.TypeName}(global::System.Text.Json.Utf8JsonWriter writer, {message.TypeName} m)");
        foreach (var field in message.Fields)
        {
            var name = Literal(field.Name) + "u8";
            var value = "m." + field.PropertyName;
            if (field.IsNullable)
            {
                w.Line($"if ({value} is {{ }} {Local(field)})");
                w.Indent();
                value = Local(field);
            }
            w.Line(field.Type.Kind switch
            {
                TypeKind.String => $"writer.WriteString({name}, {value});",
                TypeKind.Int => $"writer.WriteNumber({name}, {value});",
                TypeKind.Bool => $"writer.WriteBoolean({name}, {value});",
                TypeKind.Uuid => $"writer.WriteString({name}, {value});",
                TypeKind.Timestamp => $"writer.WriteNumber({name}, {value}.ToUnixTimeSeconds());",
                TypeKind.Map => $"global::Dsl.Runtime.Codecs.JsonEncoding.WriteMetadata(writer, {name}, {value});",
                TypeKind.Bytes => $"global::Dsl.Runtime.Codecs.JsonEncoding.WriteBytes(writer, {name}, {value}, {Encoding(field)});",
                TypeKind.List when field.Type.Element == TypeKind.String => $"global::Dsl.Runtime.Codecs.JsonEncoding.WriteStringList(writer, {name}, {value});",
                TypeKind.List => $"{{ writer.WriteStartArray({name}); foreach (var item in {value}) writer.{(field.Type.Element == TypeKind.Int ? "WriteNumberValue" : "WriteStringValue")}(item); writer.WriteEndArray(); }}",
                _ => "",
            });
            if (field.IsNullable) w.Outdent();
        }
        w.Close();
    }

    private static string Local(FieldModel field) => "f" + field.PropertyName;

    private static string Encoding(FieldModel field)
        => field.Encoding == "base64" ? "global::Dsl.Runtime.Codecs.BytesEncoding.Base64" : "global::Dsl.Runtime.Codecs.BytesEncoding.Hex";

    /// <summary>
    /// A message's reader, or (with <paramref name="payloadField"/>) the envelope's: that one also checks the
    /// JSON is one well-formed object and hands back where the payload object starts and ends.
    /// </summary>
    private static void EmitReader(SourceWriter w, string prefix, MessageModel message, string? payloadField = null)
    {
        var m = Literal(message.Name);
        var isEnvelope = payloadField is not null;
        if (isEnvelope)
        {
            w.Open($"private static bool TryDecode{message.TypeName}(global::System.ReadOnlySpan<byte> data, out {message.TypeName}? message, out int payloadStart, out int payloadEnd, out global::Dsl.Runtime.Codecs.DecodeError error)");
            w.Line("message = null;");
            w.Line("payloadStart = payloadEnd = -1;");
            w.Line("error = default;");
            w.Open("try");
            w.Line("var reader = new global::System.Text.Json.Utf8JsonReader(data, global::Dsl.Runtime.Codecs.JsonDecoding.ReaderOptions);");
            w.Line("if (!reader.Read() || reader.TokenType != global::System.Text.Json.JsonTokenType.StartObject)");
            w.Line("{ error = new global::Dsl.Runtime.Codecs.DecodeError(global::Dsl.Runtime.Codecs.DecodeErrorKind.NotAnObject, null, null, \"Message must be a JSON object\"); return false; }");
        }
        else
        {
            w.Open($"private static bool TryDecode{message.TypeName}(global::System.ReadOnlySpan<byte> data, out {prefix}Message? message, out global::Dsl.Runtime.Codecs.DecodeError error)");
            w.Line("message = null;");
            w.Line("error = default;");
            w.Line("var reader = new global::System.Text.Json.Utf8JsonReader(data, global::Dsl.Runtime.Codecs.JsonDecoding.ReaderOptions);");
            w.Line("reader.Read();");
        }
        if (message.Fields.Count > 0) w.Line("ulong seen = 0;");
        foreach (var field in message.Fields)
            w.Line($"{CSharpTypes.Of(field.Type, true)} {Local(field)} = default;");
        w.Open("while (reader.Read() && reader.TokenType == global::System.Text.Json.JsonTokenType.PropertyName)");
        var first = true;
        if (isEnvelope)
        {
            var payload = Literal(payloadField!);
            w.Open($"if (reader.ValueTextEquals({payload}u8))");
            w.Line($"if (payloadStart >= 0) {{ error = global::Dsl.Runtime.Codecs.DecodeError.DuplicateField({m}, {payload}); return false; }}");
            w.Line("reader.Read();");
            w.Line($"if (reader.TokenType != global::System.Text.Json.JsonTokenType.StartObject) {{ error = global::Dsl.Runtime.Codecs.DecodeError.WrongType({m}, {payload}, \"an object\"); return false; }}");
            w.Line("payloadStart = (int)reader.TokenStartIndex;");
            w.Line("reader.Skip();");
            w.Line("payloadEnd = (int)reader.BytesConsumed;");
            w.Close();
            first = false;
        }
        for (var i = 0; i < message.Fields.Count; i++)
        {
            var field = message.Fields[i];
            var bit = "0x" + (1UL << i).ToString("X", CultureInfo.InvariantCulture) + "UL";
            var f = Literal(field.Name);
            w.Open($"{(first ? "" : "else ")}if (reader.ValueTextEquals({f}u8))");
            first = false;
            w.Line($"if ((seen & {bit}) != 0) {{ error = global::Dsl.Runtime.Codecs.DecodeError.DuplicateField({m}, {f}); return false; }}");
            w.Line($"seen |= {bit};");
            w.Line("reader.Read();");
            if (field.Optional)
                w.Line("if (reader.TokenType == global::System.Text.Json.JsonTokenType.Null) continue;");
            var read = field.Type.Kind switch
            {
                TypeKind.String => "TryReadString",
                TypeKind.Int => "TryReadInt64",
                TypeKind.Bool => "TryReadBoolean",
                TypeKind.Uuid => "TryReadUuid",
                TypeKind.Timestamp => "TryReadUnixSeconds",
                TypeKind.Map => "TryReadMetadata",
                TypeKind.List when field.Type.Element == TypeKind.String => "TryReadStringList",
                _ => null,
            };
            if (field.Type.Kind == TypeKind.Bytes)
            {
                w.Line($"if (!global::Dsl.Runtime.Codecs.JsonDecoding.TryReadBytes(ref reader, {m}, {f}, {Encoding(field)}, {field.Type.Length}, out var v{i}, out error)) return false;");
                w.Line($"{Local(field)} = v{i};");
            }
            else if (read is not null)
            {
                w.Line($"if (!global::Dsl.Runtime.Codecs.JsonDecoding.{read}(ref reader, {m}, {f}, out var v{i}, out error)) return false;");
                w.Line($"{Local(field)} = v{i};");
            }
            else
            {
                // Lists of int or uuid.
                var element = field.Type.Element == TypeKind.Int ? "long" : "global::System.Guid";
                var readItem = field.Type.Element == TypeKind.Int ? "TryReadInt64" : "TryReadUuid";
                w.Line($"if (reader.TokenType != global::System.Text.Json.JsonTokenType.StartArray) {{ error = global::Dsl.Runtime.Codecs.DecodeError.WrongType({m}, {f}, \"an array\"); return false; }}");
                w.Line($"var items{i} = new global::System.Collections.Generic.List<{element}>();");
                w.Line("while (reader.Read() && reader.TokenType != global::System.Text.Json.JsonTokenType.EndArray)");
                w.Open("");
                w.Line($"if (!global::Dsl.Runtime.Codecs.JsonDecoding.{readItem}(ref reader, {m}, {f}, out var item, out error)) return false;");
                w.Line($"items{i}.Add(item);");
                w.Close();
                w.Line($"{Local(field)} = items{i};");
            }
            w.Close();
        }
        if (message.Fields.Count > 0) w.Line("else");
        w.Open(message.Fields.Count > 0 ? "" : "");
        w.Line("reader.Read();");
        w.Line("reader.Skip();");
        w.Close();
        w.Close();

        if (isEnvelope)
        {
            w.Line("if (reader.Read()) { error = new global::Dsl.Runtime.Codecs.DecodeError(global::Dsl.Runtime.Codecs.DecodeErrorKind.TrailingData, null, null, \"Unexpected data after the message\"); return false; }");
            w.Line($"if (payloadStart < 0) {{ error = global::Dsl.Runtime.Codecs.DecodeError.MissingField({m}, {Literal(payloadField!)}); return false; }}");
        }
        for (var i = 0; i < message.Fields.Count; i++)
        {
            var field = message.Fields[i];
            if (field.Optional) continue;
            var bit = "0x" + (1UL << i).ToString("X", CultureInfo.InvariantCulture) + "UL";
            w.Line($"if ((seen & {bit}) == 0) {{ error = global::Dsl.Runtime.Codecs.DecodeError.MissingField({m}, {Literal(field.Name)}); return false; }}");
        }
        foreach (var field in message.Fields)
            EmitConstraints(w, message, field);

        w.Line($"message = new {message.TypeName}");
        w.Line("{");
        w.Indent();
        if (isEnvelope) w.Line("Payload = global::Dsl.Runtime.Codecs.Bytes.Empty,");
        foreach (var field in message.Fields)
        {
            var local = Local(field);
            var value = field.Optional
                ? field.DefaultLiteral is not null ? $"{local} ?? {field.DefaultLiteral}" : local
                : field.Type.IsValueType ? $"{local}.GetValueOrDefault()" : $"{local}!";
            w.Line($"{field.PropertyName} = {value},");
        }
        w.Outdent();
        w.Line("};");
        w.Line("return true;");
        if (isEnvelope)
        {
            w.Close();
            w.Line("catch (global::System.Exception ex) when (ex is global::System.Text.Json.JsonException or global::System.InvalidOperationException or global::System.FormatException)");
            w.Open("");
            w.Line("error = new global::Dsl.Runtime.Codecs.DecodeError(global::Dsl.Runtime.Codecs.DecodeErrorKind.InvalidSyntax, null, null, \"Invalid JSON: \" + ex.Message);");
            w.Line("return false;");
            w.Close();
        }
        w.Close();
    }

    private static void EmitConstraints(SourceWriter w, MessageModel message, FieldModel field)
    {
        var c = field.Constraints;
        if (c.IsEmpty) return;
        var local = Local(field);
        var m = Literal(message.Name);
        var f = Literal(field.Name);
        var v = "c" + field.PropertyName;
        w.Open($"if ({local} is {{ }} {v})");
        void Rule(string condition, string rule)
            => w.Line($"if ({condition}) {{ error = global::Dsl.Runtime.Codecs.DecodeError.Constraint({m}, {f}, {Literal(rule)}); return false; }}");
        var length = field.Type.Kind == TypeKind.List ? ".Count" : ".Length";
        var unit = field.Type.Kind switch { TypeKind.List => "items", TypeKind.Bytes => "bytes", _ => "characters" };
        if (c.MinLength is { } minLength) Rule($"{v}{length} < {minLength}", $"must have at least {minLength} {unit}");
        if (c.MaxLength is { } maxLength) Rule($"{v}{length} > {maxLength}", $"must have at most {maxLength} {unit}");
        if (c.Min is { } min) Rule($"{v} < {min}L", $"must be at least {min}");
        if (c.Max is { } max) Rule($"{v} > {max}L", $"must be at most {max}");
        if (c.Pattern is not null) Rule($"!global::Dsl.Runtime.Codecs.Patterns.IsMatch({PatternField(message, field)}, {v})", $"must match the pattern {c.Pattern}");
        if (!c.OneOf.IsEmpty) Rule($"{v} is not ({string.Join(" or ", c.OneOf.Select(Literal))})", $"must be one of: {string.Join(", ", c.OneOf)}");
        w.Close();
    }

    private static string PatternField(MessageModel message, FieldModel field) => $"s_{message.TypeName}{field.PropertyName}Pattern";

    private static void EmitPatterns(SourceWriter w, ProtocolModel protocol)
    {
        foreach (var message in protocol.Messages)
        foreach (var field in message.Fields.Where(f => f.Constraints.Pattern is not null))
        {
            w.Line();
            w.Line($"private static readonly global::System.Text.RegularExpressions.Regex {PatternField(message, field)} = global::Dsl.Runtime.Codecs.Patterns.Create({Literal(field.Constraints.Pattern!)});");
        }
    }
}
