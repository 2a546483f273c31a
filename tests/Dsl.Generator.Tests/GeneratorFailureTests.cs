using System.Linq;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>No crash escapes: an exception in any stage for one spec is DSL999 on that spec, and the others still generate.</summary>
public sealed class GeneratorFailureTests
{
    [Theory]
    [InlineData("parse")]
    [InlineData("bind")]
    [InlineData("project")]
    [InlineData("emit")]
    public void A_crash_in_a_stage_is_DSL999_on_that_spec_alone(string stage)
    {
        var other = DiagnosticTests.Base.Replace("protocol: greet", "protocol: other");
        Stages.InjectedFault = (stage, "crashes-in-a-stage.yaml");
        GeneratorRun run;
        try
        {
            run = GeneratorHarness.Run(("good.yaml", DiagnosticTests.Base), ("crashes-in-a-stage.yaml", other));
        }
        finally
        {
            Stages.InjectedFault = null;
        }
        var crash = Assert.Single(run.SpecDiagnostics);
        Assert.Equal("DSL999", crash.Id);
        Assert.Equal("crashes-in-a-stage.yaml", crash.Location.GetLineSpan().Path);
        Assert.Contains($"in its {stage} stage", crash.GetMessage());
        Assert.Contains("InvalidOperationException: fault injected by a test", crash.GetMessage());
        Assert.Equal(4, run.Sources.Count);
        Assert.All(run.Sources, s => Assert.StartsWith("Dsl.Protocols.Greet.", s.HintName));
        Assert.Empty(run.CompileErrors);
    }
}
