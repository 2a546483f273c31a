using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Dsl.Protocols.Ltp;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;

namespace Dsl.Benchmarks;

/// <summary>
/// The generated codecs against System.Text.Json's source generator (the baseline of each pair) on the same messages,
/// taken from real in-memory handshakes: LTP 0.2 <c>handshake_init</c> and <c>handshake_ack</c>, STT 0.2 <c>HELLO</c>
/// and Mesh 1.0's signed <c>HS_SYN_ACK</c>. Each message is encoded into a reused buffer and decoded from its wire
/// bytes; for Mesh also the canonical payload (RFC 8785, what is signed). The STJ types have exactly the wire's JSON
/// shape (setup checks that both write the same bytes), but STJ checks less on decode: it does not dispatch on
/// <c>type</c>, check constraints (lengths, ranges), decode hex, or (Mesh) canonicalize the payload a verifier needs.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class CodecBenchmarks
{
    private const string LtpInitEncode = "ltp handshake_init encode", LtpInitDecode = "ltp handshake_init decode";
    private const string LtpAckEncode = "ltp handshake_ack encode", LtpAckDecode = "ltp handshake_ack decode";
    private const string SttHelloEncode = "stt HELLO encode", SttHelloDecode = "stt HELLO decode";
    private const string MeshEncode = "mesh HS_SYN_ACK packet encode", MeshDecode = "mesh HS_SYN_ACK packet decode";
    private const string MeshCanonical = "mesh HS_SYN_ACK canonical payload";

    // Both writers skip validation, as the runtime's own writer does, so the pairs differ only in the serializer.
    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };

    private readonly ArrayBufferWriter<byte> _ours = new(1024);
    private readonly ArrayBufferWriter<byte> _stj = new(1024);
    private Utf8JsonWriter _stjWriter = null!;

    private byte[] _ltpInitWire = null!, _ltpAckWire = null!, _sttHelloWire = null!, _meshSynAckWire = null!;
    private HandshakeInit _ltpInit = null!;
    private HandshakeAck _ltpAck = null!;
    private Hello _sttHello = null!;
    private HsSynAck _meshSynAck = null!;
    private LtpHandshakeInitJson _ltpInitJson = null!;
    private LtpHandshakeAckJson _ltpAckJson = null!;
    private SttHelloJson _sttHelloJson = null!;
    private MeshSynAckPacketJson _meshSynAckJson = null!;

    [GlobalSetup]
    public void Setup()
    {
        _stjWriter = new Utf8JsonWriter(_stj, WriterOptions);

        var ltp = CaptureLtp().GetAwaiter().GetResult();
        _ltpInitWire = ltp.Single(m => Ltp(m).MessageType == HandshakeInit.WireName);
        _ltpAckWire = ltp.Single(m => Ltp(m).MessageType == HandshakeAck.WireName);
        _sttHelloWire = CaptureStt().GetAwaiter().GetResult().Single(m => Stt(m).MessageType == Hello.WireName);
        _meshSynAckWire = CaptureMesh().GetAwaiter().GetResult().Single(m => Mesh(m).MessageType == HsSynAck.WireName);

        _ltpInit = (HandshakeInit)Ltp(_ltpInitWire);
        _ltpAck = (HandshakeAck)Ltp(_ltpAckWire);
        _sttHello = (Hello)Stt(_sttHelloWire);
        _meshSynAck = (HsSynAck)Mesh(_meshSynAckWire);
        _ltpInitJson = JsonSerializer.Deserialize(_ltpInitWire, CodecBenchmarkJson.Default.LtpHandshakeInitJson)!;
        _ltpAckJson = JsonSerializer.Deserialize(_ltpAckWire, CodecBenchmarkJson.Default.LtpHandshakeAckJson)!;
        _sttHelloJson = JsonSerializer.Deserialize(_sttHelloWire, CodecBenchmarkJson.Default.SttHelloJson)!;
        _meshSynAckJson = JsonSerializer.Deserialize(_meshSynAckWire, CodecBenchmarkJson.Default.MeshSynAckPacketJson)!;

        // The pairs are only comparable if both sides write the same bytes: the wire as sent, and the signed payload.
        SameBytes(LtpInitEncode, _ltpInitWire, LtpInit_Encode_Stj, LtpInit_Encode_Dsl);
        SameBytes(LtpAckEncode, _ltpAckWire, LtpAck_Encode_Stj, LtpAck_Encode_Dsl);
        SameBytes(SttHelloEncode, _sttHelloWire, SttHello_Encode_Stj, SttHello_Encode_Dsl);
        SameBytes(MeshEncode, _meshSynAckWire, MeshSynAck_Encode_Stj, MeshSynAck_Encode_Dsl);
        var canonical = MeshSynAck_CanonicalPayload_Dsl().Span.ToArray();
        if (!canonical.AsSpan().SequenceEqual(MeshSynAck_CanonicalPayload_Stj()) || !canonical.AsSpan().SequenceEqual(_meshSynAck.Envelope!.Payload.Span))
            throw new InvalidOperationException($"{MeshCanonical}: the two payloads differ, or differ from the signed one");
    }

    [GlobalCleanup]
    public void Cleanup() => _stjWriter.Dispose();

    private void SameBytes(string pair, byte[] wire, Func<int> stj, Func<int> ours)
    {
        stj();
        ours();
        if (!_stj.WrittenSpan.SequenceEqual(wire) || !_ours.WrittenSpan.SequenceEqual(wire))
            throw new InvalidOperationException($"{pair}: the writers disagree with the wire\n wire: {Encoding.UTF8.GetString(wire)}\n stj:  {Encoding.UTF8.GetString(_stj.WrittenSpan)}\n ours: {Encoding.UTF8.GetString(_ours.WrittenSpan)}");
    }

    private static LtpMessage Ltp(byte[] wire) => LtpCodec.Instance.TryDecode(wire, out var m, out var e) ? m : throw new InvalidOperationException(e.ToString());
    private static SttMessage Stt(byte[] wire) => SttCodec.Instance.TryDecode(wire, out var m, out var e) ? m : throw new InvalidOperationException(e.ToString());
    private static MeshMessage Mesh(byte[] wire) => MeshCodec.Instance.TryDecode(wire, out var m, out var e) ? m : throw new InvalidOperationException(e.ToString());

    // ---- LTP 0.2 handshake_init ----

    /// <summary>STJ: handshake_init into a reused buffer.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(LtpInitEncode)]
    public int LtpInit_Encode_Stj() => Stj(_ltpInitJson, CodecBenchmarkJson.Default.LtpHandshakeInitJson);

    /// <summary>The generated codec: handshake_init into a reused buffer.</summary>
    [Benchmark, BenchmarkCategory(LtpInitEncode)]
    public int LtpInit_Encode_Dsl()
    {
        _ours.Clear();
        LtpCodec.Instance.Encode(_ltpInit, _ours);
        return _ours.WrittenCount;
    }

    /// <summary>STJ: handshake_init from its wire bytes.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(LtpInitDecode)]
    public LtpHandshakeInitJson? LtpInit_Decode_Stj() => JsonSerializer.Deserialize(_ltpInitWire, CodecBenchmarkJson.Default.LtpHandshakeInitJson);

    /// <summary>The generated codec: handshake_init from its wire bytes.</summary>
    [Benchmark, BenchmarkCategory(LtpInitDecode)]
    public LtpMessage? LtpInit_Decode_Dsl() => LtpCodec.Instance.TryDecode(_ltpInitWire, out var message, out _) ? message : null;

    // ---- LTP 0.2 handshake_ack ----

    /// <summary>STJ: handshake_ack into a reused buffer.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(LtpAckEncode)]
    public int LtpAck_Encode_Stj() => Stj(_ltpAckJson, CodecBenchmarkJson.Default.LtpHandshakeAckJson);

    /// <summary>The generated codec: handshake_ack into a reused buffer.</summary>
    [Benchmark, BenchmarkCategory(LtpAckEncode)]
    public int LtpAck_Encode_Dsl()
    {
        _ours.Clear();
        LtpCodec.Instance.Encode(_ltpAck, _ours);
        return _ours.WrittenCount;
    }

    /// <summary>STJ: handshake_ack from its wire bytes.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(LtpAckDecode)]
    public LtpHandshakeAckJson? LtpAck_Decode_Stj() => JsonSerializer.Deserialize(_ltpAckWire, CodecBenchmarkJson.Default.LtpHandshakeAckJson);

    /// <summary>The generated codec: handshake_ack from its wire bytes.</summary>
    [Benchmark, BenchmarkCategory(LtpAckDecode)]
    public LtpMessage? LtpAck_Decode_Dsl() => LtpCodec.Instance.TryDecode(_ltpAckWire, out var message, out _) ? message : null;

    // ---- STT 0.2 HELLO ----

    /// <summary>STJ: HELLO into a reused buffer (its hex fields are strings already).</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(SttHelloEncode)]
    public int SttHello_Encode_Stj() => Stj(_sttHelloJson, CodecBenchmarkJson.Default.SttHelloJson);

    /// <summary>The generated codec: HELLO into a reused buffer (hex-encoding its byte fields).</summary>
    [Benchmark, BenchmarkCategory(SttHelloEncode)]
    public int SttHello_Encode_Dsl()
    {
        _ours.Clear();
        SttCodec.Instance.Encode(_sttHello, _ours);
        return _ours.WrittenCount;
    }

    /// <summary>STJ: HELLO from its wire bytes (hex fields left as strings).</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(SttHelloDecode)]
    public SttHelloJson? SttHello_Decode_Stj() => JsonSerializer.Deserialize(_sttHelloWire, CodecBenchmarkJson.Default.SttHelloJson);

    /// <summary>The generated codec: HELLO from its wire bytes (hex decoded and lengths checked).</summary>
    [Benchmark, BenchmarkCategory(SttHelloDecode)]
    public SttMessage? SttHello_Decode_Dsl() => SttCodec.Instance.TryDecode(_sttHelloWire, out var message, out _) ? message : null;

    // ---- Mesh 1.0 HS_SYN_ACK in its SignedPacket ----

    /// <summary>STJ: the whole packet (payload object and signature) into a reused buffer.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(MeshEncode)]
    public int MeshSynAck_Encode_Stj() => Stj(_meshSynAckJson, CodecBenchmarkJson.Default.MeshSynAckPacketJson);

    /// <summary>The generated codec: the whole packet into a reused buffer (the sealed payload is copied as it was signed).</summary>
    [Benchmark, BenchmarkCategory(MeshEncode)]
    public int MeshSynAck_Encode_Dsl()
    {
        _ours.Clear();
        MeshCodec.Instance.Encode(_meshSynAck, _ours);
        return _ours.WrittenCount;
    }

    /// <summary>STJ: the packet from its wire bytes, payload as an object (no canonical bytes to verify against).</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(MeshDecode)]
    public MeshSynAckPacketJson? MeshSynAck_Decode_Stj() => JsonSerializer.Deserialize(_meshSynAckWire, CodecBenchmarkJson.Default.MeshSynAckPacketJson);

    /// <summary>The generated codec: the packet from its wire bytes, the payload decoded and canonicalized for verification.</summary>
    [Benchmark, BenchmarkCategory(MeshDecode)]
    public MeshMessage? MeshSynAck_Decode_Dsl() => MeshCodec.Instance.TryDecode(_meshSynAckWire, out var message, out _) ? message : null;

    /// <summary>STJ: the payload, its properties declared in canonical order, as a new byte array.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(MeshCanonical)]
    public byte[] MeshSynAck_CanonicalPayload_Stj() => JsonSerializer.SerializeToUtf8Bytes(_meshSynAckJson.Payload, CodecBenchmarkJson.Default.MeshSynAckPayloadJson);

    /// <summary>The generated codec: the payload as RFC 8785 canonical JSON (written, then canonicalized), as new bytes.</summary>
    [Benchmark, BenchmarkCategory(MeshCanonical)]
    public Bytes MeshSynAck_CanonicalPayload_Dsl() => MeshCodec.Instance.EncodeCanonicalPayload(_meshSynAck);

    private int Stj<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        _stj.Clear();
        _stjWriter.Reset(_stj);
        JsonSerializer.Serialize(_stjWriter, value, type);
        return _stj.WrittenCount;
    }

    // ---- Real handshakes, to take the messages from ----

    private static async Task<List<byte[]>> CaptureLtp()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var client = new CapturingTransport(a);
        var server = new CapturingTransport(b);
        var serving = new LtpServer(
            new LtpServerInputs { ServerCapabilities = new[] { "ping-pong", "state-update", "events" }, HeartbeatIntervalMs = 15000 },
            new LtpServerServices { Threads = new InMemoryThreadStore() }).RunAsync(server).AsTask();
        var initiated = await new LtpClient(
            new LtpClientInputs
            {
                ClientId = "3f2b8c1e-5d4a-4e7b-9c2f-1a6d8e0b4c7a",
                DeviceFingerprint = "sha256:9e107d9d372bb6826bd81d3542a419d6",
                Intent = "data_sync",
                Capabilities = new[] { "state-update", "events" },
                Metadata = Metadata.Create(("app_version", "2.4.1"), ("platform", "linux-x64")),
            },
            new LtpClientServices { SavedThreads = new InMemoryValueStore<Guid>() }).RunAsync(client);
        var served = await serving;
        if (!initiated.Succeeded || !served.Succeeded) throw new InvalidOperationException($"{initiated} / {served}");
        return client.Sent.Concat(server.Sent).ToList();
    }

    private static async Task<List<byte[]>> CaptureStt()
    {
        var seed = new Bytes(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));
        var (a, b) = InMemoryTransport.CreatePair();
        var initiator = new CapturingTransport(a);
        var responding = new SttResponder(new SttResponderInputs { NodeId = new(Enumerable.Repeat((byte)0xbb, 32).ToArray()), SharedSeed = seed }).RunAsync(b).AsTask();
        var initiated = await new SttInitiator(new SttInitiatorInputs { NodeId = new(Enumerable.Repeat((byte)0xaa, 32).ToArray()), SharedSeed = seed }).RunAsync(initiator);
        var responded = await responding;
        if (!initiated.Succeeded || !responded.Succeeded) throw new InvalidOperationException($"{initiated} / {responded}");
        initiated.Result.Dispose();
        responded.Result.Dispose();
        return initiator.Sent;
    }

    private static async Task<List<byte[]>> CaptureMesh()
    {
        using var keyA = Ed25519.Instance.GenerateKey();
        using var keyB = Ed25519.Instance.GenerateKey();
        var (a, b) = InMemoryTransport.CreatePair();
        var responder = new CapturingTransport(b);
        var responding = new MeshResponder(new MeshResponderInputs { Identity = keyB },
            new MeshResponderServices { Pins = new InMemoryPinnedKeyStore(), Trust = new InMemoryTrustStore(), Replay = new InMemoryReplayCache(), Blocked = new InMemoryAddressBlockList() })
            .RunAsync(responder).AsTask();
        var initiated = await new MeshInitiator(new MeshInitiatorInputs { Identity = keyA },
            new MeshInitiatorServices { Pins = new InMemoryPinnedKeyStore(), Trust = new InMemoryTrustStore() }).RunAsync(a);
        var responded = await responding;
        if (!initiated.Succeeded || !responded.Succeeded) throw new InvalidOperationException($"{initiated} / {responded}");
        return responder.Sent;
    }

    /// <summary>A transport decorator that keeps a copy of every message sent through it.</summary>
    private sealed class CapturingTransport(IMessageTransport inner) : IMessageTransport
    {
        public List<byte[]> Sent { get; } = new();

        public int MaxMessageSize => inner.MaxMessageSize;
        public string? RemoteAddress => inner.RemoteAddress;

        public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
        {
            lock (Sent) Sent.Add(message.ToArray());
            return inner.SendAsync(message, cancellationToken);
        }

        public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default) => inner.ReceiveAsync(destination, cancellationToken);
        public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

