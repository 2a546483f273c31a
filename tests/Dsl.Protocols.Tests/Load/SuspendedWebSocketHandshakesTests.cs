using System;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Ltp;
using Dsl.Protocols.Tests.Stt;
using Dsl.Runtime.AspNetCore;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Dsl.Tests.Shared;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Protocols.Tests.Load;

/// <summary>
/// Many suspended LTP handshakes on a Kestrel WebSocket endpoint (<c>MapHandshake</c>, a task per connection): each
/// client upgrades and says nothing, so the server's handshake waits for handshake_init. What each costs beyond its
/// WebSocket connection is measured against as many bare WebSocket connections on the same server, each accepted by a
/// plain ASP.NET Core handler waiting for a message. The clients run in a process of their own
/// (<see cref="LoadClients"/>). 2,000 in CI; <c>DSL_LOAD_FULL=1</c> for 10,000 (a process here may hold 20,000
/// descriptors). The figure goes to docs/hostile-load.md; DIRECTION's kilobyte names STT over UDP and Mesh over TCP,
/// not this host, which keeps a task, a driver and a timer per connection.
/// </summary>
[Collection(ProcessWide.Name)]
public sealed class SuspendedWebSocketHandshakesTests(ITestOutputHelper output)
{
    private static int Count => Environment.GetEnvironmentVariable("DSL_LOAD_FULL") == "1" ? 10_000 : 2_000;

    [Fact]
    public async Task A_kestrel_endpoint_holds_each_suspended_LTP_handshake_and_the_bytes_it_takes_beyond_its_websocket_are_measured()
    {
        var count = Count;
        // The server's configuration, one for all its handshakes, as an application has it.
        var patient = LtpServer.DefaultOptions with { StepTimeout = TimeSpan.FromMinutes(10), HandshakeTimeout = TimeSpan.FromMinutes(10) };
        var inputs = new LtpServerInputs { ServerCapabilities = new[] { "ping-pong" }, HeartbeatIntervalMs = 15000 };
        var services = new LtpServerServices { Threads = new InMemoryThreadStore() };
        var handshakes = 0;
        var ended = 0;
        string? firstEnded = null;
        var bare = 0;

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Limits.MaxConcurrentConnections = 3 * count;
            kestrel.Limits.MaxConcurrentUpgradedConnections = 3 * count;
        });
        builder.Logging.ClearProviders();
        await using var app = builder.Build();
        app.UseWebSockets();
        app.MapHandshake("/ltp", async (transport, _, cancellationToken) =>
        {
            var server = new LtpServer(inputs, services, patient);
            Interlocked.Increment(ref handshakes);
            var outcome = await server.RunAsync(transport, cancellationToken);
            if (Interlocked.Increment(ref ended) == 1) firstEnded = outcome.ToString();
        });
        // The baseline: the same upgrade and a wait for a message, without the runtime.
        app.Map("/bare", async context =>
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            Interlocked.Increment(ref bare);
            try
            {
                await socket.ReceiveAsync(Memory<byte>.Empty, context.RequestAborted);
            }
            catch (Exception exception) when (exception is OperationCanceledException or System.Net.WebSockets.WebSocketException or System.IO.IOException)
            {
                // The client left.
            }
        });
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First()).Port;

        // The connections' own cost, first: once untimed, so that Kestrel's and the socket engine's tables and pools
        // grow to the size measured, then measured.
        await BareConnectionsAsync(port, count, 4 * count, () => Volatile.Read(ref bare));
        var connection = await BareConnectionsAsync(port, count, count, () => Volatile.Read(ref bare));

        // A tenth as many handshakes, untimed, so that first-use costs (the JIT, the buffer pool) are not counted; and
        // until what they held is collected.
        await using (await LoadClients.WebSocketAsync(port, "/ltp", count / 10, 3 * count))
            await Eventually.HoldsAsync(() => Volatile.Read(ref handshakes) == count / 10, TimeSpan.FromSeconds(60));
        await Eventually.HoldsAsync(() => Volatile.Read(ref ended) == count / 10, TimeSpan.FromSeconds(60));
        await ManagedHeap.SettledAsync();
        handshakes = 0;
        ended = 0;
        firstEnded = null;

        var before = ManagedHeap.Reachable();
        var clock = Stopwatch.StartNew();
        long after;
        TimeSpan elapsed;
        await using (await LoadClients.WebSocketAsync(port, "/ltp", count, 0))
        {
            await Eventually.HoldsAsync(() => Volatile.Read(ref handshakes) == count, TimeSpan.FromSeconds(60));
            elapsed = clock.Elapsed;
            // Each handler reaches its wait for handshake_init just after it is counted.
            await Task.Delay(200);
            after = ManagedHeap.Reachable();
            Assert.True(Volatile.Read(ref ended) == 0, firstEnded);
            Assert.Equal(count, Volatile.Read(ref handshakes));
        }
        // Every client has left; each handshake ends (peer_closed).
        await Eventually.HoldsAsync(() => Volatile.Read(ref ended) == count, TimeSpan.FromSeconds(60));
        Assert.Equal(count, Volatile.Read(ref ended));

        var each = (after - before) / count - connection;
        output.WriteLine($"{count:N0} bare WebSocket connections on Kestrel (the server's end, its handler waiting for a message; the clients in another process): {connection:N0} bytes each");
        output.WriteLine($"{count:N0} LTP servers waiting for handshake_init on one Kestrel endpoint, made in {elapsed.TotalSeconds:0.0} s: managed memory "
            + $"{before / 1048576} MiB -> {after / 1048576} MiB, {(after - before) / count:N0} bytes per connection, "
            + $"{each:N0} bytes per suspended handshake beyond its WebSocket connection (the transport, the driver's task, "
            + "timer and buffers, the machine)");
        // Measured, not a target (see the summary): the bound only catches a leak of a buffer or more per handshake.
        Assert.InRange(each, 1, 16 * 1024);
    }

    /// <summary>
    /// <paramref name="count"/> bare WebSocket connections, held while the heap is read: bytes per connection, the
    /// server's end alone (the clients are in another process).
    /// </summary>
    private static async Task<long> BareConnectionsAsync(int port, int count, int firstAddress, Func<int> accepted)
    {
        await ManagedHeap.SettledAsync();
        var start = accepted();
        var before = ManagedHeap.Reachable();
        await using (await LoadClients.WebSocketAsync(port, "/bare", count, firstAddress))
        {
            await Eventually.HoldsAsync(() => accepted() - start == count, TimeSpan.FromSeconds(60));
            await Task.Delay(200);
            return (ManagedHeap.Reachable() - before) / count;
        }
    }

}
