using System;
using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Dsl.Protocols.Mesh;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Transports;
using Dsl.Runtime.Transports.Tcp;

namespace Dsl.Benchmarks;

/// <summary>
/// Mutual authentication over TCP on loopback, a new connection per handshake: TLS 1.3 with a certificate on each side
/// through <see cref="SslStream"/> (the baseline), against Mesh through the runtime's <see cref="TcpHandshakeHost"/> (a task per
/// connection) and its <see cref="TcpHandshakeTable{TMessage, TResult}"/> (a row per connection).
/// TLS: self-signed P-256 ECDSA certificates, the server requires the client's, each side accepts only the other's
/// certificate (pinned by its SHA-256 thumbprint), TLS 1.3 only, no session resumption. Mesh: the responder on the host
/// with in-memory stores, the initiator through <see cref="TcpTransport.ConnectAsync"/>, the nodes knowing each other.
/// In both, the server sends one byte once it has authenticated the client and the client reads it, so each handshake
/// is complete on both sides. A batch of 16 handshakes runs <see cref="InFlight"/> at a time; figures are per handshake.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(CpuConfig))]
public class MeshTlsBenchmarks
{
    private const int Batch = 16;
    private static readonly byte[] One = [1];

    /// <summary>How many handshakes of a batch are under way at once.</summary>
    [Params(1, 4, 16)]
    public int InFlight { get; set; }

    private X509Certificate2 _serverCertificate = null!, _clientCertificate = null!;
    private SslServerAuthenticationOptions _serverOptions = null!;
    private SslClientAuthenticationOptions _clientOptions = null!;
    private TcpListener _tlsListener = null!;
    private IPEndPoint _tlsEndPoint = null!;
    private Task _accepting = Task.CompletedTask;
    private readonly CancellationTokenSource _stopping = new();

    private Ed25519Key _nodeA = null!, _nodeB = null!;
    private MeshStores _storesA, _storesB;
    private TcpHandshakeHost _meshHost = null!;
    private IPEndPoint _meshEndPoint = null!;
    private TcpHandshakeTable<MeshMessage, MeshResponderResult> _meshTable = null!;
    private IPEndPoint _meshTableEndPoint = null!;
    private TcpListener _bareListener = null!;
    private IPEndPoint _bareEndPoint = null!;
    private Task _bareAccepting = Task.CompletedTask;

