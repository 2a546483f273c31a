using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Cahp;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Xunit;

namespace Dsl.Protocols.Tests.Cahp;

/// <summary>A ledger the open-weight node asks: the burns it knows, and the questions it was asked.</summary>
public sealed class TestLedger : ICahpOpenWeightHooks
{
    public Dictionary<string, long> Burns { get; } = new();
    public List<string> Asked { get; } = new();

    public ValueTask<bool> BurnVerifiedAsync(string txHash, long burnAmountSats, Bytes sessionBinding, CancellationToken cancellationToken)
    {
        lock (Asked) Asked.Add(txHash);
        return new(Burns.TryGetValue(txHash, out var burned) && burned >= burnAmountSats);
    }
}

/// <summary>A clock the test moves.</summary>
public sealed class MovableClock : TimeProvider
{
    public TimeSpan Offset { get; set; }
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
}

/// <summary>
/// The network between the nodes, as an attacker holding the metabolic node's end sees it: it records every
/// message, and may rewrite the ones the metabolic node sends (by index) before they leave.
/// </summary>
public sealed class CahpWire(IMessageTransport inner) : IMessageTransport
{
    public List<byte[]> Sent { get; } = new();
    public List<byte[]> Received { get; } = new();
    public Func<int, byte[], byte[]>? Rewrite { get; init; }
    public Action<int, byte[]>? OnReceived { get; init; }

    public int MaxMessageSize => inner.MaxMessageSize;
    public string? RemoteAddress => inner.RemoteAddress;

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        var bytes = message.ToArray();
        var index = Sent.Count;
        if (Rewrite is not null) bytes = Rewrite(index, bytes);
        Sent.Add(bytes);
        return inner.SendAsync(bytes, cancellationToken);
    }

    public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        var copy = new ArrayBufferWriter<byte>();
        if (!await inner.ReceiveAsync(copy, cancellationToken)) return false;
        Received.Add(copy.WrittenSpan.ToArray());
        OnReceived?.Invoke(Received.Count - 1, copy.WrittenSpan.ToArray());
        destination.Write(copy.WrittenSpan);
        return true;
    }

    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>The two nodes of a CAHP test, with their keys, weights, ledger and stores.</summary>
public sealed class CahpPair : IDisposable
{
    public const string TxHash = "9f2c4a1b7d3e5f60718293a4b5c6d7e8f9012345678901234567890abcdef012";

    public static readonly byte[] Weights = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 31 % 251)).ToArray();

    public Ed25519Key MetabolicKey { get; } = Ed25519.Instance.GenerateKey();
    public Ed25519Key OpenWeightKey { get; } = Ed25519.Instance.GenerateKey();
    public TestLedger Ledger { get; } = new() { Burns = { [TxHash] = 5000 } };
    public InMemoryReplayCache OpenWeightReplay { get; } = new();
    public InMemoryReplayCache MetabolicReplay { get; } = new();
    public InMemoryReplayCache SpentBurns { get; } = new();
    public MovableClock MetabolicClock { get; } = new();
    public MovableClock OpenWeightClock { get; } = new();

    public Func<CahpMetabolicInputs, CahpMetabolicInputs> EditMetabolic { get; init; } = i => i;
    public Func<CahpOpenWeightInputs, CahpOpenWeightInputs> EditOpenWeight { get; init; } = i => i;

    public CahpMetabolicInputs MetabolicInputs => EditMetabolic(new()
    {
        Identity = MetabolicKey, Model = "stonecharm-7b", ModelWeights = new Bytes(Weights), TxHash = TxHash,
        BurnAmountSats = 5000, Capabilities = new[] { "inference", "fine-tune" }, MaxDifficulty = 16,
    });

    public CahpOpenWeightInputs OpenWeightInputs => EditOpenWeight(new()
    {
        Identity = OpenWeightKey, Model = "stonecharm-7b", ModelWeights = new Bytes(Weights), Difficulty = 8,
        MinBurnSats = 1000, FullTrustBurnSats = 10_000, Capabilities = new[] { "inference" },
    });

    public CahpMetabolic Metabolic() => new(MetabolicInputs, new CahpMetabolicServices { Replay = MetabolicReplay },
        CahpMetabolic.DefaultOptions with { TimeProvider = MetabolicClock });

    public CahpOpenWeight OpenWeight() => new(OpenWeightInputs, new CahpOpenWeightServices { Replay = OpenWeightReplay, SpentBurns = SpentBurns }, Ledger,
        CahpOpenWeight.DefaultOptions with { TimeProvider = OpenWeightClock });

    public async Task<(HandshakeOutcome<CahpMetabolicResult> M, HandshakeOutcome<CahpOpenWeightResult> O, CahpWire Wire)> RunAsync(
        Func<IMessageTransport, CahpWire>? wire = null)
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var tap = wire?.Invoke(a) ?? new CahpWire(a);
        var openWeight = OpenWeight().RunAsync(b).AsTask();
        var metabolic = await Metabolic().RunAsync(tap);
        return (metabolic, await openWeight, tap);
    }

    public void Dispose()
    {
        MetabolicKey.Dispose();
        OpenWeightKey.Dispose();
    }
}

