using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Stt;
using Dsl.Protocols.Tests.Mesh;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;
using Dsl.Runtime.Transports.Udp;
using Dsl.Runtime.AspNetCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Dsl.Tests.Shared;
using Xunit;

namespace Dsl.Protocols.Tests.Hosting;

/// <summary>
/// One host shape for every transport: options with any bind address and limits, StartAsync, and a StopAsync that
/// refuses new peers at once and lets the handshakes under way finish within a deadline, then cancels the rest.
/// </summary>
public sealed class HandshakeHostTests
{
    [Fact]
    public async Task A_tcp_host_on_every_interface_serves_Mesh_to_IPv4_and_IPv6_peers()
    {
        using var a = new Node();
        using var b = new Node();
        var served = new ConcurrentQueue<HandshakeOutcome<MeshResponderResult>>();
        await using var host = new TcpHandshakeHost(new HandshakeHostOptions { Host = "*" }, async (transport, ct) =>
        {
            var outcome = await b.Responder().RunAsync(transport, ct);
            served.Enqueue(outcome);
            if (outcome.Succeeded) await transport.CloseAsync(ct);
        });
        await host.StartAsync();
        var addresses = Socket.OSSupportsIPv6 ? new[] { IPAddress.Loopback, IPAddress.IPv6Loopback } : new[] { IPAddress.Loopback };
        foreach (var address in addresses)
        {
            await using var client = await TcpTransport.ConnectAsync(new IPEndPoint(address, host.LocalEndPoint.Port));
            var outcome = await a.Initiator().RunAsync(client);
            Assert.True(outcome.Succeeded, outcome.ToString());
        }
        await Eventually.HoldsAsync(() => served.Count == addresses.Length, TimeSpan.FromSeconds(10));
        Assert.All(served, o => Assert.True(o.Succeeded, o.ToString()));
    }

    [Fact]
    public async Task A_udp_host_on_every_interface_serves_STT()
    {
        var seed = new Bytes(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));
        await using var host = new UdpHandshakeHost<SttResponderResult>(new HandshakeHostOptions { Host = "*" },
            (transport, ct) => new SttResponder(new SttResponderInputs { NodeId = new Bytes(new byte[32]), SharedSeed = seed }).RunAsync(transport, ct));
        await host.StartAsync();
        await using var clientEndpoint = new UdpEndpoint();
        await using var client = new UdpHandshakeManager(clientEndpoint);
        var entry = client.Create(new IPEndPoint(IPAddress.Loopback, host.LocalEndPoint.Port),
            (transport, ct) => new SttInitiator(new SttInitiatorInputs { NodeId = new Bytes(Enumerable.Repeat((byte)1, 32).ToArray()), SharedSeed = seed }).RunAsync(transport, ct));
        var outcome = await entry.Outcome.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.True(outcome.Succeeded, outcome.ToString());
    }

    [Fact]
    public async Task A_graceful_stop_refuses_new_peers_and_lets_the_handshake_under_way_finish()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var host = new TcpHandshakeHost(new HandshakeHostOptions { StopTimeout = TimeSpan.FromSeconds(10) }, async (transport, ct) =>
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            await transport.ReceiveAsync(buffer, ct);
            received.TrySetResult();
            try
            {
                await release.Task.WaitAsync(ct);
                await transport.SendAsync("done"u8.ToArray(), ct);
                finished.TrySetResult("finished");
            }
            catch (OperationCanceledException)
            {
                finished.TrySetResult("cancelled");
            }
        });
        await host.StartAsync();
        var port = host.LocalEndPoint.Port;
        await using var inFlight = await TcpTransport.ConnectAsync(host.LocalEndPoint);
        await inFlight.SendAsync("hello"u8.ToArray());
        await received.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var stopping = host.StopAsync();
        // New peers are refused at once.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var late = await TcpTransport.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
            await late.SendAsync("late"u8.ToArray());
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            if (!await late.ReceiveAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5))) throw new InvalidOperationException("closed");
        });
        Assert.False(stopping.IsCompleted);
        release.TrySetResult();
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("finished", await finished.Task);
        var reply = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.True(await inFlight.ReceiveAsync(reply));
        Assert.Equal("done", Encoding.UTF8.GetString(reply.WrittenSpan));
    }

    [Fact]
    public async Task A_graceful_stop_cancels_what_is_still_running_at_its_deadline()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var host = new TcpHandshakeHost(new HandshakeHostOptions { StopTimeout = TimeSpan.FromMilliseconds(200) }, async (transport, ct) =>
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            await transport.ReceiveAsync(buffer, ct);
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            finally
            {
                cancelled.TrySetResult();
            }
        });
        await host.StartAsync();
        await using var stuck = await TcpTransport.ConnectAsync(host.LocalEndPoint);
        await stuck.SendAsync("hello"u8.ToArray());
        await Eventually.HoldsAsync(() => host.Listener.ActiveConnections == 1, TimeSpan.FromSeconds(10));
        var clock = Stopwatch.StartNew();
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stopped in {clock.Elapsed}");
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, host.Listener.ActiveConnections);
    }

    [Theory]
    [InlineData("not-an-address", "Host 'not-an-address' is not an IP address, 'localhost' or '*'.")]
    [InlineData("127.0.0.1", null)]
    [InlineData("[::1]", null)]
    [InlineData("localhost", null)]
    public void The_host_option_names_an_address_or_says_what_it_takes(string hostName, string? error)
    {
        var options = new HandshakeHostOptions { Host = hostName };
        if (error is null) Assert.NotNull(options.EndPoint());
        else Assert.Equal(error, Assert.Throws<FormatException>(() => options.EndPoint()).Message);
    }

}

