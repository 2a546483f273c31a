using System;
using System.Linq;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// Misuse of the envelope forms (wrap, a signature over the envelope, envelope checks), of the secure channel
/// declaration and of receiver lets: each reports its diagnostic at the offending line, and nothing is generated.
/// </summary>
public sealed class EnvelopeAndChannelTests
{
    private const string Signed = """
        protocol: signed
        version: "1"
        roles: [a, b]
        inputs:
          a: { identity: ed25519_key }
          b: { identity: ed25519_key }
        envelope:
          name: sealed
          fields:
            nonce: bytes<16>
            key: bytes<32>
            signature: bytes<64>
          signature: signature
          set:
            nonce: random(16)
            key: ed25519_public(self.identity)
            signature: ed25519_sign(self.identity, unsigned)
          require:
            - ed25519_verify(envelope.key, envelope.unsigned, envelope.signature) else BAD
        messages:
          hello: { fields: { n: int } }
          ack: { fields: { n: int } }
        errors:
          BAD: bad
        flow:
          - a -> b: hello
            set: { n: 1 }
            require:
              - let:
                  doubled: msg.n + msg.n
              - doubled == 2 else BAD
          - b -> a: ack
            set: { n: doubled }
        outcome:
          a: { k1: sha256(ack.envelope.unsigned), k2: sha256(hello.envelope.payload) }
          b: { k1: sha256(hello.envelope.unsigned), k2: sha256(ack.envelope.payload) }
        session:
          channel:
            cipher: chacha20-poly1305
            keys:
              a: { send: k1, receive: k2 }
              b: { send: k2, receive: k1 }
        """;

    [Fact]
    public void The_base_spec_generates_and_compiles()
    {
        var run = GeneratorHarness.Run(Signed);
        Assert.Empty(run.SpecDiagnostics);
        MiscompileTests.AssertCompilesClean(run);
        Assert.Contains("public static global::Dsl.Runtime.Channels.SecureChannel OpenChannel(", run.Source("A.Machine.g.cs"));
    }

