using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// Key material in an outcome is a <c>SecretBytes</c> (sodium memory, prints its length, disposed with the result):
/// what HKDF or X25519 yields, and what keeps it whole (a prefix, a concatenation, a let, a conditional's branch). A hash
/// or a MAC of it is public, and stays <c>Bytes</c>.
/// </summary>
public sealed class SecrecyTests
{
    private const string Spec = """
        protocol: keys
        version: "1"
        roles: [a, b]
        inputs:
          a: { seed: bytes }
          b: { seed: bytes }
        messages:
          hello: { fields: { nonce: bytes<16> } }
        flow:
          - a -> b: hello
            set: { nonce: random(16) }
            require:
              - let: { k: 'hkdf_sha256(self.seed, msg.nonce, "k", 32)' }
        outcome:
          a:
            nonce: hello.nonce
          b:
            key: hkdf_sha256(self.seed, hello.nonce, "k", 32)
            via_let: k
            prefix: take(k, 16)
            joined: concat(hello.nonce, k)
            either: if len(self.seed) > 4 then k else sha256(hello.nonce)
            hash: sha256(k)
            mac: hmac_sha256(k, hello.nonce)
            nonce: hello.nonce
        """;

    [Fact]
    public void Outcomes_that_hold_key_material_are_SecretBytes_and_the_result_disposes_them()
    {
        var run = GeneratorHarness.Run(Spec);
        Assert.Empty(run.SpecDiagnostics);
        MiscompileTests.AssertCompilesClean(run);
        var b = run.Source(".B.Machine.g.cs");
        foreach (var secret in new[] { "Key", "ViaLet", "Prefix", "Joined", "Either" })
            Assert.Contains($"public required global::Dsl.Runtime.Cryptography.SecretBytes {secret} {{ get; init; }}", b);
        foreach (var plain in new[] { "Hash", "Mac", "Nonce" })
            Assert.Contains($"public required global::Dsl.Runtime.Codecs.Bytes {plain} {{ get; init; }}", b);
        Assert.Contains("public sealed partial record KeysBResult : global::System.IDisposable", b);
        Assert.Contains("Key.Dispose();", b);
        // A derivation's fresh result is taken (its managed bytes wiped); a let is copied, since later values may read it.
        Assert.Contains("Key = global::Dsl.Runtime.Cryptography.SecretBytes.Take(", b);
        Assert.Contains("ViaLet = global::Dsl.Runtime.Cryptography.SecretBytes.CopyOf(", b);
        Assert.DoesNotContain("Hash.Dispose();", b);
        // A role whose outcome holds no key material keeps a plain record.
        Assert.Contains("public sealed partial record KeysAResult\n", run.Source(".A.Machine.g.cs"));
    }
}
