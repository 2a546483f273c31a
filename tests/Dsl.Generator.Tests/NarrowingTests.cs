using System.Linq;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// Narrowing as users expect it: a presence check proves a value present where the flow can only go on having
/// passed it, whatever path led there, and nowhere else.
/// </summary>
public sealed class NarrowingTests
{
    private static readonly (string Name, string Yaml)[] s_messages =
    {
        ("hello", "  hello: { fields: { nick: string?, name: string } }"),
        ("other", "  other: { fields: { name: string } }"),
        ("welcome", "  welcome: { fields: { greeting: string } }"),
    };

    /// <summary>A spec with the given flow, declaring the messages it names (an unused one is DSL104).</summary>
    private static string Spec(string flow) => string.Join("\n", new[]
        {
            "protocol: narrow", "version: \"1\"", "roles: [a, b]", "inputs:", "  a: { nick: string?, name: string }", "errors:",
            "  NO_NICK: { doc: The nick is missing. }", "messages:",
        }
        .Concat(s_messages.Where(m => flow.Contains(": " + m.Name)).Select(m => m.Yaml))) + "\n" + flow;

    private static GeneratorRun Run(string flow) => GeneratorHarness.Run(Spec(flow));

    private static void AssertAbsentAt(GeneratorRun run, string yaml, string marker, string advice)
    {
        var diagnostic = Assert.Single(run.SpecDiagnostics);
        Assert.Equal("DSL205", diagnostic.Id);
        var line = diagnostic.Location.GetLineSpan().StartLinePosition.Line;
        Assert.Contains(marker, yaml.Split('\n')[line]);
        Assert.Contains(advice, diagnostic.GetMessage());
    }

    [Fact]
    public void A_presence_check_narrows_the_checks_after_it_in_one_require_list()
    {
        var run = Run("""
            flow:
              - a -> b: hello
                set: { nick: self.nick, name: self.name }
                require:
                  - msg.nick != null else NO_NICK
                  - len(msg.nick) > 0 else NO_NICK
            """);
        MiscompileTests.AssertCompilesClean(run);
    }

    [Fact]
    public void A_presence_check_narrows_the_ensures_after_it_and_the_set()
    {
        var run = Run("""
            flow:
              - a -> b: hello
                let: { n: self.nick }
                ensure:
                  - n != null else NO_NICK
                  - len(n) < 64 else NO_NICK
                set: { nick: n, name: n }
            """);
        MiscompileTests.AssertCompilesClean(run);
    }

    [Fact]
    public void Checking_an_optional_field_narrows_it_for_the_rest_of_the_flow_of_the_role_that_checked()
    {
        var run = Run("""
            flow:
              - a -> b: hello
                set: { nick: self.nick, name: self.name }
                require:
                  - msg.nick != null else NO_NICK
              - b -> a: welcome
                set: { greeting: hello.nick }
            outcome:
              b: { nick: hello.nick }
            """);
        MiscompileTests.AssertCompilesClean(run);
        // The outcome is not nullable: every way to success passed the check.
        Assert.Contains("public required string Nick { get; init; }", run.Source("B.Machine.g.cs"));
    }

    [Fact]
    public void A_check_by_one_role_proves_nothing_to_the_other()
    {
        var yaml = Spec("""
            flow:
              - a -> b: hello
                set: { nick: self.nick, name: self.name }
                require:
                  - msg.nick != null else NO_NICK
              - b -> a: welcome
                set: { greeting: "hi" }
              - a -> b: other
                set: { name: hello.nick } #!
            """);
        AssertAbsentAt(GeneratorHarness.Run(yaml), yaml, "#!", "give a fallback with '??'");
    }

    [Fact]
    public void A_when_narrowing_survives_the_join_when_every_other_branch_fails()
    {
        var run = Run("""
            flow:
              - choice: a
                let: { n: self.nick }
                branches:
                  - when: n != null
                    steps:
                      - a -> b: hello
                        set: { nick: n, name: n }
                  - steps:
                      - fail: NO_NICK
              - a -> b: other
                set: { name: n }
            """);
        MiscompileTests.AssertCompilesClean(run);
    }

