using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Cahp;
using Dsl.Runtime.AspNetCore;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;
using Dsl.Runtime.Transports.WebSockets;

namespace Dsl.Samples.Demo.Cahp;

/// <summary>
/// The demo's ledger: no blockchain is reachable here, so "burning" appends a line (transaction, amount) to a file in
/// the demo's data folder, which the open-weight node's burn_verified hook reads, as both nodes would read one chain.
/// A real deployment asks its ledger (and checks the burn is bound to the session binding).
/// </summary>
public sealed class DemoLedger(string directory) : ICahpOpenWeightHooks
{
    private string File => Path.Combine(directory, "ledger.txt");

    /// <summary>Burns <paramref name="amount"/> sats: a new transaction on the demo's ledger.</summary>
    public string Burn(long amount)
    {
        var tx = Convert.ToHexStringLower(Digests.RandomBytes(32));
        lock (this) System.IO.File.AppendAllText(File, $"{tx} {amount}\n");
        return tx;
    }

    public ValueTask<bool> BurnVerifiedAsync(string txHash, long burnAmountSats, Bytes sessionBinding, CancellationToken cancellationToken)
    {
        lock (this)
        {
            if (!System.IO.File.Exists(File)) return new(false);
            foreach (var line in System.IO.File.ReadLines(File))
            {
                var parts = line.Split(' ');
                if (parts.Length == 2 && parts[0] == txHash && long.TryParse(parts[1], out var burned)) return new(burned >= burnAmountSats);
            }
        }
        return new(false);
    }
}

/// <summary>The two CAHP nodes of the demo, from a folder: their identity seeds and the model's weights.</summary>
public sealed class CahpNodes : IDisposable
{
    public const string Model = "stonecharm-7b";

    private CahpNodes(Ed25519Key metabolic, Ed25519Key openWeight, byte[] weights, DemoLedger ledger)
    {
        MetabolicKey = metabolic;
        OpenWeightKey = openWeight;
        Weights = weights;
        Ledger = ledger;
    }

    public DemoLedger Ledger { get; }

    /// <summary>Burns remember which transactions earned a ticket: one burn, one ticket.</summary>
    public IReplayCache SpentBurns { get; } = new InMemoryReplayCache();

    public Ed25519Key MetabolicKey { get; }
    public Ed25519Key OpenWeightKey { get; }
    public byte[] Weights { get; }
    public IReplayCache MetabolicReplay { get; } = new InMemoryReplayCache();
    public IReplayCache OpenWeightReplay { get; } = new InMemoryReplayCache();

    /// <summary>Opens the demo's keys and weights in <paramref name="directory"/>, made on first use (the weights are a stand-in: 64 KiB of seeded bytes).</summary>
    public static CahpNodes Open(string directory)
    {
        Directory.CreateDirectory(directory);
        Ed25519Key Key(string name)
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path)) File.WriteAllBytes(path, Digests.RandomBytes(Ed25519.SeedSize));
            return Ed25519.Instance.ImportSeed(File.ReadAllBytes(path));
        }
        var weightsPath = Path.Combine(directory, "model.weights");
        if (!File.Exists(weightsPath)) File.WriteAllBytes(weightsPath, Enumerable.Range(0, 65_536).Select(i => (byte)(i * 7919 % 251)).ToArray());
        return new CahpNodes(Key("metabolic.seed"), Key("open_weight.seed"), File.ReadAllBytes(weightsPath), new DemoLedger(directory));
    }

    /// <summary>A metabolic node that has just burned 21,000 sats for its next session.</summary>
    public CahpMetabolic Metabolic() => new(new CahpMetabolicInputs
    {
        Identity = MetabolicKey, Model = Model, ModelWeights = new Bytes(Weights), TxHash = Ledger.Burn(21_000), BurnAmountSats = 21_000,
        Capabilities = new[] { "inference", "fine-tune" },
    }, new CahpMetabolicServices { Replay = MetabolicReplay });

    public CahpOpenWeight OpenWeight(HandshakeOptions? options = null) => new(new CahpOpenWeightInputs
    {
        Identity = OpenWeightKey, Model = Model, ModelWeights = new Bytes(Weights), Difficulty = 16,
        Capabilities = new[] { "inference" },
    }, new CahpOpenWeightServices { Replay = OpenWeightReplay, SpentBurns = SpentBurns }, Ledger, options);

    public void Dispose()
    {
        MetabolicKey.Dispose();
        OpenWeightKey.Dispose();
    }
}