/// <summary>Hosts registered the .NET way: options from configuration, started and stopped with the application.</summary>
public sealed class HandshakeHostRegistrationTests
{
    [Fact]
    public async Task A_host_registered_in_services_takes_its_options_from_configuration_and_serves_with_the_application()
    {
        using var a = new Node();
        using var b = new Node();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new System.Collections.Generic.Dictionary<string, string?>
        {
            ["Handshakes:Mesh:Host"] = "127.0.0.1",
            ["Handshakes:Mesh:Port"] = "0",
            ["Handshakes:Mesh:MaxHandshakesPerAddress"] = "3",
            ["Handshakes:Mesh:FirstByteTimeout"] = "00:00:02",
        });
        builder.Services.AddTcpHandshakeHost("Mesh", _ => async (transport, ct) =>
        {
            var outcome = await b.Responder().RunAsync(transport, ct);
            if (outcome.Succeeded) await transport.CloseAsync(ct);
        });
        using var app = builder.Build();
        await app.StartAsync();
        var host = app.Services.GetRequiredKeyedService<TcpHandshakeHost>("Mesh");
        Assert.Equal(3, host.Listener.MaxConnectionsPerAddress);
        Assert.Equal(TimeSpan.FromSeconds(2), host.Listener.FirstByteTimeout);

