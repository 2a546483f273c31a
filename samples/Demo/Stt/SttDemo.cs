using System;
using System.IO;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Udp;

namespace Dsl.Samples.Demo.Stt;

/// <summary>STT over UDP on loopback, the responder in a UDP handshake table: a clean run, a lossy one, a wrong seed.</summary>
public static class SttDemo
{
    /// <summary>The demo network's pre-shared seed (the seed document's example, padded to 32 bytes).</summary>
    public static readonly Bytes DemoSeed = new(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));

    /// <summary>
    /// Serves the responder role for every peer, each waiting handshake a row of a UDP handshake table (no task or
    /// transport per peer), started.
    /// </summary>
    public static async Task<UdpHandshakeTable<SttMessage, SttResponderResult>> StartServerAsync(HandshakeHostOptions options, Bytes nodeId, Bytes seed, bool checkAddresses, TextWriter log)
    {
        var inputs = new SttResponderInputs { NodeId = nodeId, SharedSeed = seed };
        var table = new UdpHandshakeTable<SttMessage, SttResponderResult>(options, () => new SttResponder(inputs), SttCodec.Instance,
            (peer, outcome) => Report(log, peer, outcome), endpoint: new UdpEndpointOptions { ValidateAddresses = checkAddresses });
        await table.StartAsync().ConfigureAwait(false);
        return table;
    }

    private static void Report(TextWriter log, IPEndPoint peer, HandshakeOutcome<SttResponderResult> outcome)
    {
        lock (log)
        {
            log.WriteLine(outcome.Succeeded
                ? $"    [responder] session {outcome.Result.SessionId} with {peer}, key {outcome.Result.SessionKey}"
                : $"    [responder] handshake with {peer} failed: {outcome.Error}");
        }
        if (outcome.Succeeded) outcome.Result.Dispose();
    }

    public static async Task<bool> RunAsync(TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine("== STT 0.2 over UDP (127.0.0.1): the responder in a UDP handshake table, the initiator through the handshake manager ==");
        var a = new Bytes(Digests.RandomBytes(32));
        var b = new Bytes(Digests.RandomBytes(32));
        await using var server = await StartServerAsync(new HandshakeHostOptions(), b, DemoSeed, checkAddresses: true, output).ConfigureAwait(false);
        output.WriteLine($"Responder listening on udp://{server.LocalEndPoint}");
        var ok = true;

        output.WriteLine();
        output.WriteLine("1. HELLO, RESPONSE (sealed challenge), AUTH_PROOF, SUCCESS");
        var clean = await ConnectAsync(server.LocalEndPoint, a, DemoSeed, output, null, cancellationToken).ConfigureAwait(false);
        ok &= Claims.Expect(output, clean.Succeeded, "both nodes derived the same session id and key");

        output.WriteLine();
        output.WriteLine("2. The same over a link that loses 20% of datagrams, duplicates and reorders others (seeded)");
        var faults = new FaultOptions { Loss = 0.2, Duplication = 0.1, Reordering = 0.1, MaxDelay = TimeSpan.FromMilliseconds(20) };
        var lossy = new UdpHandshakeOptions { WrapTransport = t => new FaultInjectingTransport(t, faults, seed: 7) };
        var lossyOutcome = await ConnectAsync(server.LocalEndPoint, new Bytes(Digests.RandomBytes(32)), DemoSeed, TextWriter.Null, lossy, cancellationToken).ConfigureAwait(false);
        ok &= Claims.Expect(output, lossyOutcome.Succeeded, "retransmission completed the handshake anyway");

        output.WriteLine();
        output.WriteLine("3. A node with the wrong shared seed");
        var wrong = new Bytes(Encoding.UTF8.GetBytes("different_seed_32bytes_long!!!!!"));
        var refused = await ConnectAsync(server.LocalEndPoint, new Bytes(Digests.RandomBytes(32)), wrong, output, null, cancellationToken).ConfigureAwait(false);
        ok &= Claims.Expect(output, refused.Error?.Code == SttErrorCodes.WrongSeed, "it fails at AUTH_PROOF with WRONG_SEED");
        await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        return ok;
    }

    private static async Task<HandshakeOutcome<SttInitiatorResult>> ConnectAsync(IPEndPoint server, Bytes nodeId, Bytes seed, TextWriter output, UdpHandshakeOptions? options, CancellationToken cancellationToken)
    {
        await using var endpoint = new UdpEndpoint();
        var printing = new UdpHandshakeOptions
        {
            Reliability = options?.Reliability ?? new ReliabilityOptions(),
            Linger = TimeSpan.FromMilliseconds(500),
            WrapTransport = t => new TranscriptTransport(options?.WrapTransport?.Invoke(t) ?? t, output, "A", "B"),
        };
        await using var manager = new UdpHandshakeManager(endpoint, printing);
        var entry = manager.Create(server, (transport, ct) => new SttInitiator(new SttInitiatorInputs { NodeId = nodeId, SharedSeed = seed }).RunAsync(transport, ct));
        var outcome = await entry.Outcome.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (output)
        {
            output.WriteLine(outcome.Succeeded
                ? $"    [initiator] session {outcome.Result.SessionId}, key {outcome.Result.SessionKey}"
                : $"    [initiator] handshake failed: {outcome.Error}");
        }
        return outcome;
    }

    /// <summary>One initiator handshake against a node on 127.0.0.1:<paramref name="port"/>; 0 when it succeeds.</summary>
    public static async Task<int> ConnectOnceAsync(int port, string? seedHex, TextWriter output, CancellationToken cancellationToken)
    {
        var seed = seedHex is null ? DemoSeed : Bytes.FromHex(seedHex);
        var outcome = await ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), new Bytes(Digests.RandomBytes(32)), seed, output, null, cancellationToken).ConfigureAwait(false);
        return outcome.Succeeded ? 0 : 1;
    }

    /// <summary>Serves STT on UDP until cancelled, with the demo's shared seed (or the one given as hex).</summary>
    public static async Task<int> ServeAsync(HandshakeHostOptions options, string? seedHex, bool checkAddresses, TextWriter output, CancellationToken cancellationToken)
    {
        var seed = seedHex is null ? DemoSeed : Bytes.FromHex(seedHex);
        var nodeId = new Bytes(Digests.RandomBytes(32));
        await using var host = await StartServerAsync(options, nodeId, seed, checkAddresses, output).ConfigureAwait(false);
        output.WriteLine($"Serving STT 0.2 on udp://{host.LocalEndPoint} as node {nodeId} (Ctrl+C to stop)");
        output.WriteLine(seedHex is null ? $"Shared seed: the demo's, hex {DemoSeed.ToHex()}" : "Shared seed: the one given");
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

}
