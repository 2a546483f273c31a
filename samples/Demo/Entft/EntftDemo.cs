using System;
using System.Buffers;
using System.IO;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Entft;
using Dsl.Runtime.Channels;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;

namespace Dsl.Samples.Demo.Entft;

/// <summary>
/// The server's policy in the demo: one enrolled client, its phrase key (never the phrase), and which role earns which
/// level in which domain. A real server keeps these in its own store.
/// </summary>
public sealed class DemoPolicy : IEntftServerHooks
{
    public const string ClientId = "acft-001";

    /// <summary>The phrase key the spec defines: HKDF-SHA256(phrase, client_id, "entft/1.0 phrase", 32).</summary>
    public static Bytes PhraseKey(string phrase, string clientId)
        => new(HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(phrase), 32, Encoding.UTF8.GetBytes(clientId), "entft/1.0 phrase"u8.ToArray()));

    private readonly Bytes _phraseKey;

    public DemoPolicy(string phrase) => _phraseKey = PhraseKey(phrase, ClientId);

    public ValueTask<Grant?> AuthorizeAsync(string clientId, string homeDomain, string role, string domain, CancellationToken cancellationToken)
        => new(clientId != ClientId ? null : (role, domain) switch
        {
            ("commanding_officer", "space") => new Grant { PhraseKey = _phraseKey, Level = AuthLevel.Command },
            ("pilot", "air") or ("pilot", "space") => new Grant { PhraseKey = _phraseKey, Level = AuthLevel.Crew },
            _ => null,
        });
}

/// <summary>entft over TCP: the phrase proved without crossing the wire, key confirmation, then data through the secure channel.</summary>
public static class EntftDemo
{
    public const string DefaultPhrase = "picard alpha tango 789";

