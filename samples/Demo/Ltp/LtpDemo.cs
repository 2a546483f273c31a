using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Ltp;
using Dsl.Runtime.AspNetCore;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.WebSockets;

namespace Dsl.Samples.Demo.Ltp;

/// <summary>LTP v0.2 over a real WebSocket on Kestrel: a new thread, a resume, and a rejected resume that falls back.</summary>
public static class LtpDemo
{
    /// <summary>The server's configuration in the demo; a short heartbeat so that pings show in the transcript.</summary>
    public static LtpServerInputs DemoServerInputs(long heartbeatIntervalMs = 15000) => new()
    {
        ServerCapabilities = new[] { "basic-state-update", "ping-pong", "events" },
        HeartbeatIntervalMs = heartbeatIntervalMs,
        Metadata = Dsl.Runtime.Codecs.Metadata.Create(("server_version", "0.1.0"), ("region", "local")),
    };

    /// <summary>Builds a server that runs the LTP server role, then its heartbeat session, for each connection to <c>/ltp</c>.</summary>
    public static HandshakeServer CreateServer(HandshakeHostOptions options, LtpServerInputs inputs, IThreadStore threads, TextWriter log)
    {
        var server = new HandshakeServer(options);
        server.MapHandshake("/ltp", async (transport, http, cancellationToken) =>
        {
            var machine = new LtpServer(inputs, new LtpServerServices { Threads = threads }, options.Apply(LtpServer.DefaultOptions));
            var outcome = await machine.RunAsync(transport, cancellationToken).ConfigureAwait(false);
            if (!outcome.Succeeded)
            {
                Write(log, $"    [server] handshake with {transport.RemoteAddress} failed: {outcome.Error}");
                return;
            }
            var result = outcome.Result;
            Write(log, $"    [server] {(result.Resumed ? "resumed" : "opened")} thread {result.ThreadId} for '{result.ClientId}', session {result.SessionId}");
            await using var session = machine.StartSession(transport, cancellationToken: cancellationToken);
            var end = await session.Completion.ConfigureAwait(false);
            Write(log, $"    [server] session {result.SessionId} ended: {end.Reason} (answered {session.PingsAnswered} pings)");
        });
        return server;
    }

    /// <summary>Runs the three scenarios against a server on a free loopback port; true when each behaved as the spec says.</summary>
    public static async Task<bool> RunAsync(TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine("== LTP v0.2 over WebSocket (Kestrel on 127.0.0.1) ==");
        var threads = new InMemoryThreadStore();
        await using var server = CreateServer(new HandshakeHostOptions(), DemoServerInputs(heartbeatIntervalMs: 200), threads, output);
        await server.StartAsync(cancellationToken).ConfigureAwait(false);
        var uri = server.GetUri("/ltp");
        output.WriteLine($"Server listening at {uri}");
        var ok = true;

        // 1. A client with nothing saved starts a new thread, then pings until two pongs have come back.
        var saved = new InMemoryValueStore<Guid>();
        var inputs = new LtpClientInputs
        {
            ClientId = "550e8400-e29b-41d4-a716-446655440000",
            DeviceFingerprint = "demo-dotnet",
            Intent = "resonant_link",
            Capabilities = new[] { "state-update", "events", "ping-pong" },
        };
        output.WriteLine();
        output.WriteLine("1. New client: handshake_init, then heartbeat");
        var first = await ConnectAsync(uri, inputs, saved, output, cancellationToken).ConfigureAwait(false);
        ok &= Claims.Expect(output, first is { Resumed: false }, "a new thread was opened");

        // 2. The same client reconnects: it has the thread id saved, so it resumes.
        output.WriteLine();
        output.WriteLine("2. Same client reconnects: handshake_resume");
        var second = await ConnectAsync(uri, inputs with { ResumeReason = "app_reconnect" }, saved, output, cancellationToken).ConfigureAwait(false);
        ok &= Claims.Expect(output, second is { Resumed: true } && second.ThreadId == first?.ThreadId && second.SessionId != first?.SessionId,
            "the thread was resumed with a fresh session id");

        // 3. A client whose saved thread the server never issued is rejected and falls back to init by itself.
        output.WriteLine();
        output.WriteLine("3. Client with an unknown saved thread: handshake_resume, handshake_reject, then handshake_init");
        var stale = new InMemoryValueStore<Guid>();
        var unknownThread = Uuid.NewV4();
        await stale.SetAsync("android-liminal-001", unknownThread, cancellationToken).ConfigureAwait(false);
        var third = await ConnectAsync(uri, new LtpClientInputs { ClientId = "android-liminal-001" }, stale, output, cancellationToken).ConfigureAwait(false);
        var savedNow = await stale.GetAsync("android-liminal-001", cancellationToken).ConfigureAwait(false);
        ok &= Claims.Expect(output, third is { Resumed: false } && third.ThreadId != unknownThread && savedNow == third.ThreadId,
            "the client fell back to a new thread and saved its id");
        return ok;
    }

    private static async Task<LtpClientResult?> ConnectAsync(Uri uri, LtpClientInputs inputs, IValueStore<Guid> saved, TextWriter output, CancellationToken cancellationToken)
    {
        var socket = await WebSocketTransport.ConnectAsync(uri, cancellationToken: cancellationToken).ConfigureAwait(false);
        var transport = new TranscriptTransport(socket, output, "client", "server");
        var client = new LtpClient(inputs, new LtpClientServices { SavedThreads = saved });
        var outcome = await client.RunAsync(transport, cancellationToken).ConfigureAwait(false);
        if (!outcome.Succeeded)
        {
            Write(output, $"    [client] handshake failed: {outcome.Error}");
            return null;
        }
        var result = outcome.Result;
        Write(output, $"    [client] thread {result.ThreadId}, session {result.SessionId}, resumed: {result.Resumed}, heartbeat every {result.HeartbeatIntervalMs} ms");
        await using (var session = client.StartSession(transport, cancellationToken: cancellationToken))
        {
            var clock = Stopwatch.StartNew();
            while (session.PongsReceived < 2 && clock.Elapsed < TimeSpan.FromSeconds(10) && !session.Completion.IsCompleted)
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            Write(output, $"    [client] {session.PongsReceived} pongs received; closing");
        }
        return result;
    }

    /// <summary>One client handshake against a server on 127.0.0.1:<paramref name="port"/>; 0 when it succeeds.</summary>
    public static async Task<int> ConnectOnceAsync(int port, TextWriter output, CancellationToken cancellationToken)
    {
        var inputs = new LtpClientInputs { ClientId = "demo-" + Environment.MachineName };
        var result = await ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ltp"), inputs, new InMemoryValueStore<Guid>(), output, cancellationToken).ConfigureAwait(false);
        return result is null ? 1 : 0;
    }

    /// <summary>Serves LTP until cancelled (Ctrl+C).</summary>
    public static async Task<int> ServeAsync(HandshakeHostOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        await using var server = CreateServer(options, DemoServerInputs(), new InMemoryThreadStore(), output);
        await server.StartAsync(cancellationToken).ConfigureAwait(false);
        output.WriteLine($"Serving LTP v0.2 at {server.GetUri("/ltp")} (Ctrl+C to stop)");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        output.WriteLine("Stopped.");
        return 0;
    }


    private static void Write(TextWriter output, string line)
    {
        lock (output) output.WriteLine(line);
    }
}
