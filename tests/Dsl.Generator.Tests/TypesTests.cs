using System;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading.Tasks;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// Declared types, run for real: named and inline objects, arrays of objects, <c>list&lt;bytes&gt;</c>, enums (a C#
/// enum, its text on the wire, an unknown value refused), constants, decimals, wire names distinct from spec names,
/// member access inside objects, and objects kept across steps and through a state export.
/// </summary>
public sealed class TypesTests
{
    internal const string Spec = """
        protocol: typed
        version: "1"
        roles: [client, server]
        wire: { discriminator: phase }
        types:
          sample:
            doc: A field sample.
            fields:
              index: int
              public: { type: bytes<32>, encoding: base64 }
          level:
            values: [low, high, top-secret]
        inputs:
          client:
            role: { type: enum, values: [commander, pilot] }
            samples: list<sample>
        messages:
          init:
            wire: init-sync
            fields:
              version: { type: string, const: "1.0" }
              auth:
                type: object
                fields:
                  role: { type: enum, values: [commander, pilot] }
                  domain: { type: string, max_length: 8 }
                  note: string?
              samples: list<sample>
              keys: { type: list<bytes>, encoding: base64 }
              level: level
              stability: { type: decimal, min: 0, max: 1 }
              next_step: { type: string, wire: next-step }
          ack:
            fields:
              granted: level
              first_index: int
              echoed: list<sample>
              domain: string
              stability: decimal
        errors:
          NOT_ALLOWED: The role may not enter the domain.
        flow:
          - client -> server: init
            set:
              auth: { role: "pilot", domain: "space" }
              samples: self.samples
              keys: [sha256("a"), sha256("b")]
              level: "top-secret"
              stability: 0.94
              next_step: "resonance-sync"
            require:
              - msg.auth.role == "pilot" || msg.auth.domain == "air" else NOT_ALLOWED
              - msg.auth.note == null else NOT_ALLOWED
          - server -> client: ack
            set:
              granted: if init.level == "top-secret" then "high" else "low"
              first_index: 7
              echoed: init.samples
              domain: init.auth.domain
              stability: init.stability
        outcome:
          client:
            granted: ack.granted
            echoed: ack.echoed
            domain: ack.domain
            sent_auth: init.auth
            sent_level: init.level
            sent_samples: init.samples
            sent_keys: init.keys
          server:
            role: init.auth.role
            keys: init.keys
            stability: init.stability
            version: init.version
        """;

