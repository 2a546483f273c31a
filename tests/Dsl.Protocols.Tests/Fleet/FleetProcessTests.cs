using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Tests.Mesh;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Transports.Tcp;
using Dsl.Tests.Shared;
using Npgsql;
using Xunit;

namespace Dsl.Protocols.Tests.Fleet;

/// <summary>
/// Two Mesh server processes (the demo's <c>serve mesh --postgres</c>) on loopback, sharing one PostgreSQL: a nonce one
/// of them saw is a replay at the other, and an address one of them blocked is refused by the other at accept.
/// </summary>
public sealed class FleetProcessTests
{
    private sealed class Server : IAsyncDisposable
    {
        private readonly Process _process;
        public ConcurrentQueue<string> Log { get; } = new();
        public IPEndPoint EndPoint { get; private set; } = null!;

        private Server(Process process) => _process = process;

        public static async Task<Server> StartAsync(string data, string postgres)
        {
            var here = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
            var demo = here.Replace(Path.Combine("tests", "Dsl.Protocols.Tests"), Path.Combine("samples", "Demo")) + Path.DirectorySeparatorChar + "Demo.dll";
            Assert.True(File.Exists(demo), $"the demo is built beside the tests: {demo}");
            var start = new ProcessStartInfo("dotnet", new[] { demo, "serve", "mesh", "--port", "0", "--data", data, "--postgres", postgres })
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            var server = new Server(Process.Start(start)!);
            var serving = new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
            server._process.OutputDataReceived += (_, line) =>
            {
                if (line.Data is null) return;
                server.Log.Enqueue(line.Data);
                var match = Regex.Match(line.Data, @"tcp://127\.0\.0\.1:(\d+)");
                if (match.Success) serving.TrySetResult(new IPEndPoint(IPAddress.Loopback, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
            };
            server._process.BeginOutputReadLine();
            server.EndPoint = await serving.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }

    private static async Task<string> FreshDatabaseAsync()
    {
        var name = "fleet_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(PostgreSqlCluster.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(PostgreSqlCluster.ConnectionString) { Database = name }.ConnectionString;
    }

    private static async Task<TcpMessageTransport> ConnectFromAsync(string source, IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        await socket.ConnectAsync(server);
        return new TcpMessageTransport(socket);
    }

    [Fact]
    public async Task Two_server_processes_on_one_PostgreSQL_share_replays_and_blocks()
    {
        var postgres = await FreshDatabaseAsync();
        var root = Path.Combine(Path.GetTempPath(), "dsl-fleet-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await using var a = await Server.StartAsync(Path.Combine(root, "a"), postgres);
            await using var b = await Server.StartAsync(Path.Combine(root, "b"), postgres);
            using var node = new Node();

            // A nonce A saw is a replay at B.
            RecordingTransport recorder;
            await using (var toA = await ConnectFromAsync("127.0.0.21", a.EndPoint))
            {
                recorder = new RecordingTransport(toA);
                Assert.True((await node.Initiator().RunAsync(recorder)).Succeeded);
            }
            await using (var toB = await ConnectFromAsync("127.0.0.22", b.EndPoint))
            {
                await Raw.SendAsync(toB, recorder.Sent[0].GetRawText());
                await Raw.AssertClosedAsync(toB);
            }
            await WaitForAsync(() => b.Log.ToArray(), "REPLAY");

            // An address A blocks (three failures) is refused by B at accept.
            var skewed = MeshInitiator.DefaultOptions with { TimeProvider = new OffsetTimeProvider(TimeSpan.FromSeconds(1000)) };
            for (var i = 0; i < 3; i++)
            {
                await using var toA = await ConnectFromAsync("127.0.0.23", a.EndPoint);
                Assert.False((await node.Initiator(skewed).RunAsync(toA)).Succeeded);
            }
            var refused = false;
            try
            {
                await using var toB = await ConnectFromAsync("127.0.0.23", b.EndPoint);
                refused = !(await node.Initiator().RunAsync(toB)).Succeeded;
            }
            catch (SocketException)
            {
                refused = true;
            }
            Assert.True(refused, "B refuses the address A blocked");
            await using (var fromElsewhere = await ConnectFromAsync("127.0.0.24", b.EndPoint))
                Assert.True((await node.Initiator().RunAsync(fromElsewhere)).Succeeded);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task WaitForAsync(Func<string[]> log, string text)
    {
        var clock = Stopwatch.StartNew();
        while (!Array.Exists(log(), line => line.Contains(text, StringComparison.Ordinal)))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(15)) throw new TimeoutException($"'{text}' not in the log:\n{string.Join("\n", log())}");
            await Task.Delay(20);
        }
    }
}
