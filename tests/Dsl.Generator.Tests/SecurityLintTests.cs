using System.Linq;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>The security lints: what each finds, at its line, and how an acknowledgement silences it, or is itself reported when stale.</summary>
public sealed class SecurityLintTests
{
    private static string Base => DiagnosticTests.Base;

    [Fact]
    public void An_outcome_from_a_field_nothing_binds_to_its_sender_is_DSL501()
    {
        var run = GeneratorHarness.Run(Base);
        var lints = run.Lints.Where(d => d.Id == "DSL501").Select(d => d.GetMessage()).ToList();
        Assert.Contains(lints, m => m.Contains("server's outcome 'name' comes from 'hello.name'"));
        Assert.Contains(lints, m => m.Contains("client's outcome 'greeting' comes from 'welcome.greeting'"));
        Assert.Equal(4, run.Sources.Count);
    }

    [Fact]
    public void An_acknowledgement_with_its_reason_silences_the_lint_and_at_limits_it_to_what_it_names()
    {
        var all = GeneratorHarness.Run(Base + "\nacknowledge:\n  unprotected_field: It runs inside a TLS tunnel.\n");
        Assert.Empty(all.Lints);
        var one = GeneratorHarness.Run(Base + "\nacknowledge:\n  unprotected_field:\n    at: [hello.name]\n    because: The name is only shown.\n");
        var left = Assert.Single(one.Lints);
        Assert.Contains("welcome.greeting", left.GetMessage());
    }

    [Fact]
    public void An_unknown_lint_is_DSL507_and_an_acknowledgement_of_nothing_is_DSL508()
    {
        var unknown = GeneratorHarness.Run(Base + "\nacknowledge:\n  unsigned_fields: why\n");
        var error = Assert.Single(unknown.SpecDiagnostics, d => d.Id == "DSL507");
        Assert.Contains("unprotected_field", error.GetMessage());
        Assert.Empty(unknown.Sources);
        var stale = GeneratorHarness.Run(Base + "\nacknowledge:\n  unprotected_field: TLS.\n  signature_without_freshness: Nothing is signed here.\n");
        var warning = Assert.Single(stale.Lints);
        Assert.Equal("DSL508", warning.Id);
        Assert.Contains("signature_without_freshness", warning.GetMessage());
    }

    [Fact]
    public void A_failure_that_writes_what_the_peer_claimed_to_a_store_about_peers_is_DSL504()
    {
        var yaml = Base.Replace("  BAD_NAME: { doc: The name is empty. }", "  BAD_NAME:\n    doc: The name is empty.\n    do:\n      server:\n        - visitors.set(hello.name, 1)");
        var run = GeneratorHarness.Run(yaml);
        var finding = Assert.Single(run.Lints, d => d.Id == "DSL504");
        Assert.Contains("hello.name", finding.GetMessage());
        Assert.Contains("visitors", finding.GetMessage());
    }

    /// <summary>A client proving a phrase to a server: the three lints about secrets, each by one edit.</summary>
    private const string Phrase = """
        protocol: phrase
        version: "1"
        roles: [client, server]
        inputs:
          client:
            passphrase: { type: string, secret: true }
          server:
            passphrase: { type: string, secret: true }
        messages:
          hello:
            fields:
              nonce: bytes<16>
              proof: bytes<32>
          welcome:
            fields:
              nonce: bytes<16>
        errors:
          WRONG_PHRASE: { doc: The proof does not verify. }
        flow:
          - client -> server: hello
            let: { fresh_nonce: random(16) }
            set:
              nonce: fresh_nonce
              proof: hmac_sha256(utf8(self.passphrase), fresh_nonce)
            require:
              - msg.proof == hmac_sha256(utf8(self.passphrase), msg.nonce) else WRONG_PHRASE
          - server -> client: welcome
            set: { nonce: random(16) }
        outcome:
          client:
            key: hkdf_sha256(utf8(self.passphrase), "", "phrase key", 32)
          server:
            nonce: hello.nonce
        acknowledge:
          signature_without_freshness: A toy.
        """;

    [Fact]
    public void A_mac_keyed_by_a_phrase_alone_is_DSL506_and_a_key_exchange_beside_it_clears_it()
    {
        var run = GeneratorHarness.Run(Phrase);
        Assert.Contains(run.Lints, d => d.Id == "DSL506" && d.GetMessage().Contains("client.passphrase"));
        Assert.Contains(run.Lints, d => d.Id == "DSL506" && d.GetMessage().Contains("server.passphrase"));
    }

    [Fact]
    public void A_secret_input_set_into_a_message_is_DSL505()
    {
        var yaml = Phrase.Replace("      proof: bytes<32>", "      proof: bytes<32>\n      phrase: string").Replace("      proof: hmac_sha256(utf8(self.passphrase), fresh_nonce)", "      proof: hmac_sha256(utf8(self.passphrase), fresh_nonce)\n      phrase: self.passphrase");
        Assert.NotEqual(Phrase, yaml);
        var finding = Assert.Single(GeneratorHarness.Run(yaml).Lints, d => d.Id == "DSL505");
        Assert.Contains("'hello.phrase' sends the secret input 'client.passphrase'", finding.GetMessage());
        Assert.DoesNotContain(GeneratorHarness.Run(Phrase).Lints, d => d.Id == "DSL505");
    }

    [Fact]
    public void A_key_derived_without_the_transcript_is_DSL503()
    {
        var run = GeneratorHarness.Run(Phrase);
        var finding = Assert.Single(run.Lints, d => d.Id == "DSL503");
        Assert.Contains("client's outcome 'key'", finding.GetMessage());
        var bound = GeneratorHarness.Run(Phrase.Replace("\"phrase key\", 32)", "concat(\"phrase key\", transcript()), 32)"));
        Assert.DoesNotContain(bound.Lints, d => d.Id == "DSL503");
    }

    [Fact]
    public void The_seeds_Mesh_blacklisting_on_an_invalid_signature_is_DSL504()
    {
        // The seed's "any signature mismatch: blacklist the node id": anyone who knows a node's id could get it blacklisted.
        var mesh = GeneratorHarness.ReadRepoFile("protocols/mesh/mesh-1.0.yaml");
        var seed = mesh.Replace("  INVALID_SIGNATURE: A signature does not verify with the key the node id belongs to.",
            "  INVALID_SIGNATURE:\n    doc: A signature does not verify with the key the node id belongs to.\n    do:\n      responder:\n        - trust.blacklist(HS_SYN.node_id)");
        Assert.NotEqual(mesh, seed);
        var finding = Assert.Single(GeneratorHarness.Run(("protocols/mesh/mesh-1.0.yaml", seed)).Lints);
        Assert.Equal("DSL504", finding.Id);
        Assert.Contains("HS_SYN.node_id", finding.GetMessage());
        Assert.Contains("'trust'", finding.GetMessage());
    }

    [Theory]
    [InlineData("protocols/mesh/mesh-1.0.yaml")]
    [InlineData("protocols/stt/stt-0.2.yaml")]
    [InlineData("protocols/cahp/cahp-1.1.yaml")]
    [InlineData("protocols/entft/entft-1.0.yaml")]
    [InlineData("protocols/ltp/ltp-0.2.yaml")]
    public void Each_seed_spec_passes_the_lints_or_records_its_acknowledgement(string path)
    {
        var run = GeneratorHarness.Run((path, GeneratorHarness.ReadRepoFile(path)));
        Assert.Empty(run.Lints);
    }
}
