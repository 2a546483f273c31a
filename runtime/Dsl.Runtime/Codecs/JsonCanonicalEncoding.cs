using System;
using System.Buffers;
using System.Collections.Generic;
using System.Text.Json;

namespace Dsl.Runtime.Codecs;

/// <summary>
/// Writing primitives that emit a value directly in its RFC 8785 canonical form, for generated codecs whose messages
/// are written with their members already in canonical order: the signed bytes come out of one pass, without
/// <see cref="JsonCanonicalizer"/> parsing them again. The canonicalizer's rules are the reference; a test holds every
/// member here to them.
/// </summary>
/// <remarks>
/// Values are written with <see cref="Utf8JsonWriter.WriteRawValue(ReadOnlySpan{byte}, bool)"/>, since the writer's own
/// escaping (any encoder) is not RFC 8785's. Member names must be plain (printable ASCII other than <c>"</c> and
/// <c>\</c>), which the generator checks before it uses these.
/// </remarks>
public static class JsonCanonicalEncoding
{
    /// <summary>The largest integer magnitude a double holds exactly (2^53): beyond it a number has no exact canonical form.</summary>
    private const long MaxExactInteger = 1L << 53;

    /// <summary>Writes a string, escaped as RFC 8785 says.</summary>
    /// <exception cref="FormatException"><paramref name="value"/> holds a lone surrogate.</exception>
    public static void WriteString(Utf8JsonWriter writer, ReadOnlySpan<byte> name, string value)
    {
        writer.WritePropertyName(name);
        WriteStringValue(writer, value);
    }

    /// <summary>Writes an array of strings, each escaped as RFC 8785 says.</summary>
    /// <exception cref="FormatException">A value holds a lone surrogate.</exception>
    public static void WriteStringList(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<string> values)
    {
        writer.WriteStartArray(name);
        for (var i = 0; i < values.Count; i++) WriteStringValue(writer, values[i]);
        writer.WriteEndArray();
    }

    /// <summary>Writes an integer, refusing one a double cannot hold exactly (as the canonicalizer does for signed content).</summary>
    /// <exception cref="FormatException">|<paramref name="value"/>| is above 2^53.</exception>
    public static void WriteInt64(Utf8JsonWriter writer, ReadOnlySpan<byte> name, long value)
    {
        writer.WriteNumber(name, Exact(value));
    }

    /// <summary>Writes an array of integers (see <see cref="WriteInt64"/>).</summary>
    /// <exception cref="FormatException">A value's magnitude is above 2^53.</exception>
    public static void WriteInt64List(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<long> values)
    {
        writer.WriteStartArray(name);
        for (var i = 0; i < values.Count; i++) writer.WriteNumberValue(Exact(values[i]));
        writer.WriteEndArray();
    }

    /// <summary>Writes a boolean (its JSON form is already canonical).</summary>
    public static void WriteBoolean(Utf8JsonWriter writer, ReadOnlySpan<byte> name, bool value) => writer.WriteBoolean(name, value);

    /// <summary>Writes a UUID in its lower-case 8-4-4-4-12 form.</summary>
    public static void WriteUuid(Utf8JsonWriter writer, ReadOnlySpan<byte> name, Guid value)
    {
        writer.WritePropertyName(name);
        WriteUuidValue(writer, value);
    }

    /// <summary>Writes an array of UUIDs.</summary>
    public static void WriteUuidList(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<Guid> values)
    {
        writer.WriteStartArray(name);
        for (var i = 0; i < values.Count; i++) WriteUuidValue(writer, values[i]);
        writer.WriteEndArray();
    }

    /// <summary>Writes a timestamp as whole seconds since the Unix epoch.</summary>
    public static void WriteUnixSeconds(Utf8JsonWriter writer, ReadOnlySpan<byte> name, DateTimeOffset value)
        => writer.WriteNumber(name, Exact(value.ToUnixTimeSeconds()));

    /// <summary>Writes bytes as a hex or base64 string (neither alphabet has a character RFC 8785 escapes).</summary>
    public static void WriteBytes(Utf8JsonWriter writer, ReadOnlySpan<byte> name, Bytes value, BytesEncoding encoding)
    {
        writer.WritePropertyName(name);
        WriteBytesValue(writer, value, encoding);
    }

    /// <summary>Writes an array of byte strings, each hex or base64.</summary>
    public static void WriteBytesList(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<Bytes> values, BytesEncoding encoding)
    {
        writer.WriteStartArray(name);
        for (var i = 0; i < values.Count; i++) WriteBytesValue(writer, values[i], encoding);
        writer.WriteEndArray();
    }

    private static long Exact(long value)
        => value is >= -MaxExactInteger and <= MaxExactInteger ? value
            : throw new FormatException($"The number {value} is not exactly representable as a double, so it has no exact canonical form.");

    private static void WriteStringValue(Utf8JsonWriter writer, string value)
    {
        var max = JsonCanonicalizer.MaxStringLength(value.Length);
        byte[]? rented = null;
        Span<byte> buffer = max <= 512 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            var written = JsonCanonicalizer.FormatString(value, buffer);
            if (written < 0) throw new FormatException("A string holds a lone surrogate, which has no canonical form.");
            writer.WriteRawValue(buffer[..written], skipInputValidation: true);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static void WriteUuidValue(Utf8JsonWriter writer, Guid value)
    {
        Span<byte> buffer = stackalloc byte[38];
        buffer[0] = (byte)'"';
        value.TryFormat(buffer[1..], out var written, "D");
        buffer[written + 1] = (byte)'"';
        writer.WriteRawValue(buffer[..(written + 2)], skipInputValidation: true);
    }

    /// <summary>Writes bytes as a hex or base64 string value (an array item), canonical.</summary>
    internal static void WriteBytesValue(Utf8JsonWriter writer, Bytes value, BytesEncoding encoding)
    {
        var length = encoding == BytesEncoding.Base64 ? (value.Length + 2) / 3 * 4 : value.Length * 2;
        byte[]? rented = null;
        Span<byte> buffer = length + 2 <= 512 ? stackalloc byte[length + 2] : (rented = ArrayPool<byte>.Shared.Rent(length + 2)).AsSpan(0, length + 2);
        try
        {
            buffer[0] = (byte)'"';
            if (encoding == BytesEncoding.Base64) System.Buffers.Text.Base64.EncodeToUtf8(value.Span, buffer[1..], out _, out _);
            else Convert.TryToHexStringLower(value.Span, buffer[1..], out _);
            buffer[length + 1] = (byte)'"';
            writer.WriteRawValue(buffer, skipInputValidation: true);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
