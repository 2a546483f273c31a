using System.Linq;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// <c>signature:</c> on a message: its signature fields are computed over <c>unsigned</c>, the rest of the message as
/// canonical JSON, and the receiver reads the same bytes as <c>msg.unsigned</c>. Run for real by LTP 0.3's tests
/// (Dsl.Protocols.Tests, Ltp03HandshakeTests); here, its misuse.
/// </summary>
public sealed class MessageSignatureTests
{
    private const string Spec = """
        protocol: signed
        version: "1"
        roles: [client, server]
        inputs:
          client:
            key: ed25519_key
          server:
            client_key: bytes<32>
        messages:
          hello:
            signature: sig
            fields:
              name: string
              sig: bytes<64>
          welcome:
            fields:
              greeting: string
        errors:
          BAD_SIGNATURE: The signature does not verify.
        flow:
          - client -> server: hello
            set:
              name: "ada"
              sig: ed25519_sign(self.key, unsigned)
            require:
              - ed25519_verify(self.client_key, msg.unsigned, msg.sig) else BAD_SIGNATURE
          - server -> client: welcome
            set: { greeting: hello.name }
        """;

    [Fact]
    public void A_signed_message_generates_and_compiles()
    {
        var run = GeneratorHarness.Run(Spec);
        Assert.Empty(run.SpecDiagnostics);
        Assert.Empty(run.CompileErrors);
        var codec = run.Source("Codec.g.cs");
        Assert.Contains("public global::Dsl.Runtime.Codecs.Bytes EncodeUnsigned(Hello message)", codec);
        Assert.Contains("s_helloSignatureMembers = { \"sig\" }", codec);
    }

    [Theory]
    [InlineData("msg.unsigned, msg.sig", "unsigned, msg.sig", "DSL202")]
    [InlineData("name: \"ada\"", "name: hex(unsigned)", "DSL006")]
    [InlineData("signature: sig", "signature: sgi", "DSL203")]
    [InlineData("signature: sig", "signature: name", "DSL006")]
    [InlineData("      sig: bytes<64>", "      sig: bytes<64>\n      unsigned: string", "DSL112")]
    [InlineData("set: { greeting: hello.name }", "set: { greeting: hex(hello.unsigned) }", "DSL203")]
    [InlineData("    signature: sig\n", "", "DSL202")]
    public void Misuse_is_reported(string find, string replace, string id)
    {
        Assert.Contains(find, Spec);
        var run = GeneratorHarness.Run(Spec.Replace(find, replace));
        Assert.Contains(run.SpecDiagnostics, d => d.Id == id);
    }
}
