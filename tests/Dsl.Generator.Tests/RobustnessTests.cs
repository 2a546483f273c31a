using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Syntax;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>Bad specs are normal input: whatever is broken, the generator reports diagnostics and never crashes.</summary>
public sealed class RobustnessTests
{
    [Fact]
    public void Deleting_any_line_of_the_ltp_spec_never_crashes_the_generator()
    {
        var lines = GeneratorHarness.ReadRepoFile("protocols/ltp/ltp-0.2.yaml").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var yaml = string.Join("\n", lines.Where((_, j) => j != i));
            var bound = SpecBinder.Bind(SpecParser.Parse("ltp.yaml", yaml, default), default);
            Assert.DoesNotContain(bound.Diagnostics, d => d.Id == "DSL999");
            if (bound.Protocol is null) Assert.NotEmpty(bound.Diagnostics);
        }
    }

    [Fact]
    public void Truncating_the_ltp_spec_anywhere_never_crashes_the_generator()
    {
        var yaml = GeneratorHarness.ReadRepoFile("protocols/ltp/ltp-0.2.yaml");
        for (var length = 0; length < yaml.Length; length += 7)
        {
            var bound = SpecBinder.Bind(SpecParser.Parse("ltp.yaml", yaml.Substring(0, length), default), default);
            Assert.DoesNotContain(bound.Diagnostics, d => d.Id == "DSL999");
            Assert.True(bound.Protocol is not null || !bound.Diagnostics.IsEmpty, $"no model and no diagnostic at length {length}");
        }
    }

    [Fact]
    public void Every_diagnostic_in_the_table_has_a_documentation_page()
    {
        var root = GeneratorHarness.RepoRoot();
        foreach (var kind in Dsl.Generator.Diagnostics.DiagnosticTable.All)
            Assert.True(System.IO.File.Exists(System.IO.Path.Combine(root, "docs", "diagnostics", kind.Id + ".md")), $"docs/diagnostics/{kind.Id}.md is missing");
    }
}