/// <summary>CAHP v1.1 as its spec says it behaves: every phase, every envelope check, every proof, the ticket.</summary>
public sealed class CahpHandshakeTests
{
    private static JsonObject Parse(byte[] bytes) => (JsonObject)JsonNode.Parse(bytes)!;

    private static byte[] Bytes(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString());

    /// <summary>Signs an envelope again with <paramref name="key"/>, as a peer that holds it can after changing what it signs.</summary>
    private static byte[] Resign(JsonObject envelope, Ed25519Key key)
    {
        envelope.Remove("signature");
        var unsigned = JsonCanonicalizer.Canonicalize(Bytes(envelope));
        envelope["signature"] = Convert.ToHexStringLower(Ed25519.Instance.Sign(key, unsigned));
        return Bytes(envelope);
    }

    private static string TypeOf(byte[] message) => (string)Parse(message)["payload"]!["type"]!;

    [Fact]
    public async Task Both_nodes_prove_what_they_claim_and_the_metabolic_node_gets_a_ticket()
    {
        using var pair = new CahpPair();
        var (m, o, wire) = await pair.RunAsync();
        Assert.True(m.Succeeded, m.ToString());
        Assert.True(o.Succeeded, o.ToString());
        Assert.Equal(m.Result.SessionId, o.Result.SessionId);
        Assert.Equal(new[] { "inference" }, m.Result.Capabilities);
        Assert.Equal(0.5m, m.Result.TrustScore);
        Assert.Equal(Dsl.Runtime.Codecs.Bytes.CopyFrom(pair.OpenWeightKey.PublicKey), m.Result.PeerKey);
        Assert.Equal(Dsl.Runtime.Codecs.Bytes.CopyFrom(pair.MetabolicKey.PublicKey), o.Result.PeerKey);
        Assert.Equal(new[] { CahpPair.TxHash }, pair.Ledger.Asked);
        Assert.Equal(new[] { "discovery", "response", "burn_proof" }, wire.Sent.Select(TypeOf));
        Assert.Equal(new[] { "challenge", "weight_commitment", "ticket" }, wire.Received.Select(TypeOf));
    }

    [Fact]
    public async Task Every_message_is_the_seeds_envelope_signed_over_everything_but_its_signature()
    {
        using var pair = new CahpPair();
        var (m, _, wire) = await pair.RunAsync();
        Assert.True(m.Succeeded, m.ToString());
        foreach (var message in wire.Sent.Concat(wire.Received))
        {
            var envelope = Parse(message);
            Assert.Equal(new[] { "payload", "protocol", "timestamp", "nonce", "sender_type", "sender_pubkey", "signature" }, envelope.Select(p => p.Key));
            Assert.Equal("cahp/1.1", (string)envelope["protocol"]!);
            var key = Convert.FromHexString((string)envelope["sender_pubkey"]!);
            var signature = Convert.FromHexString((string)envelope["signature"]!);
            envelope.Remove("signature");
            Assert.True(Ed25519.Instance.Verify(key, JsonCanonicalizer.Canonicalize(Bytes(envelope)), signature));
        }
    }

