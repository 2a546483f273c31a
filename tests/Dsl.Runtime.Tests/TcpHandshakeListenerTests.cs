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
        });
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
        await using var listener = new TcpHandshakeListener(handler.HandleAsync) { MaxConnectionsPerAddress = 2 };
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
        await using var listener = new TcpHandshakeListener(handler.HandleAsync) { MaxConcurrentConnections = 1 };
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
        });
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