    [Fact]
    public void A_when_narrowing_survives_the_join_when_every_other_branch_loops_back()
    {
        var run = Run("""
            flow:
              - choice: a
                label: ask
                let: { n: self.nick }
                branches:
                  - when: n != null
                    steps:
                      - a -> b: hello
                        set: { nick: n, name: n }
                  - steps:
                      - a -> b: other
                        set: { name: self.name }
                      - goto: ask
              - b -> a: welcome
                set: { greeting: "hi" }
            outcome:
              a: { nick: n }
            """);
        MiscompileTests.AssertCompilesClean(run);
        Assert.Contains("public required string Nick { get; init; }", run.Source("A.Machine.g.cs"));
    }

    [Fact]
    public void A_failed_guard_narrows_the_branches_after_it()
    {
        var run = Run("""
            flow:
              - choice: a
                let: { n: self.nick }
                branches:
                  - when: n == null
                    steps:
                      - fail: NO_NICK
                  - steps:
                      - a -> b: hello
                        set: { nick: n, name: n }
            """);
        MiscompileTests.AssertCompilesClean(run);
    }

    [Fact]
    public void A_goto_into_a_narrowed_region_from_a_path_that_did_not_check_is_reported()
    {
        // The old generator narrowed by the spec's text: this compiled, and failed at run time with internal_error.
        var yaml = Spec("""
            flow:
              - choice: a
                let: { n: self.nick }
                branches:
                  - when: n != null
                    steps:
                      - a -> b: hello
                        label: inside
                        set: { nick: n, name: n } #!
                  - steps:
                      - a -> b: other
                        set: { name: self.name }
                      - goto: inside
            """);
        AssertAbsentAt(GeneratorHarness.Run(yaml), yaml, "#!", "let 'n' holds a value that may be absent");
    }

    [Fact]
    public void An_absent_value_in_a_senders_set_is_advised_to_be_checked_with_ensure()
    {
        var yaml = Spec("""
            flow:
              - a -> b: hello
                set: { name: self.nick } #!
            """);
        AssertAbsentAt(GeneratorHarness.Run(yaml), yaml, "#!", "check it first in the step's 'ensure' ('self.nick != null else CODE')");
    }

    [Fact]
    public void An_absent_value_in_a_require_is_advised_to_be_checked_first()
    {
        var yaml = Spec("""
            flow:
              - a -> b: hello
                set: { nick: self.nick, name: self.name }
                require:
                  - len(msg.nick) > 0 else NO_NICK #!
            """);
        AssertAbsentAt(GeneratorHarness.Run(yaml), yaml, "#!", "check it first with an earlier 'msg.nick != null else CODE' in this 'require'");
    }

    [Fact]
    public void A_check_with_or_proves_nothing_present()
    {
        var yaml = Spec("""
            flow:
              - a -> b: hello
                set: { nick: self.nick, name: self.name }
                require:
                  - msg.nick != null || msg.name != "" else NO_NICK
                  - len(msg.nick) > 0 else NO_NICK #!
            """);
        AssertAbsentAt(GeneratorHarness.Run(yaml), yaml, "#!", "'require'");
    }

    [Fact]
    public void A_check_proves_present_a_field_of_a_message_exchanged_on_some_paths_only()
    {
        var run = Run("""
            flow:
              - choice: a
                branches:
                  - when: self.name != ""
                    steps:
                      - a -> b: hello
                        set: { nick: self.nick, name: self.name }
                  - steps:
                      - a -> b: other
                        set: { name: self.name }
              - b -> a: welcome
                set: { greeting: "hi" }
              - a -> b: other
                ensure:
                  - hello.nick != null else NO_NICK
                set: { name: hello.nick }
            """);
        MiscompileTests.AssertCompilesClean(run);
    }

