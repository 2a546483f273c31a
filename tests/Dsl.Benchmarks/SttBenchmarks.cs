using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports.Udp;

namespace Dsl.Benchmarks;

/// <summary>
/// One STT handshake in memory (the baseline), and over UDP on loopback against the responder on the UDP host (a task and
/// a transport per peer) and in the UDP handshake table (a row per peer): the same machines, with the address check (one
/// retry round trip), retransmission state and linger on top. Beside them, the transport's own floor: three round trips
/// of 200-byte datagrams between two sockets in the process (as many as a handshake over UDP makes, the address check's
/// included), with nothing else.
/// </summary>
[MemoryDiagnoser]
[ExceptionDiagnoser]
[Config(typeof(CpuConfig))]
public class SttBenchmarks
{
    private static readonly Bytes Seed = new(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));
    private static readonly Bytes NodeA = new(Enumerable.Repeat((byte)0xaa, 32).ToArray());
    private static readonly Bytes NodeB = new(Enumerable.Repeat((byte)0xbb, 32).ToArray());
    private UdpHandshakeHost<SttResponderResult> _host = null!;
    private UdpHandshakeTable<SttMessage, SttResponderResult> _table = null!;
    private IPEndPoint _tableEndPoint = null!;
    private UdpEndpoint _clientEndpoint = null!;
    private UdpHandshakeManager _client = null!;
    private IPEndPoint _server = null!;
    private Socket _echo = null!, _bouncer = null!;
    private IPEndPoint _echoEndPoint = null!;
    private Task _echoing = Task.CompletedTask;
    private readonly byte[] _datagram = new byte[200], _received = new byte[2048];

    [GlobalSetup]
    public void Setup()
    {
        _host = new UdpHandshakeHost<SttResponderResult>(new HandshakeHostOptions(),
            (transport, ct) => new SttResponder(new SttResponderInputs { NodeId = NodeB, SharedSeed = Seed }).RunAsync(transport, ct),
            (_, outcome) => { if (outcome.Succeeded) outcome.Result.Dispose(); });
        _host.StartAsync().GetAwaiter().GetResult();
        _server = new IPEndPoint(IPAddress.Loopback, _host.LocalEndPoint.Port);
        var inputs = new SttResponderInputs { NodeId = NodeB, SharedSeed = Seed };
        _table = new UdpHandshakeTable<SttMessage, SttResponderResult>(new HandshakeHostOptions(), () => new SttResponder(inputs), SttCodec.Instance);
        _table.StartAsync().GetAwaiter().GetResult();
        _tableEndPoint = new IPEndPoint(IPAddress.Loopback, _table.LocalEndPoint.Port);
        _clientEndpoint = new UdpEndpoint();
        _client = new UdpHandshakeManager(_clientEndpoint);

        _echo = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _echo.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _echoEndPoint = (IPEndPoint)_echo.LocalEndPoint!;
        _echoing = EchoAsync(_echo);
        _bouncer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _bouncer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    }

    /// <summary>Sends every datagram back where it came from, until the socket closes.</summary>
    private static async Task EchoAsync(Socket socket)
    {
        var buffer = new byte[2048];
        var any = new IPEndPoint(IPAddress.Any, 0);
        try
        {
            while (true)
            {
                var got = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any);
                await socket.SendToAsync(buffer.AsMemory(0, got.ReceivedBytes), SocketFlags.None, got.RemoteEndPoint);
            }
        }
        catch (Exception) when (socket.SafeHandle.IsClosed)
        {
            // Cleanup closed it.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _clientEndpoint.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _table.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _echo.Dispose();
        _bouncer.Dispose();
        _echoing.Wait(TimeSpan.FromSeconds(5));
    }

    /// <summary>The baseline: both roles over an in-memory pair.</summary>
    [Benchmark(Baseline = true)]
    public Task InMemory() => InMemoryHandshakes.SttAsync(Seed, NodeA, NodeB);

    /// <summary>The initiator through a UDP handshake manager, the responder on the UDP host, over loopback.</summary>
    [Benchmark]
    public Task OverUdpHost() => OverUdpAsync(_server);

    /// <summary>The same against the responder in the UDP handshake table.</summary>
    [Benchmark]
    public Task OverUdpTable() => OverUdpAsync(_tableEndPoint);

    /// <summary>The transport's floor: three round trips of 200-byte datagrams over loopback, no handshake.</summary>
    [Benchmark]
    public async Task UdpRoundTrips()
    {
        var any = new IPEndPoint(IPAddress.Any, 0);
        for (var i = 0; i < 3; i++)
        {
            await _bouncer.SendToAsync(_datagram, SocketFlags.None, _echoEndPoint);
            await _bouncer.ReceiveFromAsync(_received, SocketFlags.None, any);
        }
    }

    private async Task OverUdpAsync(IPEndPoint server)
    {
        var entry = _client.Create(server, (transport, ct) => new SttInitiator(new SttInitiatorInputs { NodeId = NodeA, SharedSeed = Seed }).RunAsync(transport, ct));
        var outcome = await entry.Outcome;
        if (!outcome.Succeeded) throw new InvalidOperationException(outcome.ToString());
        outcome.Result.Dispose();
        // The initiator's entry leaves the manager as its task ends: wait for it, so the next handshake can start.
        while (_client.Get(server) is not null) await Task.Yield();
    }
}
