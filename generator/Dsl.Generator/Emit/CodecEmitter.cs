using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;
using Dsl.Generator.Model;

namespace Dsl.Generator.Emit;

/// <summary>
/// Emits the protocol's JSON codec on <c>Utf8JsonWriter</c>/<c>Utf8JsonReader</c>: no reflection, no
/// intermediate DOM (except free-form metadata), a typed <c>DecodeError</c> for every kind of bad input.
/// Each field is written and read by the runtime members its type's descriptor names.
/// </summary>
internal static class CodecEmitter
{

    private const string Json = "global::System.Text.Json";
    private const string DecodeError = CSharp.Codecs + ".DecodeError";
    private const string DecodeErrorKind = CSharp.Codecs + ".DecodeErrorKind";

    public static string Emit(BoundProtocol protocol)
    {
        var p = Naming.Pascal(protocol.Name);
        var message = Naming.MessageBase(p);
        var codec = Naming.Codec(p);
        var w = MessageEmitter.Header(protocol);
        var disc = CSharp.Literal(protocol.Discriminator);
        w.Summary($"Encodes and decodes {protocol.Name} {protocol.Version} messages as JSON objects discriminated by '{protocol.Discriminator}'. " +
                  "Unknown fields are ignored; a missing required field, a wrong type, a repeated field, an unknown message type, a broken constraint or trailing data is a DecodeError.");
        w.Line(CSharp.GeneratedCode);
        w.Open($"public sealed partial class {codec} : {CSharp.Codecs}.IMessageCodec<{message}>");
        w.Summary("The shared instance; the codec holds no state.");
        w.Line($"public static {codec} Instance {{ get; }} = new();");
        w.Line();
        w.Line($"private {codec}() {{ }}");
        w.Line();

        // Encode
        w.Line("/// <inheritdoc />");
        w.Open($"public void Encode({message} message, global::System.Buffers.IBufferWriter<byte> output)");
        w.Line($"var writer = {CSharp.Codecs}.JsonEncoding.RentWriter(output);");
        if (protocol.Envelope is { } envelope)
        {
            w.Line($"var envelope = message.Envelope ?? throw new global::System.ArgumentException({CSharp.Literal($"A {protocol.Name} message travels sealed in its {envelope.Name}; seal it first.")}, nameof(message));");
            w.Line("writer.WriteStartObject();");
            w.Line($"writer.WritePropertyName({CSharp.Literal(envelope.PayloadField)}u8);");
            w.Line($"writer.WriteRawValue(envelope.{Naming.EnvelopePayload}.Span, skipInputValidation: true);");
            w.Line($"Write{Naming.Pascal(envelope.Name)}(writer, envelope);");
            w.Line("writer.WriteEndObject();");
        }
        else if (protocol.Wrap is { } wrap)
        {
            w.Line("writer.WriteStartObject();");
            w.Line($"writer.WritePropertyName({CSharp.Literal(wrap)}u8);");
            w.Line("WriteMessage(writer, message);");
            w.Line("writer.WriteEndObject();");
        }
        else w.Line("WriteMessage(writer, message);");
        w.Line("writer.Flush();");
        w.Close();
        w.Line();
        w.Open($"private static void WriteMessage({Json}.Utf8JsonWriter writer, {message} message)");
        if (protocol.Messages.IsEmpty)
        {
            // A protocol without messages has nothing to write.
            w.Line("throw new global::System.ArgumentException(\"Not a message of this protocol: \" + message.GetType().Name, nameof(message));");
            w.Close();
            w.Line();
        }
        else
        {
        w.Line("writer.WriteStartObject();");
        w.Line($"writer.WriteString({disc}u8, message.MessageType);");
        w.Open("switch (message)");
        foreach (var m in protocol.Messages)
            w.Line($"case {Naming.Pascal(m.Name)} m: Write{Naming.Pascal(m.Name)}(writer, m); break;");
        w.Line("default: throw new global::System.ArgumentException(\"Not a message of this protocol: \" + message.GetType().Name, nameof(message));");
        w.Close();
        w.Line("writer.WriteEndObject();");
        w.Close();
        w.Line();
        }
        {
            w.Summary("The message (without any envelope) as canonical JSON (RFC 8785): the bytes an envelope's fields are computed over, and the transcript hashes.");
            w.Open($"public {CSharp.Codecs}.Bytes EncodeCanonicalPayload({message} message)");
            w.Line($"using var buffer = new {CSharp.Codecs}.PooledBufferWriter();");
            w.Line($"var writer = {CSharp.Codecs}.JsonEncoding.RentWriter(buffer);");
            var direct = protocol.Messages.Where(m => CanWriteCanonical(protocol, m)).ToList();
            if (direct.Count > 0)
            {
                // Messages whose every member has a canonical writer come out canonical in one pass.
                w.Open("switch (message)");
                foreach (var m in direct)
                {
                    var type = Naming.Pascal(m.Name);
                    w.Line($"case {type} m: WriteCanonical{type}(writer, m); writer.Flush(); return {CSharp.Codecs}.Bytes.CopyFrom(buffer.WrittenSpan);");
                }
                w.Close();
            }
            if (direct.Count < protocol.Messages.Count)
            {
                w.Line("WriteMessage(writer, message);");
                w.Line("writer.Flush();");
                w.Line($"return new {CSharp.Codecs}.Bytes({CSharp.Codecs}.JsonCanonicalizer.Canonicalize(buffer.WrittenSpan, exactNumbers: true));");
            }
            else w.Line("throw new global::System.ArgumentException(\"Not a message of this protocol: \" + message.GetType().Name, nameof(message));");
            w.Close();
            w.Line();
        }
        foreach (var signed in protocol.Messages.Where(m => m.SignsItself))
            EmitUnsigned(w, signed, message);

        w.Line("/// <inheritdoc />");
        w.Line($"public string GetName({message} message) => message.MessageType;");
        w.Line();

        // Decode dispatcher
        w.Line("/// <inheritdoc />");
        w.Open($"public bool TryDecode(global::System.ReadOnlySpan<byte> data, [global::System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out {message}? message, out {DecodeError} error)");
        // JSON is UTF-8 (RFC 8259): bytes that are not, anywhere (an unknown member included), make the message malformed.
        w.Line($"if (!{CSharp.Codecs}.JsonDecoding.IsText(data, out error)) {{ message = null; return false; }}");
        if (protocol.Envelope is { } sealedIn)
        {
            var envelopeType = Naming.Pascal(sealedIn.Name);
            w.Line("message = null;");
            // One pass over the payload, in the envelope's: its discriminator found and its canonical form checked there.
            w.Line($"if (!TryDecode{envelopeType}(data, out var envelope, out var payloadStart, out var payloadEnd, out var discriminator, out var discriminators, out var payloadIsCanonical, out error)) return false;");
            w.Line("var payload = data[payloadStart..payloadEnd];");
            w.Line($"if (!{CSharp.Codecs}.JsonDecoding.CheckDiscriminator(discriminators, discriminator, {disc}, out error)) return false;");
            w.Line("if (!TryDecodeMessage(payload, discriminator, out var inner, out error)) return false;");
            w.Line($"{CSharp.Codecs}.Bytes canonicalPayload;");
            // A payload a canonical writer sent (every one this runtime sends) is kept as received; another is rewritten.
            w.Line($"if (payloadIsCanonical) canonicalPayload = {CSharp.Codecs}.Bytes.CopyFrom(payload);");
            w.Line("else");
            w.Open("");
            w.Line($"using var canonical = new {CSharp.Codecs}.PooledBufferWriter();");
            w.Line($"if (!{CSharp.Codecs}.JsonCanonicalizer.TryCanonicalize(payload, canonical, exactNumbers: true, out var why))");
            w.Open("");
            w.Line($"error = new {DecodeError}({DecodeErrorKind}.InvalidSyntax, null, {CSharp.Literal(sealedIn.PayloadField)}, \"The payload is not canonicalizable JSON: \" + why);");
            w.Line("return false;");
            w.Close();
            w.Line($"canonicalPayload = {CSharp.Codecs}.Bytes.CopyFrom(canonical.WrittenSpan);");
            w.Close();
            var unsigned = "";
            var omitted = string.Join(", ", sealedIn.Fields.Where(f => sealedIn.SignatureFields.Contains(f.Name)).Select(f => CSharp.Literal(f.Wire)));
            if (sealedIn.SignsItself)
            {
                // What the signature covers: the envelope as received, canonical, without its signature fields.
                w.Line($"using var unsigned = new {CSharp.Codecs}.PooledBufferWriter();");
                w.Line($"if (!{CSharp.Codecs}.JsonCanonicalizer.TryCanonicalizeWithout(data, s_signatureMembers, unsigned, out var unsignedWhy))");
                w.Open("");
                w.Line($"error = new {DecodeError}({DecodeErrorKind}.InvalidSyntax, null, null, \"The envelope is not canonicalizable JSON: \" + unsignedWhy);");
                w.Line("return false;");
                w.Close();
                unsigned = $", {Naming.EnvelopeUnsigned} = {CSharp.Codecs}.Bytes.CopyFrom(unsigned.WrittenSpan)";
            }
            w.Line($"message = inner with {{ Envelope = {CSharp.Present}.Reference(envelope) with {{ {Naming.EnvelopePayload} = canonicalPayload{unsigned} }} }};");
            w.Line("return true;");
            w.Close();
            w.Line();
            if (sealedIn.SignsItself)
            {
                w.Line($"private static readonly string[] s_signatureMembers = {{ {omitted} }};");
                w.Line();
                w.Summary($"The envelope as canonical JSON without its signature fields: the bytes a sender signs (its {Naming.EnvelopeUnsigned}).");
                w.Open($"public {CSharp.Codecs}.Bytes EncodeUnsigned({envelopeType} envelope)");
                w.Line($"using var buffer = new {CSharp.Codecs}.PooledBufferWriter();");
                w.Line($"var writer = {CSharp.Codecs}.JsonEncoding.RentWriter(buffer);");
                w.Line("writer.WriteStartObject();");
                w.Line($"writer.WritePropertyName({CSharp.Literal(sealedIn.PayloadField)}u8);");
                w.Line($"writer.WriteRawValue(envelope.{Naming.EnvelopePayload}.Span, skipInputValidation: true);");
                w.Line($"Write{envelopeType}(writer, envelope, unsigned: true);");
                w.Line("writer.WriteEndObject();");
                w.Line("writer.Flush();");
                w.Line($"return new {CSharp.Codecs}.Bytes({CSharp.Codecs}.JsonCanonicalizer.Canonicalize(buffer.WrittenSpan, exactNumbers: true));");
                w.Close();
                w.Line();
            }
            w.Open($"private bool TryDecodeMessage(global::System.ReadOnlySpan<byte> data, {Json}.Utf8JsonReader discriminator, [global::System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out {message}? message, out {DecodeError} error)");
            w.Line("message = null;");
        }
        if (protocol.Envelope is null && protocol.Wrap is { } wrapped)
        {
            w.Line("message = null;");
            w.Line($"if (!{CSharp.Codecs}.JsonDecoding.TryFindWrapped(data, {CSharp.Literal(wrapped)}u8, {CSharp.Literal(wrapped)}, out var start, out var end, out error)) return false;");
            w.Line("return TryDecodeMessage(data[start..end], out message, out error);");
            w.Close();
            w.Line();
            w.Open($"private bool TryDecodeMessage(global::System.ReadOnlySpan<byte> data, [global::System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out {message}? message, out {DecodeError} error)");
        }
        if (protocol.Envelope is null)
        {
            w.Line("message = null;");
            w.Line($"if (!{CSharp.Codecs}.JsonDecoding.TryFindDiscriminator(data, {disc}u8, {disc}, out var discriminator, out error)) return false;");
        }
        w.Open("try");
        foreach (var m in protocol.Messages)
            w.Line($"if (discriminator.ValueTextEquals({CSharp.Literal(m.Wire)}u8)) return TryDecode{Naming.Pascal(m.Name)}(data, out message, out error){(m.SignsItself ? $" && WithUnsigned{Naming.Pascal(m.Name)}(data, ref message, out error)" : "")};");
        w.Close();
        w.Line($"catch (global::System.Exception ex) when (ex is {Json}.JsonException or global::System.InvalidOperationException or global::System.FormatException)");
        w.Open("");
        w.Line("message = null;");
        w.Line($"error = new {DecodeError}({DecodeErrorKind}.InvalidSyntax, null, null, \"Invalid message: \" + ex.Message);");
        w.Line("return false;");
        w.Close();
        w.Line($"error = {CSharp.Codecs}.JsonDecoding.UnknownMessage(discriminator, {disc});");
        w.Line("return false;");
        w.Close();

        foreach (var m in protocol.Messages)
        {
            w.Line();
            EmitWriter(w, Naming.Pascal(m.Name), m.Fields);
            w.Line();
            if (CanWriteCanonical(protocol, m))
            {
                EmitCanonicalWriter(w, protocol, m);
                w.Line();
            }
            EmitReader(w, protocol, message, Naming.Pascal(m.Name), m.Wire, m.Fields, null);
        }
        if (protocol.Envelope is { } env)
        {
            w.Line();
            EmitWriter(w, Naming.Pascal(env.Name), env.Fields, env.SignatureFields);
            w.Line();
            EmitReader(w, protocol, message, Naming.Pascal(env.Name), env.Name, env.Fields, env.PayloadField);
        }
        foreach (var type in protocol.Types) EmitDeclaredType(w, protocol, type);
        EmitPatterns(w, protocol);
        w.Close();
        return MessageEmitter.Footer(w);
    }