/// <summary>CAHP v1.1 over WebSocket and over TCP: five phases, the signed envelope, the ticket verified offline.</summary>
public static class CahpDemo
{
    public static async Task<bool> RunAsync(TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine("== CAHP v1.1 over WebSocket and TCP (127.0.0.1) ==");
        var folder = Path.Combine(Path.GetTempPath(), "dsl-demo-cahp-" + Guid.NewGuid().ToString("N")[..8]);
        using var nodes = CahpNodes.Open(folder);
        var ok = true;
        try
        {
            await using var web = CreateWebSocketServer(new HandshakeHostOptions(), nodes, output);
            await web.StartAsync(cancellationToken).ConfigureAwait(false);
            output.WriteLine($"1. The metabolic node connects to the open-weight node at {web.GetUri("/cahp")}: discovery, hashcash, burn, weight commitment, ticket");
            var socket = await WebSocketTransport.ConnectAsync(web.GetUri("/cahp"), cancellationToken: cancellationToken).ConfigureAwait(false);
            var overWebSocket = await ConnectAsync(nodes, socket, output, cancellationToken).ConfigureAwait(false);
            ok &= Claims.Expect(output, overWebSocket.Succeeded, "discovery, challenge, response, burn proof, weight commitment and ticket, every message signed");
            if (overWebSocket.Succeeded)
            {
                var ticket = CahpTicket.FromOutcome(overWebSocket.Result);
                var issuer = nodes.OpenWeightKey.PublicKey;
                var holder = nodes.MetabolicKey.PublicKey;
                ok &= Claims.Expect(output, ticket.Verify(issuer, holder, overWebSocket.Result.SessionId, DateTimeOffset.UtcNow) == CahpTicketVerdict.Valid,
                    "the session ticket verifies offline against the open-weight node's key, for the metabolic node's key");
                ok &= Claims.Expect(output, ticket.Verify(issuer, holder, overWebSocket.Result.SessionId, overWebSocket.Result.Expiry.AddSeconds(1)) == CahpTicketVerdict.Expired,
                    "and is refused once it has expired");
            }

            output.WriteLine();
            await using var tcp = await StartTcpServerAsync(new HandshakeHostOptions(), nodes, output).ConfigureAwait(false);
            output.WriteLine($"2. The same over TCP at {tcp.LocalEndPoint}");
            var connection = await TcpTransport.ConnectAsync(tcp.LocalEndPoint, cancellationToken: cancellationToken).ConfigureAwait(false);
            var overTcp = await ConnectAsync(nodes, connection, output, cancellationToken).ConfigureAwait(false);
            ok &= Claims.Expect(output, overTcp.Succeeded, "the handshake completes over TCP too");
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
        return ok;
    }

    private static async Task OpenWeightAsync(HandshakeHostOptions options, CahpNodes nodes, IMessageTransport transport, TextWriter log, CancellationToken cancellationToken)
    {
        var outcome = await nodes.OpenWeight(options.Apply(CahpOpenWeight.DefaultOptions)).RunAsync(transport, cancellationToken).ConfigureAwait(false);
        lock (log)
        {
            log.WriteLine(outcome.Succeeded
                ? $"    [open_weight] ticket issued for session {outcome.Result.SessionId} to {MeshShort(outcome.Result.PeerKey)} (burn {outcome.Result.BurnAmountSats} sats confirmed)"
                : $"    [open_weight] refused {transport.RemoteAddress}: {outcome.Error}");
        }
        if (outcome.Succeeded) await transport.CloseAsync(cancellationToken).ConfigureAwait(false);
    }

    public static HandshakeServer CreateWebSocketServer(HandshakeHostOptions options, CahpNodes nodes, TextWriter log)
    {
        var server = new HandshakeServer(options);
        server.MapHandshake("/cahp", (transport, _, cancellationToken) => OpenWeightAsync(options, nodes, transport, log, cancellationToken));
        return server;
    }

    /// <summary>A TCP host, started, that runs the open-weight node for each connection.</summary>
    public static async Task<TcpHandshakeHost> StartTcpServerAsync(HandshakeHostOptions options, CahpNodes nodes, TextWriter log)
    {
        var host = new TcpHandshakeHost(options, (transport, cancellationToken) => OpenWeightAsync(options, nodes, transport, log, cancellationToken));
        await host.StartAsync().ConfigureAwait(false);
        return host;
    }

    private static async Task<HandshakeOutcome<CahpMetabolicResult>> ConnectAsync(CahpNodes nodes, IMessageTransport connection, TextWriter output, CancellationToken cancellationToken)
    {
        var transport = new TranscriptTransport(connection, output, "metabolic", "open_weight");
        var outcome = await nodes.Metabolic().RunAsync(transport, cancellationToken).ConfigureAwait(false);
        lock (output)
        {
            output.WriteLine(outcome.Succeeded
                ? $"    [metabolic] ticket for session {outcome.Result.SessionId}: capabilities [{string.Join(", ", outcome.Result.Capabilities)}], trust {outcome.Result.TrustScore}, expires {outcome.Result.Expiry:u}"
                : $"    [metabolic] handshake failed: {outcome.Error}");
        }
        await transport.DisposeAsync().ConfigureAwait(false);
        return outcome;
    }

    /// <summary>Serves the open-weight node until cancelled: WebSocket at ws://127.0.0.1:PORT/cahp, or TCP.</summary>
    public static async Task<int> ServeAsync(HandshakeHostOptions options, bool tcp, string directory, TextWriter output, CancellationToken cancellationToken)
    {
        using var nodes = CahpNodes.Open(directory);
        IAsyncDisposable server;
        if (tcp)
        {
            var listener = await StartTcpServerAsync(options, nodes, output).ConfigureAwait(false);
            output.WriteLine($"Serving CAHP v1.1 (open-weight node) on tcp://{listener.LocalEndPoint} (data in {directory}; Ctrl+C to stop)");
            server = listener;
        }
        else
        {
            var web = CreateWebSocketServer(options, nodes, output);
            await web.StartAsync(cancellationToken).ConfigureAwait(false);
            output.WriteLine($"Serving CAHP v1.1 (open-weight node) at {web.GetUri("/cahp")} (data in {directory}; Ctrl+C to stop)");
            server = web;
        }
        output.WriteLine($"Its key: {Convert.ToHexStringLower(nodes.OpenWeightKey.PublicKey)}; the burns it confirms are in {Path.Combine(directory, "ledger.txt")}");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await server.DisposeAsync().ConfigureAwait(false);
        output.WriteLine("Stopped.");
        return 0;
    }

    /// <summary>One metabolic handshake against an open-weight node on 127.0.0.1; 0 when it succeeds and the ticket verifies.</summary>
    public static async Task<int> ConnectOnceAsync(int port, bool tcp, string directory, TextWriter output, CancellationToken cancellationToken)
    {
        using var nodes = CahpNodes.Open(directory);
        IMessageTransport connection = tcp
            ? await TcpTransport.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken: cancellationToken).ConfigureAwait(false)
            : await WebSocketTransport.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/cahp"), cancellationToken: cancellationToken).ConfigureAwait(false);
        var outcome = await ConnectAsync(nodes, connection, output, cancellationToken).ConfigureAwait(false);
        if (!outcome.Succeeded) return 1;
        var verdict = CahpTicket.FromOutcome(outcome.Result).Verify(outcome.Result.PeerKey.Span, nodes.MetabolicKey.PublicKey, outcome.Result.SessionId, DateTimeOffset.UtcNow);
        output.WriteLine($"Ticket: {verdict}");
        return verdict == CahpTicketVerdict.Valid ? 0 : 1;
    }

    private static string MeshShort(Bytes value) => value.ToHex()[..16] + "…";
}
