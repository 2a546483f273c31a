using System;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Dsl.Protocols.Cahp;
using Dsl.Protocols.Entft;
using Dsl.Protocols.Ltp;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Expressions;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;

namespace Dsl.Benchmarks;

/// <summary>
/// Each seed protocol's full handshake, both roles over an in-memory pair with in-memory stores (the baseline of the
/// protocol's category), against that protocol's own crypto floor: exactly the Ed25519 signatures and verifications,
/// X25519 key pairs and agreements, AEAD seals and opens, HKDF derivations and HMACs that its generated machines perform
/// in one successful handshake, on inputs of the same sizes, and nothing else (no SHA-256, proof of work, Merkle root,
/// codec, machine, store or transport). A floor's ratio to its handshake is how close the handshake runs to its crypto.
/// LTP 0.2 has no crypto at all: its floor is nothing, so only its handshake is measured. CAHP runs at difficulty 0,
/// the lowest its open_weight input allows (one SHA-256 to solve, one to check), with the tests' 10,000 bytes of
/// weights, and its burn confirmed by the burn_verified hook. docs/benchmarks.md lists the operations counted and where
/// they were read.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(CpuConfig))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ProtocolFloorBenchmarks
{
    private const string Ltp = "Ltp", Mesh = "Mesh", Stt = "Stt", Cahp = "Cahp", Entft = "Entft";

    private readonly byte[] _signature = new byte[Ed25519.SignatureSize];
    private readonly byte[] _key = new byte[32];
    private readonly byte[] _tag = new byte[HmacSha256.TagSize];

    /// <summary>Random bytes of <paramref name="length"/>: the stand-in for a value of that size on the wire.</summary>
    private static byte[] Sized(int length) => Digests.RandomBytes(length);

    /// <summary>Signs <paramref name="payload"/> with <paramref name="key"/> and verifies it, as sender and receiver do.</summary>
    private void SignAndVerify(Ed25519Key key, byte[] payload)
    {
        Ed25519.Instance.Sign(key, payload, _signature);
        if (!Ed25519.Instance.Verify(key.PublicKey, payload, _signature)) throw new InvalidOperationException("A floor signature did not verify.");
    }

    [GlobalSetup]
    public void Setup()
    {
        SetupMesh();
        SetupStt();
        SetupCahp();
        SetupEntft();
        // Every handshake once, so that a broken one fails here rather than as a figure.
        LtpHandshake().GetAwaiter().GetResult();
        MeshHandshake().GetAwaiter().GetResult();
        MeshStepped().GetAwaiter().GetResult();
        SttHandshake().GetAwaiter().GetResult();
        SttStepped().GetAwaiter().GetResult();
        CahpHandshake().GetAwaiter().GetResult();
        EntftHandshake().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _meshA.Dispose();
        _meshB.Dispose();
        _metabolicKey.Dispose();
        _openWeightKey.Dispose();
        _entftServerKey.Dispose();
    }

    // ---- LTP 0.2 -------------------------------------------------------------------------------------------------

    private static readonly LtpServerInputs LtpServerInputs = new() { ServerCapabilities = new[] { "ping-pong" }, HeartbeatIntervalMs = 15000 };
    private static readonly LtpClientInputs LtpClientInputs = new() { ClientId = "client-123" };

    /// <summary>
    /// LTP's handshake_init and handshake_ack: a new client opens a thread. Both stores start empty for each handshake, so
    /// the server's thread table does not grow through the run. LTP has no crypto, so no floor.
    /// </summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Ltp)]
    public async Task LtpHandshake()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var serving = new LtpServer(LtpServerInputs, new LtpServerServices { Threads = new InMemoryThreadStore() }).RunAsync(b).AsTask();
        var client = await new LtpClient(LtpClientInputs, new LtpClientServices { SavedThreads = new InMemoryValueStore<Guid>() }).RunAsync(a);
        var server = await serving;
        if (!client.Succeeded || !server.Succeeded) throw new InvalidOperationException($"{client} / {server}");
    }

    // ---- Mesh 1.0 ------------------------------------------------------------------------------------------------

    private Ed25519Key _meshA = null!, _meshB = null!;
    private MeshStores _meshStoresA, _meshStoresB;
    // The canonical JSON payloads each SignedPacket signs, at the sizes they have (HS_SYN, HS_SYN_ACK, HS_ACK).
    private readonly byte[] _meshSyn = Sized(192), _meshSynAck = Sized(364), _meshAck = Sized(262);

    private void SetupMesh()
    {
        _meshA = Ed25519.Instance.GenerateKey();
        _meshB = Ed25519.Instance.GenerateKey();
        _meshStoresA = MeshStores.InMemory();
        _meshStoresB = MeshStores.InMemory();
        // The nodes know each other already, as in MeshStoreBenchmarks: the repeat handshakes a server mostly sees.
        InMemoryHandshakes.MeshAsync(_meshA, _meshStoresA, _meshB, _meshStoresB).GetAwaiter().GetResult();
        _meshSent = InMemoryHandshakes.RecordAsync(new MeshInitiator(new MeshInitiatorInputs { Identity = _meshA }, _meshStoresA.Initiator()),
            new MeshResponder(new MeshResponderInputs { Identity = _meshB }, _meshStoresB.Responder()), MeshCodec.Instance).GetAwaiter().GetResult();
    }

    /// <summary>Mesh's HS_SYN, HS_SYN_ACK and HS_ACK between two nodes that know each other.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Mesh)]
    public Task MeshHandshake() => InMemoryHandshakes.MeshAsync(_meshA, _meshStoresA, _meshB, _meshStoresB);

    /// <summary>The same handshake with both machines stepped on this thread, messages encoded and decoded, no transport or driver.</summary>
    [Benchmark, BenchmarkCategory(Mesh)]
    public Task MeshStepped() => InMemoryHandshakes.MeshSteppedAsync(_meshA, _meshStoresA, _meshB, _meshStoresB);

    /// <summary>Mesh's floor: 3 Ed25519 signatures and 3 verifications.</summary>
    [Benchmark, BenchmarkCategory(Mesh)]
    public void MeshFloor()
    {
        // A signs HS_SYN and HS_ACK, B signs HS_SYN_ACK; B verifies HS_SYN (when HS_ACK brings A's key) and HS_ACK, A verifies HS_SYN_ACK.
        SignAndVerify(_meshA, _meshSyn);
        SignAndVerify(_meshB, _meshSynAck);
        SignAndVerify(_meshA, _meshAck);
    }

    // The keys Mesh hashes into node ids: each sender's own (HS_SYN's and HS_SYN_ACK's node_id) and each receiver's check.
    private readonly Bytes _meshKeyA = new(Sized(32)), _meshKeyB = new(Sized(32));

    /// <summary>
    /// Every crypto call Mesh's handshake makes, back to back: its floor, the 4 SHA-256 of node ids (2 written, 2
    /// checked) and its 2 nonces drawn from the system's generator, through the same runtime functions the generated
    /// code calls. What the handshake takes beyond this is the toolkit's own cost (codecs, machines, driver, stores).
    /// </summary>
    [Benchmark, BenchmarkCategory(Mesh)]
    public void MeshCrypto()
    {
        MeshFloor();
        Builtins.Sha256(_meshKeyA);
        Builtins.Sha256(_meshKeyB);
        Builtins.Sha256(_meshKeyB);
        Builtins.Sha256(_meshKeyA);
        Builtins.Random(RandomSource.System, 32);
        Builtins.Random(RandomSource.System, 32);
    }

    private (MeshMessage Message, byte[] Wire)[] _meshSent = null!;
    private readonly System.Buffers.ArrayBufferWriter<byte> _wire = new(4096);

    /// <summary>
    /// What any implementation of Mesh with this wire format must do, and nothing else, in the handshake's order: for
    /// each of the three packets, its canonical payload written and signed, the packet written, read back and its
    /// signature verified; and the 4 SHA-256 and 2 nonces of <see cref="MeshCrypto"/>. No machine, store, driver or
    /// transport: the bound a handshake's ratio to its floor can reach.
    /// </summary>
    [Benchmark, BenchmarkCategory(Mesh)]
    public void MeshCryptoAndCodecs()
    {
        Builtins.Random(RandomSource.System, 32);
        Builtins.Sha256(_meshKeyA);
        Builtins.Random(RandomSource.System, 32);
        Builtins.Sha256(_meshKeyB);
        Builtins.Sha256(_meshKeyB);
        Builtins.Sha256(_meshKeyA);
        for (var i = 0; i < _meshSent.Length; i++)
        {
            var (message, wire) = _meshSent[i];
            var key = i == 1 ? _meshB : _meshA;
            var payload = MeshCodec.Instance.EncodeCanonicalPayload(message);
            Ed25519.Instance.Sign(key, payload.Span, _signature);
            _wire.ResetWrittenCount();
            MeshCodec.Instance.Encode(message, _wire);
            if (!MeshCodec.Instance.TryDecode(wire, out var received, out var error)) throw new InvalidOperationException(error.Detail);
            var envelope = received.Envelope!;
            if (!Ed25519.Instance.Verify(key.PublicKey, envelope.Payload.Span, envelope.Signature.Span))
                throw new InvalidOperationException("A recorded packet's signature did not verify.");
        }
    }

    // ---- STT 0.2 -------------------------------------------------------------------------------------------------

    private static readonly Bytes SttSeed = new(Encoding.UTF8.GetBytes("my_secret_network_key_32bytes!!!"));
    private static readonly Bytes SttNodeA = new(Enumerable.Repeat((byte)0xaa, 32).ToArray());
    private static readonly Bytes SttNodeB = new(Enumerable.Repeat((byte)0xbb, 32).ToArray());
    private byte[] _sttSeed = null!;
    private readonly byte[] _sttNonces = Sized(64), _sttNodeIds = Sized(64), _sttChallengeNonce = Sized(12), _sttSecret = Sized(32);
    private readonly byte[] _sttChallenge = new byte[48], _sttOpened = new byte[32], _sttSessionKey = new byte[32];
    private byte[] _sttProofInput = null!, _sttSessionInfo = null!, _sttSuccessInput = null!;

    private void SetupStt()
    {
        _sttSeed = SttSeed.ToArray();
        var transcript = Sized(32);
        _sttProofInput = [.. "stt/0.2 proof"u8, .. transcript];
        _sttSessionInfo = [.. "stt/0.2 session key"u8, .. transcript];
        _sttSuccessInput = [.. "stt/0.2 success"u8, .. transcript];
        _sttSent = InMemoryHandshakes.RecordAsync(new SttInitiator(new SttInitiatorInputs { NodeId = SttNodeA, SharedSeed = SttSeed }),
            new SttResponder(new SttResponderInputs { NodeId = SttNodeB, SharedSeed = SttSeed }), SttCodec.Instance).GetAwaiter().GetResult();
    }

    /// <summary>STT's HELLO, RESPONSE, AUTH_PROOF and SUCCESS; the session keys are disposed.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Stt)]
    public Task SttHandshake() => InMemoryHandshakes.SttAsync(SttSeed, SttNodeA, SttNodeB);

    /// <summary>The same handshake with both machines stepped on this thread, messages encoded and decoded, no transport or driver.</summary>
    [Benchmark, BenchmarkCategory(Stt)]
    public Task SttStepped() => InMemoryHandshakes.SttSteppedAsync(SttSeed, SttNodeA, SttNodeB);

    /// <summary>STT's floor: 8 HKDF-SHA256, 4 HMAC-SHA256, 1 ChaCha20-Poly1305 seal and 1 open.</summary>
    [Benchmark, BenchmarkCategory(Stt)]
    public void SttFloor()
    {
        // RESPONSE's challenge: its key derived on each side, the secret sealed by the responder, opened by the initiator.
        HkdfSha256.DeriveKey(_sttSeed, _sttNonces, "stt/0.2 challenge"u8, _key);
        AeadAlgorithm.ChaCha20Poly1305.Seal(_key, _sttChallengeNonce, _sttSecret, _sttNodeIds, _sttChallenge);
        HkdfSha256.DeriveKey(_sttSeed, _sttNonces, "stt/0.2 challenge"u8, _key);
        if (!AeadAlgorithm.ChaCha20Poly1305.TryOpen(_key, _sttChallengeNonce, _sttChallenge, _sttNodeIds, _sttOpened))
            throw new InvalidOperationException("The floor's challenge did not open.");
        // AUTH_PROOF's proof: made by the initiator, checked by the responder.
        HmacSha256.Compute(_sttOpened, _sttProofInput, _tag);
        HmacSha256.Compute(_sttSecret, _sttProofInput, _tag);
        // SUCCESS's confirmation: the session key and its HMAC, made by the responder, checked by the initiator; then
        // each side's outcome derives its two channel keys from the session key it holds.
        for (var side = 0; side < 2; side++)
        {
            HkdfSha256.DeriveKey(_sttSeed, _sttSecret, _sttSessionInfo, _sttSessionKey);
            HmacSha256.Compute(_sttSessionKey, _sttSuccessInput, _tag);
            HkdfSha256.DeriveKey(_sttSessionKey, default, "stt/0.2 initiator to responder"u8, _key);
            HkdfSha256.DeriveKey(_sttSessionKey, default, "stt/0.2 responder to initiator"u8, _key);
        }
    }

    // What STT hashes, at the sizes it has: HELLO's commitment (node id and nonce), the transcript, the session id's input.
    private readonly Bytes _sttCommitted = new(Sized(64)), _sttTranscribed = new(Sized(188)), _sttSessionIdInput = new(Sized(50));

    /// <summary>
    /// Every crypto call STT's handshake makes, back to back: its floor, its 6 SHA-256 (the commitment, the transcript
    /// and the session id, each computed by both sides) and its 4 draws from the system's generator (the two nonces, the
    /// challenge's nonce and the secret), through the same runtime functions the generated code calls.
    /// </summary>
    [Benchmark, BenchmarkCategory(Stt)]
    public void SttCrypto()
    {
        SttFloor();
        for (var side = 0; side < 2; side++)
        {
            Builtins.Sha256(_sttCommitted);
            Builtins.Sha256(_sttTranscribed);
            Builtins.Sha256(_sttSessionIdInput);
        }
        Builtins.Random(RandomSource.System, 32);
        Builtins.Random(RandomSource.System, 32);
        Builtins.Random(RandomSource.System, 12);
        Builtins.Random(RandomSource.System, 32);
    }

    private (SttMessage Message, byte[] Wire)[] _sttSent = null!;

    /// <summary>
    /// What any implementation of STT with this wire format must do, and nothing else: <see cref="SttCrypto"/>, and each
    /// of its four messages written and read back. No machine, driver or transport: the bound a handshake's ratio to
    /// its floor can reach.
    /// </summary>
    [Benchmark, BenchmarkCategory(Stt)]
    public void SttCryptoAndCodecs()
    {
        SttCrypto();
        foreach (var (message, wire) in _sttSent)
        {
            _wire.ResetWrittenCount();
            SttCodec.Instance.Encode(message, _wire);
            if (!SttCodec.Instance.TryDecode(wire, out _, out var error)) throw new InvalidOperationException(error.Detail);
        }
    }

    // ---- CAHP 1.1 ------------------------------------------------------------------------------------------------

    /// <summary>The open-weight node's ledger: it confirms every burn at once, as one answered from memory would.</summary>
    private sealed class ConfirmingLedger : ICahpOpenWeightHooks
    {
        public ValueTask<bool> BurnVerifiedAsync(string txHash, long burnAmountSats, Bytes sessionBinding, CancellationToken cancellationToken) => new(true);
    }

    private static readonly Bytes CahpWeights = new(Enumerable.Range(0, 10_000).Select(i => (byte)(i * 31 % 251)).ToArray());
    private readonly ConfirmingLedger _ledger = new();
    private readonly InMemoryReplayCache _metabolicReplay = new(), _openWeightReplay = new(), _spentBurns = new();
    private Ed25519Key _metabolicKey = null!, _openWeightKey = null!;
    private CahpMetabolicInputs _metabolicInputs = null!;
    private CahpOpenWeightInputs _openWeightInputs = null!;
    private long _burns;
    // The canonical envelopes without their signatures, at the sizes they have with these inputs: the metabolic node's
    // discovery, response and burn_proof, the open-weight node's challenge, weight_commitment and ticket.
    private readonly byte[] _discovery = Sized(427), _response = Sized(345), _burnProof = Sized(439);
    private readonly byte[] _challenge = Sized(414), _weightCommitment = Sized(465), _ticket = Sized(423);

    private void SetupCahp()
    {
        _metabolicKey = Ed25519.Instance.GenerateKey();
        _openWeightKey = Ed25519.Instance.GenerateKey();
        // The tests' nodes (CahpPair), at difficulty 0.
        _metabolicInputs = new()
        {
            Identity = _metabolicKey, Model = "stonecharm-7b", ModelWeights = CahpWeights, TxHash = new string('0', 64),
            BurnAmountSats = 5000, Capabilities = new[] { "inference", "fine-tune" },
        };
        _openWeightInputs = new()
        {
            Identity = _openWeightKey, Model = "stonecharm-7b", ModelWeights = CahpWeights, Difficulty = 0,
            MinBurnSats = 1000, FullTrustBurnSats = 10_000, Capabilities = new[] { "inference" },
        };
    }

    /// <summary>
    /// CAHP's six phases: discovery, challenge, response, burn_proof, weight_commitment and ticket. Each handshake burns
    /// a new transaction (a burn earns one ticket), which the ledger hook confirms.
    /// </summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Cahp)]
    public async Task CahpHandshake()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var openWeight = new CahpOpenWeight(_openWeightInputs, new CahpOpenWeightServices { Replay = _openWeightReplay, SpentBurns = _spentBurns }, _ledger)
            .RunAsync(b).AsTask();
        var metabolic = await new CahpMetabolic(_metabolicInputs with { TxHash = (++_burns).ToString("x64") },
            new CahpMetabolicServices { Replay = _metabolicReplay }).RunAsync(a);
        var openWeighted = await openWeight;
        if (!metabolic.Succeeded || !openWeighted.Succeeded) throw new InvalidOperationException($"{metabolic} / {openWeighted}");
    }

    /// <summary>CAHP's floor: 6 Ed25519 signatures and 6 verifications, one of each per signed envelope.</summary>
    [Benchmark, BenchmarkCategory(Cahp)]
    public void CahpFloor()
    {
        SignAndVerify(_metabolicKey, _discovery);
        SignAndVerify(_openWeightKey, _challenge);
        SignAndVerify(_metabolicKey, _response);
        SignAndVerify(_metabolicKey, _burnProof);
        SignAndVerify(_openWeightKey, _weightCommitment);
        SignAndVerify(_openWeightKey, _ticket);
    }

    // ---- entft 1.0 -----------------------------------------------------------------------------------------------

    /// <summary>The server's policy: the tests' one client, its phrase key and the level its role earns.</summary>
    private sealed class Policy(Bytes phraseKey) : IEntftServerHooks
    {
        public ValueTask<Grant?> AuthorizeAsync(string clientId, string homeDomain, string role, string domain, CancellationToken cancellationToken)
            => new(clientId == "acft-001" && role == "commanding_officer" && domain == "space" ? new Grant { PhraseKey = phraseKey, Level = AuthLevel.Command } : null);
    }

    private const string EntftPhrase = "picard alpha tango 789", EntftClientId = "acft-001";
    private Ed25519Key _entftServerKey = null!;
    private Policy _policy = null!;
    private readonly InMemoryAddressBlockList _entftBlocked = new();
    private EntftClientInputs _entftClientInputs = null!;
    private EntftServerInputs _entftServerInputs = null!;
    private readonly byte[] _entftShared = new byte[X25519.KeySize], _entftTranscript = Sized(32);
    // init_ack's signed bytes ("entft/1.0 server" ‖ transcript ‖ the server's key), the auth key's input key material
    // (shared secret ‖ phrase key) and the auth proof's input (transcript ‖ SHA-256 of role ‖ SHA-256 of domain).
    private readonly byte[] _entftServerProof = Sized(16 + 32 + 32), _entftAuthKeyMaterial = Sized(64), _entftAuthInput = Sized(96);
    private readonly byte[] _entftPhrase = Encoding.UTF8.GetBytes(EntftPhrase), _entftClientId = Encoding.UTF8.GetBytes(EntftClientId);

    private void SetupEntft()
    {
        _entftServerKey = Ed25519.Instance.GenerateKey();
        _policy = new Policy(new Bytes(HkdfSha256.DeriveKey(_entftPhrase, _entftClientId, "entft/1.0 phrase"u8, 32)));
        // The tests' client and server (EntftHandshakeTests).
        _entftClientInputs = new()
        {
            ClientId = EntftClientId, Domain = "space", Role = "commanding_officer", Passphrase = EntftPhrase,
            ServerKey = Bytes.CopyFrom(_entftServerKey.PublicKey), Capabilities = new[] { "phrase-auth", "resonance-sync", "governance-ledger" },
        };
        _entftServerInputs = new()
        {
            Identity = _entftServerKey, ServerId = "starfleet_hq", Capabilities = new[] { "phrase-auth", "resonance-sync", "telemetry" },
        };
    }

    /// <summary>entft's init, auth, resonance-sync and secure-channel phases, each a request and its answer; the traffic keys are disposed.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory(Entft)]
    public async Task EntftHandshake()
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var serving = new EntftServer(_entftServerInputs, new EntftServerServices { Blocked = _entftBlocked }, _policy).RunAsync(b).AsTask();
        var client = await new EntftClient(_entftClientInputs).RunAsync(a);
        var server = await serving;
        if (!client.Succeeded || !server.Succeeded) throw new InvalidOperationException($"{client} / {server}");
        client.Result.Dispose();
        server.Result.Dispose();
    }

    /// <summary>entft's floor: 2 X25519 key pairs and 2 agreements, 1 Ed25519 signature and 1 verification, 11 HKDF-SHA256 and 6 HMAC-SHA256.</summary>
    [Benchmark, BenchmarkCategory(Entft)]
    public void EntftFloor()
    {
        // init and init_ack: each side's ephemeral key pair, and its agreement with the other's public key.
        using var client = X25519.Instance.GenerateKey();
        using var server = X25519.Instance.GenerateKey();
        if (!X25519.Instance.TryAgree(server, client.PublicKey, _entftShared) || !X25519.Instance.TryAgree(client, server.PublicKey, _entftShared))
            throw new InvalidOperationException("The floor's key agreement failed.");
        // init_ack's signature: made by the server, checked by the client.
        SignAndVerify(_entftServerKey, _entftServerProof);
        // auth: the client derives its phrase key (the server's policy holds it already); each side the proof's key and the proof.
        HkdfSha256.DeriveKey(_entftPhrase, _entftClientId, "entft/1.0 phrase"u8, _key);
        for (var side = 0; side < 2; side++)
        {
            HkdfSha256.DeriveKey(_entftAuthKeyMaterial, _entftTranscript, "entft/1.0 auth"u8, _key);
            HmacSha256.Compute(_key, _entftAuthInput, _tag);
        }
        // resonance-sync and sync_ok: each confirmation's key and HMAC, made by one side and checked by the other.
        for (var side = 0; side < 2; side++)
        {
            HkdfSha256.DeriveKey(_entftShared, _entftTranscript, "entft/1.0 confirm client"u8, _key);
            HmacSha256.Compute(_key, _entftTranscript, _tag);
            HkdfSha256.DeriveKey(_entftShared, _entftTranscript, "entft/1.0 confirm server"u8, _key);
            HmacSha256.Compute(_key, _entftTranscript, _tag);
        }
        // The outcomes: both traffic keys, on each side.
        for (var side = 0; side < 2; side++)
        {
            HkdfSha256.DeriveKey(_entftShared, _entftTranscript, "entft/1.0 client to server"u8, _key);
            HkdfSha256.DeriveKey(_entftShared, _entftTranscript, "entft/1.0 server to client"u8, _key);
        }
    }
}