        await using (var client = await TcpTransport.ConnectAsync(host.LocalEndPoint))
        {
            var outcome = await a.Initiator().RunAsync(client);
            Assert.True(outcome.Succeeded, outcome.ToString());
        }
        await app.StopAsync();
        await Assert.ThrowsAnyAsync<SocketException>(async () => await (await TcpTransport.ConnectAsync(host.LocalEndPoint)).DisposeAsync());
    }

    [Fact]
    public async Task A_udp_handshake_table_registered_as_a_service_takes_its_options_from_configuration_and_serves()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new System.Collections.Generic.Dictionary<string, string?>
        {
            ["Handshakes:Stt:Host"] = "127.0.0.1",
            ["Handshakes:Stt:Port"] = "0",
            ["Handshakes:Stt:MaxConcurrentHandshakes"] = "10",
        });
        var seed = new Dsl.Runtime.Codecs.Bytes(System.Text.Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));
        var inputs = new Dsl.Protocols.Stt.SttResponderInputs { NodeId = new Dsl.Runtime.Codecs.Bytes(new byte[32]), SharedSeed = seed };
        var served = new TaskCompletionSource<HandshakeOutcome<Dsl.Protocols.Stt.SttResponderResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        builder.Services.AddUdpHandshakeTable<Dsl.Protocols.Stt.SttMessage, Dsl.Protocols.Stt.SttResponderResult>("Stt", _ => () => new Dsl.Protocols.Stt.SttResponder(inputs), Dsl.Protocols.Stt.SttCodec.Instance,
            _ => (_, outcome) => served.TrySetResult(outcome));
        using var app = builder.Build();
        await app.StartAsync();
        var table = app.Services.GetRequiredKeyedService<UdpHandshakeTable<Dsl.Protocols.Stt.SttMessage, Dsl.Protocols.Stt.SttResponderResult>>("Stt");

        await using (var clientEndpoint = new Dsl.Runtime.Transports.Udp.UdpEndpoint())
        await using (var client = new UdpHandshakeManager(clientEndpoint))
        {
            var entry = client.Create(table.LocalEndPoint, (transport, ct) =>
                new Dsl.Protocols.Stt.SttInitiator(new Dsl.Protocols.Stt.SttInitiatorInputs { NodeId = new Dsl.Runtime.Codecs.Bytes(new byte[32]), SharedSeed = seed }).RunAsync(transport, ct));
            Assert.True((await entry.Outcome.WaitAsync(TimeSpan.FromSeconds(30))).Succeeded);
        }
        Assert.True((await served.Task.WaitAsync(TimeSpan.FromSeconds(10))).Succeeded);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_tcp_handshake_table_registered_as_a_service_takes_its_options_from_configuration_and_serves()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new System.Collections.Generic.Dictionary<string, string?>
        {
            ["Handshakes:Mesh:Host"] = "127.0.0.1",
            ["Handshakes:Mesh:Port"] = "0",
            ["Handshakes:Mesh:MaxConcurrentHandshakes"] = "10",
        });
        using var a = new Node();
        using var b = new Node();
        var served = new TaskCompletionSource<HandshakeOutcome<MeshResponderResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        builder.Services.AddTcpHandshakeTable<MeshMessage, MeshResponderResult>("Mesh", _ => () => b.Responder(), MeshCodec.Instance,
            services => (peer, outcome, transport) =>
            {
                if (transport is not null) _ = transport.DisposeAsync().AsTask();
                served.TrySetResult(outcome);
            });
        using var app = builder.Build();
        await app.StartAsync();
        var table = app.Services.GetRequiredKeyedService<TcpHandshakeTable<MeshMessage, MeshResponderResult>>("Mesh");

        await using (var client = await TcpTransport.ConnectAsync(table.LocalEndPoint))
            Assert.True((await a.Initiator().RunAsync(client)).Succeeded);
        Assert.True((await served.Task.WaitAsync(TimeSpan.FromSeconds(10))).Succeeded);
        await app.StopAsync();
        await Assert.ThrowsAnyAsync<SocketException>(async () => await (await TcpTransport.ConnectAsync(table.LocalEndPoint)).DisposeAsync());
    }

    [Fact]
    public void Step_and_handshake_timeouts_come_from_configuration_and_override_the_specs_only_where_set()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new System.Collections.Generic.Dictionary<string, string?> { ["Handshakes:Mesh:StepTimeout"] = "00:00:02" });
        builder.Services.AddTcpHandshakeHost("Mesh", _ => (_, _) => Task.CompletedTask);
        using var app = builder.Build();
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<HandshakeHostOptions>>().Get("Mesh");
        Assert.Equal(TimeSpan.FromSeconds(2), options.StepTimeout);
        Assert.Null(options.HandshakeTimeout);

        var applied = options.Apply(MeshResponder.DefaultOptions);
        Assert.Equal(TimeSpan.FromSeconds(2), applied.StepTimeout);
        Assert.Equal(MeshResponder.DefaultOptions.HandshakeTimeout, applied.HandshakeTimeout);
        Assert.Same(MeshResponder.DefaultOptions, new HandshakeHostOptions().Apply(MeshResponder.DefaultOptions));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HandshakeHostOptions { HandshakeTimeout = TimeSpan.Zero }.Validate());
    }

    [Fact]
    public async Task A_host_step_timeout_ends_a_silent_Mesh_peer_sooner_than_the_spec_would()
    {
        using var b = new Node();
        var options = new HandshakeHostOptions { Port = 0, StepTimeout = TimeSpan.FromMilliseconds(300), FirstByteTimeout = null };
        var outcome = new TaskCompletionSource<HandshakeOutcome<MeshResponderResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = new TcpHandshakeHost(options, async (transport, ct) => outcome.TrySetResult(await b.Responder(options.Apply(MeshResponder.DefaultOptions)).RunAsync(transport, ct)));
        await host.StartAsync();
        await using var silent = await TcpTransport.ConnectAsync(host.LocalEndPoint);
        var clock = Stopwatch.StartNew();
        var result = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HandshakeErrorCodes.StepTimeout, result.Error?.Code);
        Assert.True(clock.Elapsed < MeshResponder.DefaultOptions.StepTimeout, $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Options_that_name_no_address_stop_the_application_from_starting_and_say_where()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new System.Collections.Generic.Dictionary<string, string?> { ["Handshakes:Mesh:Host"] = "nowhere" });
        builder.Services.AddTcpHandshakeHost("Mesh", _ => (_, _) => Task.CompletedTask);
        using var app = builder.Build();
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("Handshakes:Mesh: Host 'nowhere' is not an IP address, 'localhost' or '*'.", error.Message);
    }
}