    private const string UserCode = """
        namespace User
        {
            using System;
            using System.Buffers;
            using System.Threading.Tasks;
            using Dsl.Protocols.Typed;
            using Dsl.Runtime.Codecs;
            using Dsl.Runtime.Transports;

            /// <summary>Runs both roles, and the codec alone.</summary>
            public static class Runner
            {
                /// <summary>Both outcomes as text.</summary>
                public static async Task<string> Run()
                {
                    var (a, b) = InMemoryTransport.CreatePair();
                    var samples = new[] { new Sample { Index = 7, Public = new Bytes(new byte[32]) } };
                    var client = new TypedClient(new TypedClientInputs { Role = ClientInputsRole.Pilot, Samples = samples }).RunAsync(a);
                    var server = new TypedServer(new TypedServerInputs()).RunAsync(b);
                    var c = await client;
                    var s = await server;
                    if (!c.Succeeded || !s.Succeeded) return "failed " + c.Error + " / " + s.Error;
                    return $"client: {c.Result!.Granted} {c.Result.Echoed.Count}:{c.Result.Echoed[0].Index} {c.Result.Domain}; " +
                           $"server: {s.Result!.Role} {s.Result.Keys.Count} {s.Result.Stability.ToString(System.Globalization.CultureInfo.InvariantCulture)} {s.Result.Version}";
                }

                /// <summary>
                /// Runs the client step by step, exports its state while it waits for the ack (it keeps what it sent:
                /// an object, an enum, a list of objects, a list of bytes), restores it in a new machine, and finishes there.
                /// </summary>
                public static async Task<string> ExportAndRestore()
                {
                    var key = new byte[32];
                    var inputs = new TypedClientInputs { Role = ClientInputsRole.Commander, Samples = new[] { new Sample { Index = 3, Public = new Bytes(new byte[32]) } } };
                    var client = new TypedClient(inputs);
                    var server = new TypedServer(new TypedServerInputs());
                    var init = await client.StartAsync("memory", default);
                    await server.StartAsync("memory", default);
                    var ack = await server.ReceiveAsync(init.Message!, default);
                    var waiting = await client.ContinueAsync(default);
                    if (waiting.Kind != Dsl.Runtime.Handshakes.HandshakeStepKind.Receive) return "not waiting: " + waiting;
                    var state = client.ExportState(key);
                    if (!TypedClient.TryRestoreState(state, key, inputs, null, out var restored)) return "not restored";
                    var done = await restored.ReceiveAsync(ack.Message!, default);
                    var r = done.Result!;
                    return $"{r.SentAuth.Role} {r.SentAuth.Domain} {r.SentLevel} {r.SentSamples[0].Index} {r.SentKeys.Count} {r.Granted}";
                }

                /// <summary>The JSON of an init message.</summary>
                public static string Encode()
                {
                    var message = new Init
                    {
                        Auth = new InitAuth { Role = InitAuthRole.Commander, Domain = "air" },
                        Samples = new[] { new Sample { Index = 1, Public = new Bytes(new byte[32]) } },
                        Keys = new[] { new Bytes(new byte[] { 1, 2 }) },
                        Level = Level.TopSecret,
                        Stability = 0.50m,
                        NextStep = "resonance-sync",
                    };
                    var buffer = new ArrayBufferWriter<byte>();
                    TypedCodec.Instance.Encode(message, buffer);
                    return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
                }

                /// <summary>Decodes JSON: the message's C# text, or the error.</summary>
                public static string Decode(string json)
                    => TypedCodec.Instance.TryDecode(System.Text.Encoding.UTF8.GetBytes(json), out var message, out var error)
                        ? message.ToString()! : error.Kind + ": " + error.Detail;
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

    private static object Call(string method, params object[] arguments)
        => s_generated.Value.Assembly.GetType("User.Runner")!.GetMethod(method)!.Invoke(null, arguments)!;

    private const string GoodInit = """{"phase":"init-sync","version":"1.0","auth":{"role":"pilot","domain":"space"},"samples":[{"index":1,"public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}],"keys":["AQI="],"level":"low","stability":0.5,"next-step":"x"}""";

    [Fact]
    public async Task Objects_enums_lists_constants_and_decimals_cross_a_real_handshake()
        => Assert.Equal("client: High 1:7 space; server: Pilot 2 0.94 1.0", await (Task<string>)Call("Run"));

    [Fact]
    public async Task Objects_enums_and_lists_of_them_survive_a_state_export()
        => Assert.Equal("Pilot space TopSecret 3 2 High", await (Task<string>)Call("ExportAndRestore"));

    [Fact]
    public void The_wire_carries_the_wire_names_enum_texts_and_nested_objects()
    {
        var json = (string)Call("Encode");
        Assert.Equal("""{"phase":"init-sync","version":"1.0","auth":{"role":"commander","domain":"air"},"samples":[{"index":1,"public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}],"keys":["AQI="],"level":"top-secret","stability":0.5,"next-step":"resonance-sync"}""", json);
    }

    [Fact]
    public void A_well_formed_message_decodes()
        => Assert.StartsWith("Init {", (string)Call("Decode", GoodInit));

    [Theory]
    [InlineData("\"level\":\"low\"", "\"level\":\"medium\"", "ConstraintViolated: Field 'level' must be one of: low, high, top-secret")]
    [InlineData("\"role\":\"pilot\"", "\"role\":\"admiral\"", "ConstraintViolated: Field 'auth.role' must be one of: commander, pilot")]
    [InlineData("\"version\":\"1.0\"", "\"version\":\"1.1\"", "ConstraintViolated: Field 'version' must be \"1.0\"")]
    [InlineData("\"domain\":\"space\"", "\"domain\":\"somewhere-far\"", "ConstraintViolated: Field 'auth.domain' must have at most 8 characters")]
    [InlineData("\"domain\":\"space\"", "\"place\":\"space\"", "MissingField: Missing required field: auth.domain")]
    [InlineData("\"auth\":{\"role\":\"pilot\",\"domain\":\"space\"}", "\"auth\":[\"pilot\"]", "WrongType: Field 'auth' must be an object")]
    [InlineData("\"index\":1", "\"index\":\"1\"", "WrongType: Field 'samples.index' must be an integer")]
    [InlineData("\"keys\":[\"AQI=\"]", "\"keys\":[\"not base64!\"]", "WrongType: Field 'keys' must be a base64 string")]
    [InlineData("\"stability\":0.5", "\"stability\":1.5", "ConstraintViolated: Field 'stability' must be at most 1")]
    [InlineData("\"stability\":0.5", "\"stability\":\"0.5\"", "WrongType: Field 'stability' must be a decimal number")]
    [InlineData("\"next-step\":\"x\"", "\"next_step\":\"x\"", "MissingField: Missing required field: next-step")]
    [InlineData("\"phase\":\"init-sync\"", "\"phase\":\"init\"", "UnknownMessage")]
    public void Bad_values_inside_declared_types_are_refused_with_the_path_to_them(string find, string replace, string expected)
    {
        Assert.Contains(find, GoodInit);
        Assert.StartsWith(expected, (string)Call("Decode", GoodInit.Replace(find, replace)));
    }

    [Fact]
    public void The_generated_types_are_records_and_enums_named_after_their_declarations()
    {
        var messages = s_generated.Value.Run.Source("Messages.g.cs");
        Assert.Contains("public sealed partial record Sample", messages);
        Assert.Contains("public sealed partial record InitAuth", messages);
        Assert.Contains("public enum Level", messages);
        Assert.Contains("TopSecret,", messages);
        Assert.Contains("public string Version => \"1.0\";", messages);
        Assert.Contains("public required decimal Stability { get; init; }", messages);
        Assert.Contains("public const string WireName = \"init-sync\";", messages);
    }

    [Theory]
    [InlineData("      level: level", "      level: levels", "DSL101")]
    [InlineData("  level:\n    values: [low, high, top-secret]", "  level:\n    values: [low, high, low]", "DSL003")]
    [InlineData("  level:\n    values: [low, high, top-secret]", "  level:\n    values: [low, high, 9lives]", "DSL117")]
    [InlineData("  level:\n    values: [low, high, top-secret]", "  level:\n    doc: nothing", "DSL117")]
    [InlineData("  level:\n    values: [low, high, top-secret]", "  level:\n    values: [top_secret, top-secret]", "DSL112")]
    [InlineData("      index: int", "      index: int\n      again: sample", "DSL117")]
    [InlineData("      version: { type: string, const: \"1.0\" }", "      version: { type: int, const: \"1.0\" }", "DSL118")]
    [InlineData("      version: { type: string, const: \"1.0\" }", "      version: { type: string?, const: \"1.0\" }", "DSL118")]
    [InlineData("      level: \"top-secret\"", "      level: \"top-secret\"\n      version: \"1.0\"", "DSL118")]
    [InlineData("      level: \"top-secret\"", "      level: \"classified\"", "DSL204")]
    [InlineData("msg.auth.role == \"pilot\"", "msg.auth.rank == \"pilot\"", "DSL203")]
    [InlineData("msg.auth.role == \"pilot\"", "msg.auth.role == \"admiral\"", "DSL204")]
    [InlineData("msg.auth.note == null", "msg.auth.note == \"x\" && len(msg.auth.note) > 0", "DSL205")]
    [InlineData("      auth: { role: \"pilot\", domain: \"space\" }", "      auth: { role: \"pilot\" }", "DSL116")]
    [InlineData("      auth: { role: \"pilot\", domain: \"space\" }", "      auth: { role: \"pilot\", domain: \"space\", rank: 3 }", "DSL203")]
    [InlineData("        type: object\n", "        type: string\n", "DSL117")]
    [InlineData("        type: object\n        fields:", "        type: object\n        fieldz:", "DSL002")]
    [InlineData("      next_step: { type: string, wire: next-step }", "      next_step: { type: string, wire: version }", "DSL003")]
    [InlineData("    wire: init-sync", "    wire: ack", "DSL003")]
    public void Misuse_is_reported(string find, string replace, string id)
    {
        Assert.Contains(find, Spec);
        var run = GeneratorHarness.Run(Spec.Replace(find, replace));
        Assert.True(run.SpecDiagnostics.Any(d => d.Id == id), string.Join("; ", run.SpecDiagnostics));
        Assert.Empty(run.Sources);
    }
}