    /// <summary>
    /// The member that writes a field, and its extra arguments: <c>JsonEncoding</c>'s for a built-in type, the
    /// codec's own for a declared object or enum (its descriptor's member names are formats of the C# type name).
    /// </summary>
    /// <summary>
    /// For a message that signs itself: the bytes its signature covers, as the sender computes them (the message it
    /// built, canonical, without its signature fields) and as the receiver does (the message as received, the same).
    /// </summary>
    private static void EmitUnsigned(SourceWriter w, MessageSymbol message, string baseType)
    {
        var type = Naming.Pascal(message.Name);
        var members = $"s_{char.ToLowerInvariant(type[0])}{type.Substring(1)}SignatureMembers";
        var wireNames = string.Join(", ", message.Fields.Where(f => message.SignatureFields.Contains(f.Name)).Select(f => CSharp.Literal(f.Wire)));
        w.Line($"private static readonly string[] {members} = {{ {wireNames} }};");
        w.Line();
        w.Summary($"The '{message.Name}' message as canonical JSON (RFC 8785) without its signature fields: the bytes its sender signs (its {Naming.EnvelopeUnsigned}).");
        w.Open($"public {CSharp.Codecs}.Bytes EncodeUnsigned({type} message)");
        w.Line("var canonical = EncodeCanonicalPayload(message);");
        w.Line($"using var buffer = new {CSharp.Codecs}.PooledBufferWriter();");
        w.Line($"if (!{CSharp.Codecs}.JsonCanonicalizer.TryCanonicalizeWithout(canonical.Span, {members}, buffer, out var why))");
        w.Line($"    throw new global::System.InvalidOperationException(\"The message cannot be canonicalized: \" + why);");
        w.Line($"return {CSharp.Codecs}.Bytes.CopyFrom(buffer.WrittenSpan);");
        w.Close();
        w.Line();
        w.Open($"private static bool WithUnsigned{type}(global::System.ReadOnlySpan<byte> data, ref {baseType}? message, out {DecodeError} error)");
        w.Line($"using var unsigned = new {CSharp.Codecs}.PooledBufferWriter();");
        w.Line($"if (!{CSharp.Codecs}.JsonCanonicalizer.TryCanonicalizeWithout(data, {members}, unsigned, out var why))");
        w.Open("");
        w.Line("message = null;");
        w.Line($"error = new {DecodeError}({DecodeErrorKind}.InvalidSyntax, {CSharp.Literal(message.Wire)}, null, \"The message is not canonicalizable JSON: \" + why);");
        w.Line("return false;");
        w.Close();
        w.Line($"message = (({type})message!) with {{ {Naming.EnvelopeUnsigned} = {CSharp.Codecs}.Bytes.CopyFrom(unsigned.WrittenSpan) }};");
        w.Line("error = default;");
        w.Line("return true;");
        w.Close();
        w.Line();
    }

