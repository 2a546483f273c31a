using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports.Udp;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Protocols.Tests.Stt;

/// <summary>Tests that count what the whole process does (exceptions thrown), so nothing runs beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWide
{
    public const string Name = "Process-wide counts";
}

/// <summary>
/// The success path of STT over the UDP host throws no exception, first-chance or not, on either side: not for the
/// retry, the handshake, the linger that answers late retransmissions, nor the release of the peer afterwards.
/// </summary>
[Collection(ProcessWide.Name)]
public sealed class SttUdpSuccessPathTests(ITestOutputHelper output)
{
    private static readonly Bytes Seed = new(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));

    private static readonly UdpHandshakeOptions Options = new() { Linger = TimeSpan.FromMilliseconds(200) };

    [Fact]
    public async Task Successful_handshakes_over_the_udp_host_throw_no_exception()
    {
        await using var serverEndpoint = new UdpEndpoint();
        await using var server = new UdpHandshakeManager(serverEndpoint, Options);
        var served = 0;
        server.Serve(
            (transport, ct) => new SttResponder(new SttResponderInputs { NodeId = new Bytes(new byte[32]), SharedSeed = Seed }).RunAsync(transport, ct),
            (_, outcome) => { if (outcome.Succeeded) Interlocked.Increment(ref served); });
        await AssertNoExceptionAsync(serverEndpoint.LocalEndPoint, () => server.Handshakes.Count == 0, () => Volatile.Read(ref served));
    }

    [Fact]
    public async Task Successful_handshakes_against_the_udp_handshake_table_throw_no_exception()
    {
        var served = 0;
        var inputs = new SttResponderInputs { NodeId = new Bytes(new byte[32]), SharedSeed = Seed };
        await using var table = new UdpHandshakeTable<SttMessage, SttResponderResult>(new HandshakeHostOptions { Port = 0 },
            () => new SttResponder(inputs), SttCodec.Instance,
            (_, outcome) => { if (outcome.Succeeded) Interlocked.Increment(ref served); }, udp: Options);
        await table.StartAsync();
        await AssertNoExceptionAsync(table.LocalEndPoint, () => table.Count == 0, () => Volatile.Read(ref served));
    }

    /// <summary>
    /// Six successful handshakes against the server at <paramref name="server"/>, the last five counted: no exception
    /// in the whole process, first-chance or not, until the server has let go of them (<paramref name="drained"/>).
    /// </summary>
    private async Task AssertNoExceptionAsync(System.Net.IPEndPoint server, Func<bool> drained, Func<int> served)
    {
        var thrown = new ConcurrentQueue<Exception>();
        var counting = false;
        void Count(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            if (Volatile.Read(ref counting)) thrown.Enqueue(e.Exception);
        }

        async Task HandshakeAsync()
        {
            await using var clientEndpoint = new UdpEndpoint();
            await using var client = new UdpHandshakeManager(clientEndpoint, Options);
            var entry = client.Create(server,
                (transport, ct) => new SttInitiator(new SttInitiatorInputs { NodeId = new Bytes(Enumerable.Repeat((byte)1, 32).ToArray()), SharedSeed = Seed }).RunAsync(transport, ct));
            var outcome = await entry.Outcome.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(outcome.Succeeded, outcome.ToString());
            // Through the client's linger and release.
            await Wait.UntilAsync(() => client.Handshakes.Count == 0, TimeSpan.FromSeconds(10));
        }

        await HandshakeAsync(); // warm: first calls load and compile
        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            Volatile.Write(ref counting, true);
            for (var i = 0; i < 5; i++) await HandshakeAsync();
            await Wait.UntilAsync(drained, TimeSpan.FromSeconds(10));
            Volatile.Write(ref counting, false);
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }
        Assert.Equal(6, served());
        foreach (var group in thrown.GroupBy(e => e.GetType().Name + ": " + e.Message))
            output.WriteLine($"{group.Count()} x {group.Key}\n{group.First().StackTrace}");
        Assert.True(thrown.IsEmpty, $"{thrown.Count} exceptions in 5 successful handshakes: " + string.Join("; ", thrown.Select(e => e.GetType().Name).Distinct()));
    }
}

internal static class Wait
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan within)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > within) throw new TimeoutException("Timed out waiting");
            await Task.Delay(10);
        }
    }
}