/// <summary>LTP 0.2 <c>handshake_init</c> as plain STJ: the wire's names, in the wire's order.</summary>
public sealed class LtpHandshakeInitJson
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("ltp_version")] public required string LtpVersion { get; init; }
    [JsonPropertyName("client_id")] public required string ClientId { get; init; }
    [JsonPropertyName("device_fingerprint")] public string? DeviceFingerprint { get; init; }
    [JsonPropertyName("intent")] public string? Intent { get; init; }
    [JsonPropertyName("capabilities")] public List<string>? Capabilities { get; init; }
    [JsonPropertyName("metadata")] public JsonElement? Metadata { get; init; }
}

/// <summary>LTP 0.2 <c>handshake_ack</c> as plain STJ.</summary>
public sealed class LtpHandshakeAckJson
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("ltp_version")] public required string LtpVersion { get; init; }
    [JsonPropertyName("thread_id")] public required Guid ThreadId { get; init; }
    [JsonPropertyName("session_id")] public required Guid SessionId { get; init; }
    [JsonPropertyName("server_capabilities")] public required List<string> ServerCapabilities { get; init; }
    [JsonPropertyName("heartbeat_interval_ms")] public required long HeartbeatIntervalMs { get; init; }
    [JsonPropertyName("resumed")] public bool Resumed { get; init; }
    [JsonPropertyName("metadata")] public JsonElement? Metadata { get; init; }
}