    private static (string Member, string Extra) Writer(FieldSymbol field)
    {
        var list = field.Type.Kind == TypeKind.List;
        var descriptor = list ? field.Type.ElementType.Descriptor : field.Type.Descriptor;
        var format = list ? descriptor.JsonListWrite! : descriptor.JsonWrite!;
        var member = descriptor.Declared ? string.Format(CultureInfo.InvariantCulture, format, Naming.DeclaredType(field.Type.Name!)) : $"{CSharp.Codecs}.JsonEncoding.{format}";
        return (member, descriptor.JsonTakesEncoding ? ", " + CSharp.Encoding(field.Encoding) : "");
    }

    /// <summary>The member that reads a field, and its extra arguments (see <see cref="Writer"/>).</summary>
    private static (string Member, string Extra) Reader(FieldSymbol field)
    {
        var list = field.Type.Kind == TypeKind.List;
        var descriptor = list ? field.Type.ElementType.Descriptor : field.Type.Descriptor;
        var format = list ? descriptor.JsonListRead! : descriptor.JsonRead!;
        var member = descriptor.Declared ? string.Format(CultureInfo.InvariantCulture, format, Naming.DeclaredType(field.Type.Name!)) : $"{CSharp.Codecs}.JsonDecoding.{format}";
        return (member, descriptor.JsonTakesEncoding
            ? $", {CSharp.Encoding(field.Encoding)}, {(list ? 0 : field.Type.Length).ToString(CultureInfo.InvariantCulture)}" : "");
    }

