using System.Reflection;
using System.Threading.Tasks;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// A message whose every field has a canonical writer is written canonical (RFC 8785) in one pass: members sorted by
/// name with the discriminator among them, absent optional fields left out, strings escaped as RFC 8785 says. What it
/// writes is exactly what the canonicalizer makes of the ordinary encoding; a message with a field that has no
/// canonical writer (a decimal, a map) is still written, then canonicalized.
/// </summary>
public sealed class CanonicalWriterTests
{
    private const string Spec = """
        protocol: canon
        version: "1"
        roles: [client, server]
        inputs:
          client:
            zeta: string
            alpha: int
            id: uuid
            at: timestamp
            hex: bytes<4>
            b64: bytes
            names: list<string>
            counts: list<int>
            ids: list<uuid>
            blobs: list<bytes>
            maybe: string?
          server:
            score: decimal
        messages:
          every_kind:
            fields:
              zeta: string
              alpha: int
              mid_flag: bool
              id: uuid
              at: timestamp
              hex: bytes<4>
              b64: { type: bytes, encoding: base64 }
              names: list<string>
              counts: list<int>
              ids: list<uuid>
              blobs: list<bytes>
              maybe: string?
              Upper: string
          with_decimal:
            fields:
              score: decimal
              note: string
        flow:
          - client -> server: every_kind
            set:
              zeta: self.zeta
              alpha: self.alpha
              mid_flag: true
              id: self.id
              at: self.at
              hex: self.hex
              b64: self.b64
              names: self.names
              counts: self.counts
              ids: self.ids
              blobs: self.blobs
              maybe: self.maybe
              Upper: "u"
          - server -> client: with_decimal
            set: { score: self.score, note: "n" }
        """;

    private const string UserCode = """
        using System;
        using Dsl.Runtime.Codecs;
        using Dsl.Protocols.Canon;

        namespace User
        {
            public static class Runner
            {
                private static string Check(CanonMessage message)
                {
                    using var buffer = new PooledBufferWriter();
                    CanonCodec.Instance.Encode(message, buffer);
                    var expected = Convert.ToHexString(JsonCanonicalizer.Canonicalize(buffer.WrittenSpan, exactNumbers: true));
                    var direct = Convert.ToHexString(CanonCodec.Instance.EncodeCanonicalPayload(message).Span);
                    return expected == direct ? "same" : "canonicalized " + expected + " but wrote " + direct;
                }

                public static string EveryKind(string text, long number, bool withMaybe)
                {
                    return Check(new EveryKind
                    {
                        Zeta = text,
                        Alpha = number,
                        MidFlag = true,
                        Id = Guid.Parse("6f9619ff-8b86-d011-b42d-00c04fc964ff"),
                        At = DateTimeOffset.FromUnixTimeSeconds(1795493654),
                        Hex = new Bytes(new byte[] { 0xde, 0xad, 0xbe, 0xef }),
                        B64 = new Bytes(new byte[] { 0xfb, 0xff, 0xfe, 0x3e, 0x3f }),
                        Names = new[] { text, "", "plain" },
                        Counts = new[] { number, 0, -1 },
                        Ids = new[] { Guid.Empty },
                        Blobs = new[] { new Bytes(new byte[] { 1, 2 }), Bytes.Empty },
                        Maybe = withMaybe ? text + "!" : null,
                        Upper = "sorted before the lower-case names",
                    });
                }

                public static string WithDecimal() => Check(new WithDecimal { Score = 0.940m, Note = "caf\u00e9" });
            }
        }
        """;

    private static readonly System.Lazy<(GeneratorRun Run, Assembly Assembly)> s_generated = new(() =>
    {
        var run = GeneratorHarness.RunWithUserCode(Spec, UserCode);
        Assert.Empty(run.SpecDiagnostics);
        Assert.Empty(run.CompileErrors);
        return (run, run.Load());
    });

    private static string Call(string method, params object[] arguments)
        => (string)s_generated.Value.Assembly.GetType("User.Runner")!.GetMethod(method)!.Invoke(null, arguments)!;

    [Theory]
    [InlineData("plain", 42L, true)]
    [InlineData("quote \" backslash \\ tab \t newline \n bell \u0007 del \u007f", -9007199254740992L, false)]
    [InlineData("caf\u00e9 \u2028 <html> & 'x' + `y` \U0001F600", 9007199254740992L, true)]
    [InlineData("", 0L, false)]
    public void A_message_of_every_kind_is_written_canonical_in_one_pass(string text, long number, bool withMaybe)
    {
        Assert.Equal("same", Call("EveryKind", text, number, withMaybe));
        Assert.Contains("WriteCanonicalEveryKind(writer, m)", s_generated.Value.Run.Source("Canon.Codec.g.cs"));
    }

    [Fact]
    public void A_message_with_a_decimal_is_written_then_canonicalized()
    {
        Assert.Equal("same", Call("WithDecimal"));
        Assert.DoesNotContain("WriteCanonicalWithDecimal", s_generated.Value.Run.Source("Canon.Codec.g.cs"));
    }
}
