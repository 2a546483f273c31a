using System.Buffers;
using System.Text;
using Dsl.Runtime.Codecs;
using Xunit;

namespace Dsl.Runtime.Tests.Cryptography;

/// <summary>
/// Signed bytes must be what a decoder reads: where the canonical form of a number would round it (RFC 8785 goes
/// through a double), the exact mode refuses it, so that a number rewritten to another value that rounds the same
/// cannot pass a signature made over the original.
/// </summary>
public sealed class ExactNumberTests
{
    private static (bool Ok, string Text) Canonical(string json, bool exact)
    {
        var output = new ArrayBufferWriter<byte>();
        var ok = JsonCanonicalizer.TryCanonicalize(Encoding.UTF8.GetBytes(json), output, exact, out var error);
        return (ok, ok ? Encoding.UTF8.GetString(output.WrittenSpan) : error!);
    }

    [Theory]
    [InlineData("""{"n":0.5}""", """{"n":0.5}""")]
    [InlineData("""{"n":0.1234567890123456}""", """{"n":0.1234567890123456}""")]
    [InlineData("""{"n":1e2}""", """{"n":100}""")]
    [InlineData("""{"n":9007199254740992}""", """{"n":9007199254740992}""")]
    [InlineData("""{"n":-12.50}""", """{"n":-12.5}""")]
    public void Numbers_a_double_holds_exactly_canonicalize_as_always(string json, string canonical)
    {
        Assert.Equal((true, canonical), Canonical(json, exact: true));
        Assert.Equal((true, canonical), Canonical(json, exact: false));
    }

    [Theory]
    [InlineData("""{"trust_score":0.50000000000000005}""")]
    [InlineData("""{"n":9007199254740993}""")]
    [InlineData("""{"n":0.10000000000000001}""")]
    public void Numbers_a_double_would_round_are_refused_in_exact_mode_and_rounded_otherwise(string json)
    {
        var (ok, error) = Canonical(json, exact: true);
        Assert.False(ok);
        Assert.Contains("no exact IEEE-754 double form", error);
        Assert.True(Canonical(json, exact: false).Ok);
        var without = new ArrayBufferWriter<byte>();
        Assert.False(JsonCanonicalizer.TryCanonicalizeWithout(Encoding.UTF8.GetBytes(json), new[] { "signature" }, without, out _));
    }
}