    [Theory]
    [InlineData("  name: sealed\n", "  name: sealed #!\n  wrap: x\n", "DSL006")]
    [InlineData("  name: sealed\n", "  doc: no name #!\n", "DSL005")]
    [InlineData("  signature: signature\n", "  signature: sig #!\n", "DSL203")]
    [InlineData("    nonce: random(16)\n", "    nonce: take(sha256(unsigned), 16) #!\n", "DSL006")]
    [InlineData("    nonce: bytes<16>\n", "    nonce: bytes<16>\n    unsigned: bytes<4> #!\n", "DSL112")]
    [InlineData("    - ed25519_verify(envelope.key, envelope.unsigned, envelope.signature) else BAD", "    - msg.n == 1 else BAD #!", "DSL202")]
    [InlineData("    cipher: chacha20-poly1305", "    cipher: rot13 #!", "DSL006")]
    [InlineData("\n      b: { send: k2, receive: k1 }", "", "DSL005")]
    [InlineData("      a: { send: k1, receive: k2 }", "      a: { send: k3, receive: k2 } #!", "DSL203")]
    [InlineData("      a: { send: k1, receive: k2 }", "      a: { send: k1, receive: k1 } #!", "DSL006")]
    [InlineData("  a: { k1: sha256(ack.envelope.unsigned), k2: sha256(hello.envelope.payload) }", "  a: { k1: sha256(ack.envelope.unsigned), k2: sha256(hello.envelope.payload), k3: hex(sha256(\"x\")) }", "DSL204")]
    [InlineData("      - doubled == 2 else BAD", "      - tripled == 2 else BAD #!", "DSL202")]
    // Built-ins that need a step: the transcript, the step's timeout, a key the machine wipes.
    [InlineData("    nonce: random(16)\n", "    nonce: take(transcript(), 16) #!\n", "DSL206")]
    [InlineData("    nonce: random(16)\n", "    nonce: take(concat(pow_solve(payload, 4), random(8)), 16) #!\n", "DSL206")]
    [InlineData("    set: { n: 1 }\n", "    set: { n: len(x25519_public(x25519_keypair())) } #!\n", "DSL206")]
    [InlineData("    set: { n: doubled }", "    set: { n: doubled }\n    require:\n      - doubled == 2 else BAD #!", "DSL208")]
    [InlineData("    set: { n: 1 }\n", "    set: { n: doubled } #!\n", "DSL202")]
    public void Misuse_is_reported_at_its_line(string find, string replace, string id)
    {
        Assert.Contains(find, Signed);
        var yaml = Signed.Replace(find, replace);
        if (id == "DSL204") yaml = yaml.Replace("      a: { send: k1, receive: k2 }", "      a: { send: k3, receive: k2 } #!");
        var run = GeneratorHarness.Run(yaml);
        var diagnostic = run.SpecDiagnostics.FirstOrDefault(d => d.Id == id);
        Assert.True(diagnostic is not null, $"expected {id}; reported: {string.Join("; ", run.SpecDiagnostics)}");
        var marked = yaml.Split('\n').ToList().FindIndex(l => l.Contains("#!")) + 1;
        if (marked > 0) Assert.Equal(marked, diagnostic!.Location.GetLineSpan().StartLinePosition.Line + 1);
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void A_code_only_the_envelope_raises_can_have_effects()
    {
        var yaml = Signed
            .Replace("  BAD: bad", "  BAD:\n    doc: bad\n    do:\n      b:\n        - seen.fresh(envelope_nonce_of_nothing)")
            .Replace("messages:", "services:\n  seen: { kind: replay_cache, at: b, window: 60s }\nmessages:");
        // The effect must bind where b raises BAD: in its envelope checks, on any message.
        yaml = yaml.Replace("seen.fresh(envelope_nonce_of_nothing)", "seen.fresh(utf8(peer.address))")
            .Replace("      - doubled == 2 else BAD", "      - doubled == 2 else OTHER")
            .Replace("  BAD:\n", "  OTHER: other\n  BAD:\n");
        var run = GeneratorHarness.Run(yaml);
        Assert.Empty(run.SpecDiagnostics);
        MiscompileTests.AssertCompilesClean(run);
    }

    [Fact]
    public void A_let_that_names_an_input_key_is_not_wiped_by_the_machine()
    {
        var yaml = Signed
            .Replace("  a: { identity: ed25519_key }", "  a: { identity: ed25519_key, static: x25519_key }")
            .Replace("  - a -> b: hello\n    set: { n: 1 }", "  - a -> b: hello\n    let:\n      mine: self.static\n    set: { n: len(x25519_public(mine)) }")
            .Replace("outcome:\n  a: {", "outcome:\n  a: { again: x25519_public(mine),");
        Assert.Contains("mine: self.static", yaml);
        var run = GeneratorHarness.Run(yaml);
        Assert.Empty(run.SpecDiagnostics);
        MiscompileTests.AssertCompilesClean(run);
        var machine = run.Source("A.Machine.g.cs");
        // The let is kept (the outcome reads it), and still the machine never disposes it: the key is the application's.
        Assert.Contains("_mine", machine);
        Assert.DoesNotContain("ReleaseSecrets", machine);
        Assert.DoesNotContain("using global::Dsl.Runtime.Cryptography.X25519Key", machine);
    }

    [Fact]
    public void A_type_named_like_a_message_is_reported_not_compiled_twice()
    {
        var run = GeneratorHarness.Run(Signed.Replace("messages:", "types:\n  hello: { values: [x, y] } #!\nmessages:"));
        var diagnostic = Assert.Single(run.SpecDiagnostics);
        Assert.Equal("DSL112", diagnostic.Id);
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void A_set_split_by_a_comma_in_a_flow_mapping_says_so()
    {
        var run = GeneratorHarness.Run(Signed.Replace("    set: { n: 1 }", "    set: { n: len(concat(random(1), random(2))) }"));
        var split = Assert.Single(run.SpecDiagnostics, d => d.Id == "DSL203");
        Assert.Contains("a comma in an unquoted value splits it in a { } mapping", split.GetMessage());
        Assert.EndsWith("one line per field: 'field: value'", split.GetMessage());
    }

    [Fact]
    public async System.Threading.Tasks.Task A_number_a_signature_cannot_cover_exactly_is_not_sealed()
    {
        const string spec = """
            protocol: exact
            version: "1"
            roles: [a, b]
            inputs:
              a: { identity: ed25519_key, score: decimal }
              b: { identity: ed25519_key }
            envelope:
              name: sealed
              fields:
                signature: bytes<64>
              signature: signature
              set:
                signature: ed25519_sign(self.identity, unsigned)
            messages:
              hello: { fields: { score: decimal } }
            flow:
              - a -> b: hello
                set: { score: self.score }
            """;
        const string user = """
            namespace User
            {
                /// <summary>Runs both roles.</summary>
                public static class Runner
                {
                    /// <summary>The sender's outcome.</summary>
                    public static async System.Threading.Tasks.Task<string> Run(decimal score)
                    {
                        using var ka = Dsl.Runtime.Cryptography.Ed25519.Instance.GenerateKey();
                        using var kb = Dsl.Runtime.Cryptography.Ed25519.Instance.GenerateKey();
                        var (a, b) = Dsl.Runtime.Transports.InMemoryTransport.CreatePair();
                        var receiving = new Dsl.Protocols.Exact.ExactB(new Dsl.Protocols.Exact.ExactBInputs { Identity = kb }).RunAsync(b).AsTask();
                        var sent = await new Dsl.Protocols.Exact.ExactA(new Dsl.Protocols.Exact.ExactAInputs { Identity = ka, Score = score }).RunAsync(a);
                        await receiving;
                        return sent.Succeeded ? "ok" : sent.Error!.Code + ": " + sent.Error.Detail;
                    }
                }
            }
            """;
        var run = GeneratorHarness.RunWithUserCode(spec, user);
        Assert.Empty(run.SpecDiagnostics);
        Assert.Empty(run.CompileErrors);
        var runner = run.Load().GetType("User.Runner")!.GetMethod("Run")!;
        Assert.Equal("ok", await (System.Threading.Tasks.Task<string>)runner.Invoke(null, new object[] { 0.5m })!);
        var refused = await (System.Threading.Tasks.Task<string>)runner.Invoke(null, new object[] { 0.50000000000000005m })!;
        Assert.StartsWith("internal_error", refused);
        Assert.Contains("no exact IEEE-754 double form", refused);
    }

    [Fact]
    public void An_empty_wrap_is_reported()
    {
        var run = GeneratorHarness.Run("protocol: w\nversion: \"1\"\nroles: [a, b]\nenvelope: { wrap: \"\" }\nmessages:\n  hi: {}\nflow:\n  - a -> b: hi\n");
        Assert.Equal("DSL006", Assert.Single(run.SpecDiagnostics).Id);
    }

    [Fact]
    public void A_wrapped_protocol_puts_every_message_in_its_property_and_refuses_anything_else()
    {
        const string wrapped = """
            protocol: wrapped
            version: "1"
            roles: [a, b]
            wire: { discriminator: phase }
            envelope: { wrap: outer }
            messages:
              hello: { fields: { n: int } }
            flow:
              - a -> b: hello
                set: { n: 1 }
            """;
        const string user = """
            namespace User
            {
                /// <summary>The codec alone.</summary>
                public static class Runner
                {
                    /// <summary>Encodes a hello.</summary>
                    public static string Encode()
                    {
                        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
                        Dsl.Protocols.Wrapped.WrappedCodec.Instance.Encode(new Dsl.Protocols.Wrapped.Hello { N = 7 }, buffer);
                        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
                    }

                    /// <summary>Decodes text: the message or the error.</summary>
                    public static string Decode(string json)
                        => Dsl.Protocols.Wrapped.WrappedCodec.Instance.TryDecode(System.Text.Encoding.UTF8.GetBytes(json), out var message, out var error)
                            ? message.ToString()! : error.Kind + ": " + error.Detail;
                }
            }
            """;
        var run = GeneratorHarness.RunWithUserCode(wrapped, user);
        Assert.Empty(run.SpecDiagnostics);
        Assert.Empty(run.CompileErrors);
        var runner = run.Load().GetType("User.Runner")!;
        string Call(string method, params object[] args) => (string)runner.GetMethod(method)!.Invoke(null, args)!;
        Assert.Equal("""{"outer":{"phase":"hello","n":7}}""", Call("Encode"));
        Assert.StartsWith("Hello {", Call("Decode", """{"outer":{"phase":"hello","n":7},"note":"ignored"}"""));
        Assert.StartsWith("MissingField", Call("Decode", """{"phase":"hello","n":7}"""));
        Assert.StartsWith("DuplicateField", Call("Decode", """{"outer":{"phase":"hello","n":7},"outer":{"phase":"hello","n":8}}"""));
        Assert.StartsWith("WrongType", Call("Decode", """{"outer":[1]}"""));
        Assert.StartsWith("InvalidSyntax", Call("Decode", """{"outer":{"phase":"hello","n":7}} {}"""));
    }
}