    [Fact]
    public void A_map_or_a_list_can_be_tested_for_presence_and_is_narrowed_by_it()
    {
        var run = GeneratorHarness.Run("""
            protocol: maps
            version: "1"
            roles: [a, b]
            inputs:
              a: { meta: map?, tags: list<string>? }
            messages:
              hello: { fields: { meta: map, tags: list<string> } }
            errors:
              MISSING: { doc: Something is missing. }
            flow:
              - a -> b: hello
                ensure:
                  - self.meta != null && self.tags != null else MISSING
                set: { meta: self.meta, tags: self.tags }
            """);
        MiscompileTests.AssertCompilesClean(run);
    }

    [Fact]
    public void Within_one_condition_the_left_of_and_and_or_narrows_the_right()
    {
        var run = Run("""
            flow:
              - a -> b: hello
                set: { nick: self.nick, name: self.name }
                require:
                  - msg.nick != null && len(msg.nick) > 0 else NO_NICK
                  - msg.nick == null || len(msg.nick) < 64 else NO_NICK
            """);
        MiscompileTests.AssertCompilesClean(run);
    }

    [Fact]
    public void The_left_of_and_or_or_narrows_the_right_in_lets_and_outcomes_too()
    {
        var run = Run("""
            flow:
              - a -> b: hello
                let: { long_nick: self.nick != null && len(self.nick) > 8 }
                set: { nick: self.nick, name: self.name }
            outcome:
              a: { long_nick: long_nick }
              b: { short: hello.nick == null || len(hello.nick) < 4 }
            """);
        MiscompileTests.AssertCompilesClean(run);
    }

    [Fact]
    public void Narrowing_inside_one_condition_does_not_leak_out_of_it()
    {
        var yaml = Spec("""
            flow:
              - a -> b: hello
                let: { some: self.nick != null && len(self.nick) > 0, n: len(self.nick) } #!
                set: { nick: self.nick, name: self.name }
            """);
        AssertAbsentAt(GeneratorHarness.Run(yaml), yaml, "#!", "give a fallback with '??'");
    }

    [Fact]
    public void A_looping_flow_with_more_paths_than_are_followed_one_by_one_binds_and_terminates()
    {
        // Eight two-way choices give 256 ways through, and the last branch loops back: more than PathSet.Limit.
        const int choices = 8;
        var yaml = new System.Text.StringBuilder("""
            protocol: many
            version: "1"
            roles: [a, b]
            inputs:
              a: { n: int, nick: string? }
            errors:
              NO_NICK: { doc: The nick is missing. }
            messages:
              start: { fields: { n: int } }
              done: { fields: { n: int } }

            """);
        for (var i = 0; i < choices; i++) yaml.Append($"  x{i}: {{ fields: {{ n: int }} }}\n  y{i}: {{ fields: {{ n: int }} }}\n");
        yaml.Append("flow:\n  - a -> b: start\n    label: top\n    set: { n: self.n }\n");
        for (var i = 0; i < choices; i++)
            yaml.Append($"  - choice: a\n    branches:\n      - when: self.n > {i}\n        steps:\n          - a -> b: x{i}\n            let: {{ k{i}: self.nick }}\n            set: {{ n: {i} }}\n      - steps:\n          - a -> b: y{i}\n            set: {{ n: {i} }}\n");
        yaml.Append("""
              - choice: a
                let: { m: self.nick }
                branches:
                  - when: m == null
                    steps:
                      - a -> b: start
                        set: { n: 0 }
                      - goto: top
                  - steps:
                      - a -> b: done
                        set: { n: len(m) }

            """);
        var run = System.Threading.Tasks.Task.Run(() => GeneratorHarness.Run(yaml.ToString()));
        Assert.True(run.Wait(System.TimeSpan.FromSeconds(60)), "the binder did not terminate");
        MiscompileTests.AssertCompilesClean(run.Result);
    }
}