    /// <summary>The server's identity key, from a folder (made on first use), so that a separate client process can know its public key.</summary>
    public static Ed25519Key ServerKey(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "server.seed");
        if (!File.Exists(path)) File.WriteAllBytes(path, Digests.RandomBytes(Ed25519.SeedSize));
        return Ed25519.Instance.ImportSeed(File.ReadAllBytes(path));
    }

    /// <summary>A TCP host, started, that runs the entft server for each connection, then echoes frames through the channel.</summary>
    public static async Task<TcpHandshakeHost> StartServerAsync(HandshakeHostOptions options, Ed25519Key identity, string phrase, TextWriter log)
    {
        var policy = new DemoPolicy(phrase);
        var blocked = new Dsl.Runtime.Services.InMemoryAddressBlockList();
        var host = new TcpHandshakeHost(options, async (transport, cancellationToken) =>
        {
            var server = new EntftServer(new EntftServerInputs
            {
                Identity = identity, ServerId = "starfleet_hq", Capabilities = new[] { "phrase-auth", "resonance-sync", "governance-ledger" },
            }, new EntftServerServices { Blocked = blocked }, policy, options.Apply(EntftServer.DefaultOptions));
            var outcome = await server.RunAsync(transport, cancellationToken).ConfigureAwait(false);
            if (!outcome.Succeeded)
            {
                lock (log) log.WriteLine($"    [server] refused {transport.RemoteAddress}: {outcome.Error}");
                return;
            }
            lock (log) log.WriteLine($"    [server] {outcome.Result.ClientId} is {outcome.Result.Role} in {outcome.Result.Domain}: {outcome.Result.AuthLevel}; channel {outcome.Result.Cipher}");
            // From here on the transport carries application frames, sealed per direction.
            await using var channel = EntftServer.OpenChannel(transport, outcome.Result);
            // The channel holds its own copy of the keys: the result's are wiped now.
            outcome.Result.Dispose();
            var frame = new ArrayBufferWriter<byte>();
            try
            {
                while (await channel.ReceiveAsync(frame, cancellationToken).ConfigureAwait(false))
                {
                    var text = Encoding.UTF8.GetString(frame.WrittenSpan);
                    lock (log) log.WriteLine($"    [server] received over the channel: \"{text}\"");
                    await channel.SendAsync(Encoding.UTF8.GetBytes("ack: " + text), cancellationToken).ConfigureAwait(false);
                    frame.Clear();
                }
            }
            catch (Exception e) when (e is SecureChannelException or TransportException)
            {
                // A frame that is not authentic, or a client that went away: the channel is over.
                lock (log) log.WriteLine($"    [server] channel closed: {e.Message}");
            }
        }, blocked);
        await host.StartAsync().ConfigureAwait(false);
        return host;
    }

    public static async Task<bool> RunAsync(TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine("== entft 1.0 over TCP (127.0.0.1), then the secure channel ==");
        var folder = Path.Combine(Path.GetTempPath(), "dsl-demo-entft-" + Guid.NewGuid().ToString("N")[..8]);
        var ok = true;
        try
        {
            using var identity = ServerKey(folder);
            await using var listener = await StartServerAsync(new HandshakeHostOptions(), identity, DefaultPhrase, output).ConfigureAwait(false);
            var serverKey = Bytes.CopyFrom(identity.PublicKey);

            output.WriteLine($"1. acft-001 proves its phrase as commanding_officer in space to {listener.LocalEndPoint}, then talks through the channel");
            ok &= Claims.Expect(output, await ConnectAsync(listener.LocalEndPoint, serverKey, DefaultPhrase, "commanding_officer", "space", "engage", output, cancellationToken).ConfigureAwait(false) == "ack: engage",
                "the server authenticated the client at level command, and a frame went each way encrypted");

            output.WriteLine();
            output.WriteLine("2. A wrong phrase: the server says auth_fail and drops the connection");
            ok &= Claims.Expect(output, await ConnectAsync(listener.LocalEndPoint, serverKey, "picard alpha tango 788", "commanding_officer", "space", null, output, cancellationToken).ConfigureAwait(false) == "AUTH_FAIL",
                "refused, and the phrase never crossed the wire either time");
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
        return ok;
    }

    /// <summary>One client handshake; sends <paramref name="say"/> through the channel and returns the answer, or the error code.</summary>
    private static async Task<string> ConnectAsync(IPEndPoint server, Bytes serverKey, string phrase, string role, string domain, string? say, TextWriter output, CancellationToken cancellationToken)
    {
        var tcp = await TcpTransport.ConnectAsync(server, cancellationToken: cancellationToken).ConfigureAwait(false);
        var transport = new TranscriptTransport(tcp, output, "client", "server");
        var client = new EntftClient(new EntftClientInputs
        {
            ClientId = DemoPolicy.ClientId, Domain = domain, Role = role, Passphrase = phrase, ServerKey = serverKey,
            Capabilities = new[] { "phrase-auth", "resonance-sync", "governance-ledger" },
        });
        var outcome = await client.RunAsync(transport, cancellationToken).ConfigureAwait(false);
        if (!outcome.Succeeded)
        {
            lock (output) output.WriteLine($"    [client] handshake failed: {outcome.Error}");
            return outcome.Error.Code;
        }
        lock (output) output.WriteLine($"    [client] authenticated at level {outcome.Result.AuthLevel}, session {outcome.Result.SessionId}, stability {outcome.Result.Stability}, channel {outcome.Result.Cipher}");
        // The channel runs over the raw connection: its frames are ciphertext, so the transcript printer steps aside.
        await using var channel = EntftClient.OpenChannel(tcp, outcome.Result);
        outcome.Result.Dispose();
        if (say is null) return "ok";
        await channel.SendAsync(Encoding.UTF8.GetBytes(say), cancellationToken).ConfigureAwait(false);
        var answer = new ArrayBufferWriter<byte>();
        if (!await channel.ReceiveAsync(answer, cancellationToken).ConfigureAwait(false)) return "(closed)";
        var text = Encoding.UTF8.GetString(answer.WrittenSpan);
        lock (output) output.WriteLine($"    [client] received over the channel: \"{text}\"");
        await channel.CloseAsync(cancellationToken).ConfigureAwait(false);
        return text;
    }

    /// <summary>Serves entft on TCP until cancelled; the server's key lives in <paramref name="directory"/>.</summary>
    public static async Task<int> ServeAsync(HandshakeHostOptions options, string directory, string phrase, TextWriter output, CancellationToken cancellationToken)
    {
        using var identity = ServerKey(directory);
        await using var listener = await StartServerAsync(options, identity, phrase, output).ConfigureAwait(false);
        output.WriteLine($"Serving entft 1.0 on tcp://{listener.LocalEndPoint} (data in {directory}; Ctrl+C to stop)");
        output.WriteLine($"Server key: {Convert.ToHexStringLower(identity.PublicKey)}; enrolled client {DemoPolicy.ClientId}");
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

    /// <summary>One client handshake against 127.0.0.1:<paramref name="port"/>, then one message through the channel; 0 when it is answered.</summary>
    public static async Task<int> ConnectOnceAsync(int port, string directory, string phrase, string role, string domain, string message, TextWriter output, CancellationToken cancellationToken)
    {
        using var identity = ServerKey(directory);
        var answer = await ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), Bytes.CopyFrom(identity.PublicKey), phrase, role, domain, message, output, cancellationToken).ConfigureAwait(false);
        return answer == "ack: " + message ? 0 : 1;
    }
}
