using System;
using System.Buffers;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Dsl.Runtime.Codecs;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Cryptography;

/// <summary>
/// RFC 8785 JSON canonicalization against the published vectors of cyberphone/json-canonicalization, read in
/// place from ../shared/vectors/json-canonicalization: every input/X.json must give exactly the bytes of
/// output/X.json, every line of es6/es6testfile_10k.txt must format as expected, and inputs without a
/// canonical form must be refused. The counts are written to the test output.
/// </summary>
public sealed class CanonicalJsonTests(ITestOutputHelper output)
{
    private static string Folder => Path.Combine(Vectors.Root, "json-canonicalization");

    private void Report(Tally tally, string name, int expectedCases)
    {
        output.WriteLine(tally.Summary(name));
        Console.WriteLine("[vectors] JCS: " + tally.Summary(name));
        Assert.True(tally.Failures.Count == 0, string.Join("\n", tally.Failures.Take(20)));
        Assert.Equal(expectedCases, tally.Total);
    }

    [Fact]
    public void Every_input_canonicalizes_to_exactly_the_published_output()
    {
        var tally = new Tally();
        var inputs = Directory.GetFiles(Path.Combine(Folder, "input"), "*.json");
        Array.Sort(inputs, StringComparer.Ordinal);
        foreach (var inputPath in inputs)
        {
            var name = Path.GetFileNameWithoutExtension(inputPath);
            var expected = File.ReadAllBytes(Path.Combine(Folder, "output", name + ".json"));
            var outhex = Convert.FromHexString(string.Concat(File.ReadAllText(Path.Combine(Folder, "outhex", name + ".txt"))
                .Where(Uri.IsHexDigit)));
            Assert.Equal(expected, outhex); // the two published forms agree

            var actual = JsonCanonicalizer.Canonicalize(File.ReadAllBytes(inputPath));
            var writer = new ArrayBufferWriter<byte>();
            var ok = JsonCanonicalizer.TryCanonicalize(File.ReadAllBytes(inputPath), writer, out var error);
            var again = JsonCanonicalizer.Canonicalize(expected);
            if (!actual.SequenceEqual(expected))
                tally.Fail($"{name}: got {Encoding.UTF8.GetString(actual)} expected {Encoding.UTF8.GetString(expected)}");
            else if (!ok || error is not null || !writer.WrittenSpan.SequenceEqual(expected))
                tally.Fail($"{name}: TryCanonicalize disagrees ({error})");
            else if (!again.SequenceEqual(expected))
                tally.Fail($"{name}: canonical form is not a fixed point");
            else tally.Pass("byte for byte");
        }
        Report(tally, "input/output pairs", 6);
    }

