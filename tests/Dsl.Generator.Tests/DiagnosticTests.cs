using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// One test per diagnostic: a spec that breaks one rule reports exactly that id, at the line marked
/// <c>#!</c> in the YAML, and generates nothing for that spec.
/// </summary>
public sealed class DiagnosticTests
{
    internal const string Base = """
        protocol: greet
        version: "1"
        roles: [client, server]
        inputs:
          client:
            name: string
            nick: string?
        services:
          visitors: { kind: value_store, of: int, at: server }
        messages:
          hello:
            fields:
              name: { type: string, max_length: 10 }
              nick: string?
          welcome:
            fields:
              greeting: string
              count: { type: int, default: 0 }
        errors:
          BAD_NAME: { doc: The name is empty. }
        flow:
          - client -> server: hello
            set: { name: self.name, nick: self.nick }
            require:
              - msg.name != "" else BAD_NAME
          - server -> client: welcome
            set: { greeting: hello.name }
        outcome:
          server: { name: hello.name }
          client: { greeting: welcome.greeting }
        """;

    private static string Edit(string find, string replace)
    {
        Assert.Contains(find, Base);
        return Base.Replace(find, replace);
    }

    public static IEnumerable<object[]> Cases() => new (string Id, string Yaml)[]
    {
        ("DSL001", Edit("version: \"1\"", "version: [1, 2 #!")),
        ("DSL002", Edit("version: \"1\"", "version: \"1\"\ncolour: red #!")),
        ("DSL003", Edit("version: \"1\"", "version: \"1\"\nversion: \"2\" #!")),
        ("DSL004", Edit("roles: [client, server]", "roles: client #!")),
        ("DSL005", "protocol: greet #!\nroles: [a, b]\nmessages: {}\nflow: []\n"),
        ("DSL006", Edit("errors:", "timeouts:\n  handshake: 10x #!\nerrors:")),
        ("DSL007", Edit("protocol: greet", "protocol: 9lives #!")),
        ("DSL101", Edit("greeting: string", "greeting: strin #!")),
        ("DSL102", Edit("  welcome:\n", "  hello: #!\n    fields: { x: int }\n  welcome:\n")),
        ("DSL103", Edit("      nick: string?\n  welcome", "      nick: string?\n      name: string #!\n  welcome")),
        ("DSL104", Edit("errors:", "  unused: #!\n    fields: { x: int }\nerrors:")),
        ("DSL105", Edit("roles: [client, server]", "roles: [client, server, proxy] #!")),
        ("DSL106", Edit("  client:\n    name: string", "  cleint: #!\n    name: string")),
        ("DSL107", Edit("count: { type: int, default: 0 }", "count: { type: int, max_length: 3 } #!")),
        ("DSL108", Edit("count: { type: int, default: 0 }", "count: { type: int, default: many } #!")),
        ("DSL109", Edit("visitors: { kind: value_store, of: int, at: server }", "visitors: { kind: counter, of: int, at: server } #!")),
        ("DSL402", Edit("version: \"1\"", "version: \"1\"\nextends: base.yaml #!")),
        ("DSL111", Edit("greeting: string", "greeting: string\n      type: string #!")),
        ("DSL112", Edit("greeting: string", "greeting: string\n      greeting_: string #!")),
        ("DSL114", Edit("  welcome:\n", "  oops:\n    reports: { code: n } #!\n    fields: { n: int }\n  welcome:\n")),
        ("DSL115", Edit("else BAD_NAME", "else NO_SUCH_CODE #!")),
        ("DSL116", Edit("set: { greeting: hello.name }", "set: { count: 1 } #!")),
        ("DSL201", Edit("msg.name != \"\" else BAD_NAME", "msg.name != else BAD_NAME #!")),
        ("DSL202", Edit("server: { name: hello.name }", "server: { name: nothing.here } #!")),
        ("DSL203", Edit("msg.name != \"\" else BAD_NAME", "msg.nmae != \"\" else BAD_NAME #!")),
        ("DSL204", Edit("msg.name != \"\" else BAD_NAME", "msg.name != 3 else BAD_NAME #!")),
        ("DSL205", Edit("set: { name: self.name, nick: self.nick }", "set: { name: self.nick } #!")),
        ("DSL206", Edit("set: { greeting: hello.name }", "set: { greeting: frobnicate() } #!")),
        ("DSL207", Edit("set: { name: self.name, nick: self.nick }", "set: { name: welcome.greeting } #!")),
        ("DSL208", Edit("set: { name: self.name, nick: self.nick }", "set: { name: self.name }\n    require:\n      - msg.name != \"\" else BAD_NAME\n    do:\n      client:\n        - visitors.set(msg.name, 1) #!")
            .Replace("    require:\n      - msg.name != \"\" else BAD_NAME\n  - server", "  - server")),
        ("DSL106", Edit("- server -> client: welcome", "- server -> clinet: welcome #!")),
        ("DSL205", Edit("msg.name != \"\" else BAD_NAME", "msg.name != \"\" && len(msg.nick) > 0 else BAD_NAME #!")),
        ("DSL003", Edit("client: { greeting: welcome.greeting }", "client: { greeting: welcome.greeting }\n  server: { count: welcome.count } #!")),
        ("DSL112", Edit("client: { greeting: welcome.greeting }", "client: { greeting: welcome.greeting, greeting_: welcome.greeting } #!")),
        ("DSL007", Edit("greeting: string", "greeting: string\n      bad-name: string #!")),
        ("DSL402", Edit("version: \"1\"", "version: \"1\"\nextends: greet-0.9.yaml #!")),
        ("DSL112", Edit("  welcome:\n", "  greet_codec: #!\n    fields: { x: int }\n  welcome:\n")),
        ("DSL112", Edit("greeting: string", "greeting: string\n      message_type: string #!")),
        ("DSL311", Edit("outcome:", "session:\n  heartbeat: #!\n    pinger: server\n    interval_ms: 1000\n    ping: { message: ping, set: { n: visitors.get(\"x\") ?? 1 } }\n    pong: { message: pong }\noutcome:")
            .Replace("errors:", "  ping: { fields: { n: int } }\n  pong: { fields: { n: int? } }\nerrors:")),
        ("DSL204", Edit("set: { greeting: hello.name }", "set:\n      greeting: hex(chacha20_seal(random(16), random(12), utf8(hello.name), \"aad\")) #!")),
        // A string literal where bytes are expected is its UTF-8 bytes, held to the parameter's length like any other.
        ("DSL204", Edit("set: { greeting: hello.name }", "set:\n      greeting: hex(chacha20_seal(\"short key\", random(12), utf8(hello.name), \"aad\")) #!")),
        ("DSL101", Edit("greeting: string", "greeting: string\n      key: ed25519_key #!")),
        ("DSL206", Edit("set: { greeting: hello.name }", "set: { greeting: hex(concat()) } #!")),
        ("DSL202", Edit("set: { greeting: hello.name }", "set: { greeting: hex(envelope.signature) } #!")),
        ("DSL202", Edit("errors:\n  BAD_NAME: { doc: The name is empty. }", "errors:\n  BAD_NAME: { doc: The name is empty. }\non_failure:\n  server:\n    - visitors.set(nobody.here, 1) #!")),
        ("DSL006", Edit("errors:\n  BAD_NAME: { doc: The name is empty. }", "errors:\n  BAD_NAME:\n    doc: The name is empty.\n    do:\n      client: #!\n        - visitors.set(\"x\", 1)")),
        ("DSL005", Edit("visitors: { kind: value_store, of: int, at: server }", "visitors: { kind: value_store, of: int, at: server }\n  seen: { kind: replay_cache, at: server } #!")),
        ("DSL209", Edit("server: { name: hello.name }", "server: { name: msg.name } #!")),
        // Hooks: declared with a role, typed inputs and an output; called only by that role, with its arguments.
        ("DSL106", Edit("messages:", "hooks:\n  known: { at: srever, output: bool } #!\nmessages:")),
        ("DSL101", Edit("messages:", "hooks:\n  known: { at: server, inputs: { name: strin }, output: bool } #!\nmessages:")),
        ("DSL101", Edit("messages:", "hooks:\n  known:\n    at: server\n    output: boolean #!\nmessages:")),
        ("DSL005", Edit("messages:", "hooks:\n  known: { at: server } #!\nmessages:")),
        ("DSL002", Edit("messages:", "hooks:\n  known: { at: server, output: bool, returns: bool } #!\nmessages:")),
        ("DSL003", Edit("messages:", "hooks:\n  sha256: { at: server, output: bool } #!\nmessages:")),
        ("DSL003", Edit("messages:", "hooks:\n  visitors: { at: server, output: bool } #!\nmessages:")),
        ("DSL208", Edit("messages:", "hooks:\n  known: { at: server, output: bool }\nmessages:").Replace("set: { greeting: hello.name }", "set: { greeting: hello.name }\n    require:\n      - known() else BAD_NAME #!")),
        ("DSL206", Edit("messages:", "hooks:\n  known: { at: server, inputs: { name: string }, output: bool }\nmessages:").Replace("- msg.name != \"\" else BAD_NAME", "- known() else BAD_NAME #!")),
        ("DSL204", Edit("messages:", "hooks:\n  known: { at: server, inputs: { name: string }, output: bool }\nmessages:").Replace("- msg.name != \"\" else BAD_NAME", "- known(3) else BAD_NAME #!")),
        ("DSL205", Edit("messages:", "hooks:\n  known: { at: server, inputs: { name: string }, output: bool? }\nmessages:").Replace("- msg.name != \"\" else BAD_NAME", "- known(msg.name) else BAD_NAME #!")),
        ("DSL201", Edit("messages:", "hooks:\n  known: { at: server, inputs: { name: string }, output: bool }\nmessages:").Replace("- msg.name != \"\" else BAD_NAME", "- known else BAD_NAME #!")),
        ("DSL301", Edit("- server -> client: welcome", "- server -> client: welcom #!")),
        ("DSL302", Edit("- server -> client: welcome", "- server -> server: welcome #!")),
        ("DSL304", Edit("  - server -> client: welcome\n    set: { greeting: hello.name }",
            "  - goto: start\n  - server -> client: welcome #!\n    set: { greeting: hello.name }")
            .Replace("  - client -> server: hello\n", "  - client -> server: hello\n    label: start\n")),
        ("DSL306", Edit("  - server -> client: welcome\n    set: { greeting: hello.name }", "  - server -> client: welcome\n    set: { greeting: hello.name }\n  - goto: nowhere #!")),
        ("DSL307", Edit("  - server -> client: welcome\n", "  - server -> client: welcome\n    label: twice #!\n").Replace("  - client -> server: hello\n", "  - client -> server: hello\n    label: twice\n")),
        ("DSL309", Edit("flow:\n  - client -> server: hello\n    set: { name: self.name, nick: self.nick }\n    require:\n      - msg.name != \"\" else BAD_NAME\n  - server -> client: welcome\n    set: { greeting: hello.name }\n", "flow: [] #!\n")),
        ("DSL310", Edit("client: { greeting: welcome.greeting }", "client: { greeting: welcome.greeting }\n  proxy: { x: hello.name } #!")),
        ("DSL311", Edit("outcome:", "session:\n  heartbeat: #!\n    pinger: client\n    interval_ms: 1000\n    ping: { message: hello }\n    pong: { message: hello }\noutcome:")),
    }.Select(c => new object[] { c.Id, c.Yaml });

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reports_the_diagnostic_at_the_marked_line(string id, string yaml)
    {
        var expectedLine = yaml.Split('\n').ToList().FindIndex(l => l.Contains("#!")) + 1;
        Assert.True(expectedLine > 0, "the case marks its line with #!");
        var run = GeneratorHarness.Run(yaml);
        var diagnostics = run.SpecDiagnostics;
        var reported = string.Join("; ", diagnostics.Select(d => d.ToString()));
        var diagnostic = diagnostics.FirstOrDefault(d => d.Id == id);
        Assert.True(diagnostic is not null, $"expected {id}; reported: {reported}");
        Assert.True(expectedLine == diagnostic!.Location.GetLineSpan().StartLinePosition.Line + 1, $"expected {id} at line {expectedLine}; reported: {reported}");
        Assert.Equal("spec.yaml", diagnostic.Location.GetLineSpan().Path);
        Assert.StartsWith("docs/diagnostics/" + id, diagnostic.Descriptor.HelpLinkUri);
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void A_check_that_starts_with_an_exclamation_mark_is_explained_as_a_yaml_tag()
    {
        var yaml = Base.Replace("- msg.name != \"\" else BAD_NAME", "- !msg.nick else BAD_NAME #!");
        var run = GeneratorHarness.Run(yaml);
        var diagnostic = Assert.Single(run.SpecDiagnostics);
        Assert.Equal("DSL001", diagnostic.Id);
        Assert.Contains("YAML tag", diagnostic.GetMessage());
        Assert.Equal(yaml.Split('\n').ToList().FindIndex(l => l.Contains("#!")) + 1, diagnostic.Location.GetLineSpan().StartLinePosition.Line + 1);
    }

    [Fact]
    public void The_base_spec_is_clean_and_compiles()
    {
        var run = GeneratorHarness.Run(Base);
        MiscompileTests.AssertCompilesClean(run);
        Assert.Equal(4, run.Sources.Count);
    }

    [Fact]
    public void Choice_branches_that_start_with_the_same_message_are_reported()
    {
        var yaml = """
            protocol: pick
            version: "1"
            roles: [a, b]
            messages:
              one: { fields: { n: int } }
              two: { fields: { n: int } }
            errors: { E: { doc: x } }
            flow:
              - choice: a
                branches:
                  - when: 1 == 1
                    steps:
                      - a -> b: one
                        set: { n: 1 }
                  - steps:
                      - a -> b: one #!
                        set: { n: 2 }
              - b -> a: two
                set: { n: 3 }
            """;
        AssertAt(yaml, "DSL303");
    }

    [Fact]
    public void A_branch_that_starts_with_the_other_roles_message_is_reported()
    {
        var yaml = """
            protocol: pick
            version: "1"
            roles: [a, b]
            messages:
              one: { fields: { n: int } }
              two: { fields: { n: int } }
            flow:
              - choice: a
                branches:
                  - when: 1 == 1
                    steps:
                      - a -> b: one
                        set: { n: 1 }
                  - steps: #!
                      - b -> a: two
                        set: { n: 2 }
            """;
        AssertAt(yaml, "DSL305");
    }

    [Fact]
    public void Steps_after_a_choice_whose_branches_all_end_are_unreachable()
    {
        var yaml = """
            protocol: pick
            version: "1"
            roles: [a, b]
            messages:
              one: { fields: { n: int } }
              two: { fields: { n: int } }
            errors: { E: { doc: x } }
            flow:
              - a -> b: one
                set: { n: 1 }
              - choice: b
                branches:
                  - when: one.n == 1
                    steps:
                      - b -> a: two
                        set: { n: 2 }
                      - success
                  - steps:
                      - b -> a: two
                        set: { n: 3 }
                      - fail: E
              - a -> b: one #!
                set: { n: 4 }
            """;
        AssertAt(yaml, "DSL304");
    }

    [Fact]
    public void A_fail_step_is_raised_by_the_chooser_and_awaited_by_the_peer()
    {
        var yaml = """
            protocol: pick
            version: "1"
            roles: [a, b]
            messages:
              one: { fields: { n: int } }
              two: { fields: { n: int } }
              oops: { reports: { code: code }, fields: { code: string } }
            errors: { REFUSED: { doc: b refuses, send: oops } }
            flow:
              - a -> b: one
                set: { n: 1 }
              - choice: b
                branches:
                  - when: one.n == 1
                    steps:
                      - b -> a: two
                        set: { n: one.n ?? 0 }
                  - steps:
                      - fail: REFUSED
            outcome:
              a: { n: two.n ?? 0 }
            """;
        var run = GeneratorHarness.Run(yaml);
        MiscompileTests.AssertCompilesClean(run);
        // B raises REFUSED in a state of its own; A never does: it waits for 'two', and B's refusal reaches it as B's error message.
        var projected = Projection.RoleProjector.Project(Binding.SpecBinder.Bind(Syntax.SpecParser.Parse("spec.yaml", yaml, default), default).Protocol!, default);
        var a = projected.Machines.Single(m => m.Role == "a");
        var b = projected.Machines.Single(m => m.Role == "b");
        Assert.Contains(b.States, s => s.Kind == Projection.StateKind.Fail && s.FailCode == "REFUSED");
        Assert.DoesNotContain(a.States, s => s.Kind == Projection.StateKind.Fail);
        Assert.Single(a.States, s => s.Kind == Projection.StateKind.Receive && s.Alternatives.Select(x => x.Message).SequenceEqual(new[] { "two" }));
        var machineA = run.Sources.Single(s => s.HintName == "Dsl.Protocols.Pick.A.Machine.g.cs").SourceText.ToString();
        Assert.Contains("s_permittedAwaitTwo = global::System.Array.AsReadOnly(new string[] { \"two\", \"oops\" });", machineA);
    }

    [Fact]
    public void A_spec_that_agrees_a_key_with_x25519_compiles()
    {
        var yaml = """
            protocol: agree
            version: "1"
            roles: [a, b]
            inputs:
              a: { ephemeral: x25519_key }
              b: { ephemeral: x25519_key }
            messages:
              share_a: { fields: { public_key: bytes<32> } }
              share_b: { fields: { public_key: bytes<32>, confirmation: bytes<32> } }
            errors:
              LOW_ORDER_KEY: { doc: The peer's key gives no shared secret. }
              BAD_CONFIRMATION: { doc: The peer derived another key. }
            flow:
              - a -> b: share_a
                set: { public_key: x25519_public(self.ephemeral) }
                require:
                  - x25519_agree(self.ephemeral, msg.public_key) != null else LOW_ORDER_KEY
              - b -> a: share_b
                let:
                  shared: x25519_agree(self.ephemeral, share_a.public_key)
                ensure:
                  - shared != null else LOW_ORDER_KEY
                set:
                  public_key: x25519_public(self.ephemeral)
                  confirmation: hmac_sha256(shared, "confirm")
                require:
                  - msg.confirmation == hmac_sha256(x25519_agree(self.ephemeral, msg.public_key) ?? random(32), "confirm") else BAD_CONFIRMATION
            """;
        var run = GeneratorHarness.Run(yaml);
        MiscompileTests.AssertCompilesClean(run);
        Assert.Contains("global::Dsl.Runtime.Expressions.Builtins.X25519Agree(", run.Sources.Single(s => s.HintName.EndsWith("A.Machine.g.cs")).SourceText.ToString());
    }

    [Fact]
    public void A_default_branch_that_is_not_last_is_reported()
    {
        var yaml = """
            protocol: pick
            version: "1"
            roles: [a, b]
            messages:
              one: { fields: { n: int } }
              two: { fields: { n: int } }
            flow:
              - choice: a
                branches:
                  - steps: #!
                      - a -> b: one
                        set: { n: 1 }
                  - steps:
                      - a -> b: two
                        set: { n: 2 }
            """;
        AssertAt(yaml, "DSL308");
    }

    [Fact]
    public void A_message_with_more_than_64_fields_is_reported()
    {
        var fields = string.Join("\n", Enumerable.Range(0, 65).Select(i => $"      f{i}: int"));
        var yaml = $"protocol: big\nversion: \"1\"\nroles: [a, b]\nmessages:\n  huge: #!\n    fields:\n{fields}\nflow:\n  - a -> b: huge\n";
        AssertAt(yaml, "DSL113");
    }

    [Fact]
    public void Two_specs_for_the_same_protocol_version_are_reported_on_the_second()
    {
        var second = DiagnosticTests.Base.Replace("protocol: greet", "protocol: greet #!");
        var run = GeneratorHarness.Run(("a/greet.yaml", Base), ("b/greet.yaml", second));
        var diagnostic = Assert.Single(run.SpecDiagnostics, d => d.Id == "DSL401");
        Assert.Equal("b/greet.yaml", diagnostic.Location.GetLineSpan().Path);
        Assert.Equal(1, diagnostic.Location.GetLineSpan().StartLinePosition.Line + 1);
        Assert.Contains("a/greet.yaml", diagnostic.GetMessage());
    }

    [Fact]
    public void Expression_errors_point_at_the_sub_expression_column()
    {
        var yaml = Base.Replace("msg.name != \"\" else BAD_NAME", "msg.name != \"\" && msg.nmae != \"x\" else BAD_NAME");
        var run = GeneratorHarness.Run(yaml);
        var diagnostic = Assert.Single(run.SpecDiagnostics);
        Assert.Equal("DSL203", diagnostic.Id);
        var line = yaml.Split('\n')[diagnostic.Location.GetLineSpan().StartLinePosition.Line];
        var column = diagnostic.Location.GetLineSpan().StartLinePosition.Character;
        Assert.Equal("nmae", line.Substring(column, 4));
    }

    [Fact]
    public void A_spec_with_errors_does_not_stop_the_others_from_generating()
    {
        var broken = Base.Replace("protocol: greet", "protocol: broken").Replace("greeting: string", "greeting: strin");
        var run = GeneratorHarness.Run(("good.yaml", Base), ("broken.yaml", broken));
        Assert.Contains(run.SpecDiagnostics, d => d.Id == "DSL101");
        Assert.Equal(4, run.Sources.Count);
        Assert.All(run.Sources, s => Assert.StartsWith("Dsl.Protocols.Greet.", s.HintName));
    }

    [Fact]
    public void A_step_with_two_arrows_is_reported_at_the_second()
    {
        var yaml = Base.Replace("  - client -> server: hello\n", "  - client -> server: hello\n    server -> client: welcome #!\n");
        AssertAt(yaml, "DSL302");
    }

    [Fact]
    public void A_set_value_that_does_not_parse_is_reported_once_and_its_field_is_not_also_unset()
    {
        var run = GeneratorHarness.Run(Base.Replace("set: { greeting: hello.name }", "set: { greeting: hello.name + }"));
        Assert.Equal("DSL201", Assert.Single(run.SpecDiagnostics).Id);
    }

    [Fact]
    public void The_same_problem_seen_by_both_roles_is_reported_once()
    {
        // The envelope's set is bound once per role: a missing required field is one problem, not two.
        var yaml = Base.Replace("errors:", "envelope:\n  name: wrapper\n  fields: { tag: string }\nerrors:");
        var run = GeneratorHarness.Run(yaml);
        Assert.Equal("DSL116", Assert.Single(run.SpecDiagnostics).Id);
    }

    [Fact]
    public void A_broken_heartbeat_does_not_also_make_its_messages_unused()
    {
        var yaml = Base.Replace("errors:", "  ping: { fields: { n: int } }\n  pong: { fields: { n: int } }\nerrors:")
            .Replace("outcome:", "session:\n  heartbeat:\n    pinger: nobody #!\n    interval_ms: 1000\n    ping: { message: ping, set: { n: 1 } }\n    pong: { message: pong, set: { n: 1 } }\noutcome:");
        var run = GeneratorHarness.Run(yaml);
        Assert.Equal("DSL106", Assert.Single(run.SpecDiagnostics).Id);
    }

    [Fact]
    public void A_contextual_keyword_is_a_fine_namespace_segment_and_a_reserved_one_is_not()
    {
        MiscompileTests.AssertCompilesClean(GeneratorHarness.Run(Base.Replace("version: \"1\"", "version: \"1\"\nnamespace: Acme.record.async")));
        AssertAt(Base.Replace("version: \"1\"", "version: \"1\"\nnamespace: Acme.class #!"), "DSL006");
    }

    private static void AssertAt(string yaml, string id)
    {
        var expectedLine = yaml.Split('\n').ToList().FindIndex(l => l.Contains("#!")) + 1;
        var run = GeneratorHarness.Run(yaml);
        var diagnostic = run.SpecDiagnostics.FirstOrDefault(d => d.Id == id);
        Assert.True(diagnostic is not null, $"expected {id}; got: {string.Join("; ", run.SpecDiagnostics.Select(d => d.ToString()))}");
        Assert.Equal(expectedLine, diagnostic!.Location.GetLineSpan().StartLinePosition.Line + 1);
    }
}
