using System;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// The built-ins that need the machine's help, run for real: an ephemeral X25519 key made in a let and kept across
/// steps (and through a state export), key confirmation over <c>transcript()</c>, hashcash solved under the step
/// timeout and checked, a Merkle root over chunks, and <c>canonical_json</c> of an object.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class CryptoBuiltinsTests
{
    private const string Spec = """
        protocol: confirm
        version: "1"
        roles: [client, server]
        inputs:
          client:
            weights: bytes
            difficulty: int
          server:
            weights: bytes
        types:
          claim:
            fields:
              name: string
              level: int
        messages:
          hello: { fields: { eph: bytes<32>, claim: claim } }
          challenge: { fields: { eph: bytes<32>, prefix: bytes<16>, difficulty: int, mac: bytes<32> } }
          proof: { fields: { stamp: bytes<8>, root: bytes<32>, mac: bytes<32> } }
        errors:
          KEY: The shared secret is invalid.
          CONFIRM: Key confirmation failed.
          WORK: Too little work.
          ROOT: Wrong Merkle root.
        timeouts: { step: 5s, handshake: 20s }
        flow:
          - client -> server: hello
            let: { mine: x25519_keypair() }
            set:
              eph: x25519_public(mine)
              claim: { name: "ann", level: 2 }
          - server -> client: challenge
            let:
              theirs: x25519_keypair()
              shared: x25519_agree(theirs, hello.eph)
            ensure: [shared != null else KEY]
            set:
              eph: x25519_public(theirs)
              prefix: random(16)
              difficulty: 4
              mac: hmac_sha256(hkdf_sha256(shared, "", "confirm", 32), concat(transcript(), canonical_json(hello.claim)))
            require:
              # The receiver computes its own shared secret (a let among its checks), and checks the MAC with the
              # transcript the sender had: every message before this one.
              - let:
                  agreed: x25519_agree(mine, msg.eph)
              - agreed != null else KEY
              - msg.mac == hmac_sha256(hkdf_sha256(agreed, "", "confirm", 32), concat(transcript(), canonical_json(hello.claim))) else CONFIRM
          - client -> server: proof
            ensure:
              - agreed != null else KEY
            set:
              stamp: pow_solve(challenge.prefix, challenge.difficulty)
              root: merkle_root(chunks(self.weights, 4), challenge.prefix)
              mac: hmac_sha256(hkdf_sha256(agreed, "", "client", 32), transcript())
            require:
              - pow_check(challenge.prefix, msg.stamp, challenge.difficulty) else WORK
              - msg.root == merkle_root(chunks(self.weights, 4), challenge.prefix) else ROOT
              - msg.mac == hmac_sha256(hkdf_sha256(shared, "", "client", 32), transcript()) else CONFIRM
        outcome:
          client: { transcript: transcript() }
          server: { transcript: transcript() }
        """;

    private const string UserCode = """
        namespace User
        {
            using System;
            using System.Threading.Tasks;
            using Dsl.Protocols.Confirm;
            using Dsl.Runtime.Codecs;
            using Dsl.Runtime.Transports;

            /// <summary>Runs both roles.</summary>
            public static class Runner
            {
                /// <summary>Both outcomes, or the errors.</summary>
                public static async Task<string> Run(string clientWeights, string serverWeights)
                {
                    var (a, b) = InMemoryTransport.CreatePair();
                    var client = new ConfirmClient(new ConfirmClientInputs { Weights = new Bytes(System.Text.Encoding.UTF8.GetBytes(clientWeights)), Difficulty = 4 }).RunAsync(a);
                    var server = new ConfirmServer(new ConfirmServerInputs { Weights = new Bytes(System.Text.Encoding.UTF8.GetBytes(serverWeights)) }).RunAsync(b);
                    var c = await client;
                    var s = await server;
                    if (!c.Succeeded || !s.Succeeded) return "failed " + c.Error?.Code + " / " + s.Error?.Code;
                    return c.Result!.Transcript == s.Result!.Transcript ? "same transcript" : "different transcripts";
                }

                /// <summary>The client, exported while it waits for the challenge and restored, still completes: its ephemeral key travels in the sealed state.</summary>
                public static async Task<string> Restored()
                {
                    var key = new byte[32];
                    var inputs = new ConfirmClientInputs { Weights = new Bytes(new byte[10]), Difficulty = 4 };
                    var client = new ConfirmClient(inputs);
                    var server = new ConfirmServer(new ConfirmServerInputs { Weights = new Bytes(new byte[10]) });
                    var hello = await client.StartAsync("memory", default);
                    await client.ContinueAsync(default);
                    await server.StartAsync("memory", default);
                    var challenge = await server.ReceiveAsync(hello.Message!, default);
                    var state = client.ExportState(key);
                    if (!ConfirmClient.TryRestoreState(state, key, inputs, null, out var restored)) return "not restored";
                    var proof = await restored.ReceiveAsync(challenge.Message!, default);
                    var done = await server.ContinueAsync(default);
                    done = await server.ReceiveAsync(proof.Message!, default);
                    return done.Succeeded ? "ok" : done.ToString();
                }
            }
        }
        """;

    private static readonly Lazy<(GeneratorRun Run, Assembly Assembly)> s_generated = new(() =>
    {
        var run = GeneratorHarness.RunWithUserCode(Spec, UserCode);
        Assert.Empty(run.SpecDiagnostics);
        Assert.Empty(run.CompileErrors);
        return (run, run.Load());
    });

    private static Task<string> Call(string method, params object[] arguments)
        => (Task<string>)s_generated.Value.Assembly.GetType("User.Runner")!.GetMethod(method)!.Invoke(null, arguments)!;

    [Fact]
    public async Task Both_roles_agree_on_the_key_the_transcript_the_work_and_the_root()
        => Assert.Equal("same transcript", await Call("Run", "the model's weights", "the model's weights"));

    [Fact]
    public async Task Different_weights_give_another_root_and_the_verifier_refuses_it()
    {
        // The client sends the last message, so it has succeeded by the time the server refuses it.
        var outcome = await Call("Run", "the model's weights", "another model");
        Assert.EndsWith("/ ROOT", outcome);
    }

    [Fact]
    public async Task An_ephemeral_key_kept_across_steps_survives_a_state_export()
        => Assert.Equal("ok", await Call("Restored"));

    private const string Work = """
        protocol: work
        version: "1"
        roles: [prover, verifier]
        messages:
          challenge: { fields: { prefix: bytes<16> } }
          stamp: { fields: { nonce: bytes<8> } }
        timeouts: { step: 1s, handshake: 20s }
        flow:
          - verifier -> prover: challenge
            set: { prefix: random(16) }
          - prover -> verifier: stamp
            set:
              nonce: pow_solve(challenge.prefix, 60)
        """;

    private const string WorkUser = """
        namespace User
        {
            /// <summary>Runs both roles.</summary>
            public static class Runner
            {
                /// <summary>The prover's error code.</summary>
                public static async System.Threading.Tasks.Task<string> Run()
                {
                    var (a, b) = Dsl.Runtime.Transports.InMemoryTransport.CreatePair();
                    var verifier = new Dsl.Protocols.Work.WorkVerifier(new Dsl.Protocols.Work.WorkVerifierInputs()).RunAsync(b).AsTask();
                    var prover = await new Dsl.Protocols.Work.WorkProver(new Dsl.Protocols.Work.WorkProverInputs()).RunAsync(a);
                    await verifier;
                    return prover.Error?.Code + ": " + prover.Error?.Detail;
                }
            }
        }
        """;

    [Fact]
    public async Task Proof_of_work_stops_at_the_step_timeout_with_step_timeout()
    {
        var run = GeneratorHarness.RunWithUserCode(Work, WorkUser);
        Assert.Empty(run.SpecDiagnostics);
        Assert.Empty(run.CompileErrors);
        // 2^60 hashes would take years: the step's 1 s ends it.
        var outcome = await (Task<string>)run.Load().GetType("User.Runner")!.GetMethod("Run")!.Invoke(null, null)!;
        Assert.StartsWith("step_timeout: This side's work", outcome);
    }

    [Fact]
    public void A_key_only_its_step_uses_is_wiped_when_the_step_ends_and_a_kept_one_when_the_handshake_does()
    {
        var server = s_generated.Value.Run.Source("Server.Machine.g.cs");
        Assert.Contains("using global::Dsl.Runtime.Cryptography.X25519Key letTheirs = ", server);
        var client = s_generated.Value.Run.Source("Client.Machine.g.cs");
        Assert.Contains("private void ReleaseSecrets()", client);
        Assert.Equal(2, client.Split("ReleaseSecrets();").Length - 1);
    }
}