/// <summary>STT 0.2 <c>HELLO</c> as plain STJ: hex fields as strings, the timestamp in Unix milliseconds.</summary>
public sealed class SttHelloJson
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("node_id")] public required string NodeId { get; init; }
    [JsonPropertyName("nonce")] public required string Nonce { get; init; }
    [JsonPropertyName("timestamp")] public required long Timestamp { get; init; }
    [JsonPropertyName("commitment")] public required string Commitment { get; init; }
}

/// <summary>Mesh 1.0's <c>SignedPacket</c> around an <c>HS_SYN_ACK</c>, as plain STJ.</summary>
public sealed class MeshSynAckPacketJson
{
    [JsonPropertyName("payload")] public required MeshSynAckPayloadJson Payload { get; init; }
    [JsonPropertyName("signature")] public required string Signature { get; init; }
}

/// <summary>Mesh 1.0 <c>HS_SYN_ACK</c>'s payload, its properties declared in canonical (RFC 8785, sorted) order.</summary>
public sealed class MeshSynAckPayloadJson
{
    [JsonPropertyName("challenge_nonce")] public required string ChallengeNonce { get; init; }
    [JsonPropertyName("node_id")] public required string NodeId { get; init; }
    [JsonPropertyName("nonce")] public required string Nonce { get; init; }
    [JsonPropertyName("timestamp")] public required long Timestamp { get; init; }
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("verifying_key")] public required string VerifyingKey { get; init; }
}

/// <summary>The STJ source-generated metadata for the codec benchmarks' baselines; absent optional fields are left out, as on the wire.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LtpHandshakeInitJson))]
[JsonSerializable(typeof(LtpHandshakeAckJson))]
[JsonSerializable(typeof(SttHelloJson))]
[JsonSerializable(typeof(MeshSynAckPacketJson))]
[JsonSerializable(typeof(MeshSynAckPayloadJson))]
public sealed partial class CodecBenchmarkJson : JsonSerializerContext;