    /// <param name="signature">For an envelope that signs itself: its signature fields, which the writer leaves out when asked for the unsigned form.</param>
    private static void EmitWriter(SourceWriter w, string typeName, IEnumerable<FieldSymbol> fields, EquatableArray<string> signature = default)
    {
        var signs = !signature.IsEmpty;
        w.Open($"private static void Write{typeName}({Json}.Utf8JsonWriter writer, {typeName} m{(signs ? ", bool unsigned = false" : "")})");
        EmitFieldWrites(w, fields, signature);
        w.Close();
    }

    /// <summary>Writes each field of <c>m</c> as a property (an absent optional one not at all); a signature field only when not asked for the unsigned form.</summary>
    private static void EmitFieldWrites(SourceWriter w, IEnumerable<FieldSymbol> fields, EquatableArray<string> signature = default)
    {
        foreach (var field in fields)
        {
            if (!signature.IsEmpty && signature.Contains(field.Name)) w.Line("if (!unsigned)");
            EmitFieldWrite(w, field, Writer(field));
        }
    }

    /// <summary>Writes one field of <c>m</c> with <paramref name="writer"/> (an absent optional one not at all).</summary>
    private static void EmitFieldWrite(SourceWriter w, FieldSymbol field, (string Member, string Extra) writer)
    {
        var value = "m." + Naming.Pascal(field.Name);
        if (field.IsNullable)
        {
            w.Line($"if ({value} is {{ }} {Local(field)})");
            w.Indent();
            value = Local(field);
        }
        w.Line($"{writer.Member}(writer, {CSharp.Literal(field.Wire)}u8, {value}{writer.Extra});");
        if (field.IsNullable) w.Outdent();
    }

    /// <summary>
    /// Whether <paramref name="message"/> can be written canonical (RFC 8785) in one pass: every field's type has a
    /// canonical writer, and every member name (the discriminator's too) and the message's own name are plain, so
    /// neither the writer nor RFC 8785 escapes them and sorting them as bytes sorts them as UTF-16 code units.
    /// </summary>
    private static bool CanWriteCanonical(BoundProtocol protocol, MessageSymbol message)
        => IsPlain(protocol.Discriminator) && IsPlain(message.Wire)
           && message.Fields.All(f => IsPlain(f.Wire) && CanonicalWriter(f) is not null);

    /// <summary>Printable ASCII other than <c>"</c> and <c>\</c> (and the characters an encoder might escape anyway).</summary>
    private static bool IsPlain(string text)
        => text.All(c => c is >= ' ' and <= '~' and not '"' and not '\\' and not '<' and not '>' and not '&' and not '\'' and not '+' and not '`');

