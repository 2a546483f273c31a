using System;
using System.Linq;
using System.Text;
using CsCheck;
using Dsl.Runtime.Codecs;
using Xunit;

namespace Dsl.Runtime.Tests.Codecs;

/// <summary>
/// The canonicalizer keeps text that is already canonical as it is, without rewriting it; it only ever says so for text
/// that canonicalization would leave unchanged, and it says so for what this runtime's canonical writers send.
/// </summary>
public sealed class CanonicalFastPathTests
{
    [Theory]
    [InlineData("""{"a":1,"b":[true,false,null],"c":{"d":"x","e":-12}}""")]
    [InlineData("""{"node_id":"ab01","nonce":"ff","timestamp":1795493654,"type":"HS_SYN"}""")]
    [InlineData("""{"A":0,"B":"café","a":[],"b":{}}""")]
    [InlineData("""[1,"two",{"three":3}]""")]
    [InlineData("\"text\"")]
    [InlineData("123456789012345")]
    public void Canonical_text_is_recognized(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.True(JsonCanonicalizer.IsCanonical(bytes));
        Assert.Equal(bytes, JsonCanonicalizer.Canonicalize(bytes, exactNumbers: true));
    }

    [Theory]
    [InlineData("""{"b":1,"a":2}""")]                 // out of order
    [InlineData("""{"a":1,"a":2}""")]                 // a name twice
    [InlineData("""{"a": 1}""")]                      // whitespace after the colon
    [InlineData("""{"a" :1}""")]                      // whitespace before it
    [InlineData(""" {"a":1}""")]                      // before the value
    [InlineData("""{"a":1} """)]                      // after it
    [InlineData("""{"a":1 ,"b":2}""")]                // before a comma
    [InlineData("""{"a":01}""")]                      // a leading zero
    [InlineData("""{"a":-0}""")]                      // negative zero
    [InlineData("""{"a":1.0}""")]                     // a fraction (canonical is 1)
    [InlineData("""{"a":1e2}""")]                     // an exponent
    [InlineData("""{"a":1234567890123456}""")]        // more digits than checked cheaply
    [InlineData("""{"a":"\u0041"}""")]                // an escape (canonical is "A")
    [InlineData("""{"\u0061":1}""")]                  // an escaped name
    [InlineData("""{"a":1,}""")]                      // not JSON
    [InlineData("""{"a":1}{"b":2}""")]                // two values
    public void Anything_else_is_left_to_the_canonicalizer(string json)
        => Assert.False(JsonCanonicalizer.IsCanonical(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void Invalid_UTF8_in_a_string_is_never_taken_as_canonical()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"a":"xx"}""");
        bytes[6] = 0xC3; // a lead byte with no continuation
        Assert.False(JsonCanonicalizer.IsCanonical(bytes));
    }

    private static readonly string[] Literals = { "true", "false", "null", "0", "-1", "1.5", "1e3", "\"\"", "\"a\\\"b\"", "\"\\u00e9\"", "\"é\"" };

    /// <summary>JSON values of every kind, each written in a random one of several layouts.</summary>
    private static readonly Gen<string> Json = Gen.Recursive<string>((depth, self) =>
    {
        var scalar = Gen.OneOf(
            Gen.Long[-99999, 99999].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Gen.Int[0, Literals.Length - 1].Select(i => Literals[i]),
            Gen.Char["abcXYZ_-"].Array[0, 6].Select(t => "\"" + new string(t) + "\""));
        if (depth >= 3) return scalar;
        var names = Gen.Char["abcAB_"].Array[1, 3].Select(t => new string(t));
        var obj = Gen.Select(names, self).Array[0, 4].Select(Gen.Bool, (members, spaced) =>
            "{" + string.Join(spaced ? ", " : ",", members.Select(m => "\"" + m.Item1 + "\":" + (spaced ? " " : "") + m.Item2)) + "}");
        var arr = self.Array[0, 4].Select(items => "[" + string.Join(",", items) + "]");
        return Gen.OneOf(scalar, obj, arr);
    });

    [Fact]
    public void Text_taken_as_canonical_is_exactly_what_canonicalization_makes_of_it()
    {
        Json.Sample(json =>
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            if (!JsonCanonicalizer.TryCanonicalize(bytes, new System.Buffers.ArrayBufferWriter<byte>(), exactNumbers: true, out _)) return;
            var canonical = JsonCanonicalizer.Canonicalize(bytes, exactNumbers: true);
            if (JsonCanonicalizer.IsCanonical(bytes)) Assert.Equal(Encoding.UTF8.GetString(canonical), json);
            // And canonical output of plain values (no escapes, fractions or exponents) is recognized.
            var text = Encoding.UTF8.GetString(canonical);
            if (!text.Contains('\\') && !text.Contains('.'))
                Assert.True(JsonCanonicalizer.IsCanonical(canonical), text);
        }, iter: 5000, seed: "0N0XIzNsQ0O2");
    }

    /// <summary>
    /// A signed envelope's one pass over its payload (<see cref="JsonDecoding.SkipPayload"/>) says what the two passes it
    /// replaces said: the canonical check of the payload alone, and the discriminator search, with the same errors.
    /// </summary>
    [Fact]
    public void The_envelopes_pass_over_a_payload_says_what_the_canonical_check_and_the_discriminator_search_say()
    {
        var type = Gen.OneOf(Gen.Const(""), Gen.Const("\"type\":\"HS_SYN\","), Gen.Const("\"type\":7,"), Gen.Const("\"type\":\"A\",\"type\":\"B\","));
        Gen.Select(Json, type, Gen.Bool).Sample((json, discriminator, tail) =>
        {
            // An object payload, its discriminator first or last among its members.
            if (!json.StartsWith('{')) json = "{\"x\":" + json + "}";
            var empty = json.Replace(" ", "") == "{}";
            var payload = discriminator.Length == 0 ? json
                : empty ? "{" + discriminator.TrimEnd(',') + "}"
                : tail ? json[..^1] + "," + discriminator.TrimEnd(',') + "}"
                : "{" + discriminator + json[1..];
            var envelope = Encoding.UTF8.GetBytes("{\"payload\":" + payload + ",\"signature\":\"00\"}");
            var bytes = Encoding.UTF8.GetBytes(payload);
            var reader = new System.Text.Json.Utf8JsonReader(envelope, JsonDecoding.ReaderOptions);
            reader.Read();
            reader.Read();
            reader.Read();
            bool canonical;
            System.Text.Json.Utf8JsonReader found;
            int count;
            try
            {
                canonical = JsonDecoding.SkipPayload(ref reader, envelope, "type"u8, out found, out count);
            }
            catch (System.Text.Json.JsonException)
            {
                // Invalid JSON: the discriminator search refuses it too.
                Assert.False(JsonDecoding.TryFindDiscriminator(bytes, "type"u8, "type", out _, out _), payload);
                return;
            }
            Assert.Equal(bytes.Length + 11, (int)reader.BytesConsumed);
            Assert.Equal(JsonCanonicalizer.IsCanonical(bytes), canonical);
            var searched = JsonDecoding.TryFindDiscriminator(bytes, "type"u8, "type", out var expected, out var expectedError);
            var checkedOne = JsonDecoding.CheckDiscriminator(count, found, "type", out var error);
            Assert.Equal(searched, checkedOne);
            if (searched) Assert.Equal(expected.GetString(), found.GetString());
            else Assert.Equal(expectedError, error);
        }, iter: 3000, seed: "0N0XIzNsQ0O2");
    }
}