    [GlobalSetup]
    public void Setup()
    {
        _serverCertificate = SelfSigned("mesh-bench-server");
        _clientCertificate = SelfSigned("mesh-bench-client");
        var serverPin = _serverCertificate.GetCertHashString(HashAlgorithmName.SHA256);
        var clientPin = _clientCertificate.GetCertHashString(HashAlgorithmName.SHA256);
        _serverOptions = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(_serverCertificate, additionalCertificates: null, offline: true),
            ClientCertificateRequired = true,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => Pinned(certificate, clientPin),
            EnabledSslProtocols = SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            AllowTlsResume = false,
        };
        _clientOptions = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificateContext = SslStreamCertificateContext.Create(_clientCertificate, additionalCertificates: null, offline: true),
            RemoteCertificateValidationCallback = (_, certificate, _, _) => Pinned(certificate, serverPin),
            EnabledSslProtocols = SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            AllowTlsResume = false,
        };
        _tlsListener = new TcpListener(IPAddress.Loopback, 0);
        _tlsListener.Start(backlog: 512);
        _tlsEndPoint = (IPEndPoint)_tlsListener.LocalEndpoint;
        _accepting = AcceptTlsAsync();

        _nodeA = Ed25519.Instance.GenerateKey();
        _nodeB = Ed25519.Instance.GenerateKey();
        _storesA = MeshStores.InMemory();
        _storesB = MeshStores.InMemory();
        _meshHost = new TcpHandshakeHost(new HandshakeHostOptions(), RespondAsync, _storesB.Blocked);
        _meshHost.StartAsync().GetAwaiter().GetResult();
        _meshEndPoint = _meshHost.LocalEndPoint;
        _meshTable = new TcpHandshakeTable<MeshMessage, MeshResponderResult>(new HandshakeHostOptions(),
            () => new MeshResponder(new MeshResponderInputs { Identity = _nodeB }, _storesB.Responder()), MeshCodec.Instance, Confirm, _storesB.Blocked);
        _meshTable.StartAsync().GetAwaiter().GetResult();
        _meshTableEndPoint = _meshTable.LocalEndPoint;
        _bareListener = new TcpListener(IPAddress.Loopback, 0);
        _bareListener.Start(backlog: 512);
        _bareEndPoint = (IPEndPoint)_bareListener.LocalEndpoint;
        _bareAccepting = AcceptBareAsync();

        // One of each, so that a broken setup fails here; the Mesh nodes know each other from then on.
        TlsHandshakeAsync().GetAwaiter().GetResult();
        MeshHandshakeAsync().GetAwaiter().GetResult();
        MeshTableHandshakeAsync().GetAwaiter().GetResult();
        BareExchangeAsync().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stopping.Cancel();
        _tlsListener.Stop();
        _accepting.GetAwaiter().GetResult();
        _bareListener.Stop();
        _bareAccepting.GetAwaiter().GetResult();
        _meshHost.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _meshTable.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _serverCertificate.Dispose();
        _clientCertificate.Dispose();
        _nodeA.Dispose();
        _nodeB.Dispose();
        _stopping.Dispose();
    }

    /// <summary>The baseline: TLS 1.3 with mutual certificate authentication.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public Task Tls13() => BatchAsync(TlsHandshakeAsync);

    /// <summary>Mesh 1.0 through the TCP handshake host.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public Task Mesh() => BatchAsync(MeshHandshakeAsync);

    /// <summary>Mesh 1.0 through the TCP handshake table (a row per connection, stepped where its bytes arrive).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public Task MeshTable() => BatchAsync(MeshTableHandshakeAsync);

    /// <summary>
    /// The transport's own floor: a new connection carrying what a Mesh handshake carries (three frames of its sizes and
    /// the confirmation byte) between bare sockets, no crypto, no codec, no machine.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public Task TcpExchange() => BatchAsync(BareExchangeAsync);

    /// <summary>Runs <see cref="Batch"/> handshakes, <see cref="InFlight"/> at a time.</summary>
    private Task BatchAsync(Func<Task> handshake)
    {
        var lanes = new Task[InFlight];
        for (var i = 0; i < lanes.Length; i++) lanes[i] = LaneAsync(handshake, Batch / InFlight);
        return Task.WhenAll(lanes);

        static async Task LaneAsync(Func<Task> handshake, int count)
        {
            for (var i = 0; i < count; i++) await handshake();
        }
    }

    private async Task TlsHandshakeAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_tlsEndPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        await using var stream = new SslStream(new NetworkStream(socket, ownsSocket: true));
        await stream.AuthenticateAsClientAsync(_clientOptions);
        if (stream.SslProtocol != SslProtocols.Tls13 || !stream.IsMutuallyAuthenticated) throw new InvalidOperationException($"Not mutual TLS 1.3: {stream.SslProtocol}");
        var received = new byte[1];
        if (await stream.ReadAsync(received) != 1) throw new InvalidOperationException("The TLS server did not accept the client.");
    }

    private async Task AcceptTlsAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _tlsListener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            _ = ServeTlsAsync(socket);
        }
    }

    private async Task ServeTlsAsync(Socket socket)
    {
        socket.NoDelay = true;
        await using var stream = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await stream.AuthenticateAsServerAsync(_serverOptions, _stopping.Token);
            await stream.WriteAsync(One, _stopping.Token);
            // Until the client has read it and closes: closing first, with its close unread, could reset the byte away.
            var rest = new byte[1];
            while (await stream.ReadAsync(rest, _stopping.Token) > 0)
            {
            }
        }
        catch (Exception)
        {
            // The client sees the failure: its handshake or its read of the byte fails.
        }
    }

    private Task MeshHandshakeAsync() => InitiateAsync(_meshEndPoint);

    private Task MeshTableHandshakeAsync() => InitiateAsync(_meshTableEndPoint);

    private async Task InitiateAsync(IPEndPoint server)
    {
        await using var transport = await TcpTransport.ConnectAsync(server);
        var outcome = await new MeshInitiator(new MeshInitiatorInputs { Identity = _nodeA }, _storesA.Initiator()).RunAsync(transport);
        if (!outcome.Succeeded) throw new InvalidOperationException(outcome.ToString());
        // The initiator is done once HS_ACK is sent; the responder's byte says it accepted HS_ACK.
        var received = new ArrayBufferWriter<byte>(1);
        if (!await transport.ReceiveAsync(received) || received.WrittenCount != 1) throw new InvalidOperationException("The Mesh responder did not accept the initiator.");
        await transport.CloseAsync();
    }

    private async Task RespondAsync(IMessageTransport transport, CancellationToken cancellationToken)
    {
        var outcome = await new MeshResponder(new MeshResponderInputs { Identity = _nodeB }, _storesB.Responder()).RunAsync(transport, cancellationToken);
        if (!outcome.Succeeded) return;
        await transport.SendAsync(One, cancellationToken);
        await transport.CloseAsync(cancellationToken);
    }

    // The sizes of Mesh's frames on the wire (HS_SYN, HS_SYN_ACK, HS_ACK in their signed packets, with the length prefix).
    private static readonly byte[] SynFrame = new byte[340], SynAckFrame = new byte[520], AckFrame = new byte[430];

    private async Task BareExchangeAsync()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(_bareEndPoint);
        var buffer = new byte[1024];
        await socket.SendAsync(SynFrame, SocketFlags.None);
        await ReceiveExactlyAsync(socket, buffer.AsMemory(0, SynAckFrame.Length));
        await socket.SendAsync(AckFrame, SocketFlags.None);
        await ReceiveExactlyAsync(socket, buffer.AsMemory(0, 1));
        socket.Shutdown(SocketShutdown.Send);
    }

    private async Task AcceptBareAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _bareListener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = AnswerBareAsync(socket);
        }
    }

    private static async Task AnswerBareAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                socket.NoDelay = true;
                var buffer = new byte[1024];
                await ReceiveExactlyAsync(socket, buffer.AsMemory(0, SynFrame.Length));
                await socket.SendAsync(SynAckFrame, SocketFlags.None);
                await ReceiveExactlyAsync(socket, buffer.AsMemory(0, AckFrame.Length));
                await socket.SendAsync(One, SocketFlags.None);
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception)
            {
                // The client sees it.
            }
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var got = await socket.ReceiveAsync(buffer[read..], SocketFlags.None);
            if (got == 0) throw new InvalidOperationException("The peer closed early.");
            read += got;
        }
    }

    /// <summary>The table's responder accepted the initiator: the byte is sent on the connection it hands over.</summary>
    private void Confirm(IPEndPoint peer, HandshakeOutcome<MeshResponderResult> outcome, IMessageTransport? transport)
    {
        if (transport is not null) _ = ConfirmAsync(transport);
    }

    private async Task ConfirmAsync(IMessageTransport transport)
    {
        await using (transport)
        {
            try
            {
                await transport.SendAsync(One, _stopping.Token);
                await transport.CloseAsync(_stopping.Token);
            }
            catch (Exception)
            {
                // The client sees the failure: its read of the byte fails.
            }
        }
    }

    private static bool Pinned(X509Certificate? certificate, string thumbprint)
        => certificate is not null && string.Equals(certificate.GetCertHashString(HashAlgorithmName.SHA256), thumbprint, StringComparison.Ordinal);

    /// <summary>A self-signed P-256 ECDSA certificate for TLS clients and servers, valid for a day.</summary>
    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            new OidCollection { new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2") }, critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS#12, so that the private key is one the platform's TLS can use on every OS.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), password: null);
    }
}
