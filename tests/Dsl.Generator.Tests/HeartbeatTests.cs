using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>What a heartbeat's interval and messages may read once the handshake has succeeded.</summary>
public sealed class HeartbeatTests
{
    /// <summary>A spec of two roles with a ping and a pong message, and <paramref name="rest"/> from its flow on.</summary>
    private static GeneratorRun Run(string rest) => GeneratorHarness.Run("""
        protocol: beat
        version: "1"
        roles: [a, b]
        messages:
          hello: { fields: { every: int } }
          ping: { fields: { tag: string } }
          pong: { fields: { tag: string } }

        """ + rest);

    [Fact]
    public void A_heartbeat_reads_the_lets_of_its_role_as_DSL311_advises()
    {
        var run = Run("""
            flow:
              - a -> b: hello
                let: { every: 1000 + 500, tag: text(1500) }
                set: { every: every }
                require:
                  - msg.every > 0 else BAD
            errors:
              BAD: { doc: Bad interval. }
            session:
              heartbeat:
                pinger: a
                interval_ms: hello.every
                ping: { message: ping, set: { tag: tag } }
                pong: { message: pong, set: { tag: ping.tag } }
            """);
        MiscompileTests.AssertCompilesClean(run);
        // The machine keeps the let past the handshake for its pings.
        Assert.Contains("private string? _tag;", run.Source("A.Machine.g.cs"));
    }

    [Fact]
    public void A_heartbeat_cannot_read_the_other_roles_lets_and_both_roles_read_the_interval()
    {
        var run = Run("""
            flow:
              - a -> b: hello
                let: { every: 1500 }
                set: { every: every }
            session:
              heartbeat:
                pinger: b
                interval_ms: every
                ping: { message: ping, set: { tag: "t" } }
                pong: { message: pong, set: { tag: ping.tag } }
            """);
        Assert.Contains(run.SpecDiagnostics, d => d.Id == "DSL208");
    }
}