    [Fact]
    public async Task The_trust_score_says_whether_the_burn_reached_the_full_trust_amount()
    {
        using var pair = new CahpPair { EditOpenWeight = i => i with { FullTrustBurnSats = 5000 } };
        var (m, _, _) = await pair.RunAsync();
        Assert.Equal(1.0m, m.Result!.TrustScore);
    }

    [Theory]
    [InlineData("timestamp", "INVALID_SIGNATURE")]
    [InlineData("nonce", "INVALID_SIGNATURE")]
    [InlineData("sender_type", "WRONG_SENDER_TYPE")]
    [InlineData("sender_pubkey", "INVALID_SIGNATURE")]
    [InlineData("payload", "INVALID_SIGNATURE")]
    [InlineData("signature", "INVALID_SIGNATURE")]
    [InlineData("protocol", "MALFORMED")]
    public async Task A_tampered_envelope_field_is_refused_and_the_connection_dropped(string field, string code)
    {
        using var pair = new CahpPair();
        var (m, o, wire) = await pair.RunAsync(t => new CahpWire(t)
        {
            Rewrite = (index, bytes) =>
            {
                if (index != 2) return bytes; // burn_proof
                var envelope = Parse(bytes);
                envelope[field] = field switch
                {
                    "timestamp" => (long)envelope["timestamp"]! - 1,
                    "sender_type" => "open_weight",
                    "protocol" => "cahp/1.2",
                    "payload" => ((Func<JsonNode>)(() => { var p = envelope["payload"]!.DeepClone(); p["burn_amount_sats"] = 999_999; return p; }))(),
                    _ => Flip((string)envelope[field]!),
                };
                return Bytes(envelope);
            },
        });
        Assert.False(o.Succeeded);
        Assert.Equal(code, o.Error!.Code);
        Assert.Equal("proof_exchange", o.Error.Phase);
        // No error message: the open-weight node drops the connection, as the seed says.
        Assert.False(m.Succeeded);
        Assert.Equal(HandshakeErrorCodes.PeerClosed, m.Error!.Code);
        Assert.Equal(new[] { "challenge" }, wire.Received.Select(TypeOf));
        Assert.Empty(pair.Ledger.Asked);
    }

    private static string Flip(string hex) => (hex[0] == '0' ? "1" : "0") + hex[1..];

