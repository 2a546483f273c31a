using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Dsl.Generator.Binding;
using Dsl.Generator.Projection;
using Dsl.Generator.Syntax;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>The pipeline is incremental: reruns are cached, unrelated edits stay cached, one spec's edit touches only its outputs.</summary>
public sealed class CachingTests
{
    private static readonly string[] s_steps = { TrackingNames.Parse, TrackingNames.Bind, TrackingNames.Project, TrackingNames.Diagnostics };

    private static (GeneratorDriver Driver, Compilation Compilation, AdditionalText Ltp, AdditionalText Greet) Start()
    {
        var ltp = new InMemoryAdditionalText("protocols/ltp/ltp-0.2.yaml", GeneratorHarness.ReadRepoFile("protocols/ltp/ltp-0.2.yaml"));
        var greet = new InMemoryAdditionalText("protocols/greet.yaml", DiagnosticTests.Base);
        var compilation = GeneratorHarness.Compilation("namespace User { public sealed class A { } }");
        var driver = GeneratorHarness.Driver(ltp, greet).RunGenerators(compilation);
        return (driver, compilation, ltp, greet);
    }

    private static IEnumerable<(string Step, IncrementalStepRunReason Reason)> Reasons(GeneratorDriver driver)
    {
        var result = driver.GetRunResult().Results.Single();
        foreach (var step in s_steps)
        foreach (var run in result.TrackedSteps[step])
        foreach (var output in run.Outputs)
            yield return (step, output.Reason);
    }

