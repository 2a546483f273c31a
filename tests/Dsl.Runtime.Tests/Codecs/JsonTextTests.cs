using System.Text;
using Dsl.Runtime.Codecs;
using Xunit;

namespace Dsl.Runtime.Tests.Codecs;

/// <summary>
/// What a generated decoder checks before it reads anything: the message is UTF-8 and escapes no lone UTF-16 surrogate,
/// so a member name or a discriminator it only compares can neither hold invalid text nor make the reader throw.
/// </summary>
public sealed class JsonTextTests
{
    [Theory]
    [InlineData("""{"a":"plain"}""")]
    [InlineData("""{"a":"\ud83d\ude00"}""")]            // a high-low pair: one code point
    [InlineData("""{"a":"\uD83D\uDE00"}""")]            // upper-case hex
    [InlineData("""{"a":"\\udc00"}""")]                 // an escaped backslash, then the text "udc00"
    [InlineData("""{"a":"\u00e9\n\"\\"}""")]            // other escapes
    [InlineData("""{"a":"é ☃ 😀"}""")]                 // raw UTF-8
    public void Text_json_can_hold_passes(string json)
    {
        Assert.True(JsonDecoding.IsText(Encoding.UTF8.GetBytes(json), out var error), error.Detail);
    }

    [Theory]
    [InlineData("""{"a":"\udc00"}""", "surrogate")]      // a lone low surrogate
    [InlineData("""{"a":"\ud800"}""", "surrogate")]      // a high surrogate at the end of a string
    [InlineData("""{"a":"\ud800x"}""", "surrogate")]     // a high surrogate followed by text
    [InlineData("""{"a":"\ud800\u0041"}""", "surrogate")] // a high surrogate followed by another escape
    [InlineData("""{"\udfff":1}""", "surrogate")]        // in a member name
    [InlineData("""{"a":"\ude02\ud83d"}""", "surrogate")] // a pair in the wrong order
    [InlineData("""{"a":"\ud800""", "surrogate")]         // cut short after the escape
    public void A_lone_surrogate_escape_is_refused_as_syntax(string json, string detail)
    {
        Assert.False(JsonDecoding.IsText(Encoding.UTF8.GetBytes(json), out var error));
        Assert.Equal(DecodeErrorKind.InvalidSyntax, error.Kind);
        Assert.Contains(detail, error.Detail);
    }

    [Fact]
    public void Invalid_UTF8_is_refused_as_syntax()
    {
        Assert.False(JsonDecoding.IsText(new byte[] { (byte)'"', 0xC3, (byte)'"' }, out var error));
        Assert.Contains("UTF-8", error.Detail);
    }
}
