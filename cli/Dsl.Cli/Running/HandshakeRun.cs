using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;

namespace Dsl.Cli.Running;

/// <summary>What makes a run repeat itself: a seed for every random byte, and a clock that always reads one instant.</summary>
internal sealed record Replay(string Seed, DateTimeOffset Clock)
{
    /// <summary>A last change to each role's options (shorter timeouts, a misbehaving sender), by role.</summary>
    public Func<string, HandshakeOptions, HandshakeOptions>? Adjust { get; init; }

    /// <summary>The machine's default options (its spec's timeouts), with this random source and clock.</summary>
    public HandshakeOptions Options(Type machine, string role)
    {
        var options = ((HandshakeOptions)machine.GetProperty("DefaultOptions")!.GetValue(null)!) with
        {
            Random = RandomSource.Seeded(System.Text.Encoding.UTF8.GetBytes(Seed + " " + role)),
            TimeProvider = new FixedClock(Clock),
        };
        return Adjust is null ? options : Adjust(role, options);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

/// <summary>How one role's run ended.</summary>
internal sealed record RoleOutcome(string Role, string Version, bool Succeeded, string? ErrorCode, string Summary)
{
    /// <summary>The failure, when the role failed.</summary>
    public HandshakeError? Error { get; init; }

    /// <summary>The result, when the role succeeded: the generated result record, secrets and all.</summary>
    public object? Result { get; init; }
}

/// <summary>
/// Runs the two roles of a spec against each other, each possibly from another version of it (what <c>diff</c>
/// proves compatibility with), over an in-memory pair or TCP on loopback, tracing every message.
/// </summary>
internal static class HandshakeRun
{
    public static readonly string[] Transports = { "memory", "tcp", "websocket", "udp" };

    /// <summary>
    /// Runs <paramref name="first"/>'s first role against <paramref name="second"/>'s second role, each machine with its
    /// spec's own timeouts; with <paramref name="replay"/>, each role's random bytes come from that seed and its name,
    /// and every clock reads that instant, so the run sends the same bytes every time.
    /// </summary>
    public static async Task<(RoleOutcome First, RoleOutcome Second)?> RunAsync(
        GeneratedSpec first, GeneratedSpec second, Peers peers, string transport, Action<TracedMessage> trace, Action<string> problem,
        CancellationToken cancellationToken, Replay? replay = null, Tamper? tamper = null,
        Func<string, IMessageTransport, IMessageTransport>? interpose = null)
    {
        var roles = first.Model.Protocol.Roles.Select(r => r.Name).ToArray();
        var a = peers.Create(first, roles[0], replay?.Options(first.Machine(roles[0]), roles[0]), out var whyA);
        var b = peers.Create(second, roles[1], replay?.Options(second.Machine(roles[1]), roles[1]), out var whyB);
        if (a is null || b is null)
        {
            problem((whyA ?? whyB)!);
            return null;
        }
        if (transport == "udp")
        {
            // Through the UDP handshake managers, with their retransmission: the result types make the generic calls.
            var resultA = ResultType(a);
            var resultB = ResultType(b);
            var overUdp = typeof(HandshakeRun).GetMethod(nameof(OverUdpAsync), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(resultA, resultB);
            var (outcomeA, outcomeB) = await ((Task<(object, object)>)overUdp.Invoke(null, new object?[] { a, b, roles, trace, interpose, cancellationToken })!).ConfigureAwait(false);
            return (Describe(roles[0], first.Model.Protocol.Version, outcomeA), Describe(roles[1], second.Model.Protocol.Version, outcomeB));
        }
        Task<object> runA, runB;
        await using var cleanup = new Cleanup();
        if (transport == "websocket")
        {
            var served = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
            var clientDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var server = new Dsl.Runtime.AspNetCore.HandshakeServer();
            cleanup.Add(server);
            server.MapHandshake("/run", async (connection, _, ct) =>
            {
                try { served.TrySetResult(await Run(b, new TracingTransport(connection, roles[1], roles[0], trace), ct)); }
                catch (Exception ex) { served.TrySetException(ex); }
                // The endpoint aborts the connection when this returns: let the client read the last message first.
                await clientDone.Task.WaitAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
            });
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
            var client = await Dsl.Runtime.Transports.WebSockets.WebSocketTransport.ConnectAsync(server.GetUri("/run"), cancellationToken: cancellationToken).ConfigureAwait(false);
            cleanup.Add(client);
            runA = Run(a, new TracingTransport(client, roles[0], roles[1], trace), cancellationToken);
            _ = runA.ContinueWith(_ => clientDone.TrySetResult(), TaskScheduler.Default);
            runB = served.Task;
        }
        else if (transport == "tcp")
        {
            var accepted = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
            var listener = new TcpHandshakeListener(async (connection, ct) =>
            {
                try { accepted.TrySetResult(await Run(b, new TracingTransport(connection, roles[1], roles[0], trace), ct)); }
                catch (Exception ex) { accepted.TrySetException(ex); }
            }, port: 0);
            cleanup.Add(listener);
            listener.Start();
            var client = await TcpTransport.ConnectAsync(listener.LocalEndPoint, cancellationToken: cancellationToken);
            cleanup.Add(client);
            runA = Run(a, new TracingTransport(client, roles[0], roles[1], trace), cancellationToken);
            runB = accepted.Task;
        }
        else
        {
            var (endA, endB) = InMemoryTransport.CreatePair();
            cleanup.Add(endA);
            cleanup.Add(endB);
            // A tamper sits between a machine and the trace, so the trace holds what crossed the wire.
            IMessageTransport sideA = new TracingTransport(endA, roles[0], roles[1], trace), sideB = new TracingTransport(endB, roles[1], roles[0], trace);
            var resigner = tamper is { Resign: true } ? new Resigner(tamper.From == roles[0] ? first.Model.Protocol : second.Model.Protocol, peers.Chosen) : null;
            if (tamper?.From == roles[0]) sideA = new TamperingTransport(sideA, tamper, resigner);
            if (tamper?.From == roles[1]) sideB = new TamperingTransport(sideB, tamper, resigner);
            // What stands between a machine and the wire (an attacker, an observer) sits outside the trace too.
            if (interpose is not null)
            {
                sideA = interpose(roles[0], sideA);
                sideB = interpose(roles[1], sideB);
            }
            runA = Run(a, sideA, cancellationToken);
            runB = Run(b, sideB, cancellationToken);
        }
        return (Describe(roles[0], first.Model.Protocol.Version, await runA), Describe(roles[1], second.Model.Protocol.Version, await runB));
    }

    /// <summary>The role's result type: TResult of its RunAsync's ValueTask&lt;HandshakeOutcome&lt;TResult&gt;&gt;.</summary>
    private static Type ResultType(object machine)
        => machine.GetType().GetMethod("RunAsync")!.ReturnType.GetGenericArguments()[0].GetGenericArguments()[0];

    private static async Task<(object, object)> OverUdpAsync<TA, TB>(object a, object b, string[] roles, Action<TracedMessage> trace,
        Func<string, IMessageTransport, IMessageTransport>? interpose, CancellationToken cancellationToken)
        where TA : class where TB : class
    {
        // Over UDP, what stands between a machine and the wire wraps each datagram transport, under the retransmission.
        IMessageTransport Wrap(string role, IMessageTransport raw, string to)
        {
            IMessageTransport traced = new TracingTransport(raw, role, to, trace);
            return interpose is null ? traced : interpose(role, traced);
        }
        await using var serverEndpoint = new Dsl.Runtime.Transports.Udp.UdpEndpoint();
        await using var clientEndpoint = new Dsl.Runtime.Transports.Udp.UdpEndpoint();
        var served = new TaskCompletionSource<HandshakeOutcome<TB>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new Dsl.Runtime.Hosting.UdpHandshakeManager(serverEndpoint,
            new Dsl.Runtime.Hosting.UdpHandshakeOptions { WrapTransport = t => Wrap(roles[1], t, roles[0]) });
        server.Serve<TB>((transport, ct) => Typed<TB>(b, transport, ct), (_, outcome) => served.TrySetResult(outcome));
        await using var client = new Dsl.Runtime.Hosting.UdpHandshakeManager(clientEndpoint,
            new Dsl.Runtime.Hosting.UdpHandshakeOptions { WrapTransport = t => Wrap(roles[0], t, roles[1]) });
        var entry = client.Create<TA>(serverEndpoint.LocalEndPoint, (transport, ct) => Typed<TA>(a, transport, ct));
        var outcomeA = await entry.Outcome.WaitAsync(cancellationToken).ConfigureAwait(false);
        var outcomeB = await served.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        return (outcomeA, outcomeB);
    }

    private static ValueTask<HandshakeOutcome<T>> Typed<T>(object machine, IMessageTransport transport, CancellationToken cancellationToken) where T : class
        => (ValueTask<HandshakeOutcome<T>>)machine.GetType().GetMethod("RunAsync")!.Invoke(machine, new object[] { transport, cancellationToken })!;

    private static async Task<object> Run(object machine, IMessageTransport transport, CancellationToken cancellationToken)
    {
        var run = machine.GetType().GetMethod("RunAsync")!.Invoke(machine, new object[] { transport, cancellationToken })!;
        var task = (Task)run.GetType().GetMethod("AsTask")!.Invoke(run, null)!;
        await task.ConfigureAwait(false);
        return task.GetType().GetProperty("Result")!.GetValue(task)!;
    }

    private static RoleOutcome Describe(string role, string version, object outcome)
    {
        var type = outcome.GetType();
        var succeeded = (bool)type.GetProperty("Succeeded")!.GetValue(outcome)!;
        if (!succeeded)
        {
            var error = (HandshakeError)type.GetProperty("Error")!.GetValue(outcome)!;
            return new RoleOutcome(role, version, false, error.Code, error.ToString()) { Error = error };
        }
        // The result's plain values; keys and other bytes are left out (they may be secrets).
        var result = type.GetProperty("Result")!.GetValue(outcome)!;
        var values = result.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.PropertyType == typeof(string) || p.PropertyType.IsPrimitive || p.PropertyType == typeof(Guid) || p.PropertyType == typeof(decimal) || p.PropertyType == typeof(DateTimeOffset))
            .Select(p => $"{p.Name} = {p.GetValue(result)}");
        var shown = string.Join(", ", values);
        return new RoleOutcome(role, version, true, null, shown.Length == 0 ? "succeeded" : "succeeded: " + shown) { Result = result };
    }

    private sealed class Cleanup : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _items = new();

        public void Add(IAsyncDisposable item) => _items.Add(item);

        public async ValueTask DisposeAsync()
        {
            foreach (var item in Enumerable.Reverse(_items))
            {
                try { await item.DisposeAsync().ConfigureAwait(false); }
                catch (Exception ex) when (ex is ObjectDisposedException or TransportException) { }
            }
        }
    }
}
