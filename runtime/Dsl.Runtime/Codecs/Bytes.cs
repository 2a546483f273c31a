using System;
using System.Security.Cryptography;

namespace Dsl.Runtime.Codecs;

/// <summary>
/// An immutable byte string: the spec's <c>bytes</c> and <c>bytes&lt;N&gt;</c> types. Compared by value
/// (in constant time), printed as hex. Travels as hex or base64 text, as the field's <c>encoding</c> says.
/// </summary>
public readonly struct Bytes : IEquatable<Bytes>
{
    private readonly byte[]? _value;

    /// <summary>Wraps <paramref name="value"/> without copying; the caller must not change it afterwards.</summary>
    public Bytes(byte[] value) => _value = value ?? throw new ArgumentNullException(nameof(value));

    /// <summary>A copy of <paramref name="value"/>.</summary>
    public static Bytes CopyFrom(ReadOnlySpan<byte> value) => new(value.ToArray());

    /// <summary>The empty byte string.</summary>
    public static Bytes Empty { get; } = new(Array.Empty<byte>());

    /// <summary>The bytes.</summary>
    public ReadOnlySpan<byte> Span => _value;

    /// <summary>The bytes, as memory.</summary>
    public ReadOnlyMemory<byte> Memory => _value;

    /// <summary>The number of bytes.</summary>
    public int Length => _value?.Length ?? 0;

    /// <summary>A copy of the bytes.</summary>
    public byte[] ToArray() => Span.ToArray();

    /// <summary>Lowercase hex.</summary>
    public string ToHex() => Convert.ToHexStringLower(Span);

    /// <summary>Standard base64 with padding.</summary>
    public string ToBase64() => Convert.ToBase64String(Span);

    /// <summary>Parses hex (either case); false for odd lengths or other characters.</summary>
    public static bool TryFromHex(string text, out Bytes value)
    {
        value = Empty;
        if (text.Length % 2 != 0) return false;
        var bytes = new byte[text.Length / 2];
        if (Convert.FromHexString(text, bytes, out _, out var written) != System.Buffers.OperationStatus.Done || written != bytes.Length) return false;
        value = new Bytes(bytes);
        return true;
    }

    /// <summary>Parses standard base64; false if it is not base64.</summary>
    public static bool TryFromBase64(string text, out Bytes value)
    {
        value = Empty;
        var bytes = new byte[(text.Length * 3 + 3) / 4];
        if (!Convert.TryFromBase64String(text, bytes, out var written)) return false;
        value = new Bytes(bytes.AsSpan(0, written).ToArray());
        return true;
    }

    /// <summary>Parses hex; throws on bad input (for configuration and tests).</summary>
    public static Bytes FromHex(string text) => TryFromHex(text, out var value) ? value : throw new FormatException("Not a hex string.");

    /// <summary>Compares in constant time for equal lengths.</summary>
    public bool Equals(Bytes other) => CryptographicOperations.FixedTimeEquals(Span, other.Span) && Length == other.Length;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Bytes other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Span);
        return hash.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(Bytes left, Bytes right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Bytes left, Bytes right) => !left.Equals(right);

    /// <summary>Lowercase hex.</summary>
    public override string ToString() => ToHex();
}

/// <summary>How a <see cref="Bytes"/> field is written as JSON text.</summary>
public enum BytesEncoding
{
    /// <summary>Lowercase hex (either case accepted).</summary>
    Hex,
    /// <summary>Standard base64 with padding.</summary>
    Base64,
}
