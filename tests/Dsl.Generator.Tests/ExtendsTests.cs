using System;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// <c>extends:</c>: a spec that extends another is its base with its own sections merged in and its flow edits
/// applied; it says what it changes (DSL406), refuses what it may not change (DSL402–DSL405), and its peers talk to
/// the base's as the changes say: here a version bump and a new required check, run for real in memory.
/// </summary>
public sealed class ExtendsTests
{
    internal const string BasePath = "specs/greet-1.yaml";
    internal const string ExtensionPath = "specs/greet-2.yaml";

    internal const string Base = """
        protocol: greet
        version: "1"
        namespace: Test.Greet
        roles: [client, server]
        inputs:
          client:
            name: string
        messages:
          hello:
            fields:
              version: string
              name: { type: string, max_length: 32 }
          welcome:
            fields:
              version: string
              greeting: string
          error:
            reports: { code: code }
            fields:
              code: string
        errors:
          BAD_VERSION: { doc: The peer speaks another version., send: error }
          BAD_NAME: { doc: The name is empty., send: error }
        timeouts: { handshake: 10s, step: 5s }
        flow:
          - client -> server: hello
            label: hello
            set: { version: spec.version, name: self.name }
            require:
              - msg.version == spec.version else BAD_VERSION
              - msg.name != "" else BAD_NAME
          - server -> client: welcome
            label: welcome
            set: { version: spec.version, greeting: hello.name }
            require:
              - msg.version == spec.version else BAD_VERSION
        outcome:
          server: { name: hello.name }
          client: { greeting: welcome.greeting }
        """;

    internal const string Extension = """
        extends: greet-1.yaml
        version: "2"
        namespace: Test.Greet2
        messages:
          hello:
            fields:
              nonce: bytes<16>?
              name: { type: string, max_length: 16 }
        errors:
          NONCE_REQUIRED: { doc: The client sent no nonce., send: error }
        timeouts: { handshake: 5s }
        flow:
          - at: hello
            set: { nonce: random(16) }
            require:
              - msg.nonce != null else NONCE_REQUIRED
        outcome:
          server: { nonce: hello.nonce }
        """;

    private const string UserCode = """
        namespace User
        {
            using System.Threading.Tasks;
            using Dsl.Runtime.Transports;

            /// <summary>Runs a client of one version against a server of another.</summary>
            public static class Runner
            {
                /// <summary>"ok", or the client's error code and the server's.</summary>
                public static async Task<string> Run(int clientVersion, int serverVersion)
                {
                    var (a, b) = InMemoryTransport.CreatePair();
                    var client = clientVersion == 1
                        ? Outcome(new Test.Greet.GreetClient(new Test.Greet.GreetClientInputs { Name = "ada" }).RunAsync(a))
                        : Outcome(new Test.Greet2.GreetClient(new Test.Greet2.GreetClientInputs { Name = "ada" }).RunAsync(a));
                    var server = serverVersion == 1
                        ? Outcome(new Test.Greet.GreetServer(new Test.Greet.GreetServerInputs()).RunAsync(b))
                        : Outcome(new Test.Greet2.GreetServer(new Test.Greet2.GreetServerInputs()).RunAsync(b));
                    return await client + " / " + await server;
                }

                private static async Task<string> Outcome<T>(System.Threading.Tasks.ValueTask<Dsl.Runtime.Handshakes.HandshakeOutcome<T>> run) where T : class
                {
                    var outcome = await run;
                    return outcome.Succeeded ? "ok" : outcome.Error!.Code;
                }
            }
        }
        """;

