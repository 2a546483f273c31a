using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;
using Xunit;

namespace Dsl.Runtime.Tests;

public sealed class TcpHandshakeListenerTests
{
    /// <summary>A handler that says hello, then holds the connection until the test lets go or the listener stops.</summary>
    private sealed class HoldingHandler
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _running;

        public int Running => Volatile.Read(ref _running);

        public void Release() => _release.TrySetResult();

        public async Task HandleAsync(IMessageTransport transport, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _running);
            try
            {
                await transport.SendStringAsync("welcome", cancellationToken);
                await _release.Task.WaitAsync(cancellationToken);
                await transport.CloseAsync(cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }

    private static async Task<TcpMessageTransport> ConnectFromAsync(IPAddress localAddress, IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(localAddress, 0));
            await socket.ConnectAsync(server);
            return new TcpMessageTransport(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A refused connection is reset as soon as it is accepted; depending on how fast that reset
    /// comes back, the client's connect or its first receive fails.
    /// </summary>
    private static async Task AssertRefusedAsync(Func<Task<TcpMessageTransport>> connect)
    {
        TcpMessageTransport client;
        try
        {
            client = await connect().WaitAsync(Wait.Long);
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.ConnectionReset)
        {
            return;
        }
        await using (client)
        {
            var refused = await Assert.ThrowsAsync<TransportException>(() => client.ReceiveStringAsync().WaitAsync(Wait.Long));
            Assert.Equal(TransportError.ConnectionReset, refused.Error);
        }
    }

    [Fact]
    public async Task Handlers_run_concurrently()
    {
        const int Clients = 5;
        var inside = 0;
        var allInside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = new TcpHandshakeListener(async (transport, ct) =>
        {
            // Every handler waits for all the others: handlers run one at a time would never get here.
            if (Interlocked.Increment(ref inside) == Clients) allInside.TrySetResult();
            await allInside.Task.WaitAsync(ct);
            await transport.SendStringAsync("all in", ct);
            await transport.CloseAsync(ct);
        }) { FirstByteTimeout = null }; // this server speaks first
        listener.Start();

        var clients = await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => TcpTransport.ConnectAsync(listener.LocalEndPoint)));
        try
        {
            foreach (var client in clients)
            {
                Assert.Equal("all in", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
                Assert.Null(await client.ReceiveStringAsync().WaitAsync(Wait.Long));
            }
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
        await Wait.UntilAsync(() => listener.ActiveConnections == 0, "every connection is released");
    }

    [Fact]
    public async Task Connections_beyond_the_per_address_limit_are_reset_while_other_addresses_still_get_in()
    {
        var handler = new HoldingHandler();
        await using var listener = new TcpHandshakeListener(handler.HandleAsync) { MaxConnectionsPerAddress = 2, FirstByteTimeout = null };
        listener.Start();

        await using var first = await TcpTransport.ConnectAsync(listener.LocalEndPoint);
        await using var second = await TcpTransport.ConnectAsync(listener.LocalEndPoint);
        Assert.Equal("welcome", await first.ReceiveStringAsync().WaitAsync(Wait.Long));
        Assert.Equal("welcome", await second.ReceiveStringAsync().WaitAsync(Wait.Long));

        await AssertRefusedAsync(() => TcpTransport.ConnectAsync(listener.LocalEndPoint));
        await Wait.UntilAsync(() => listener.RejectedConnections == 1, "the listener counts the refusal");
        Assert.Equal(2, handler.Running);

        // Another loopback address has its own allowance.
        await using var elsewhere = await ConnectFromAsync(IPAddress.Parse("127.0.0.2"), listener.LocalEndPoint);
        Assert.Equal("welcome", await elsewhere.ReceiveStringAsync().WaitAsync(Wait.Long));

        // A slot that frees up is available again.
        handler.Release();
        Assert.Null(await first.ReceiveStringAsync().WaitAsync(Wait.Long));
        await Wait.UntilAsync(() => listener.ActiveConnections == 0, "the held connections are released");
        await using var later = await TcpTransport.ConnectAsync(listener.LocalEndPoint);
        Assert.Equal("welcome", await later.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task Connections_beyond_the_overall_limit_are_reset()
    {
        var handler = new HoldingHandler();
        await using var listener = new TcpHandshakeListener(handler.HandleAsync) { MaxConcurrentConnections = 1, FirstByteTimeout = null };
        listener.Start();

        await using var first = await TcpTransport.ConnectAsync(listener.LocalEndPoint);
        Assert.Equal("welcome", await first.ReceiveStringAsync().WaitAsync(Wait.Long));

        await AssertRefusedAsync(() => ConnectFromAsync(IPAddress.Parse("127.0.0.2"), listener.LocalEndPoint));
        await Wait.UntilAsync(() => listener.RejectedConnections == 1, "the listener counts the refusal");
        handler.Release();
    }

    [Fact]
    public async Task Disposing_the_listener_ends_every_handler_before_it_returns()
    {
        var started = 0;
        var finished = new ConcurrentBag<string>();
        var listener = new TcpHandshakeListener(async (transport, ct) =>
        {
            var kind = Interlocked.Increment(ref started) switch { 1 => "delay", 2 => "receive-with-token", _ => "receive-without-token" };
            try
            {
                await transport.SendStringAsync("started", ct);
                switch (kind)
                {
                    case "delay":
                        await Task.Delay(Timeout.Infinite, ct);
                        break;
                    case "receive-with-token":
                        await transport.ReceiveStringAsync(ct);
                        break;
                    default:
                        // Ignores the token: only the transport's abort wakes it.
                        await transport.ReceiveStringAsync(CancellationToken.None);
                        break;
                }
            }
            finally
            {
                finished.Add(kind);
            }
        }) { FirstByteTimeout = null };
        listener.Start();
        var clients = new TcpMessageTransport[3];
        for (var i = 0; i < clients.Length; i++)
        {
            // One at a time, so each handler knows its kind before the next arrives.
            clients[i] = await TcpTransport.ConnectAsync(listener.LocalEndPoint);
            Assert.Equal("started", await clients[i].ReceiveStringAsync().WaitAsync(Wait.Long));
        }

        await listener.DisposeAsync().AsTask().WaitAsync(Wait.Long);

        Assert.Equal(new[] { "delay", "receive-with-token", "receive-without-token" }, finished.Order());
        Assert.Equal(0, listener.ActiveConnections);
        foreach (var client in clients)
        {
            var error = await Assert.ThrowsAsync<TransportException>(() => client.ReceiveStringAsync().WaitAsync(Wait.Long));
            Assert.Equal(TransportError.ConnectionReset, error.Error);
            await client.DisposeAsync();
        }
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_failing_handler_is_reported_and_the_listener_keeps_serving()
    {
        var errors = new ConcurrentQueue<Exception>();
        var calls = 0;
        await using var listener = new TcpHandshakeListener(async (transport, ct) =>
        {
            var message = await transport.ReceiveStringAsync(ct);
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("handler bug");
            await transport.SendStringAsync("fine after " + message, ct);
            await transport.CloseAsync(ct);
        }, onError: errors.Enqueue);
        listener.Start();

        await using (var first = await TcpTransport.ConnectAsync(listener.LocalEndPoint))
        {
            await first.SendStringAsync("first");
            // The handler returned without closing: the transport was disposed, which resets the connection.
            var error = await Assert.ThrowsAsync<TransportException>(() => first.ReceiveStringAsync().WaitAsync(Wait.Long));
            Assert.Equal(TransportError.ConnectionReset, error.Error);
        }
        await using var second = await TcpTransport.ConnectAsync(listener.LocalEndPoint);
        await second.SendStringAsync("second");
        Assert.Equal("fine after second", await second.ReceiveStringAsync().WaitAsync(Wait.Long));

        Assert.Equal("handler bug", Assert.Single(errors).Message);
    }

    /// <summary>A handler for a client that speaks first: answers the first message, then closes.</summary>
    private static async Task EchoOnceAsync(IMessageTransport transport, CancellationToken cancellationToken)
    {
        var message = await transport.ReceiveStringAsync(cancellationToken);
        await transport.SendStringAsync("served: " + message, cancellationToken);
        await transport.CloseAsync(cancellationToken);
    }

    private static async Task<Socket> SilentFromAsync(IPAddress localAddress, IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(localAddress, 0));
        await socket.ConnectAsync(server);
        return socket;
    }

    [Fact]
    public async Task A_connection_that_sends_nothing_is_reset_at_the_first_byte_timeout_without_running_the_handler()
    {
        var ran = 0;
        await using var listener = new TcpHandshakeListener((t, ct) => { Interlocked.Increment(ref ran); return EchoOnceAsync(t, ct); })
        {
            FirstByteTimeout = TimeSpan.FromMilliseconds(300),
        };
        listener.Start();
        using var silent = await SilentFromAsync(IPAddress.Loopback, listener.LocalEndPoint);
        await Wait.UntilAsync(() => listener.ActiveConnections == 1, "the silent connection holds a slot");
        await Wait.UntilAsync(() => listener.ActiveConnections == 0 && listener.IdleConnectionsClosed == 1, "the silent connection is closed");
        Assert.Equal(0, Volatile.Read(ref ran));
        // And the peer sees the connection end.
        var buffer = new byte[1];
        try
        {
            Assert.Equal(0, await silent.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Wait.Long));
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    [Fact]
    public async Task A_flood_of_silent_connections_from_a_few_addresses_does_not_shut_out_a_client_from_another()
    {
        // The hostile peer's flood in small: 4 addresses with 4 silent connections each fill all 16 slots.
        await using var listener = new TcpHandshakeListener(EchoOnceAsync) { MaxConcurrentConnections = 16, MaxConnectionsPerAddress = 4, FirstByteTimeout = TimeSpan.FromSeconds(30) };
        listener.Start();
        var flood = new System.Collections.Generic.List<Socket>();
        try
        {
            for (var a = 2; a < 6; a++)
                for (var i = 0; i < 4; i++)
                    flood.Add(await SilentFromAsync(IPAddress.Parse($"127.0.0.{a}"), listener.LocalEndPoint));
            await Wait.UntilAsync(() => listener.ActiveConnections == 16, "the flood holds every slot");

            // A client from a clean address is served all the same: a silent connection of a busy address gives way.
            for (var c = 0; c < 3; c++)
            {
                await using var client = await ConnectFromAsync(IPAddress.Parse($"127.0.1.{c + 1}"), listener.LocalEndPoint);
                await client.SendStringAsync("legitimate");
                Assert.Equal("served: legitimate", await client.ReceiveStringAsync().WaitAsync(Wait.Long));
            }
            Assert.True(listener.EvictedConnections >= 1, "a silent connection gave way");
        }
        finally
        {
            foreach (var socket in flood) socket.Dispose();
        }
    }

    [Fact]
    public async Task An_address_the_block_list_refuses_is_reset_at_accept_before_it_holds_a_slot()
    {
        var blocked = new Dsl.Runtime.Services.InMemoryAddressBlockList();
        await blocked.RecordFailureAsync("127.0.0.7", DateTimeOffset.UtcNow, 1, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1), default);
        var ran = 0;
        await using var listener = new TcpHandshakeListener((t, ct) => { Interlocked.Increment(ref ran); return EchoOnceAsync(t, ct); }) { BlockList = blocked };
        listener.Start();

        await AssertRefusedAsync(() => ConnectFromAsync(IPAddress.Parse("127.0.0.7"), listener.LocalEndPoint));
        await Wait.UntilAsync(() => listener.RejectedConnections == 1, "the listener counts the refusal");
        Assert.Equal(0, listener.ActiveConnections);
        Assert.Equal(0, Volatile.Read(ref ran));

        await using var other = await ConnectFromAsync(IPAddress.Parse("127.0.0.8"), listener.LocalEndPoint);
        await other.SendStringAsync("hello");
        Assert.Equal("served: hello", await other.ReceiveStringAsync().WaitAsync(Wait.Long));
    }

    [Fact]
    public async Task A_listener_on_any_IPv6_address_serves_IPv4_and_IPv6_clients()
    {
        if (!Socket.OSSupportsIPv6) return;
        await using var listener = new TcpHandshakeListener(EchoOnceAsync) { Address = IPAddress.IPv6Any };
        listener.Start();
        foreach (var address in new[] { IPAddress.Loopback, IPAddress.IPv6Loopback })
        {
            await using var client = await TcpTransport.ConnectAsync(new IPEndPoint(address, listener.LocalEndPoint.Port));
            await client.SendStringAsync("over " + address.AddressFamily);
            Assert.Equal("served: over " + address.AddressFamily, await client.ReceiveStringAsync().WaitAsync(Wait.Long));
        }
    }

    [Fact]
    public async Task The_listener_reports_its_state_and_refuses_misuse()
    {
        var listener = new TcpHandshakeListener((_, _) => Task.CompletedTask);
        Assert.Throws<InvalidOperationException>(() => listener.LocalEndPoint);
        listener.Start();
        Assert.Equal(IPAddress.Loopback, listener.LocalEndPoint.Address);
        Assert.NotEqual(0, listener.LocalEndPoint.Port);
        Assert.Throws<InvalidOperationException>(listener.Start);
        await listener.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(listener.Start);
    }
}
