using System;
using System.Security.Cryptography;

namespace Dsl.Runtime.Handshakes;

/// <summary>UUIDs for protocol identifiers.</summary>
public static class Uuid
{
    /// <summary>
    /// A random (version 4, RFC 9562 §5.4) UUID whose 122 random bits come from the operating system's
    /// cryptographic random number generator.
    /// </summary>
    public static Guid NewV4() => NewV4(RandomSource.System);

    /// <summary>A version-4 UUID from <paramref name="random"/>.</summary>
    public static Guid NewV4(RandomSource random)
    {
        Span<byte> bytes = stackalloc byte[16];
        random.Fill(bytes);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>Whether <paramref name="value"/> is a version 4, RFC 9562 variant UUID.</summary>
    public static bool IsV4(Guid value) => value.Version == 4 && (value.Variant & 0b1100) == 0b1000;
}