    [Fact]
    public void Every_ES6_number_line_formats_as_expected()
    {
        var tally = new Tally();
        foreach (var line in File.ReadLines(Path.Combine(Folder, "es6", "es6testfile_10k.txt")))
        {
            if (line.Length == 0) continue;
            var comma = line.IndexOf(',');
            var hex = line[..comma];
            var expected = line[(comma + 1)..];
            var value = BitConverter.Int64BitsToDouble(unchecked((long)ulong.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)));

            var formatted = JsonCanonicalizer.FormatNumber(value);
            // The same through the JSON path: .NET's round-trip text of the double (e.g. 1E+21) parsed and re-written.
            var viaJson = Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes("[" + value.ToString("R", CultureInfo.InvariantCulture) + "]")));
            // And the expected text is itself canonical.
            var fixedPoint = Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes("[" + expected + "]")));

            if (formatted != expected) tally.Fail($"{hex}: formatted {formatted}, expected {expected}");
            else if (viaJson != "[" + expected + "]") tally.Fail($"{hex}: canonicalized {viaJson}, expected [{expected}]");
            else if (fixedPoint != "[" + expected + "]") tally.Fail($"{hex}: {expected} re-canonicalized as {fixedPoint}");
            else tally.Pass("as expected");
        }
        Report(tally, "ES6 numbers", 10000);
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("-0", "0")]
    [InlineData("-0.0e5", "0")]
    [InlineData("1e-400", "0")]
    [InlineData("1E21", "1e+21")]
    [InlineData("1e20", "100000000000000000000")]
    [InlineData("123456789012345680000", "123456789012345680000")]
    [InlineData("0.000001", "0.000001")]
    [InlineData("0.0000001", "1e-7")]
    [InlineData("-1.5e-7", "-1.5e-7")]
    [InlineData("4.50", "4.5")]
    [InlineData("1.7976931348623157e308", "1.7976931348623157e+308")]
    [InlineData("9007199254740993", "9007199254740992")]
    [InlineData("333333333.33333329", "333333333.3333333")]
    public void Numbers_are_written_as_ECMAScript_does(string json, string expected)
        => Assert.Equal(expected, Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json))));

    [Theory]
    [InlineData("\"\\u007f\\u0080/\\/\"", "\"\u007f\u0080//\"")]
    [InlineData("\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001F \\\"\\\\\"", "\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \\\"\\\\\"")]
    [InlineData("\"\\ud83d\\ude02 \\u00e9\"", "\"\U0001F602 \u00e9\"")]
    [InlineData(" { \"b\" : [ 1 , { } , [ ] ] , \"a\" : null } ", "{\"a\":null,\"b\":[1,{},[]]}")]
    // UTF-16 order: U+1F602 (D83D DE02) sorts before U+E000, though its UTF-8 (F0 ...) sorts after EE 80 80.
    [InlineData("{\"\\ue000\":1,\"\\ud83d\\ude02\":2,\"\":3,\"a\":4,\"A\":5}", "{\"\":3,\"A\":5,\"a\":4,\"\U0001F602\":2,\"\ue000\":1}")]
    [InlineData("{\"b\":{\"d\":1,\"c\":{\"f\":2,\"e\":3}},\"a\":[{\"z\":0,\"y\":1}]}", "{\"a\":[{\"y\":1,\"z\":0}],\"b\":{\"c\":{\"e\":3,\"f\":2},\"d\":1}}")]
    public void Strings_and_structures_are_written_canonically(string json, string expected)
        => Assert.Equal(expected, Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json))));

    [Fact]
    public void Large_objects_are_sorted()
    {
        var json = new StringBuilder("{");
        for (var i = 999; i >= 0; i--) json.Append(i == 999 ? "" : ",").Append('"').Append(i.ToString("d4", CultureInfo.InvariantCulture)).Append("\":").Append(i);
        json.Append('}');
        var expected = new StringBuilder("{");
        for (var i = 0; i < 1000; i++) expected.Append(i == 0 ? "" : ",").Append('"').Append(i.ToString("d4", CultureInfo.InvariantCulture)).Append("\":").Append(i);
        expected.Append('}');
        Assert.Equal(expected.ToString(), Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json.ToString()))));
    }

    private static readonly (string Label, byte[] Json)[] Refused =
    [
        ("duplicate name", "{\"a\":1,\"a\":2}"u8.ToArray()),
        ("duplicate name", "{\"a\":1,\"b\":2,\"a\":1}"u8.ToArray()),
        ("duplicate name", "{\"a\":1,\"\\u0061\":2}"u8.ToArray()),
        ("duplicate name", "[{\"x\":{\"é\":1,\"\\u00e9\":2}}]"u8.ToArray()),
        ("duplicate name", "{\"\\ud83d\\ude02\":1,\"😂\":2}"u8.ToArray()),
        ("invalid JSON", ""u8.ToArray()),
        ("invalid JSON", "   "u8.ToArray()),
        ("invalid JSON", "{"u8.ToArray()),
        ("invalid JSON", "[1,]"u8.ToArray()),
        ("invalid JSON", "{\"a\":1,}"u8.ToArray()),
        ("invalid JSON", "{'a':1}"u8.ToArray()),
        ("invalid JSON", "{\"a\" 1}"u8.ToArray()),
        ("invalid JSON", "[1] [2]"u8.ToArray()),
        ("invalid JSON", "1 x"u8.ToArray()),
        ("invalid JSON", "[1 /* comment */]"u8.ToArray()),
        ("invalid JSON", "[01]"u8.ToArray()),
        ("invalid JSON", "[.5]"u8.ToArray()),
        ("invalid JSON", "[+1]"u8.ToArray()),
        ("invalid JSON", "[0x10]"u8.ToArray()),
        ("invalid JSON", "[tru]"u8.ToArray()),
        ("invalid JSON", "[\"\\x\"]"u8.ToArray()),
        ("invalid JSON", "[\"\\u12\"]"u8.ToArray()),
        ("invalid JSON", "[\"tab\tinside\"]"u8.ToArray()),
        ("invalid JSON", "[\"unterminated]"u8.ToArray()),
        ("invalid JSON", new byte[] { (byte)'"', 0xC3, (byte)'"' }),
        ("invalid JSON", new byte[] { (byte)'"', 0xED, 0xA0, 0x80, (byte)'"' }),
        ("invalid JSON", new byte[] { (byte)'"', 0xC0, 0xAF, (byte)'"' }),
        ("invalid JSON", new byte[] { (byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}' }),
        ("invalid JSON", Encoding.UTF8.GetBytes(new string('[', 65) + new string(']', 65))),
        ("non-finite number", "[NaN]"u8.ToArray()),
        ("non-finite number", "[Infinity]"u8.ToArray()),
        ("non-finite number", "[-Infinity]"u8.ToArray()),
        ("non-finite number", "[1e400]"u8.ToArray()),
        ("non-finite number", "[-1E309]"u8.ToArray()),
        ("non-finite number", "{\"a\":{\"b\":1.8e308}}"u8.ToArray()),
        ("lone surrogate", "[\"\\ud800\"]"u8.ToArray()),
        ("lone surrogate", "[\"\\udc00\"]"u8.ToArray()),
        ("lone surrogate", "[\"\\ud83d\\u0041\"]"u8.ToArray()),
        ("lone surrogate", "[\"\\ude02\\ud83d\"]"u8.ToArray()),
        ("lone surrogate", "[\"x\\ud83d\"]"u8.ToArray()),
        ("lone surrogate", "{\"\\udfff\":1}"u8.ToArray()),
    ];

    [Fact]
    public void Inputs_without_a_canonical_form_are_refused()
    {
        var tally = new Tally();
        foreach (var (label, json) in Refused)
        {
            var writer = new ArrayBufferWriter<byte>();
            bool ok;
            string? error;
            try
            {
                ok = JsonCanonicalizer.TryCanonicalize(json, writer, out error);
            }
            catch (Exception e)
            {
                tally.Fail($"{label} {Show(json)}: TryCanonicalize threw {e.GetType().Name}: {e.Message}");
                continue;
            }
            var thrown = Record.Exception(() => JsonCanonicalizer.Canonicalize(json));
            var thrownToWriter = Record.Exception(() => JsonCanonicalizer.Canonicalize(json, new ArrayBufferWriter<byte>()));
            if (ok) tally.Fail($"{label} {Show(json)}: accepted as {Encoding.UTF8.GetString(writer.WrittenSpan)}");
            else if (string.IsNullOrEmpty(error)) tally.Fail($"{label} {Show(json)}: refused without a message");
            else if (writer.WrittenCount != 0) tally.Fail($"{label} {Show(json)}: wrote {writer.WrittenCount} bytes although refused");
            else if (thrown is not FormatException || thrownToWriter is not FormatException)
                tally.Fail($"{label} {Show(json)}: Canonicalize threw {thrown?.GetType().Name ?? "nothing"} / {thrownToWriter?.GetType().Name ?? "nothing"}");
            else
            {
                output.WriteLine($"{label} {Show(json)}: {error}");
                tally.Pass(label + " refused");
            }
        }
        Report(tally, "refusals", Refused.Length);
    }

    private static string Show(byte[] json) => Convert.ToHexString(json.AsSpan(0, Math.Min(json.Length, 40)));
}