    /// <summary>The <c>JsonCanonicalEncoding</c> member that writes a field canonical, and its extra arguments; null when its type has none.</summary>
    private static (string Member, string Extra)? CanonicalWriter(FieldSymbol field)
    {
        var list = field.Type.Kind == TypeKind.List;
        var descriptor = list ? field.Type.ElementType.Descriptor : field.Type.Descriptor;
        var member = list ? descriptor.CanonicalListWrite : descriptor.CanonicalWrite;
        if (member is null || descriptor.Declared) return null;
        return ($"{CSharp.Codecs}.JsonCanonicalEncoding.{member}", descriptor.JsonTakesEncoding ? ", " + CSharp.Encoding(field.Encoding) : "");
    }

    /// <summary>The message's canonical writer: its members, the discriminator among them, sorted by name.</summary>
    private static void EmitCanonicalWriter(SourceWriter w, BoundProtocol protocol, MessageSymbol message)
    {
        var type = Naming.Pascal(message.Name);
        w.Open($"private static void WriteCanonical{type}({Json}.Utf8JsonWriter writer, {type} m)");
        w.Line("writer.WriteStartObject();");
        var members = message.Fields.Select(f => (Name: f.Wire, Field: (FieldSymbol?)f))
            .Append((Name: protocol.Discriminator, Field: null))
            .OrderBy(member => member.Name, System.StringComparer.Ordinal);
        foreach (var (name, field) in members)
        {
            if (field is null) w.Line($"{CSharp.Codecs}.JsonCanonicalEncoding.WriteString(writer, {CSharp.Literal(name)}u8, {CSharp.Literal(message.Wire)});");
            else EmitFieldWrite(w, field, CanonicalWriter(field)!.Value);
        }
        w.Line("writer.WriteEndObject();");
        w.Close();
    }

    private static string Local(FieldSymbol field) => "f" + Naming.Pascal(field.Name);

    private static string Bit(int index) => "0x" + (1UL << index).ToString("X", CultureInfo.InvariantCulture) + "UL";

    /// <summary>
    /// A message's reader, or (with <paramref name="payloadField"/>) the envelope's: that one also checks the
    /// JSON is one well-formed object and hands back where the payload object starts and ends.
    /// </summary>
    private static void EmitReader(SourceWriter w, BoundProtocol protocol, string baseType, string typeName, string wireName, IReadOnlyList<FieldSymbol> fields, string? payloadField)
    {
        var m = CSharp.Literal(wireName);
        var isEnvelope = payloadField is not null;
        if (isEnvelope)
        {
            w.Open($"private static bool TryDecode{typeName}(global::System.ReadOnlySpan<byte> data, out {typeName}? message, out int payloadStart, out int payloadEnd, out {Json}.Utf8JsonReader discriminator, out int discriminators, out bool payloadIsCanonical, out {DecodeError} error)");
            w.Line("message = null;");
            w.Line("payloadStart = payloadEnd = -1;");
            w.Line("discriminator = default;");
            w.Line("discriminators = 0;");
            w.Line("payloadIsCanonical = false;");
            w.Line("error = default;");
            w.Open("try");
            w.Line($"var reader = new {Json}.Utf8JsonReader(data, {CSharp.Codecs}.JsonDecoding.ReaderOptions);");
            w.Line($"if (!reader.Read() || reader.TokenType != {Json}.JsonTokenType.StartObject)");
            w.Line($"{{ error = new {DecodeError}({DecodeErrorKind}.NotAnObject, null, null, \"Message must be a JSON object\"); return false; }}");
        }
        else
        {
            w.Open($"private static bool TryDecode{typeName}(global::System.ReadOnlySpan<byte> data, out {baseType}? message, out {DecodeError} error)");
            w.Line("message = null;");
            w.Line("error = default;");
            w.Line($"var reader = new {Json}.Utf8JsonReader(data, {CSharp.Codecs}.JsonDecoding.ReaderOptions);");
            w.Line("reader.Read();");
        }
        if (fields.Count > 0) w.Line("ulong seen = 0;");
        foreach (var field in fields)
            w.Line($"{CSharp.Type(field.Type, true)} {Local(field)} = default;");
        w.Open($"while (reader.Read() && reader.TokenType == {Json}.JsonTokenType.PropertyName)");
        var first = true;
        if (isEnvelope)
        {
            var payload = CSharp.Literal(payloadField!);
            w.Open($"if (reader.ValueTextEquals({payload}u8))");
            w.Line($"if (payloadStart >= 0) {{ error = {DecodeError}.DuplicateField({m}, {payload}); return false; }}");
            w.Line("reader.Read();");
            w.Line($"if (reader.TokenType != {Json}.JsonTokenType.StartObject) {{ error = {DecodeError}.WrongType({m}, {payload}, \"an object\"); return false; }}");
            w.Line("payloadStart = (int)reader.TokenStartIndex;");
            w.Line($"payloadIsCanonical = {CSharp.Codecs}.JsonDecoding.SkipPayload(ref reader, data, {CSharp.Literal(protocol.Discriminator)}u8, out discriminator, out discriminators);");
            w.Line("payloadEnd = (int)reader.BytesConsumed;");
            w.Close();
            first = false;
        }
        first = EmitFieldReads(w, fields, m, f => CSharp.Literal(f.Wire), first);
        if (first)
        {
            w.Line("reader.Read();");
            w.Line("reader.Skip();");
        }
        else
        {
            w.Line("else");
            w.Open("");
            w.Line("reader.Read();");
            w.Line("reader.Skip();");
            w.Close();
        }
        w.Close();

        if (isEnvelope)
        {
            w.Line($"if (reader.Read()) {{ error = new {DecodeError}({DecodeErrorKind}.TrailingData, null, null, \"Unexpected data after the message\"); return false; }}");
            w.Line($"if (payloadStart < 0) {{ error = {DecodeError}.MissingField({m}, {CSharp.Literal(payloadField!)}); return false; }}");
        }
        EmitChecksAndBuild(w, protocol, typeName, fields, m, f => CSharp.Literal(f.Wire), "message", isEnvelope ? $"{Naming.EnvelopePayload} = {CSharp.Codecs}.Bytes.Empty," : null);
        w.Line("return true;");
        if (isEnvelope)
        {
            w.Close();
            w.Line($"catch (global::System.Exception ex) when (ex is {Json}.JsonException or global::System.InvalidOperationException or global::System.FormatException)");
            w.Open("");
            w.Line($"error = new {DecodeError}({DecodeErrorKind}.InvalidSyntax, null, null, \"Invalid JSON: \" + ex.Message);");
            w.Line("return false;");
            w.Close();
        }
        w.Close();
    }

