using System;
using System.IO;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports.Tcp;

namespace Dsl.Samples.Demo.Mesh;

/// <summary>
/// One Mesh node: its identity seed on disk, and its stores (pins, trust, replay cache, block list): SQLite in the same
/// folder, or PostgreSQL when the node is one of a fleet.
/// </summary>
public sealed class MeshNode : IDisposable
{
    private readonly IDisposable? _sqlite;
    private readonly IAsyncDisposable? _postgres;

    private MeshNode(string directory, Ed25519Key identity, IPinnedKeyStore pins, ITrustStore trust, IReplayCache replay, IAddressBlockList blocked, IDisposable? sqlite, IAsyncDisposable? postgres)
    {
        Directory = directory;
        Identity = identity;
        (Pins, Trust, Replay, Blocked, _sqlite, _postgres) = (pins, trust, replay, blocked, sqlite, postgres);
    }

    public string Directory { get; }
    public Ed25519Key Identity { get; }
    public IPinnedKeyStore Pins { get; }
    public ITrustStore Trust { get; }
    public IReplayCache Replay { get; }
    public IAddressBlockList Blocked { get; }
    public Bytes NodeId => new(Digests.Sha256(Identity.PublicKey));

    /// <summary>Opens (or creates) a node in <paramref name="directory"/>: the identity survives restarts, as pins and trust do.</summary>
    public static MeshNode Open(string directory)
    {
        var identity = LoadIdentity(directory);
        // One node, one process: the store holds its file, and takes no file lock per call.
        var store = SqliteHandshakeStore.Open(Path.Combine(directory, "mesh.db"), SqliteDurability.Normal, SqliteSharing.Exclusive);
        return new MeshNode(directory, identity, store, store, store, store, store, null);
    }

    /// <summary>Opens a node whose identity is in <paramref name="directory"/> and whose stores are the fleet's, in PostgreSQL (schema <c>dsl_mesh</c>).</summary>
    public static async Task<MeshNode> OpenAsync(string directory, string postgres)
    {
        var identity = LoadIdentity(directory);
        var store = await Dsl.Runtime.PostgreSql.PostgreSqlHandshakeStore.OpenAsync(postgres, "dsl_mesh").ConfigureAwait(false);
        return new MeshNode(directory, identity, store, store, store, store, null, store);
    }

    private static Ed25519Key LoadIdentity(string directory)
    {
        System.IO.Directory.CreateDirectory(directory);
        var seedPath = Path.Combine(directory, "identity.seed");
        if (!File.Exists(seedPath)) File.WriteAllBytes(seedPath, Digests.RandomBytes(Ed25519.SeedSize));
        return Ed25519.Instance.ImportSeed(File.ReadAllBytes(seedPath));
    }

    public MeshInitiator Initiator(HandshakeOptions? options = null)
        => new(new MeshInitiatorInputs { Identity = Identity }, new MeshInitiatorServices { Pins = Pins, Trust = Trust }, options);

    public MeshResponder Responder(HandshakeOptions? options = null)
        => new(new MeshResponderInputs { Identity = Identity }, new MeshResponderServices { Pins = Pins, Trust = Trust, Replay = Replay, Blocked = Blocked }, options);

    public void Dispose()
    {
        _sqlite?.Dispose();
        _postgres?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Identity.Dispose();
    }
}

/// <summary>Mesh over TCP on loopback: authenticate, restart and remember, refuse a skewed clock, block an address.</summary>
public static class MeshDemo
{
    private static readonly TimeSpan ResponderDeadline = TimeSpan.FromSeconds(15);