    [Fact]
    public void A_rerun_with_the_same_inputs_is_entirely_cached()
    {
        var (driver, compilation, _, _) = Start();
        driver = driver.RunGenerators(compilation);
        Assert.All(Reasons(driver), r => Assert.True(r.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{r.Step}: {r.Reason}"));
        Assert.All(driver.GetRunResult().Results.Single().TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void Editing_an_unrelated_CSharp_file_keeps_everything_cached()
    {
        var (driver, compilation, _, _) = Start();
        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace User { public sealed class B { } }"));
        driver = driver.RunGenerators(edited);
        Assert.All(Reasons(driver), r => Assert.True(r.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{r.Step}: {r.Reason}"));
    }

    [Fact]
    public void Editing_one_spec_changes_only_its_outputs()
    {
        var (driver, compilation, _, greet) = Start();
        var before = driver.GetRunResult().Results.Single().GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        var edited = new InMemoryAdditionalText(greet.Path, DiagnosticTests.Base.Replace("greeting: string", "greeting: { type: string, doc: What the server says. }"));
        driver = driver.ReplaceAdditionalText(greet, edited).RunGenerators(compilation);
        var result = driver.GetRunResult().Results.Single();

        var models = result.TrackedSteps[TrackingNames.Project].SelectMany(s => s.Outputs).ToList();
        Assert.Single(models, o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Single(models, o => o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged);

        var after = result.GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        Assert.Equal(before.Keys.OrderBy(k => k), after.Keys.OrderBy(k => k));
        foreach (var (name, text) in after)
        {
            if (name.StartsWith("Dsl.Protocols.Ltp.", StringComparison.Ordinal)) Assert.Equal(before[name], text);
        }
        Assert.Contains(after, pair => pair.Key.StartsWith("Dsl.Protocols.Greet.", StringComparison.Ordinal) && pair.Value != before[pair.Key]);
    }

    [Fact]
    public void Editing_a_spec_nobody_extends_does_not_parse_the_others_again()
    {
        var (driver, compilation, _, greet) = Start();
        var edited = new InMemoryAdditionalText(greet.Path, DiagnosticTests.Base.Replace("greeting: string", "greeting: { type: string, doc: What the server says. }"));
        driver = driver.ReplaceAdditionalText(greet, edited).RunGenerators(compilation);
        var parses = driver.GetRunResult().Results.Single().TrackedSteps[TrackingNames.Parse].SelectMany(s => s.Outputs).ToList();
        // LTP's parse did not run at all (Cached), rather than ran again to the same result (Unchanged).
        Assert.Single(parses, o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Single(parses, o => o.Reason == IncrementalStepRunReason.Cached);
    }

    [Fact]
    public void Editing_a_base_spec_parses_its_extension_again()
    {
        var text = GeneratorHarness.ReadRepoFile("protocols/ltp/ltp-0.2.yaml");
        var ltp = new InMemoryAdditionalText("protocols/ltp/ltp-0.2.yaml", text);
        var ltp03 = new InMemoryAdditionalText("protocols/ltp/ltp-0.3.yaml", GeneratorHarness.ReadRepoFile("protocols/ltp/ltp-0.3.yaml"));
        var compilation = GeneratorHarness.Compilation("namespace User { public sealed class A { } }");
        var driver = GeneratorHarness.Driver(ltp, ltp03).RunGenerators(compilation);
        var before = driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName == "Dsl.Protocols.Ltp03.Messages.g.cs").SourceText.ToString();
        Assert.Contains("start a new liminal thread", before);

        var edited = new InMemoryAdditionalText(ltp.Path, text.Replace("start a new liminal thread", "open a new liminal thread"));
        driver = driver.ReplaceAdditionalText(ltp, edited).RunGenerators(compilation);
        var after = driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName == "Dsl.Protocols.Ltp03.Messages.g.cs").SourceText.ToString();
        Assert.Contains("open a new liminal thread", after);
        Assert.DoesNotContain("start a new liminal thread", after);
    }

    [Fact]
    public void Moving_one_spec_down_a_line_emits_nothing_for_the_others()
    {
        var (driver, compilation, _, greet) = Start();
        // Every location in greet moves, its 'protocol:' line included; its name, version and namespace do not.
        var edited = new InMemoryAdditionalText(greet.Path, "# a comment on top\n" + DiagnosticTests.Base);
        driver = driver.ReplaceAdditionalText(greet, edited).RunGenerators(compilation);
        var outputs = driver.GetRunResult().Results.Single().TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).ToList();
        // Greet's own emission reruns (its #line directives moved), and so do its diagnostics (its security lints'
        // locations moved); LTP's stay cached.
        Assert.InRange(outputs.Count(o => o.Reason == IncrementalStepRunReason.Modified), 1, 2);
        Assert.Contains(outputs, o => o.Reason == IncrementalStepRunReason.Cached);
    }

    [Fact]
    public void The_model_graph_holds_no_symbols_syntax_or_compilations()
    {
        var syntax = SpecParser.Parse("ltp.yaml", GeneratorHarness.ReadRepoFile("protocols/ltp/ltp-0.2.yaml"), default);
        var bound = SpecBinder.Bind(syntax, default);
        Assert.NotNull(bound.Protocol);
        var projected = RoleProjector.Project(bound.Protocol!, default);
        var forbidden = new[] { typeof(ISymbol), typeof(Compilation), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Location), typeof(Diagnostic), typeof(AdditionalText), typeof(Delegate), typeof(MemberInfo) };
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var count = 0;
        void Walk(object? value, string path)
        {
            if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return;
            foreach (var type in forbidden)
                Assert.False(type.IsInstanceOfType(value), $"{path} holds a {type.Name}");
            if (!value.GetType().IsValueType && !visited.Add(value)) return;
            count++;
            if (value is IEnumerable items)
            {
                var i = 0;
                foreach (var item in items) Walk(item, $"{path}[{i++}]");
                return;
            }
            // The model's state is in its fields; computed properties (a type's descriptor) are not part of it.
            foreach (var field in value.GetType().GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
                Walk(field.GetValue(value), path + "." + field.Name);
        }
        Walk(projected, "model");
        Walk(syntax, "syntax");
        Assert.True(count > 100, $"walked only {count} objects");
        // Value equality is what caching relies on: binding the same text twice gives equal models.
        var again = SpecBinder.Bind(SpecParser.Parse("ltp.yaml", GeneratorHarness.ReadRepoFile("protocols/ltp/ltp-0.2.yaml"), default), default).Protocol!;
        Assert.Equal(syntax, SpecParser.Parse("ltp.yaml", GeneratorHarness.ReadRepoFile("protocols/ltp/ltp-0.2.yaml"), default));
        Assert.Equal(bound.Protocol, again);
        Assert.Equal(projected, RoleProjector.Project(again, default));
    }
}
