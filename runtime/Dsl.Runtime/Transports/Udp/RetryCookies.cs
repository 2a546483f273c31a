using System;
using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace Dsl.Runtime.Transports.Udp;

/// <summary>
/// The stateless address check of a <see cref="UdpEndpoint"/> (as DTLS's HelloVerifyRequest and QUIC's Retry): a
/// datagram from an address the endpoint does not know is answered with a short <i>retry</i> carrying a cookie, and
/// nothing is kept; the peer sends its datagram again behind the cookie, which proves it receives at its address. Only
/// then does the endpoint keep anything for it. The cookie is an HMAC-SHA256 of the address, the port and the current
/// 30-second period under the endpoint's key, so it needs no table, and it is good for 30 to 60 seconds.
/// </summary>
/// <remarks>
/// On the wire, a control datagram starts with the byte <c>FF</c>, which starts no UTF-8 text (so no JSON message)
/// and no secure-channel frame (whose first byte is the top byte of a frame counter that never gets that far): a retry
/// is <c>FF 52</c> ("R") then the 16-byte cookie (18 bytes); a datagram behind a cookie is <c>FF 43</c> ("C"), the
/// cookie, then the datagram itself (nothing, for the close signal). A retry is sent only for a datagram of at least 6
/// bytes, so it is never more than three times what it answers (RFC 9000 §8.1).
/// </remarks>
internal sealed class RetryCookies
{
    public const int CookieLength = 16;
    public const int RetryLength = 2 + CookieLength;
    public const byte Control = 0xFF;
    public const byte Retry = (byte)'R';
    public const byte Echo = (byte)'C';
    private const long PeriodSeconds = 30;
    private static ReadOnlySpan<byte> Label => "dsl udp retry/1"u8;

    private readonly byte[] _key;
    private readonly TimeProvider _time;

    public RetryCookies(byte[]? key, TimeProvider time)
    {
        if (key is { Length: < 32 }) throw new ArgumentException("A retry key has at least 32 bytes.", nameof(key));
        _key = key is null ? RandomNumberGenerator.GetBytes(32) : (byte[])key.Clone();
        _time = time;
    }

    /// <summary>The retry datagram for <paramref name="peer"/>.</summary>
    public byte[] RetryFor(IPEndPoint peer)
    {
        var datagram = new byte[RetryLength];
        datagram[0] = Control;
        datagram[1] = Retry;
        Cookie(peer, Period(), datagram.AsSpan(2));
        return datagram;
    }

    /// <summary>Whether <paramref name="datagram"/> is a datagram behind a cookie made for <paramref name="peer"/> in this period or the last; <paramref name="inner"/> is the datagram itself.</summary>
    public bool TryOpen(ReadOnlyMemory<byte> datagram, IPEndPoint peer, out ReadOnlyMemory<byte> inner)
    {
        inner = default;
        if (!IsEcho(datagram.Span)) return false;
        var cookie = datagram.Span.Slice(2, CookieLength);
        Span<byte> expected = stackalloc byte[CookieLength];
        var period = Period();
        for (var back = 0; back < 2; back++)
        {
            Cookie(peer, period - back, expected);
            if (CryptographicOperations.FixedTimeEquals(cookie, expected))
            {
                inner = datagram[(2 + CookieLength)..];
                return true;
            }
        }
        return false;
    }

    /// <summary>Whether the datagram is a control datagram (it starts with <c>FF</c>).</summary>
    public static bool IsControl(ReadOnlySpan<byte> datagram) => datagram.Length >= 2 && datagram[0] == Control;

    /// <summary>Whether the datagram is a retry (its cookie follows the first two bytes).</summary>
    public static bool IsRetry(ReadOnlySpan<byte> datagram) => datagram.Length == RetryLength && datagram[0] == Control && datagram[1] == Retry;

    /// <summary>Whether the datagram is a datagram behind a cookie (not checked); nothing behind it is the close signal.</summary>
    public static bool IsEcho(ReadOnlySpan<byte> datagram) => datagram.Length >= 2 + CookieLength && datagram[0] == Control && datagram[1] == Echo;

    /// <summary>The datagram behind a cookie, as a client sends it after a retry.</summary>
    public static byte[] Wrap(ReadOnlySpan<byte> cookie, ReadOnlySpan<byte> datagram)
    {
        var wrapped = new byte[2 + CookieLength + datagram.Length];
        wrapped[0] = Control;
        wrapped[1] = Echo;
        cookie.CopyTo(wrapped.AsSpan(2));
        datagram.CopyTo(wrapped.AsSpan(2 + CookieLength));
        return wrapped;
    }

    private long Period() => _time.GetUtcNow().ToUnixTimeSeconds() / PeriodSeconds;

    private void Cookie(IPEndPoint peer, long period, Span<byte> cookie)
    {
        Span<byte> data = stackalloc byte[Label.Length + 8 + 16 + 2];
        Label.CopyTo(data);
        BinaryPrimitives.WriteInt64BigEndian(data.Slice(Label.Length), period);
        var address = peer.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? peer.Address.MapToIPv6() : peer.Address;
        address.TryWriteBytes(data.Slice(Label.Length + 8, 16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(data.Slice(Label.Length + 24), (ushort)peer.Port);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, data, mac);
        mac.Slice(0, CookieLength).CopyTo(cookie);
    }
}
