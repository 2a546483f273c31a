using System;
using System.Buffers;
using System.Collections.Generic;
using System.Text.Json;

namespace Dsl.Runtime.Codecs;

/// <summary>Writing primitives shared by generated JSON codecs.</summary>
public static class JsonEncoding
{
    [ThreadStatic] private static Utf8JsonWriter? s_writer;

    /// <summary>
    /// A writer reset onto <paramref name="output"/>, cached per thread so that encoding into a
    /// reused buffer allocates nothing. Flush it before returning; do not hold it across awaits.
    /// </summary>
    public static Utf8JsonWriter RentWriter(IBufferWriter<byte> output)
    {
        var writer = s_writer;
        if (writer is null)
        {
            writer = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
            s_writer = writer;
        }
        else
        {
            writer.Reset(output);
        }
        return writer;
    }

    /// <summary>Writes a string.</summary>
    public static void WriteString(Utf8JsonWriter writer, ReadOnlySpan<byte> name, string value) => writer.WriteString(name, value);

    /// <summary>Writes an integer.</summary>
    public static void WriteInt64(Utf8JsonWriter writer, ReadOnlySpan<byte> name, long value) => writer.WriteNumber(name, value);

    /// <summary>Writes a decimal number, in its shortest exact form (0.94, not 0.9400).</summary>
    public static void WriteDecimal(Utf8JsonWriter writer, ReadOnlySpan<byte> name, decimal value) => writer.WriteNumber(name, value / 1.000000000000000000000000000000000m);

    /// <summary>Writes a boolean.</summary>
    public static void WriteBoolean(Utf8JsonWriter writer, ReadOnlySpan<byte> name, bool value) => writer.WriteBoolean(name, value);

    /// <summary>Writes a UUID in its lower-case 8-4-4-4-12 form.</summary>
    public static void WriteUuid(Utf8JsonWriter writer, ReadOnlySpan<byte> name, Guid value) => writer.WriteString(name, value);

    /// <summary>Writes a timestamp as whole seconds since the Unix epoch.</summary>
    public static void WriteUnixSeconds(Utf8JsonWriter writer, ReadOnlySpan<byte> name, DateTimeOffset value) => writer.WriteNumber(name, value.ToUnixTimeSeconds());

    /// <summary>Writes an array of integers.</summary>
    public static void WriteInt64List(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<long> values)
    {
        writer.WriteStartArray(name);
        for (var i = 0; i < values.Count; i++) writer.WriteNumberValue(values[i]);
        writer.WriteEndArray();
    }

    /// <summary>Writes an array of UUIDs.</summary>
    public static void WriteUuidList(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<Guid> values)
    {
        writer.WriteStartArray(name);
        for (var i = 0; i < values.Count; i++) writer.WriteStringValue(values[i]);
        writer.WriteEndArray();
    }

    /// <summary>Writes an array of strings.</summary>
    public static void WriteStringList(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<string> values)
    {
        writer.WriteStartArray(name);
        for (var i = 0; i < values.Count; i++) writer.WriteStringValue(values[i]);
        writer.WriteEndArray();
    }

    /// <summary>Writes bytes as a hex or base64 string.</summary>
    public static void WriteBytes(Utf8JsonWriter writer, ReadOnlySpan<byte> name, Bytes value, BytesEncoding encoding)
    {
        if (encoding == BytesEncoding.Base64)
        {
            writer.WriteBase64String(name, value.Span);
            return;
        }
        // Hex is its own canonical form: written as UTF-8 straight into the output, with nothing to escape.
        JsonCanonicalEncoding.WriteBytes(writer, name, value, BytesEncoding.Hex);
    }

    /// <summary>Writes an array of byte strings, each hex or base64.</summary>
    public static void WriteBytesList(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<Bytes> values, BytesEncoding encoding)
    {
        writer.WriteStartArray(name);
        for (var i = 0; i < values.Count; i++) WriteBytesValue(writer, values[i], encoding);
        writer.WriteEndArray();
    }

    /// <summary>Writes bytes as a hex or base64 string value (an array item).</summary>
    private static void WriteBytesValue(Utf8JsonWriter writer, Bytes value, BytesEncoding encoding)
    {
        if (encoding == BytesEncoding.Base64)
        {
            writer.WriteBase64StringValue(value.Span);
            return;
        }
        JsonCanonicalEncoding.WriteBytesValue(writer, value, BytesEncoding.Hex);
    }

    /// <summary>Writes a metadata object.</summary>
    public static void WriteMetadata(Utf8JsonWriter writer, ReadOnlySpan<byte> name, Metadata value)
    {
        writer.WritePropertyName(name);
        value.WriteTo(writer);
    }
}