    /// <summary>
    /// A TCP handshake table, started, that steps a Mesh responder for each connection (a row each while it waits, no task);
    /// the node's block list refuses addresses at accept. <paramref name="reported"/>, when given, is released once per
    /// responder outcome, after the outcome is logged.
    /// </summary>
    public static async Task<TcpHandshakeTable<MeshMessage, MeshResponderResult>> StartServerAsync(HandshakeHostOptions options, MeshNode node, TextWriter log, SemaphoreSlim? reported = null)
    {
        var responderOptions = options.Apply(MeshResponder.DefaultOptions);
        var table = new TcpHandshakeTable<MeshMessage, MeshResponderResult>(options, () => node.Responder(responderOptions), MeshCodec.Instance,
            (peer, outcome, connection) =>
            {
                try
                {
                    lock (log)
                    {
                        log.WriteLine(outcome.Succeeded
                            ? $"    [responder] authenticated node {Short(outcome.Result.PeerNodeId)} from {peer}"
                            : $"    [responder] refused {peer}: {outcome.Error}");
                    }
                    // Nothing runs after the handshake here: the connection closes cleanly.
                    if (connection is not null) _ = CloseAsync(connection);
                }
                finally
                {
                    reported?.Release();
                }
            }, node.Blocked);
        await table.StartAsync().ConfigureAwait(false);
        return table;

        static async Task CloseAsync(Dsl.Runtime.Transports.IMessageTransport connection)
        {
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    await connection.CloseAsync().ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // The peer went first.
                }
            }
        }
    }

    public static async Task<bool> RunAsync(TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine("== Mesh 1.0 over TCP (127.0.0.1): the responder in a TCP handshake table, nodes stored in SQLite ==");
        var root = Path.Combine(Path.GetTempPath(), "dsl-demo-mesh-" + Guid.NewGuid().ToString("N")[..8]);
        var ok = true;
        try
        {
            var a = MeshNode.Open(Path.Combine(root, "a"));
            var b = MeshNode.Open(Path.Combine(root, "b"));
            output.WriteLine($"Node A {Short(a.NodeId)}, node B {Short(b.NodeId)} (node id = SHA-256 of the Ed25519 public key)");

            // The initiator is done once it has sent HS_ACK; B pins and trusts A only after reading it, so each
            // claim about B's state waits for B's own outcome.
            using var reported = new SemaphoreSlim(0);
            var listener = await StartServerAsync(new HandshakeHostOptions(), b, output, reported).ConfigureAwait(false);
            output.WriteLine();
            output.WriteLine($"1. A connects to B at {listener.LocalEndPoint}: HS_SYN, HS_SYN_ACK, HS_ACK, each in a signed packet");
            var first = await ConnectAsync(a, listener.LocalEndPoint, output, null, cancellationToken).ConfigureAwait(false);
            await reported.WaitAsync(ResponderDeadline, cancellationToken).ConfigureAwait(false);
            ok &= Claims.Expect(output, first.Succeeded && await b.Trust.GetAsync(a.NodeId, cancellationToken) == TrustLevel.Authenticated,
                "both nodes authenticated and pinned each other");

            output.WriteLine();
            output.WriteLine("2. B restarts: its pins and trust state come back from SQLite");
            await listener.DisposeAsync().ConfigureAwait(false);
            b.Dispose();
            b = MeshNode.Open(Path.Combine(root, "b"));
            var pinned = await b.Pins.GetPinAsync(a.NodeId, cancellationToken).ConfigureAwait(false);
            var trust = await b.Trust.GetAsync(a.NodeId, cancellationToken).ConfigureAwait(false);
            output.WriteLine($"    [responder] after restart: A pinned to {Short(pinned ?? Bytes.Empty)}, trust {trust}");
            ok &= Claims.Expect(output, pinned == Bytes.CopyFrom(a.Identity.PublicKey) && trust == TrustLevel.Authenticated, "B still knows A's key and trust");
            listener = await StartServerAsync(new HandshakeHostOptions(), b, output, reported).ConfigureAwait(false);
            var again = await ConnectAsync(a, listener.LocalEndPoint, output, null, cancellationToken).ConfigureAwait(false);
            await reported.WaitAsync(ResponderDeadline, cancellationToken).ConfigureAwait(false);
            ok &= Claims.Expect(output, again.Succeeded, "A reconnects with the key B pinned");

            output.WriteLine();
            output.WriteLine("3. A's clock is 400 s fast: B refuses the SYN; after 3 failures B blocks the address for 60 s");
            var skewed = MeshInitiator.DefaultOptions with { TimeProvider = new SkewedClock(TimeSpan.FromSeconds(400)) };
            for (var i = 0; i < 3; i++)
            {
                await ConnectAsync(a, listener.LocalEndPoint, TextWriter.Null, skewed, cancellationToken).ConfigureAwait(false);
                await reported.WaitAsync(ResponderDeadline, cancellationToken).ConfigureAwait(false);
            }
            var blocked = await ConnectAsync(a, listener.LocalEndPoint, output, null, cancellationToken).ConfigureAwait(false);
            ok &= Claims.Expect(output, !blocked.Succeeded && await b.Blocked.IsBlockedAsync("127.0.0.1", DateTimeOffset.UtcNow, cancellationToken),
                "even a correct handshake from 127.0.0.1 is refused while the address is blocked (at accept, before it holds a slot)");

            await listener.DisposeAsync().ConfigureAwait(false);
            a.Dispose();
            b.Dispose();
        }
        finally
        {
            try { System.IO.Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
        return ok;
    }

    private static async Task<HandshakeOutcome<MeshInitiatorResult>> ConnectAsync(MeshNode node, IPEndPoint endPoint, TextWriter output, HandshakeOptions? options, CancellationToken cancellationToken)
    {
        TcpMessageTransport tcp;
        try
        {
            tcp = await TcpTransport.ConnectAsync(endPoint, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException exception)
        {
            // A blocked address is reset at accept, which the connect itself may see.
            lock (output) output.WriteLine($"    [initiator] the server refused the connection: {exception.SocketErrorCode}");
            return HandshakeOutcome<MeshInitiatorResult>.Failure(new HandshakeError(HandshakeErrorCodes.TransportFailed, "syn", "initiator", exception.Message));
        }
        var transport = new TranscriptTransport(tcp, output, "A", "B");
        var outcome = await node.Initiator(options).RunAsync(transport, cancellationToken).ConfigureAwait(false);
        lock (output)
        {
            output.WriteLine(outcome.Succeeded
                ? $"    [initiator] authenticated node {Short(outcome.Result.PeerNodeId)}, key pinned"
                : $"    [initiator] handshake failed: {outcome.Error}");
        }
        await transport.DisposeAsync().ConfigureAwait(false);
        return outcome;
    }

    /// <summary>One initiator handshake against a node on 127.0.0.1:<paramref name="port"/>; 0 when it succeeds.</summary>
    public static async Task<int> ConnectOnceAsync(int port, string directory, TextWriter output, CancellationToken cancellationToken)
    {
        using var node = MeshNode.Open(directory);
        output.WriteLine($"Node {node.NodeId} (data in {directory})");
        var outcome = await ConnectAsync(node, new IPEndPoint(IPAddress.Loopback, port), output, null, cancellationToken).ConfigureAwait(false);
        return outcome.Succeeded ? 0 : 1;
    }

    /// <summary>Serves Mesh on TCP until cancelled; the node's identity and stores live in <paramref name="directory"/>.</summary>
    public static async Task<int> ServeAsync(HandshakeHostOptions options, string directory, string? postgres, TextWriter output, CancellationToken cancellationToken)
    {
        using var node = postgres is null ? MeshNode.Open(directory) : await MeshNode.OpenAsync(directory, postgres).ConfigureAwait(false);
        await using var listener = await StartServerAsync(options, node, output).ConfigureAwait(false);
        output.WriteLine($"Serving Mesh 1.0 on tcp://{listener.LocalEndPoint} as node {node.NodeId} (identity in {directory}; stores {(postgres is null ? "in SQLite there" : "in PostgreSQL, shared with the fleet")}; Ctrl+C to stop)");
        output.WriteLine("Frames are a 4-byte big-endian length, then a JSON SignedPacket.");
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

    public static string Short(Bytes value) => value.Length == 0 ? "(none)" : value.ToHex()[..16] + "…";


    private sealed class SkewedClock(TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
    }
}