    private static readonly Lazy<Assembly> s_generated = new(() =>
    {
        var run = GeneratorHarness.RunWithUserCode(UserCode, (BasePath, Base), (ExtensionPath, Extension));
        Assert.Empty(run.SpecDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.Empty(run.CompileErrors);
        return run.Load();
    });

    private static Task<string> Run(int client, int server)
        => (Task<string>)s_generated.Value.GetType("User.Runner")!.GetMethod("Run")!.Invoke(null, new object[] { client, server })!;

    [Fact]
    public async Task Peers_of_the_extension_complete_a_handshake()
        => Assert.Equal("ok / ok", await Run(2, 2));

    [Fact]
    public async Task A_peer_of_the_base_gets_the_version_error_not_a_malformed_message()
    {
        // The base's check runs first: spec.version is "2" in the extension, so a version 1 client is refused for
        // its version, before the extension's check that it sent no nonce.
        Assert.Equal("BAD_VERSION / BAD_VERSION", await Run(1, 2));
        Assert.Equal("BAD_VERSION / BAD_VERSION", await Run(2, 1));
    }

    [Fact]
    public void The_extension_reports_what_it_changes_where_it_says_it()
    {
        var run = GeneratorHarness.Run((BasePath, Base), (ExtensionPath, Extension));
        var changes = run.SpecDiagnostics.Where(d => d.Id == "DSL406").ToList();
        Assert.All(changes, d =>
        {
            Assert.Equal(DiagnosticSeverity.Info, d.Severity);
            Assert.Equal(ExtensionPath, d.Location.GetLineSpan().Path);
        });
        var messages = changes.Select(d => d.GetMessage()).ToList();
        Assert.Contains("Extends 'greet-1.yaml': version 1 becomes 2; 'spec.version' follows it", messages);
        Assert.Contains("Extends 'greet-1.yaml': adds optional field 'hello.nonce': peers of the base neither send it nor miss it", messages);
        Assert.Contains("Extends 'greet-1.yaml': tightens max_length of field 'hello.name' from 32 to 16", messages);
        Assert.Contains("Extends 'greet-1.yaml': adds error code 'NONCE_REQUIRED'", messages);
        Assert.Contains("Extends 'greet-1.yaml': shortens timeouts.handshake from 10s to 5s", messages);
        Assert.Contains(messages, m => m.StartsWith("Extends 'greet-1.yaml': adds checks the receiver makes at step 'hello'", StringComparison.Ordinal));
        Assert.Contains("Extends 'greet-1.yaml': adds outcome 'server.nonce'", messages);
        var version = changes.Single(d => d.GetMessage().Contains("version 1 becomes 2")).Location.GetLineSpan();
        Assert.Equal(1, version.StartLinePosition.Line);
    }

    [Fact]
    public void Generated_code_maps_the_base_steps_to_the_base_file_and_the_added_checks_to_the_extension()
    {
        var run = GeneratorHarness.Run((BasePath, Base), (ExtensionPath, Extension));
        var server = run.Sources.Single(s => s.HintName == "Test.Greet2.Server.Machine.g.cs").SourceText.ToString();
        Assert.Contains($"#line 30 \"{BasePath}\"", server);      // msg.version == spec.version, in the base
        Assert.Contains($"#line 16 \"{ExtensionPath}\"", server);  // msg.nonce != null, in the extension
        Assert.Contains("\"2\"", server);
    }

    [Fact]
    public void Without_a_namespace_the_extension_takes_the_bases_followed_by_its_version()
    {
        var run = GeneratorHarness.Run((BasePath, Base), (ExtensionPath, Extension.Replace("namespace: Test.Greet2\n", "")));
        Assert.Empty(run.SpecDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.Contains(run.Sources, s => s.HintName == "Test.GreetV2.Client.Machine.g.cs");
    }

    [Fact]
    public void An_extension_of_an_extension_merges_both()
    {
        var third = """
            extends: greet-2.yaml
            version: "3"
            namespace: Test.Greet3
            flow:
              - after: welcome
                steps:
                  - client -> server: hello
                    set: { version: spec.version, name: welcome.greeting, nonce: random(16) }
            """;
        var run = GeneratorHarness.Run((BasePath, Base), (ExtensionPath, Extension), ("specs/greet-3.yaml", third));
        Assert.Empty(run.SpecDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.Empty(run.CompileErrors);
        var changes = run.SpecDiagnostics.Where(d => d.Location.GetLineSpan().Path == "specs/greet-3.yaml").Select(d => d.GetMessage()).ToList();
        Assert.Contains(changes, m => m.Contains("inserts 1 step(s) after step 'welcome'", StringComparison.Ordinal));
    }

    [Fact]
    public void A_problem_the_extension_causes_in_the_base_is_located_in_the_base()
    {
        // A required nonce that the extension no longer sets: the base's set of hello (line 28) leaves it out.
        var extension = Extension.Replace("nonce: bytes<16>?", "nonce: bytes<16>").Replace("    set: { nonce: random(16) }\n", "");
        var run = GeneratorHarness.Run((BasePath, Base), (ExtensionPath, extension));
        var unset = Assert.Single(run.SpecDiagnostics, d => d.Id == "DSL116");
        Assert.Equal(BasePath, unset.Location.GetLineSpan().Path);
        Assert.Equal(28, unset.Location.GetLineSpan().StartLinePosition.Line + 1);
    }

    [Theory]
    [InlineData("extends: greet-1.yaml", "extends: greet-0.yaml", "DSL402", "is not one of the project's specs")]
    [InlineData("extends: greet-1.yaml", "extends: [greet-1.yaml]", "DSL402", "names the base spec's file")]
    [InlineData("extends: greet-1.yaml", "extends: greet-2.yaml", "DSL402", "extends this spec in turn")]
    [InlineData("version: \"2\"", "version: \"1\"", "DSL403", "an extension is a new version")]
    [InlineData("version: \"2\"\n", "", "DSL403", "give it its own 'version'")]
    [InlineData("version: \"2\"", "version: \"2\"\nprotocol: hello", "DSL403", "keeps its base's protocol name")]
    [InlineData("version: \"2\"", "version: \"2\"\nroles: [client, relay]", "DSL403", "keeps its base's roles")]
    [InlineData("version: \"2\"", "version: \"2\"\nwire: { discriminator: kind }", "DSL403", "the wire's discriminator")]
    [InlineData("max_length: 16", "max_length: 64", "DSL404", "max_length of field 'hello.name' is 32")]
    [InlineData("name: { type: string, max_length: 16 }", "name: { type: bytes, max_length: 16 }", "DSL403", "keeps its type")]
    [InlineData("name: { type: string, max_length: 16 }", "name: { type: string?, max_length: 16 }", "DSL404", "not optional")]
    [InlineData("name: { type: string, max_length: 16 }", "name: { type: string, wire: Name }", "DSL403", "the wire of field 'hello.name'")]
    [InlineData("timeouts: { handshake: 5s }", "timeouts: { handshake: 20s }", "DSL404", "timeouts.handshake is 10s in the base")]
    [InlineData("timeouts: { handshake: 5s }", "timeouts: { step: 11s }", "DSL404", "timeouts.step is 5s")]
    [InlineData("  - at: hello", "  - at: helo", "DSL405", "no step of the base is labelled 'helo'; labels: hello, welcome")]
    [InlineData("  - at: hello", "  - at: hello\n    after: welcome", "DSL405", "names exactly one step")]
    [InlineData("  - at: hello", "  - at: hello\n    phase: greeting", "DSL405", "'phase' cannot be edited")]
    [InlineData("  - at: hello", "  - after: welcome\n  - at: hello", "DSL405", "needs 'steps'")]
    [InlineData("errors:", "services:\n  seen: { kind: replay_cache, at: server, window: 1m }\nerrors:", null, null)]
    [InlineData("errors:", "types:\n  level: { values: [low, high] }\nerrors:", null, null)]
    public void Misuse_is_reported_in_the_extension(string find, string replace, string? id, string? message)
    {
        Assert.Contains(find, Extension);
        var run = GeneratorHarness.Run((BasePath, Base), (ExtensionPath, Extension.Replace(find, replace)));
        var errors = run.SpecDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (id is null)
        {
            Assert.Empty(errors);
            return;
        }
        var error = Assert.Single(errors, d => d.Id == id && d.Location.GetLineSpan().Path == ExtensionPath);
        Assert.Contains(message!, error.GetMessage());
        // The base still generates on its own.
        Assert.Contains(run.Sources, s => s.HintName.StartsWith("Test.Greet.", StringComparison.Ordinal));
    }

    [Fact]
    public void Redeclaring_a_service_of_the_base_is_refused()
    {
        var @base = Base.Replace("errors:", "services:\n  seen: { kind: replay_cache, at: server, window: 1m }\nerrors:")
            .Replace("      - msg.name != \"\" else BAD_NAME", "      - msg.name != \"\" else BAD_NAME\n      - seen.fresh(utf8(msg.name)) else BAD_NAME");
        var extension = Extension.Replace("errors:", "services:\n  seen: { kind: replay_cache, at: server, window: 5m }\nerrors:");
        var run = GeneratorHarness.Run((BasePath, @base), (ExtensionPath, extension));
        Assert.Contains(run.Sources, s => s.HintName.StartsWith("Test.Greet.", StringComparison.Ordinal));
        var error = Assert.Single(run.SpecDiagnostics, d => d.Id == "DSL403");
        Assert.Contains("service 'seen' is declared by the base", error.GetMessage());
    }

    [Fact]
    public void A_base_whose_yaml_has_errors_is_reported_once_and_stops_the_extension()
    {
        var run = GeneratorHarness.Run((BasePath, Base.Replace("timeouts:", "timeout:")), (ExtensionPath, Extension));
        var unknown = Assert.Single(run.SpecDiagnostics, d => d.Id == "DSL002");
        Assert.Equal(BasePath, unknown.Location.GetLineSpan().Path);
        Assert.Equal(ExtensionPath, Assert.Single(run.SpecDiagnostics, d => d.Id == "DSL407").Location.GetLineSpan().Path);
    }

    [Fact]
    public void A_base_with_errors_stops_the_extension_with_one_diagnostic()
    {
        var run = GeneratorHarness.Run((BasePath, Base.Replace("msg.name != \"\"", "msg.nam != \"\"")), (ExtensionPath, Extension));
        Assert.Single(run.SpecDiagnostics, d => d.Id == "DSL203" && d.Location.GetLineSpan().Path == BasePath);
        var stop = Assert.Single(run.SpecDiagnostics, d => d.Id == "DSL407");
        Assert.Equal(ExtensionPath, stop.Location.GetLineSpan().Path);
        Assert.DoesNotContain(run.Sources, s => s.HintName.StartsWith("Test.Greet2.", StringComparison.Ordinal));
    }
}
