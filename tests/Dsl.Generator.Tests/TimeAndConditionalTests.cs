using System;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// Durations, timestamps moved by durations, <c>fresh(t)</c> against the spec's clock skew, decimals and the
/// conditional, run for real: both roles of a spec that uses them, in memory, with clocks the test sets.
/// </summary>
public sealed class TimeAndConditionalTests
{
    private const string Spec = """
        protocol: timing
        version: "1"
        roles: [client, server]
        inputs:
          client:
            nick: string?
            level: decimal
        messages:
          hello: { fields: { sent: timestamp, nick: string?, level: { type: decimal, min: 0, max: 10 } } }
          ack: { fields: { deadline: timestamp, name: string, late: bool } }
        errors:
          STALE: The hello's timestamp is too far from the server's clock.
        timeouts: { clock_skew: 30s }
        flow:
          - client -> server: hello
            set: { sent: now(), nick: self.nick, level: self.level }
            require:
              - fresh(msg.sent) else STALE
          - server -> client: ack
            set:
              deadline: hello.sent + 5m
              name: if hello.nick != null then hello.nick else "anonymous"
              late: now() - hello.sent > 10s
        outcome:
          client:
            window: seconds(ack.deadline - hello.sent)
            name: ack.name
            late: ack.late
            level: hello.level + 0.5
            label: if hello.level >= 1.5 then "high" else null
        """;

    private const string UserCode = """
        namespace User
        {
            using System;
            using System.Threading.Tasks;
            using Dsl.Protocols.Timing;
            using Dsl.Runtime.Handshakes;
            using Dsl.Runtime.Transports;

            /// <summary>A clock moved by a fixed offset.</summary>
            public sealed class Shifted(TimeSpan by) : TimeProvider
            {
                /// <inheritdoc />
                public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + by;
            }

            /// <summary>Runs both roles.</summary>
            public static class Runner
            {
                /// <summary>The client's outcome as text, or its error code and the server's.</summary>
                public static async Task<string> Run(string? nick, decimal level, int clientClockSeconds, int serverClockSeconds)
                {
                    var (a, b) = InMemoryTransport.CreatePair();
                    var client = new TimingClient(new TimingClientInputs { Nick = nick, Level = level },
                        TimingClient.DefaultOptions with { TimeProvider = new Shifted(TimeSpan.FromSeconds(clientClockSeconds)) }).RunAsync(a);
                    var server = new TimingServer(new TimingServerInputs(),
                        TimingServer.DefaultOptions with { TimeProvider = new Shifted(TimeSpan.FromSeconds(serverClockSeconds)) }).RunAsync(b);
                    var c = await client;
                    var s = await server;
                    if (!c.Succeeded) return "failed " + c.Error!.Code + " / " + s.Error?.Code;
                    var r = c.Result!;
                    return $"window={r.Window} name={r.Name} late={r.Late} level={r.Level.ToString(System.Globalization.CultureInfo.InvariantCulture)} label={r.Label ?? "(none)"}";
                }
            }
        }
        """;

    private static readonly Lazy<Assembly> s_generated = new(() =>
    {
        var run = GeneratorHarness.RunWithUserCode(Spec, UserCode);
        Assert.Empty(run.SpecDiagnostics);
        Assert.Empty(run.CompileErrors);
        return run.Load();
    });

    private static Task<string> Run(string? nick, decimal level, int clientClock = 0, int serverClock = 0)
        => (Task<string>)s_generated.Value.GetType("User.Runner")!.GetMethod("Run")!.Invoke(null, new object?[] { nick, level, clientClock, serverClock })!;

    [Fact]
    public async Task A_timestamp_plus_a_duration_is_a_timestamp_and_their_difference_a_duration()
        => Assert.StartsWith("window=300 ", await Run("ann", 1m));

    [Fact]
    public async Task The_conditional_takes_the_branch_its_condition_picks_and_reads_what_the_condition_proves()
    {
        Assert.Contains("name=ann ", await Run("ann", 1m));
        Assert.Contains("name=anonymous ", await Run(null, 1m));
    }

    [Fact]
    public async Task A_conditional_with_null_on_one_side_may_be_absent()
    {
        Assert.EndsWith("label=high", await Run("ann", 2m));
        Assert.EndsWith("label=(none)", await Run("ann", 1m));
    }

    [Fact]
    public async Task Decimals_travel_as_json_numbers_and_add_exactly()
        => Assert.Contains("level=1.44 ", await Run("ann", 0.94m));

    [Theory]
    [InlineData(0, 0, "window=300")]
    [InlineData(25, 0, "window=300")]      // 25 s ahead: within the 30 s skew
    [InlineData(-25, 0, "window=300")]
    [InlineData(31, 0, "failed peer_closed / STALE")]    // from the future: the server refuses, the client sees it close
    [InlineData(-31, 0, "failed peer_closed / STALE")]   // stale
    public async Task Fresh_allows_the_clock_skew_either_way_and_no_more(int clientClock, int serverClock, string expected)
        => Assert.StartsWith(expected, await Run("ann", 1m, clientClock, serverClock));

    [Fact]
    public async Task A_duration_compares_with_a_duration()
    {
        // The server reads its clock 20 s after the client's: its own now() - hello.sent is 20 s, more than 10 s.
        Assert.Contains("late=True", await Run("ann", 1m, 0, 20));
        Assert.Contains("late=False", await Run("ann", 1m, 0, 0));
    }

    [Theory]
    [InlineData("name: if hello.nick then \"a\" else \"b\"", "DSL204")]                 // a condition that is not a bool
    [InlineData("name: if hello.nick != null then 3 else \"b\"", "DSL204")]            // values of two types
    [InlineData("name: if hello.nick == null then hello.nick else \"b\"", "DSL205")]   // the branch where it is absent
    [InlineData("name: if hello.nick != null then hello.nick", "DSL201")]              // no else
    [InlineData("late: now() - hello.sent > 10", "DSL204")]                            // a duration is not an int
    [InlineData("late: now() - hello.sent > 10x", "DSL201")]                           // not a unit
    public void Misuse_is_reported_at_the_expression(string replacement, string id)
    {
        var field = replacement.Split(':')[0];
        var line = Spec.Split('\n').Single(l => l.TrimStart().StartsWith(field + ":", StringComparison.Ordinal) && l.Contains("hello."));
        var yaml = Spec.Replace(line, line.Substring(0, line.IndexOf(field, StringComparison.Ordinal)) + replacement);
        var run = GeneratorHarness.Run(yaml);
        Assert.Contains(run.SpecDiagnostics, d => d.Id == id);
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void Fresh_without_a_clock_skew_is_reported_at_the_call()
    {
        var run = GeneratorHarness.Run(Spec.Replace("timeouts: { clock_skew: 30s }", "timeouts: { step: 5s }"));
        var diagnostic = Assert.Single(run.SpecDiagnostics);
        Assert.Equal("DSL206", diagnostic.Id);
        Assert.Contains("clock_skew", diagnostic.GetMessage());
    }
}