    /// <summary>
    /// The branches of the property loop that read <paramref name="fields"/>: each once (a repeat is an error), a JSON
    /// null as absent for an optional one. <paramref name="m"/> and <paramref name="name"/> are the C# expressions that
    /// name the message and a field in errors. Returns whether no branch was written.
    /// </summary>
    private static bool EmitFieldReads(SourceWriter w, IReadOnlyList<FieldSymbol> fields, string m, System.Func<FieldSymbol, string> name, bool first)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            var field = fields[i];
            var f = name(field);
            w.Open($"{(first ? "" : "else ")}if (reader.ValueTextEquals({CSharp.Literal(field.Wire)}u8))");
            first = false;
            w.Line($"if ((seen & {Bit(i)}) != 0) {{ error = {DecodeError}.DuplicateField({m}, {f}); return false; }}");
            w.Line($"seen |= {Bit(i)};");
            w.Line("reader.Read();");
            if (field.Optional) w.Line($"if (reader.TokenType == {Json}.JsonTokenType.Null) continue;");
            var (member, extra) = Reader(field);
            w.Line($"if (!{member}(ref reader, {m}, {f}{extra}, out var v{i.ToString(CultureInfo.InvariantCulture)}, out error)) return false;");
            w.Line($"{Local(field)} = v{i.ToString(CultureInfo.InvariantCulture)};");
            w.Close();
        }
        return first;
    }

    /// <summary>After the property loop: the missing required fields, the constraints and constants, then the value itself, into <paramref name="target"/>.</summary>
    private static void EmitChecksAndBuild(SourceWriter w, BoundProtocol protocol, string typeName, IReadOnlyList<FieldSymbol> fields, string m,
        System.Func<FieldSymbol, string> name, string target, string? preset)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            if (fields[i].Optional) continue;
            w.Line($"if ((seen & {Bit(i)}) == 0) {{ error = {DecodeError}.MissingField({m}, {name(fields[i])}); return false; }}");
        }
        var emitter = new ExpressionEmitter(protocol);
        foreach (var field in fields)
        {
            var rules = Rules(field, "c" + Naming.Pascal(field.Name), PatternField(typeName, field), emitter).ToList();
            if (rules.Count == 0) continue;
            w.Open($"if ({Local(field)} is {{ }} c{Naming.Pascal(field.Name)})");
            foreach (var (condition, rule) in rules)
                w.Line($"if ({condition}) {{ error = {DecodeError}.Constraint({m}, {name(field)}, {CSharp.Literal(rule)}); return false; }}");
            w.Close();
        }
        w.Line($"{target} = new {typeName}");
        w.Line("{");
        w.Indent();
        if (preset is not null) w.Line(preset);
        foreach (var field in fields)
        {
            // A constant is the property's own value, checked above.
            if (field.Const is not null) continue;
            var local = Local(field);
            var value = field.Optional
                ? field.Default is { } fallback ? $"{local} ?? {emitter.Maybe(fallback, EmitScope.Empty)}" : local
                : $"{(CSharp.IsValueType(field.Type) ? CSharp.Present + ".Value" : CSharp.Present + ".Reference")}({local})";
            w.Line($"{Naming.Pascal(field.Name)} = {value},");
        }
        w.Outdent();
        w.Line("};");
    }

    /// <summary>
    /// A declared type's codec members. An object: <c>Write{T}Object</c> (the object itself), <c>Write{T}Value</c> (a
    /// property holding one), <c>TryRead{T}Value</c>; an enum: <c>ToWire</c> and the same value members; both: the list
    /// members and <c>Save{T}</c>/<c>Restore{T}</c>, which keep a value in an exported state as JSON.
    /// </summary>
    private static void EmitDeclaredType(SourceWriter w, BoundProtocol protocol, TypeSymbol type)
    {
        var t = Naming.DeclaredType(type.Name);
        var name = "global::System.ReadOnlySpan<byte> name";
        w.Line();
        if (type.Kind == TypeKind.Object)
        {
            w.Open($"private static void Write{t}Object({Json}.Utf8JsonWriter writer, {t} m)");
            w.Line("writer.WriteStartObject();");
            EmitFieldWrites(w, type.Fields);
            w.Line("writer.WriteEndObject();");
            w.Close();
            w.Line();
            w.Open($"private static void Write{t}Value({Json}.Utf8JsonWriter writer, {name}, {t} value)");
            w.Line("writer.WritePropertyName(name);");
            w.Line($"Write{t}Object(writer, value);");
            w.Close();
            w.Line();
            w.Open($"private static void Write{t}List({Json}.Utf8JsonWriter writer, {name}, global::System.Collections.Generic.IReadOnlyList<{t}> values)");
            w.Line("writer.WriteStartArray(name);");
            w.Line($"for (var i = 0; i < values.Count; i++) Write{t}Object(writer, values[i]);");
            w.Line("writer.WriteEndArray();");
            w.Close();
            w.Line();
            w.Open($"private static bool TryRead{t}Value(ref {Json}.Utf8JsonReader reader, string message, string field, [global::System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out {t}? value, out {DecodeError} error)");
            w.Line("value = null;");
            w.Line("error = default;");
            w.Line($"if (reader.TokenType != {Json}.JsonTokenType.StartObject) {{ error = {DecodeError}.WrongType(message, field, \"an object\"); return false; }}");
            if (type.Fields.Count > 0) w.Line("ulong seen = 0;");
            foreach (var field in type.Fields) w.Line($"{CSharp.Type(field.Type, true)} {Local(field)} = default;");
            w.Open($"while (reader.Read() && reader.TokenType == {Json}.JsonTokenType.PropertyName)");
            var none = EmitFieldReads(w, type.Fields, "message", f => $"field + {CSharp.Literal("." + f.Wire)}", first: true);
            if (!none) w.Line("else");
            w.Open("");
            w.Line("reader.Read();");
            w.Line("reader.Skip();");
            w.Close();
            w.Close();
            EmitChecksAndBuild(w, protocol, t, type.Fields, "message", f => $"field + {CSharp.Literal("." + f.Wire)}", "value", null);
            w.Line("return true;");
            w.Close();
            w.Line();
            w.Summary($"canonical_json(value) of a '{type.Name}': its RFC 8785 canonical JSON, as it travels.");
            w.Open($"public static {CSharp.Codecs}.Bytes CanonicalJson({t} value)");
            w.Line($"using var buffer = new {CSharp.Codecs}.PooledBufferWriter();");
            w.Line($"var writer = {CSharp.Codecs}.JsonEncoding.RentWriter(buffer);");
            w.Line($"Write{t}Object(writer, value);");
            w.Line("writer.Flush();");
            w.Line($"return new {CSharp.Codecs}.Bytes({CSharp.Codecs}.JsonCanonicalizer.Canonicalize(buffer.WrittenSpan));");
            w.Close();
        }
        else
        {
            w.Summary($"The text of a '{type.Name}' value on the wire.");
            w.Open($"public static string ToWire({t} value) => value switch");
            foreach (var value in type.Values) w.Line($"{t}.{Naming.EnumMember(value)} => {CSharp.Literal(value)},");
            w.Line($"_ => throw new global::System.ArgumentOutOfRangeException(nameof(value), value, \"Not a value of '{type.Name}'.\"),");
            w.Outdent();
            w.Line("};");
            w.Line();
            w.Line($"private static void Write{t}Value({Json}.Utf8JsonWriter writer, {name}, {t} value) => writer.WriteString(name, ToWire(value));");
            w.Line();
            w.Open($"private static void Write{t}List({Json}.Utf8JsonWriter writer, {name}, global::System.Collections.Generic.IReadOnlyList<{t}> values)");
            w.Line("writer.WriteStartArray(name);");
            w.Line("for (var i = 0; i < values.Count; i++) writer.WriteStringValue(ToWire(values[i]));");
            w.Line("writer.WriteEndArray();");
            w.Close();
            w.Line();
            w.Open($"private static bool TryRead{t}Value(ref {Json}.Utf8JsonReader reader, string message, string field, out {t} value, out {DecodeError} error)");
            w.Line("value = default;");
            w.Line("error = default;");
            w.Line($"if (reader.TokenType != {Json}.JsonTokenType.String) {{ error = {DecodeError}.WrongType(message, field, \"a string\"); return false; }}");
            foreach (var value in type.Values)
                w.Line($"if (reader.ValueTextEquals({CSharp.Literal(value)}u8)) {{ value = {t}.{Naming.EnumMember(value)}; return true; }}");
            w.Line($"error = {DecodeError}.Constraint(message, field, {CSharp.Literal("must be one of: " + string.Join(", ", type.Values))});");
            w.Line("return false;");
            w.Close();
        }
        var nullable = CSharp.Type(TypeRef.Declared(type.Kind, type.Name), true);
        w.Line();
        w.Open($"private static bool TryRead{t}List(ref {Json}.Utf8JsonReader reader, string message, string field, out global::System.Collections.Generic.IReadOnlyList<{t}> value, out {DecodeError} error)");
        w.Line($"value = global::System.Array.Empty<{t}>();");
        w.Line($"if (reader.TokenType != {Json}.JsonTokenType.StartArray) {{ error = {DecodeError}.WrongType(message, field, \"an array\"); return false; }}");
        w.Line($"var items = new global::System.Collections.Generic.List<{t}>();");
        w.Open($"while (reader.Read() && reader.TokenType != {Json}.JsonTokenType.EndArray)");
        w.Line($"if (!TryRead{t}Value(ref reader, message, field, out var item, out error)) return false;");
        w.Line("items.Add(item);");
        w.Close();
        w.Line("value = items;");
        w.Line("error = default;");
        w.Line("return true;");
        w.Close();
        foreach (var (suffix, valueType) in new[] { ("", nullable), ("List", $"global::System.Collections.Generic.IReadOnlyList<{t}>?") })
        {
            w.Line();
            w.Summary($"Keeps a '{type.Name}'{(suffix == "" ? "" : " list")} in an exported state: as JSON.");
            w.Open($"internal static {CSharp.Codecs}.Bytes? Save{t}{suffix}({valueType} value)");
            w.Line("if (value is not { } present) return null;");
            w.Line($"using var buffer = new {CSharp.Codecs}.PooledBufferWriter();");
            w.Line($"var writer = {CSharp.Codecs}.JsonEncoding.RentWriter(buffer);");
            w.Line("writer.WriteStartObject();");
            w.Line($"Write{t}{(suffix == "" ? "Value" : "List")}(writer, \"v\"u8, present);");
            w.Line("writer.WriteEndObject();");
            w.Line("writer.Flush();");
            w.Line($"return {CSharp.Codecs}.Bytes.CopyFrom(buffer.WrittenSpan);");
            w.Close();
            w.Line();
            w.Summary($"Reads back what Save{t}{suffix} kept; a FormatException for anything else.");
            w.Open($"internal static {valueType} Restore{t}{suffix}({CSharp.Codecs}.Bytes? data)");
            w.Line("if (data is not { } present) return null;");
            w.Line($"var reader = new {Json}.Utf8JsonReader(present.Span, {CSharp.Codecs}.JsonDecoding.ReaderOptions);");
            w.Line("reader.Read();");
            w.Line("reader.Read();");
            w.Line("reader.Read();");
            w.Line($"return TryRead{t}{(suffix == "" ? "Value" : "List")}(ref reader, \"state\", \"v\", out var value, out _) ? value : throw new global::System.FormatException(\"A kept '{type.Name}' that does not read back.\");");
            w.Close();
        }
    }

    /// <summary>The constraints of a field (its constant's included) as C# conditions that are true when broken, with the rule in words.</summary>
    public static IEnumerable<(string Condition, string Rule)> Rules(FieldSymbol field, string value, string pattern, ExpressionEmitter? constants = null)
    {
        if (field.Const is { } constant && constants is not null)
            yield return ($"{value} != {constants.Constant(field.Type, constant)}", $"must be {(constant is StringConstant text ? "\"" + text.Value + "\"" : constants.Constant(field.Type, constant).TrimEnd('L', 'm'))}");
        var c = field.Constraints;
        var unit = field.Type.Descriptor.LengthUnit;
        string N(long n) => n.ToString(CultureInfo.InvariantCulture);
        if (c.MinLength is { } minLength) yield return ($"{CSharp.Builtins}.Len({value}) < {N(minLength)}L", $"must have at least {N(minLength)} {unit}");
        if (c.MaxLength is { } maxLength) yield return ($"{CSharp.Builtins}.Len({value}) > {N(maxLength)}L", $"must have at most {N(maxLength)} {unit}");
        if (c.Min is { } min) yield return ($"{value} < {N(min)}L", $"must be at least {N(min)}");
        if (c.Max is { } max) yield return ($"{value} > {N(max)}L", $"must be at most {N(max)}");
        if (c.Pattern is not null) yield return ($"!{CSharp.Codecs}.Patterns.IsMatch({pattern}, {value})", $"must match the pattern {c.Pattern}");
        if (!c.OneOf.IsEmpty) yield return ($"{value} is not ({string.Join(" or ", c.OneOf.Select(CSharp.Literal))})", $"must be one of: {string.Join(", ", c.OneOf)}");
    }

    private static string PatternField(string typeName, FieldSymbol field) => $"s_{typeName}{Naming.Pascal(field.Name)}Pattern";

    private static void EmitPatterns(SourceWriter w, BoundProtocol protocol)
    {
        var owners = protocol.Messages.Select(m => (Naming.Pascal(m.Name), m.Fields))
            .Concat(protocol.Types.Select(t => (Naming.DeclaredType(t.Name), t.Fields)));
        if (protocol.Envelope is { } envelope) owners = owners.Append((Naming.Pascal(envelope.Name), envelope.Fields));
        foreach (var (typeName, fields) in owners)
        foreach (var field in fields.Where(f => f.Constraints.Pattern is not null))
        {
            w.Line();
            w.Line($"private static readonly global::System.Text.RegularExpressions.Regex {PatternField(typeName, field)} = {CSharp.Codecs}.Patterns.Create({CSharp.Literal(field.Constraints.Pattern!)});");
        }
    }
}
