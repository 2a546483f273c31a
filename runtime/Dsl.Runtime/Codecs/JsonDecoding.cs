using System;
using System.Buffers;
using System.Collections.Generic;
using System.Text.Json;

namespace Dsl.Runtime.Codecs;

/// <summary>
/// Reading primitives shared by generated JSON codecs. Each reads the value the reader is positioned
/// on and reports a typed <see cref="DecodeError"/> instead of throwing.
/// </summary>
public static class JsonDecoding
{
    /// <summary>Reader options every generated codec uses: a shallow depth limit, no comments.</summary>
    public static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 32 };

    /// <summary>
    /// Checks that <paramref name="data"/> is one well-formed JSON object with nothing after it, and
    /// finds its discriminator. On success <paramref name="discriminator"/> is positioned on the
    /// discriminator's string value, ready for <see cref="Utf8JsonReader.ValueTextEquals(ReadOnlySpan{byte})"/>.
    /// </summary>
    public static bool TryFindDiscriminator(
        ReadOnlySpan<byte> data, ReadOnlySpan<byte> name, string nameText,
        out Utf8JsonReader discriminator, out DecodeError error)
    {
        discriminator = default;
        var rootClosed = false;
        try
        {
            var reader = new Utf8JsonReader(data, ReaderOptions);
            if (!reader.Read())
            {
                error = new(DecodeErrorKind.InvalidSyntax, null, null, "Empty message");
                return false;
            }
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                error = new(DecodeErrorKind.NotAnObject, null, null, "Message must be a JSON object");
                return false;
            }
            var found = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(name))
                {
                    if (found)
                    {
                        error = DecodeError.DuplicateField("", nameText);
                        return false;
                    }
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        error = new(DecodeErrorKind.MissingDiscriminator, null, nameText, $"Field '{nameText}' must be a string");
                        return false;
                    }
                    discriminator = reader;
                    found = true;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            rootClosed = true;
            if (reader.Read())
            {
                error = new(DecodeErrorKind.TrailingData, null, null, "Unexpected data after the message");
                return false;
            }
            if (!found)
            {
                error = new(DecodeErrorKind.MissingDiscriminator, null, nameText, $"Missing required field: {nameText}");
                return false;
            }
            error = default;
            return true;
        }
        catch (JsonException ex)
        {
            error = rootClosed
                ? new(DecodeErrorKind.TrailingData, null, null, "Unexpected data after the message")
                : new(DecodeErrorKind.InvalidSyntax, null, null, $"Invalid JSON at byte {ex.BytePositionInLine}: {FirstSentence(ex.Message)}");
            return false;
        }
    }

    /// <summary>
    /// Skips the payload object a signed envelope's reader is on (its opening brace), as <see cref="Utf8JsonReader.Skip"/>
    /// does, and on the way finds its top-level discriminator and tells whether the payload is already its own canonical
    /// form (what a verifier needs, kept as received when it is): the one pass over the payload that the envelope makes
    /// anyway, instead of one more for each. Throws <see cref="JsonException"/> on invalid JSON, as a skip does.
    /// </summary>
    /// <param name="reader">The envelope's reader, on the payload's <see cref="JsonTokenType.StartObject"/>; left on its end.</param>
    /// <param name="data">The whole text the reader reads.</param>
    /// <param name="name">The discriminator's member name, in UTF-8.</param>
    /// <param name="discriminator">A reader on the first top-level discriminator's value (see <see cref="CheckDiscriminator"/>).</param>
    /// <param name="discriminators">How many top-level members the payload names so.</param>
    /// <returns>Whether the payload is canonical JSON as RFC 8785 writes it (conservatively: see <see cref="JsonCanonicalizer"/>).</returns>
    public static bool SkipPayload(scoped ref Utf8JsonReader reader, ReadOnlySpan<byte> data, ReadOnlySpan<byte> name, out Utf8JsonReader discriminator, out int discriminators)
    {
        discriminator = default;
        discriminators = 0;
        var form = new JsonCanonicalizer.CanonicalForm(reader.TokenStartIndex);
        form.Next(ref reader, data);
        var depth = reader.CurrentDepth;
        while (reader.Read())
        {
            form.Next(ref reader, data);
            if (reader.CurrentDepth == depth && reader.TokenType == JsonTokenType.EndObject) break;
            if (reader.CurrentDepth == depth + 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals(name) && ++discriminators == 1)
            {
                discriminator = reader;
                discriminator.Read();
            }
        }
        return form.IsCanonical;
    }

    /// <summary>
    /// What <see cref="TryFindDiscriminator"/> says of a discriminator <see cref="SkipPayload"/> found: one string member,
    /// or the error that it is missing, repeated or not a string.
    /// </summary>
    public static bool CheckDiscriminator(int discriminators, in Utf8JsonReader discriminator, string nameText, out DecodeError error)
    {
        if (discriminators > 0 && discriminator.TokenType != JsonTokenType.String)
        {
            error = new(DecodeErrorKind.MissingDiscriminator, null, nameText, $"Field '{nameText}' must be a string");
            return false;
        }
        if (discriminators > 1)
        {
            error = DecodeError.DuplicateField("", nameText);
            return false;
        }
        if (discriminators == 0)
        {
            error = new(DecodeErrorKind.MissingDiscriminator, null, nameText, $"Missing required field: {nameText}");
            return false;
        }
        error = default;
        return true;
    }

    /// <summary>
    /// Whether the message is text JSON can hold: valid UTF-8 (RFC 8259), and no <c>\u</c> escape of a lone UTF-16
    /// surrogate (RFC 8259 §8.2 leaves those undefined; no .NET string can hold one). The reader checks only the strings it
    /// reads, and throws on a lone surrogate where it compares one: without this, a string it skips (an unknown member)
    /// or only compares (a member name, the discriminator) could hold anything, or end the handshake with an exception.
    /// </summary>
    public static bool IsText(ReadOnlySpan<byte> data, out DecodeError error)
    {
        if (!System.Text.Unicode.Utf8.IsValid(data))
        {
            error = new(DecodeErrorKind.InvalidSyntax, null, null, "The message is not valid UTF-8");
            return false;
        }
        if (EscapesLoneSurrogate(data))
        {
            error = new(DecodeErrorKind.InvalidSyntax, null, null, "The message escapes a lone UTF-16 surrogate (a \\uD800-\\uDFFF not in a high-low pair)");
            return false;
        }
        error = default;
        return true;
    }

    /// <summary>Whether some <c>\uXXXX</c> escape is a surrogate outside a high-low pair (escapes occur only inside strings).</summary>
    private static bool EscapesLoneSurrogate(ReadOnlySpan<byte> data)
    {
        var i = data.IndexOf((byte)'\\');
        if (i < 0) return false;
        while (i < data.Length)
        {
            if (data[i] != (byte)'\\') { i++; continue; }
            if (i + 1 < data.Length && data[i + 1] == (byte)'u' && TryHex4(data, i + 2, out var unit))
            {
                i += 6;
                if (unit is >= 0xDC00 and <= 0xDFFF) return true;
                if (unit is >= 0xD800 and <= 0xDBFF)
                {
                    if (i + 1 < data.Length && data[i] == (byte)'\\' && data[i + 1] == (byte)'u' && TryHex4(data, i + 2, out var low) && low is >= 0xDC00 and <= 0xDFFF)
                        i += 6;
                    else
                        return true;
                }
            }
            else
            {
                // Any other escape (\\, \", \n...) is two bytes; a broken one is the reader's to report.
                i += 2;
            }
        }
        return false;
    }

    private static bool TryHex4(ReadOnlySpan<byte> data, int start, out int value)
    {
        value = 0;
        if (start + 4 > data.Length) return false;
        for (var k = start; k < start + 4; k++)
        {
            var b = data[k];
            var digit = b is >= (byte)'0' and <= (byte)'9' ? b - '0' : (b | 0x20) is >= 'a' and <= 'f' ? (b | 0x20) - 'a' + 10 : -1;
            if (digit < 0) return false;
            value = (value << 4) | digit;
        }
        return true;
    }

    /// <summary>The error for a discriminator that names no message of the protocol.</summary>
    public static DecodeError UnknownMessage(Utf8JsonReader discriminator, string nameText)
    {
        var value = discriminator.GetString() ?? "";
        if (value.Length > 64) value = value.Substring(0, 64) + "...";
        return new(DecodeErrorKind.UnknownMessage, null, nameText, $"Unknown message type '{value}'");
    }

    /// <summary>Reads a string.</summary>
    public static bool TryReadString(ref Utf8JsonReader reader, string message, string field, out string value, out DecodeError error)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            value = reader.GetString()!;
            error = default;
            return true;
        }
        value = "";
        error = DecodeError.WrongType(message, field, "a string");
        return false;
    }

    /// <summary>Reads a 64-bit integer.</summary>
    public static bool TryReadInt64(ref Utf8JsonReader reader, string message, string field, out long value, out DecodeError error)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out value))
        {
            error = default;
            return true;
        }
        value = 0;
        error = DecodeError.WrongType(message, field, "an integer");
        return false;
    }

    /// <summary>
    /// Finds the message inside a plain envelope (<c>{"entft": {...}}</c>): the object under <paramref name="name"/>,
    /// as the range [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="data"/>. Other members are
    /// ignored, as unknown fields are; the property missing or repeated, a value that is not an object, or anything
    /// after the envelope is an error.
    /// </summary>
    public static bool TryFindWrapped(ReadOnlySpan<byte> data, ReadOnlySpan<byte> name, string nameText, out int start, out int end, out DecodeError error)
    {
        start = end = -1;
        try
        {
            var reader = new Utf8JsonReader(data, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = new(DecodeErrorKind.NotAnObject, null, null, "Message must be a JSON object");
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var match = reader.ValueTextEquals(name);
                reader.Read();
                if (!match)
                {
                    reader.Skip();
                    continue;
                }
                if (start >= 0)
                {
                    error = DecodeError.DuplicateField("", nameText);
                    return false;
                }
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    error = DecodeError.WrongType("", nameText, "an object (the message)");
                    return false;
                }
                start = (int)reader.TokenStartIndex;
                reader.Skip();
                end = (int)reader.BytesConsumed;
            }
            if (reader.Read())
            {
                error = new(DecodeErrorKind.TrailingData, null, null, "Unexpected data after the message");
                return false;
            }
            if (start < 0)
            {
                error = DecodeError.MissingField("", nameText);
                return false;
            }
            error = default;
            return true;
        }
        catch (JsonException e)
        {
            start = end = -1;
            error = new(DecodeErrorKind.InvalidSyntax, null, null, "Invalid JSON: " + e.Message);
            return false;
        }
    }

    /// <summary>Reads a decimal number (any JSON number that fits in a <see cref="decimal"/>).</summary>
    public static bool TryReadDecimal(ref Utf8JsonReader reader, string message, string field, out decimal value, out DecodeError error)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDecimal(out value))
        {
            error = default;
            return true;
        }
        value = 0;
        error = DecodeError.WrongType(message, field, "a decimal number");
        return false;
    }

    /// <summary>Reads a boolean.</summary>
    public static bool TryReadBoolean(ref Utf8JsonReader reader, string message, string field, out bool value, out DecodeError error)
    {
        if (reader.TokenType is JsonTokenType.True or JsonTokenType.False)
        {
            value = reader.TokenType == JsonTokenType.True;
            error = default;
            return true;
        }
        value = false;
        error = DecodeError.WrongType(message, field, "a boolean");
        return false;
    }

    /// <summary>Reads a UUID written as a string in 8-4-4-4-12 form.</summary>
    public static bool TryReadUuid(ref Utf8JsonReader reader, string message, string field, out Guid value, out DecodeError error)
    {
        if (reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out value))
        {
            error = default;
            return true;
        }
        value = Guid.Empty;
        error = DecodeError.WrongType(message, field, "a UUID string");
        return false;
    }

    /// <summary>Reads a timestamp written as integer seconds since the Unix epoch.</summary>
    public static bool TryReadUnixSeconds(ref Utf8JsonReader reader, string message, string field, out DateTimeOffset value, out DecodeError error)
    {
        // The bounds are those DateTimeOffset can represent.
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var seconds)
            && seconds >= -62135596800L && seconds <= 253402300799L)
        {
            value = DateTimeOffset.FromUnixTimeSeconds(seconds);
            error = default;
            return true;
        }
        value = default;
        error = DecodeError.WrongType(message, field, "a Unix time in seconds");
        return false;
    }

    /// <summary>Reads an array of strings.</summary>
    public static bool TryReadStringList(ref Utf8JsonReader reader, string message, string field, out IReadOnlyList<string> value, out DecodeError error)
        => TryReadList<string, StringItem>(ref reader, message, field, out value, out error);

    /// <summary>Reads an array of integers.</summary>
    public static bool TryReadInt64List(ref Utf8JsonReader reader, string message, string field, out IReadOnlyList<long> value, out DecodeError error)
        => TryReadList<long, Int64Item>(ref reader, message, field, out value, out error);

    /// <summary>Reads an array of UUIDs.</summary>
    public static bool TryReadUuidList(ref Utf8JsonReader reader, string message, string field, out IReadOnlyList<Guid> value, out DecodeError error)
        => TryReadList<Guid, UuidItem>(ref reader, message, field, out value, out error);

    /// <summary>One way to read a list's items; static, so the list reader is specialized per item type without delegates.</summary>
    private interface IItemReader<T>
    {
        /// <summary>What the list must be, for the error: "an array of strings".</summary>
        static abstract string Expected { get; }

        static abstract bool TryRead(ref Utf8JsonReader reader, string message, string field, out T value, out DecodeError error);
    }

    private readonly struct StringItem : IItemReader<string>
    {
        public static string Expected => "an array of strings";

        public static bool TryRead(ref Utf8JsonReader reader, string message, string field, out string value, out DecodeError error)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                value = "";
                error = DecodeError.WrongType(message, field, Expected);
                return false;
            }
            value = reader.GetString()!;
            error = default;
            return true;
        }
    }

    private readonly struct Int64Item : IItemReader<long>
    {
        public static string Expected => "an array of integers";

        public static bool TryRead(ref Utf8JsonReader reader, string message, string field, out long value, out DecodeError error)
            => TryReadInt64(ref reader, message, field, out value, out error);
    }

    private readonly struct UuidItem : IItemReader<Guid>
    {
        public static string Expected => "an array of UUIDs";

        public static bool TryRead(ref Utf8JsonReader reader, string message, string field, out Guid value, out DecodeError error)
            => TryReadUuid(ref reader, message, field, out value, out error);
    }

    private static bool TryReadList<T, TItem>(ref Utf8JsonReader reader, string message, string field, out IReadOnlyList<T> value, out DecodeError error)
        where TItem : IItemReader<T>
    {
        value = Array.Empty<T>();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            error = DecodeError.WrongType(message, field, TItem.Expected);
            return false;
        }
        var items = new List<T>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (!TItem.TryRead(ref reader, message, field, out var item, out error)) return false;
            items.Add(item);
        }
        value = items;
        error = default;
        return true;
    }

    /// <summary>Reads bytes written as a hex or base64 string; <paramref name="length"/> 0 accepts any length.</summary>
    public static bool TryReadBytes(ref Utf8JsonReader reader, string message, string field, BytesEncoding encoding, int length, out Bytes value, out DecodeError error)
    {
        value = Bytes.Empty;
        var name = encoding == BytesEncoding.Hex ? "a hex string" : "a base64 string";
        if (reader.TokenType != JsonTokenType.String)
        {
            error = DecodeError.WrongType(message, field, name);
            return false;
        }
        bool ok;
        if (encoding == BytesEncoding.Hex && !reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            // Hex straight from the UTF-8 token: no string per field on the receive path.
            var utf8 = reader.ValueSpan;
            var bytes = utf8.Length % 2 == 0 ? new byte[utf8.Length / 2] : null;
            ok = bytes is not null && Convert.FromHexString(utf8, bytes, out _, out var written) == OperationStatus.Done && written == bytes.Length;
            if (ok) value = new Bytes(bytes!);
        }
        else
        {
            var text = reader.GetString()!;
            ok = encoding == BytesEncoding.Hex ? Bytes.TryFromHex(text, out value) : Bytes.TryFromBase64(text, out value);
        }
        if (!ok)
        {
            error = DecodeError.WrongType(message, field, name);
            return false;
        }
        if (length > 0 && value.Length != length)
        {
            error = DecodeError.Constraint(message, field, $"must be {length} bytes, not {value.Length}");
            return false;
        }
        error = default;
        return true;
    }

    /// <summary>Reads an array of byte strings, each hex or base64 and, when <paramref name="length"/> is not 0, of that length.</summary>
    public static bool TryReadBytesList(ref Utf8JsonReader reader, string message, string field, BytesEncoding encoding, int length, out IReadOnlyList<Bytes> value, out DecodeError error)
    {
        value = Array.Empty<Bytes>();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            error = DecodeError.WrongType(message, field, encoding == BytesEncoding.Hex ? "an array of hex strings" : "an array of base64 strings");
            return false;
        }
        var items = new List<Bytes>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (!TryReadBytes(ref reader, message, field, encoding, length, out var item, out error)) return false;
            items.Add(item);
        }
        value = items;
        error = default;
        return true;
    }

    /// <summary>Reads a free-form object of metadata.</summary>
    public static bool TryReadMetadata(ref Utf8JsonReader reader, string message, string field, out Metadata value, out DecodeError error)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            value = Metadata.Empty;
            error = DecodeError.WrongType(message, field, "an object");
            return false;
        }
        value = new Metadata(JsonElement.ParseValue(ref reader));
        error = default;
        return true;
    }

    private static string FirstSentence(string text)
    {
        var end = text.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? text : text.Substring(0, end + 1);
    }
}
