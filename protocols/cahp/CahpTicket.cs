using System;
using System.Buffers;
using System.Text.Json;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;

namespace Dsl.Protocols.Cahp;

/// <summary>What <see cref="CahpTicket.Verify"/> found.</summary>
public enum CahpTicketVerdict
{
    /// <summary>The ticket is genuine, from the expected issuer, for the session, and not expired.</summary>
    Valid,
    /// <summary>The ticket is not a signed CAHP ticket envelope (not JSON, another message, a field missing).</summary>
    Malformed,
    /// <summary>The ticket was issued by another key than the one expected.</summary>
    WrongIssuer,
    /// <summary>The ticket is for another holder's key.</summary>
    WrongHolder,
    /// <summary>The signature does not verify: the ticket was altered or forged.</summary>
    Forged,
    /// <summary>The ticket is for another session.</summary>
    OtherSession,
    /// <summary>The ticket has expired.</summary>
    Expired,
}

/// <summary>
/// A CAHP session ticket: the signed envelope of the handshake's phase-5 message, kept by the metabolic node
/// (<see cref="CahpMetabolicResult.Ticket"/> and <see cref="CahpMetabolicResult.TicketSignature"/>) and verified
/// later, offline, by anyone who knows the issuer's key: <see cref="Verify"/> checks the signature over the canonical
/// envelope, the issuer key, the holder's key, the session and the expiry. A ticket names its holder; a verifier
/// that must know the one presenting it holds that key asks it to sign a fresh challenge.
/// </summary>
public sealed class CahpTicket
{
    private CahpTicket(byte[] json) => Json = json;

    /// <summary>The ticket as JSON: the envelope as it travelled, in canonical form, signature included.</summary>
    public ReadOnlyMemory<byte> Json { get; }

    /// <summary>The ticket the metabolic node received in a successful handshake.</summary>
    public static CahpTicket FromOutcome(CahpMetabolicResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return FromParts(result.Ticket, result.TicketSignature);
    }

    /// <summary>A ticket from its canonical unsigned envelope and its signature.</summary>
    public static CahpTicket FromParts(Bytes unsignedEnvelope, Bytes signature)
    {
        // The unsigned envelope is a canonical object; the signature goes back in as its 'signature' member.
        var unsigned = unsignedEnvelope.Span;
        if (unsigned.Length < 2 || unsigned[0] != (byte)'{' || unsigned[^1] != (byte)'}')
            throw new ArgumentException("Not an envelope: a JSON object is expected.", nameof(unsignedEnvelope));
        var buffer = new ArrayBufferWriter<byte>();
        buffer.Write(unsigned[..^1]);
        buffer.Write(unsigned.Length > 2 ? ","u8 : ""u8);
        buffer.Write("\"signature\":\""u8);
        buffer.Write(System.Text.Encoding.ASCII.GetBytes(signature.ToHex()));
        buffer.Write("\"}"u8);
        return new CahpTicket(JsonCanonicalizer.Canonicalize(buffer.WrittenSpan));
    }

    /// <summary>A ticket from its JSON, as <see cref="Json"/> gave it; nothing is checked until <see cref="Verify"/>.</summary>
    public static CahpTicket FromJson(ReadOnlySpan<byte> json) => new(json.ToArray());

    /// <summary>
    /// Verifies the ticket offline: it is a CAHP ticket envelope, signed by <paramref name="issuerKey"/> over its
    /// canonical form without the signature, for <paramref name="holderKey"/> and <paramref name="sessionId"/>, and not
    /// expired at <paramref name="now"/>.
    /// </summary>
    /// <param name="issuerKey">The open-weight node's Ed25519 public key (32 bytes).</param>
    /// <param name="holderKey">The metabolic node's Ed25519 public key (32 bytes): whom the ticket must be for.</param>
    /// <param name="sessionId">The session the ticket must be for.</param>
    /// <param name="now">The time to check the expiry against.</param>
    public CahpTicketVerdict Verify(ReadOnlySpan<byte> issuerKey, ReadOnlySpan<byte> holderKey, Guid sessionId, DateTimeOffset now)
    {
        if (!CahpCodec.Instance.TryDecode(Json.Span, out var message, out _) || message is not Ticket ticket || ticket.Envelope is not { } envelope)
            return CahpTicketVerdict.Malformed;
        if (envelope.SenderType != Architecture.OpenWeight || !envelope.SenderPubkey.Span.SequenceEqual(issuerKey))
            return CahpTicketVerdict.WrongIssuer;
        if (!Ed25519.Instance.Verify(issuerKey, envelope.Unsigned.Span, envelope.Signature.Span))
            return CahpTicketVerdict.Forged;
        if (!ticket.Holder.Span.SequenceEqual(holderKey)) return CahpTicketVerdict.WrongHolder;
        if (ticket.SessionId != sessionId) return CahpTicketVerdict.OtherSession;
        return now < ticket.Expiry ? CahpTicketVerdict.Valid : CahpTicketVerdict.Expired;
    }

    /// <inheritdoc />
    public override string ToString() => System.Text.Encoding.UTF8.GetString(Json.Span);
}