    [Fact]
    public async Task A_captured_message_with_a_new_nonce_and_timestamp_is_refused()
    {
        using var pair = new CahpPair();
        var (first, _, firstWire) = await pair.RunAsync();
        Assert.True(first.Succeeded);
        var captured = Parse(firstWire.Sent[0]);
        // The attacker makes the captured discovery look new; without the sender's key it cannot sign it again.
        captured["nonce"] = Convert.ToHexStringLower(RandomBytes(16));
        captured["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var (_, o, _) = await pair.RunAsync(t => new CahpWire(t) { Rewrite = (i, b) => i == 0 ? Bytes(captured) : b });
        Assert.Equal("INVALID_SIGNATURE", o.Error!.Code);
    }

    [Fact]
    public async Task A_replayed_message_is_refused_by_the_nonce_cache()
    {
        using var pair = new CahpPair();
        var (first, _, firstWire) = await pair.RunAsync();
        Assert.True(first.Succeeded);
        var (m, o, _) = await pair.RunAsync(t => new CahpWire(t) { Rewrite = (i, b) => i == 0 ? firstWire.Sent[0] : b });
        Assert.Equal("REPLAY", o.Error!.Code);
        Assert.Equal(HandshakeErrorCodes.PeerClosed, m.Error!.Code);
    }

    [Theory]
    [InlineData(-61)]
    [InlineData(61)]
    public async Task A_stale_or_future_timestamp_is_refused(int offsetSeconds)
    {
        using var pair = new CahpPair();
        pair.MetabolicClock.Offset = TimeSpan.FromSeconds(offsetSeconds);
        var (m, o, _) = await pair.RunAsync();
        Assert.Equal("STALE_MESSAGE", o.Error!.Code);
        Assert.Equal("discovery", o.Error.Phase);
        Assert.Equal(HandshakeErrorCodes.PeerClosed, m.Error!.Code);
    }

    [Fact]
    public async Task A_peer_with_another_key_than_the_expected_one_is_refused()
    {
        using var pair = new CahpPair();
        using var stranger = Ed25519.Instance.GenerateKey();
        var pinned = new CahpPair { EditOpenWeight = i => i with { ExpectedPeer = Dsl.Runtime.Codecs.Bytes.CopyFrom(stranger.PublicKey) } };
        using var _ = pinned;
        var (_, o, _) = await pinned.RunAsync();
        Assert.Equal("UNKNOWN_PEER", o.Error!.Code);
    }

    [Fact]
    public async Task A_message_signed_by_another_key_mid_session_is_refused()
    {
        using var pair = new CahpPair();
        using var other = Ed25519.Instance.GenerateKey();
        var (_, o, _) = await pair.RunAsync(t => new CahpWire(t)
        {
            Rewrite = (index, bytes) =>
            {
                if (index != 2) return bytes;
                var envelope = Parse(bytes);
                envelope["sender_pubkey"] = Convert.ToHexStringLower(other.PublicKey);
                return Resign(envelope, other);
            },
        });
        Assert.Equal("KEY_CHANGED", o.Error!.Code);
    }

    [Fact]
    public async Task Weights_that_differ_from_the_published_ones_fail_the_commitment()
    {
        var forged = (byte[])CahpPair.Weights.Clone();
        forged[4097] ^= 1;
        using var pair = new CahpPair { EditOpenWeight = i => i with { ModelWeights = new Bytes(forged) } };
        var (m, _, wire) = await pair.RunAsync();
        Assert.Equal("WEIGHTS_MISMATCH", m.Error!.Code);
        Assert.Equal("proof_exchange", m.Error.Phase);
        // The metabolic node drops the connection at the commitment; the ticket that follows it is never read.
        Assert.Equal(new[] { "challenge", "weight_commitment" }, wire.Received.Select(TypeOf));
    }

    [Fact]
    public async Task A_burn_the_ledger_does_not_confirm_is_refused_after_the_work_is_checked()
    {
        using var pair = new CahpPair();
        pair.Ledger.Burns.Clear();
        var (_, o, wire) = await pair.RunAsync();
        Assert.Equal("BURN_NOT_FOUND", o.Error!.Code);
        Assert.Equal("proof_exchange", o.Error.Phase);
        Assert.Equal(new[] { CahpPair.TxHash }, pair.Ledger.Asked);
        // The weights were never hashed for this peer: the commitment comes only after work and burn.
        Assert.Equal(new[] { "challenge" }, wire.Received.Select(TypeOf));
    }

    [Fact]
    public async Task One_burn_earns_one_ticket()
    {
        using var pair = new CahpPair();
        var (first, _, _) = await pair.RunAsync();
        Assert.True(first.Succeeded, first.ToString());
        var (m, o, _) = await pair.RunAsync();
        Assert.Equal("BURN_ALREADY_USED", o.Error!.Code);
        Assert.Equal(HandshakeErrorCodes.PeerClosed, m.Error!.Code);
    }

    [Fact]
    public async Task A_burn_seen_on_the_wire_is_no_use_to_another_key()
    {
        using var victim = new CahpPair();
        var (first, _, firstWire) = await victim.RunAsync();
        Assert.True(first.Succeeded);
        var stolen = Parse(firstWire.Sent[2])["payload"]!;
        // An attacker with its own key and its own session replays the victim's burn proof, signed with its own key.
        using var attacker = new CahpPair();
        var (_, o, _) = await attacker.RunAsync(t => new CahpWire(t)
        {
            Rewrite = (index, bytes) =>
            {
                if (index != 2) return bytes;
                var envelope = Parse(bytes);
                foreach (var field in new[] { "tx_hash", "burn_amount_sats", "session_binding" }) envelope["payload"]![field] = stolen[field]!.DeepClone();
                return Resign(envelope, attacker.MetabolicKey);
            },
        });
        Assert.Equal("BURN_NOT_BOUND", o.Error!.Code);
        Assert.Empty(attacker.Ledger.Asked);
    }

    [Fact]
    public async Task A_burn_below_the_minimum_is_refused_before_the_ledger_is_asked()
    {
        using var pair = new CahpPair { EditMetabolic = i => i with { BurnAmountSats = 10 } };
        var (_, o, _) = await pair.RunAsync();
        Assert.Equal("BURN_TOO_SMALL", o.Error!.Code);
        Assert.Empty(pair.Ledger.Asked);
    }

    [Fact]
    public async Task The_difficulty_is_the_challengers_and_the_prover_refuses_more_than_it_will_do()
    {
        using var pair = new CahpPair { EditMetabolic = i => i with { MaxDifficulty = 4 } };
        var (m, _, _) = await pair.RunAsync();
        Assert.Equal("DIFFICULTY_TOO_HIGH", m.Error!.Code);
    }

    /// <summary>The response as a dishonest prover signs it: its own key, a stamp it chose.</summary>
    private static Func<IMessageTransport, CahpWire> ForgeResponse(CahpPair pair, Func<byte[], byte[], int, (byte[] Nonce, byte[] Hash)> stamp)
        => t =>
        {
            CahpWire? wire = null;
            wire = new CahpWire(t)
            {
                Rewrite = (index, bytes) =>
                {
                    if (index != 1) return bytes;
                    var challenge = Parse(wire!.Received[0])["payload"]!;
                    var prefix = Convert.FromHexString((string)challenge["prefix"]!);
                    var target = Convert.FromHexString((string)challenge["target"]!);
                    var (nonce, hash) = stamp(prefix, target, (int)challenge["difficulty"]!);
                    var envelope = Parse(bytes);
                    envelope["payload"]!["nonce"] = Convert.ToHexStringLower(nonce);
                    envelope["payload"]!["hash"] = Convert.ToHexStringLower(hash);
                    return Resign(envelope, pair.MetabolicKey);
                },
            };
            return wire;
        };

    [Fact]
    public async Task A_stamp_with_too_few_bits_is_refused()
    {
        using var pair = new CahpPair();
        var (_, o, _) = await pair.RunAsync(ForgeResponse(pair, (prefix, target, difficulty) =>
        {
            // A nonce that misses the difficulty, with its hash honestly computed.
            for (var n = 0UL; ; n++)
            {
                var nonce = BitConverter.GetBytes(n);
                var hash = Digests.Sha256([.. prefix, .. target, .. nonce]);
                if (!Hashcash.Check([.. prefix, .. target], nonce, difficulty)) return (nonce, hash);
            }
        }));
        Assert.Equal("INSUFFICIENT_WORK", o.Error!.Code);
        Assert.Empty(pair.Ledger.Asked);
    }

    [Fact]
    public async Task A_stamp_for_another_resource_is_refused()
    {
        using var pair = new CahpPair();
        var (_, o, _) = await pair.RunAsync(ForgeResponse(pair, (prefix, _, difficulty) =>
        {
            var otherTarget = Digests.Sha256("another session"u8);
            var nonce = Hashcash.Solve([.. prefix, .. otherTarget], difficulty);
            return (nonce, Digests.Sha256([.. prefix, .. otherTarget, .. nonce]));
        }));
        Assert.Equal("WRONG_STAMP", o.Error!.Code);
    }

    [Fact]
    public async Task A_response_after_the_challenge_expired_is_refused()
    {
        using var pair = new CahpPair();
        // The open-weight node's clock moves 31 s once its challenge is out: past the expiry, within the skew.
        var (_, o, _) = await pair.RunAsync(t => new CahpWire(t) { OnReceived = (index, _) => { if (index == 0) pair.OpenWeightClock.Offset = TimeSpan.FromSeconds(31); } });
        Assert.Equal("CHALLENGE_EXPIRED", o.Error!.Code);
        Assert.Equal("response", o.Error.Phase);
    }

    [Fact]
    public async Task The_ticket_verifies_offline_and_refuses_forged_expired_and_foreign_use()
    {
        using var pair = new CahpPair();
        var (m, o, _) = await pair.RunAsync();
        Assert.True(m.Succeeded, m.ToString());
        var ticket = CahpTicket.FromOutcome(m.Result);
        var issuer = pair.OpenWeightKey.PublicKey.ToArray();
        var now = DateTimeOffset.UtcNow;
        var holder = pair.MetabolicKey.PublicKey.ToArray();
        Assert.Equal(CahpTicketVerdict.Valid, ticket.Verify(issuer, holder, m.Result.SessionId, now));
        Assert.Equal(CahpTicketVerdict.Valid, CahpTicket.FromJson(ticket.Json.Span).Verify(issuer, holder, m.Result.SessionId, now));

        Assert.Equal(CahpTicketVerdict.Expired, ticket.Verify(issuer, holder, m.Result.SessionId, m.Result.Expiry.AddSeconds(1)));
        Assert.Equal(CahpTicketVerdict.OtherSession, ticket.Verify(issuer, holder, Guid.NewGuid(), now));
        Assert.Equal(CahpTicketVerdict.WrongIssuer, ticket.Verify(pair.MetabolicKey.PublicKey, holder, m.Result.SessionId, now));
        // Someone else showing the ticket: it names the metabolic node's key, not theirs.
        Assert.Equal(CahpTicketVerdict.WrongHolder, ticket.Verify(issuer, pair.OpenWeightKey.PublicKey, m.Result.SessionId, now));

        // A ticket whose capabilities were widened no longer verifies.
        var widened = Parse(ticket.Json.ToArray());
        widened["payload"]!["capabilities"] = new JsonArray("inference", "admin");
        Assert.Equal(CahpTicketVerdict.Forged, CahpTicket.FromJson(Bytes(widened)).Verify(issuer, holder, m.Result.SessionId, now));
        // A later expiry too.
        var extended = Parse(ticket.Json.ToArray());
        extended["payload"]!["expiry"] = (long)extended["payload"]!["expiry"]! + 86_400;
        Assert.Equal(CahpTicketVerdict.Forged, CahpTicket.FromJson(Bytes(extended)).Verify(issuer, holder, m.Result.SessionId, now));
        Assert.Equal(CahpTicketVerdict.Malformed, CahpTicket.FromJson("{}"u8).Verify(issuer, holder, m.Result.SessionId, now));
        // A trust score nudged by less than a double can tell: the signed bytes would not change, so it is refused.
        var nudged = Encoding.UTF8.GetString(ticket.Json.Span).Replace("\"trust_score\":0.5", "\"trust_score\":0.50000000000000005");
        Assert.Contains("0.50000000000000005", nudged);
        Assert.Equal(CahpTicketVerdict.Malformed, CahpTicket.FromJson(Encoding.UTF8.GetBytes(nudged)).Verify(issuer, holder, m.Result.SessionId, now));
    }

    private static byte[] RandomBytes(int count) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(count);
}
