using System;
using System.Text.Json;
using CsCheck;
using Dsl.Runtime.Codecs;
using Xunit;

namespace Dsl.Runtime.Tests.Codecs;

/// <summary>
/// The one-pass canonical writers produce exactly what the canonicalizer makes of the same value written the ordinary
/// way: any string (control characters, quotes, backslashes, non-ASCII, surrogate pairs), integer, UUID or bytes.
/// </summary>
public sealed class JsonCanonicalEncodingTests
{
    private static string Direct(Action<Utf8JsonWriter> write)
    {
        using var buffer = new PooledBufferWriter();
        var writer = JsonEncoding.RentWriter(buffer);
        writer.WriteStartObject();
        write(writer);
        writer.WriteEndObject();
        writer.Flush();
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Canonicalized(Action<Utf8JsonWriter> write)
    {
        using var buffer = new PooledBufferWriter();
        var writer = JsonEncoding.RentWriter(buffer);
        writer.WriteStartObject();
        write(writer);
        writer.WriteEndObject();
        writer.Flush();
        return System.Text.Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(buffer.WrittenSpan, exactNumbers: true));
    }

    /// <summary>Strings from every region that matters to RFC 8785's escaping, as valid UTF-16.</summary>
    private static readonly Gen<string> Text = Gen.OneOf(
            Gen.Char[(char)0, (char)0x7F],
            Gen.Char[(char)0x80, (char)0xD7FF],
            Gen.Char[(char)0xE000, (char)0xFFFF],
            Gen.Const('"'), Gen.Const('\\'), Gen.Const('<'), Gen.Const('+'), Gen.Const('\u2028'))
        .Array[0, 40]
        .Select(Gen.OneOf(Gen.Const(""), Gen.Const("\U0001F600"), Gen.Const("\U00010000")), (chars, pair) => new string(chars) + pair);

    [Fact]
    public void A_string_and_a_list_of_strings_come_out_as_the_canonicalizer_writes_them()
    {
        Gen.Select(Text, Text, Text).Sample((a, b, c) =>
        {
            Assert.Equal(Canonicalized(w => JsonEncoding.WriteString(w, "s"u8, a)), Direct(w => JsonCanonicalEncoding.WriteString(w, "s"u8, a)));
            Assert.Equal(Canonicalized(w => JsonEncoding.WriteStringList(w, "l"u8, new[] { a, b, c })),
                Direct(w => JsonCanonicalEncoding.WriteStringList(w, "l"u8, new[] { a, b, c })));
        }, iter: 2000, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void Integers_uuids_timestamps_and_booleans_come_out_as_the_canonicalizer_writes_them()
    {
        Gen.Select(Gen.Long[-(1L << 53), 1L << 53], Gen.Guid, Gen.Long[0, 253402300799], Gen.Bool).Sample((n, id, seconds, flag) =>
        {
            var at = DateTimeOffset.FromUnixTimeSeconds(seconds);
            Assert.Equal(
                Canonicalized(w => { JsonEncoding.WriteInt64(w, "n"u8, n); JsonEncoding.WriteUuid(w, "u"u8, id); JsonEncoding.WriteUnixSeconds(w, "t"u8, at); JsonEncoding.WriteBoolean(w, "v"u8, flag); }),
                // In member order, as the generated writers call them.
                Direct(w => { JsonCanonicalEncoding.WriteInt64(w, "n"u8, n); JsonCanonicalEncoding.WriteUnixSeconds(w, "t"u8, at); JsonCanonicalEncoding.WriteUuid(w, "u"u8, id); JsonCanonicalEncoding.WriteBoolean(w, "v"u8, flag); }));
            Assert.Equal(Canonicalized(w => JsonEncoding.WriteInt64List(w, "l"u8, new[] { n, -n, 0 })), Direct(w => JsonCanonicalEncoding.WriteInt64List(w, "l"u8, new[] { n, -n, 0 })));
            Assert.Equal(Canonicalized(w => JsonEncoding.WriteUuidList(w, "l"u8, new[] { id, Guid.Empty })), Direct(w => JsonCanonicalEncoding.WriteUuidList(w, "l"u8, new[] { id, Guid.Empty })));
        }, iter: 2000, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void Bytes_in_hex_and_base64_come_out_as_the_canonicalizer_writes_them()
    {
        Gen.Byte.Array[0, 300].Sample(raw =>
        {
            var value = new Bytes(raw);
            foreach (var encoding in new[] { BytesEncoding.Hex, BytesEncoding.Base64 })
            {
                Assert.Equal(Canonicalized(w => JsonEncoding.WriteBytes(w, "b"u8, value, encoding)), Direct(w => JsonCanonicalEncoding.WriteBytes(w, "b"u8, value, encoding)));
                Assert.Equal(Canonicalized(w => JsonEncoding.WriteBytesList(w, "l"u8, new[] { value, Bytes.Empty }, encoding)),
                    Direct(w => JsonCanonicalEncoding.WriteBytesList(w, "l"u8, new[] { value, Bytes.Empty }, encoding)));
            }
        }, iter: 1000, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void What_has_no_canonical_form_is_refused_as_the_canonicalizer_refuses_it()
    {
        Assert.Throws<FormatException>(() => Direct(w => JsonCanonicalEncoding.WriteInt64(w, "n"u8, (1L << 53) + 1)));
        Assert.Throws<FormatException>(() => Direct(w => JsonCanonicalEncoding.WriteInt64(w, "n"u8, long.MinValue)));
        Assert.Throws<FormatException>(() => Canonicalized(w => JsonEncoding.WriteInt64(w, "n"u8, (1L << 53) + 1)));
        Assert.Throws<FormatException>(() => Direct(w => JsonCanonicalEncoding.WriteString(w, "s"u8, "a\udc00b")));
    }
}
