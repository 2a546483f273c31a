using System;
using System.Security.Cryptography;

namespace Dsl.Runtime.Cryptography;

/// <summary>HKDF with SHA-256 (RFC 5869), from the BCL.</summary>
public static class HkdfSha256
{
    /// <summary>The longest output HKDF-SHA256 can produce: 255 blocks of 32 bytes.</summary>
    public const int MaxOutputSize = 255 * 32;

    /// <summary>Extract then expand: fills <paramref name="output"/> with key material.</summary>
    /// <exception cref="ArgumentException"><paramref name="output"/> is empty or longer than <see cref="MaxOutputSize"/>.</exception>
    public static void DeriveKey(ReadOnlySpan<byte> inputKeyMaterial, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> info, Span<byte> output)
    {
        if (output.Length is 0 or > MaxOutputSize)
            throw new ArgumentException($"HKDF-SHA256 output is 1 to {MaxOutputSize} bytes, not {output.Length}.", nameof(output));
        HKDF.DeriveKey(HashAlgorithmName.SHA256, inputKeyMaterial, output, salt, info);
    }

    /// <summary>Extract then expand into a new array of <paramref name="length"/> bytes.</summary>
    public static byte[] DeriveKey(ReadOnlySpan<byte> inputKeyMaterial, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> info, int length)
    {
        var output = new byte[length];
        DeriveKey(inputKeyMaterial, salt, info, output);
        return output;
    }

    /// <summary>The extract step: the 32-byte pseudorandom key.</summary>
    public static byte[] Extract(ReadOnlySpan<byte> inputKeyMaterial, ReadOnlySpan<byte> salt)
    {
        var prk = new byte[32];
        HKDF.Extract(HashAlgorithmName.SHA256, inputKeyMaterial, salt, prk);
        return prk;
    }
}

/// <summary>HMAC-SHA256 (RFC 2104), from the BCL.</summary>
public static class HmacSha256
{
    /// <summary>Length of a full tag.</summary>
    public const int TagSize = 32;

    /// <summary>The shortest truncated tag <see cref="Verify"/> accepts (RFC 2104 §5: at least half the output).</summary>
    public const int MinimumTagSize = 16;

    /// <summary>Computes the 32-byte tag.</summary>
    public static byte[] Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => HMACSHA256.HashData(key, data);

    /// <summary>Computes the 32-byte tag into <paramref name="tag"/>.</summary>
    public static void Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> tag)
    {
        if (tag.Length != TagSize) throw new ArgumentException($"An HMAC-SHA256 tag is {TagSize} bytes.", nameof(tag));
        HMACSHA256.HashData(key, data, tag);
    }

    /// <summary>
    /// Whether <paramref name="tag"/> (the full 32 bytes, or a prefix of at least 16) is the tag of
    /// <paramref name="data"/>, compared in constant time.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> tag)
    {
        if (tag.Length is < MinimumTagSize or > TagSize) return false;
        Span<byte> expected = stackalloc byte[TagSize];
        HMACSHA256.HashData(key, data, expected);
        return CryptographicOperations.FixedTimeEquals(expected[..tag.Length], tag);
    }
}

/// <summary>SHA-256 and random bytes, from the BCL.</summary>
public static class Digests
{
    /// <summary>The SHA-256 digest of <paramref name="data"/>.</summary>
    public static byte[] Sha256(ReadOnlySpan<byte> data) => SHA256.HashData(data);

    /// <summary><paramref name="count"/> bytes from the operating system's cryptographic random number generator.</summary>
    public static byte[] RandomBytes(int count) => RandomNumberGenerator.GetBytes(count);
}
