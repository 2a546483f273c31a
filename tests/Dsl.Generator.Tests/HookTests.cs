using System;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// Hooks: a decision the application makes, declared in the spec with typed inputs and output and called like a
/// function. The generator writes one interface per role, which the machine's constructor takes; a hook's answer
/// decides the check that calls it; a hook that throws ends the handshake with internal_error naming the hook, and
/// one that outlives the step timeout ends it with step_timeout, whether it honours its token or not.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class HookTests
{
    private const string Spec = """
        protocol: hooked
        version: "1"
        roles: [client, server]
        inputs:
          client:
            name: string
        hooks:
          admit:
            at: server
            doc: Whether the server admits this name.
            inputs:
              name: { type: string, doc: The name the client gave. }
              level: int?
            output: bool
          greeting:
            at: server
            inputs: { name: string }
            output: string?
        messages:
          hello: { fields: { name: string } }
          welcome: { fields: { text: string } }
        errors:
          REFUSED: The server refused the name.
        timeouts: { step: 3s, handshake: 20s }
        flow:
          - client -> server: hello
            set: { name: self.name }
            require:
              - admit(msg.name, null) else REFUSED
          - server -> client: welcome
            set: { text: greeting(hello.name) ?? "hi" }
        """;

    // The application's side: hooks whose behaviour the test picks, and a run of both roles in memory.
    private const string UserCode = """
        namespace User
        {
            using System;
            using System.Buffers;
            using System.Threading;
            using System.Threading.Tasks;
            using Dsl.Protocols.Hooked;
            using Dsl.Runtime.Transports;

            /// <summary>Hooks that behave as the test says.</summary>
            public sealed class Hooks : IHookedServerHooks
            {
                private readonly string _mode;

                /// <summary>Creates them.</summary>
                public Hooks(string mode) => _mode = mode;

                /// <inheritdoc />
                public async ValueTask<bool> AdmitAsync(string name, long? level, CancellationToken cancellationToken)
                {
                    switch (_mode)
                    {
                        case "throw": throw new InvalidOperationException("the directory is down");
                        case "slow": await Task.Delay(Timeout.Infinite, cancellationToken); return true;
                        case "deaf": await Task.Delay(TimeSpan.FromSeconds(60)); return true;
                        default: return name != "mallory" && level is null;
                    }
                }

                /// <inheritdoc />
                public ValueTask<string?> GreetingAsync(string name, CancellationToken cancellationToken)
                    => new(_mode == "quiet" ? null : "welcome, " + name);
            }

            /// <summary>Runs both roles.</summary>
            public static class Runner
            {
                /// <summary>Returns the client's and the server's outcome, as text.</summary>
                public static async Task<string> Run(string mode, string name)
                {
                    var (a, b) = InMemoryTransport.CreatePair();
                    var client = new HookedClient(new HookedClientInputs { Name = name }).RunAsync(a);
                    var server = new HookedServer(new HookedServerInputs(), new Hooks(mode)).RunAsync(b);
                    var c = await client;
                    var s = await server;
                    return (c.Succeeded ? "ok " + c.Result!.ToString() : c.Error!.Code) + " | " + (s.Succeeded ? "ok" : s.Error!.Code + ": " + s.Error.Detail);
                }

                /// <summary>The text the client received.</summary>
                public static async Task<string> Greeting(string mode)
                {
                    var (a, b) = InMemoryTransport.CreatePair();
                    string? text = null;
                    var recorder = new Recorder(a, m => text ??= (m as Welcome)?.Text);
                    var client = new HookedClient(new HookedClientInputs { Name = "ann" }).RunAsync(recorder);
                    var server = new HookedServer(new HookedServerInputs(), new Hooks(mode)).RunAsync(b);
                    await client;
                    await server;
                    return text ?? "(none)";
                }
            }

            /// <summary>A transport that decodes what it receives, for the test to look at.</summary>
            public sealed class Recorder(IMessageTransport inner, Action<HookedMessage> seen) : IMessageTransport
            {
                /// <inheritdoc />
                public int MaxMessageSize => inner.MaxMessageSize;
                /// <inheritdoc />
                public string? RemoteAddress => inner.RemoteAddress;
                /// <inheritdoc />
                public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) => inner.SendAsync(message, cancellationToken);
                /// <inheritdoc />
                public async ValueTask<bool> ReceiveAsync(System.Buffers.IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
                {
                    var buffer = new System.Buffers.ArrayBufferWriter<byte>();
                    var received = await inner.ReceiveAsync(buffer, cancellationToken);
                    if (received && HookedCodec.Instance.TryDecode(buffer.WrittenSpan, out var message, out _)) seen(message);
                    destination.Write(buffer.WrittenSpan);
                    return received;
                }
                /// <inheritdoc />
                public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);
                /// <inheritdoc />
                public ValueTask DisposeAsync() => inner.DisposeAsync();
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

    private static Task<string> Call(string method, params object[] arguments)
        => (Task<string>)s_generated.Value.Assembly.GetType("User.Runner")!.GetMethod(method)!.Invoke(null, arguments)!;

    [Fact]
    public void The_generator_writes_one_interface_per_role_with_an_async_method_per_hook()
    {
        var machine = s_generated.Value.Run.Source("Server.Machine.g.cs");
        Assert.Contains("public interface IHookedServerHooks", machine);
        Assert.Contains("ValueTask<bool> AdmitAsync(string name, long? level, global::System.Threading.CancellationToken cancellationToken);", machine);
        Assert.Contains("ValueTask<string?> GreetingAsync(string name, global::System.Threading.CancellationToken cancellationToken);", machine);
        Assert.Contains("public HookedServer(HookedServerInputs inputs, IHookedServerHooks hooks, ", machine);
        // The client calls no hook: its constructor takes none.
        Assert.DoesNotContain("Hooks", s_generated.Value.Run.Source("Client.Machine.g.cs"));
    }

    [Fact]
    public async Task A_hook_that_says_yes_lets_the_handshake_complete()
        => Assert.Equal("ok HookedClientResult { } | ok", await Call("Run", "ok", "ann"));

    [Fact]
    public async Task A_hook_that_says_no_fails_its_check_with_the_checks_code()
        => Assert.StartsWith("peer_closed | REFUSED: Check failed: admit(msg.name, null)", await Call("Run", "ok", "mallory"));

    [Fact]
    public async Task A_hook_that_answers_nothing_takes_the_specs_fallback()
    {
        Assert.Equal("welcome, ann", await Call("Greeting", "ok"));
        Assert.Equal("hi", await Call("Greeting", "quiet"));
    }

    [Fact]
    public async Task A_hook_that_throws_ends_the_handshake_with_internal_error_naming_the_hook()
        => Assert.EndsWith("internal_error: Hook 'admit' threw InvalidOperationException: the directory is down", await Call("Run", "throw", "ann"));

    [Theory]
    [InlineData("slow")]
    [InlineData("deaf")]
    public async Task A_hook_that_outlives_the_step_timeout_ends_the_handshake_with_step_timeout(string mode)
    {
        // A first run compiles the generated code, so that the timed one is about the hook, not the JIT on a busy machine.
        await Call("Run", "ok", "ann");
        var started = DateTime.UtcNow;
        var outcome = await Call("Run", mode, "ann");
        Assert.Contains("| step_timeout: This side's work in", outcome);
        // Not a timed assertion of speed: only that the machine did not wait for the deaf hook's 60 s.
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(40), outcome);
    }
}
