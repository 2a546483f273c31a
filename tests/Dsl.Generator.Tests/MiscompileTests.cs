using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>The miscompiles a new user hit with the old generator, each now generating C# that compiles clean and means what the spec says.</summary>
public sealed class MiscompileTests
{
    [Fact]
    public void A_string_let_used_in_set_compiles_without_warnings()
    {
        // Emitted 'Name = (_letN)!,' which C# reads as a cast: CS0246/CS1525 in a generated file.
        var run = GeneratorHarness.Run("""
            protocol: strlet
            version: "1"
            roles: [client, server]
            inputs:
              client:
                who: string
            messages:
              hello:
                fields: { name: string, count: int, tag: string? }
            flow:
              - client -> server: hello
                let: { n: self.who, k: 5 }
                set: { name: n, count: k, tag: n }
            """);
        AssertCompilesClean(run);
    }

    [Fact]
    public void A_string_literal_with_braces_reaches_a_service_method_unchanged()
    {
        // Service methods were C# templates filled with string.Replace: "k{1}" became "kmsg.ThreadId".
        var run = GeneratorHarness.Run("""
            protocol: brace
            version: "1"
            roles: [client, server]
            services:
              saved: { kind: value_store, of: uuid, at: client }
            messages:
              hello:
                fields: { thread_id: uuid }
            flow:
              - client -> server: hello
                set: { thread_id: uuid4() }
                do:
                  client:
                    - saved.set("k{1}", msg.thread_id)
                    - saved.set("{0}{s}{ct}{now}", msg.thread_id)
            """);
        AssertCompilesClean(run);
        var client = run.Sources.Single(s => s.HintName.EndsWith("Client.Machine.g.cs")).SourceText.ToString();
        Assert.Contains("_services.Saved.SetAsync(\"k{1}\", ", client);
        Assert.Contains("_services.Saved.SetAsync(\"{0}{s}{ct}{now}\", ", client);
    }

    internal static void AssertCompilesClean(GeneratorRun run)
    {
        // Information (what an extension changes, DSL406) is not a problem.
        Assert.Empty(run.SpecDiagnostics.Where(d => d.Severity > DiagnosticSeverity.Info).Select(d => d.ToString()));
        Assert.NotEmpty(run.Sources);
        var problems = run.Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
