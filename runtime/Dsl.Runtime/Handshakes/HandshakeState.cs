using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// Seals and opens the exported state of a role machine. The state is encrypted and authenticated with
/// ChaCha20-Poly1305 under a key derived with HKDF-SHA256 from the application's key and a fresh random salt,
/// bound to the machine's identity (protocol, version, role and the layout of its states): a state that was
/// tampered with, made under another key, or exported by another protocol, role or build of the spec is refused.
/// The state may hold the handshake's secrets (keys derived so far), which is why it is encrypted, not only signed.
/// </summary>
public static class HandshakeState
{
    /// <summary>The length of the application's key.</summary>
    public const int KeySize = 32;

    private const int SaltSize = 16;
    private static ReadOnlySpan<byte> Magic => "DSLS"u8;
    private static readonly byte[] s_zeroNonce = new byte[12];

    /// <summary>Seals <paramref name="body"/>, a machine's state, for the machine named by <paramref name="identity"/>.</summary>
    /// <exception cref="ArgumentException">The key is not <see cref="KeySize"/> bytes.</exception>
    public static byte[] Seal(string identity, ReadOnlySpan<byte> body, ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        var sealedState = new byte[Magic.Length + SaltSize + body.Length + AeadAlgorithm.ChaCha20Poly1305.TagSize];
        Magic.CopyTo(sealedState);
        var salt = sealedState.AsSpan(Magic.Length, SaltSize);
        RandomNumberGenerator.Fill(salt);
        Span<byte> subkey = stackalloc byte[KeySize];
        try
        {
            DeriveKey(key, salt, identity, subkey);
            AeadAlgorithm.ChaCha20Poly1305.Seal(subkey, s_zeroNonce, body, Encoding.UTF8.GetBytes(identity), sealedState.AsSpan(Magic.Length + SaltSize));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(subkey);
        }
        return sealedState;
    }

    /// <summary>
    /// Opens a state sealed by <see cref="Seal"/> for the same <paramref name="identity"/> and key; <see langword="false"/>
    /// for anything else (tampered, truncated, foreign, another key).
    /// </summary>
    /// <exception cref="ArgumentException">The key is not <see cref="KeySize"/> bytes.</exception>
    public static bool TryOpen(string identity, ReadOnlySpan<byte> sealedState, ReadOnlySpan<byte> key, out byte[] body)
    {
        CheckKey(key);
        body = Array.Empty<byte>();
        var overhead = Magic.Length + SaltSize + AeadAlgorithm.ChaCha20Poly1305.TagSize;
        if (sealedState.Length < overhead || !sealedState[..Magic.Length].SequenceEqual(Magic)) return false;
        var salt = sealedState.Slice(Magic.Length, SaltSize);
        var plaintext = new byte[sealedState.Length - overhead];
        Span<byte> subkey = stackalloc byte[KeySize];
        try
        {
            DeriveKey(key, salt, identity, subkey);
            if (!AeadAlgorithm.ChaCha20Poly1305.TryOpen(subkey, s_zeroNonce, sealedState[(Magic.Length + SaltSize)..], Encoding.UTF8.GetBytes(identity), plaintext))
                return false;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(subkey);
        }
        body = plaintext;
        return true;
    }

    private static void DeriveKey(ReadOnlySpan<byte> key, ReadOnlySpan<byte> salt, string identity, Span<byte> subkey)
        => HkdfSha256.DeriveKey(key, salt, Encoding.UTF8.GetBytes("dsl machine state\0" + identity), subkey);

    private static void CheckKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
            throw new ArgumentException($"A machine state key is {KeySize} bytes, not {key.Length}.", nameof(key));
    }
}

/// <summary>
/// Writes the values a role machine keeps, in order, for <see cref="HandshakeState.Seal"/>. Every value may be
/// absent; generated <c>ExportState</c> methods call one method per kept value.
/// </summary>
public sealed class HandshakeStateWriter : IDisposable
{
    private readonly PooledBufferWriter _buffer = new(256);

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    /// <summary>Writes a whole number (a state, a count).</summary>
    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), value);

    /// <summary>Writes a <c>string</c>, or its absence.</summary>
    public void WriteString(string? value)
    {
        if (!Present(value is not null)) return;
        WriteRaw(Encoding.UTF8.GetBytes(value!));
    }

    /// <summary>Writes an <c>int</c>, or its absence.</summary>
    public void WriteInt64(long? value)
    {
        if (Present(value.HasValue)) BinaryPrimitives.WriteInt64LittleEndian(Take(8), value!.Value);
    }

    /// <summary>Writes a <c>bool</c>, or its absence.</summary>
    public void WriteBoolean(bool? value)
    {
        if (Present(value.HasValue)) Take(1)[0] = value!.Value ? (byte)1 : (byte)0;
    }

    /// <summary>Writes a <c>uuid</c>, or its absence.</summary>
    public void WriteUuid(Guid? value)
    {
        if (Present(value.HasValue)) value!.Value.TryWriteBytes(Take(16), bigEndian: true, out _);
    }

    /// <summary>Writes a <c>timestamp</c> (to the tick, in UTC), or its absence.</summary>
    public void WriteTimestamp(DateTimeOffset? value)
    {
        if (Present(value.HasValue)) BinaryPrimitives.WriteInt64LittleEndian(Take(8), value!.Value.UtcTicks);
    }

    /// <summary>Writes an X25519 key pair (its private key: the state is sealed), or its absence.</summary>
    public void WriteX25519Key(Cryptography.X25519Key? value)
    {
        if (!Present(value is not null)) return;
        using var secret = value!.Secret.Lease();
        WriteRaw(secret.Span);
    }

    /// <summary>Writes a <c>decimal</c>, or its absence.</summary>
    public void WriteDecimal(decimal? value)
    {
        if (!Present(value.HasValue)) return;
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value!.Value, bits);
        foreach (var part in bits) WriteInt32(part);
    }

    /// <summary>Writes a <c>duration</c>, or its absence.</summary>
    public void WriteDuration(TimeSpan? value)
    {
        if (Present(value.HasValue)) BinaryPrimitives.WriteInt64LittleEndian(Take(8), value!.Value.Ticks);
    }

    /// <summary>Writes <c>bytes</c>, or their absence.</summary>
    public void WriteBytes(Bytes? value)
    {
        if (Present(value.HasValue)) WriteRaw(value!.Value.Span);
    }

    /// <summary>Writes a <c>map</c> as its JSON text, or its absence.</summary>
    public void WriteMetadata(Metadata? value)
    {
        if (Present(value is not null)) WriteRaw(Encoding.UTF8.GetBytes(value!.ToString()));
    }

    /// <summary>Writes a <c>list&lt;string&gt;</c>, or its absence.</summary>
    public void WriteStringList(IReadOnlyList<string>? value)
    {
        if (!Present(value is not null)) return;
        WriteInt32(value!.Count);
        foreach (var item in value) WriteRaw(Encoding.UTF8.GetBytes(item));
    }

    /// <summary>Writes a <c>list&lt;bytes&gt;</c>, or its absence.</summary>
    public void WriteBytesList(IReadOnlyList<Bytes>? value)
    {
        if (!Present(value is not null)) return;
        WriteInt32(value!.Count);
        foreach (var item in value) WriteRaw(item.Span);
    }

    /// <summary>Writes a <c>list&lt;int&gt;</c>, or its absence.</summary>
    public void WriteInt64List(IReadOnlyList<long>? value)
    {
        if (!Present(value is not null)) return;
        WriteInt32(value!.Count);
        foreach (var item in value) BinaryPrimitives.WriteInt64LittleEndian(Take(8), item);
    }

    /// <summary>Writes a <c>list&lt;uuid&gt;</c>, or its absence.</summary>
    public void WriteUuidList(IReadOnlyList<Guid>? value)
    {
        if (!Present(value is not null)) return;
        WriteInt32(value!.Count);
        foreach (var item in value) item.TryWriteBytes(Take(16), bigEndian: true, out _);
    }

    /// <summary>Returns the buffer to the pool and wipes it.</summary>
    public void Dispose()
    {
        var written = _buffer.WrittenSpan;
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.CreateSpan(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(written), written.Length));
        _buffer.Dispose();
    }

    private bool Present(bool present)
    {
        Take(1)[0] = present ? (byte)1 : (byte)0;
        return present;
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        WriteInt32(bytes.Length);
        bytes.CopyTo(Take(bytes.Length));
    }

    private Span<byte> Take(int count)
    {
        var span = _buffer.GetSpan(count)[..count];
        _buffer.Advance(count);
        return span;
    }
}

/// <summary>Reads what a <see cref="HandshakeStateWriter"/> wrote, in the same order.</summary>
/// <exception cref="FormatException">The state does not hold what is read (only for a state of another layout; sealed states are authenticated).</exception>
public ref struct HandshakeStateReader
{
    private ReadOnlySpan<byte> _remaining;

    /// <summary>Reads <paramref name="body"/>, the opened state.</summary>
    public HandshakeStateReader(ReadOnlySpan<byte> body) => _remaining = body;

    /// <summary>Whether everything was read.</summary>
    public readonly bool IsAtEnd => _remaining.IsEmpty;

    /// <summary>Reads a whole number.</summary>
    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    /// <summary>Reads a <c>string</c> or its absence.</summary>
    public string? ReadString() => Present() ? Encoding.UTF8.GetString(ReadRaw()) : null;

    /// <summary>Reads an <c>int</c> or its absence.</summary>
    public long? ReadInt64() => Present() ? BinaryPrimitives.ReadInt64LittleEndian(Take(8)) : null;

    /// <summary>Reads a <c>bool</c> or its absence.</summary>
    public bool? ReadBoolean() => Present() ? Take(1)[0] != 0 : null;

    /// <summary>Reads a <c>uuid</c> or its absence.</summary>
    public Guid? ReadUuid() => Present() ? new Guid(Take(16), bigEndian: true) : null;

    /// <summary>Reads a <c>timestamp</c> or its absence.</summary>
    public DateTimeOffset? ReadTimestamp() => Present() ? new DateTimeOffset(BinaryPrimitives.ReadInt64LittleEndian(Take(8)), TimeSpan.Zero) : null;

    /// <summary>Reads an X25519 key pair or its absence.</summary>
    public Cryptography.X25519Key? ReadX25519Key()
    {
        // The span is the opened state itself, which the restoring machine wipes.
        return Present() ? Cryptography.X25519.Instance.ImportPrivateKey(ReadRaw()) : null;
    }

    /// <summary>Reads a <c>decimal</c> or its absence.</summary>
    public decimal? ReadDecimal()
    {
        if (!Present()) return null;
        Span<int> bits = stackalloc int[4];
        for (var i = 0; i < 4; i++) bits[i] = ReadInt32();
        return new decimal(bits);
    }

    /// <summary>Reads a <c>duration</c> or its absence.</summary>
    public TimeSpan? ReadDuration() => Present() ? new TimeSpan(BinaryPrimitives.ReadInt64LittleEndian(Take(8))) : null;

    /// <summary>Reads <c>bytes</c> or their absence.</summary>
    public Bytes? ReadBytes() => Present() ? Bytes.CopyFrom(ReadRaw()) : null;

    /// <summary>Reads a <c>map</c> or its absence.</summary>
    public Metadata? ReadMetadata()
    {
        if (!Present()) return null;
        using var document = JsonDocument.Parse(ReadRaw().ToArray());
        return new Metadata(document.RootElement.Clone());
    }

    /// <summary>Reads a <c>list&lt;string&gt;</c> or its absence.</summary>
    public IReadOnlyList<string>? ReadStringList()
    {
        if (!Present()) return null;
        var items = new string[Count()];
        for (var i = 0; i < items.Length; i++) items[i] = Encoding.UTF8.GetString(ReadRaw());
        return items;
    }

    /// <summary>Reads a <c>list&lt;bytes&gt;</c> or its absence.</summary>
    public IReadOnlyList<Bytes>? ReadBytesList()
    {
        if (!Present()) return null;
        var items = new Bytes[Count()];
        for (var i = 0; i < items.Length; i++) items[i] = Bytes.CopyFrom(ReadRaw());
        return items;
    }

    /// <summary>Reads a <c>list&lt;int&gt;</c> or its absence.</summary>
    public IReadOnlyList<long>? ReadInt64List()
    {
        if (!Present()) return null;
        var items = new long[Count()];
        for (var i = 0; i < items.Length; i++) items[i] = BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        return items;
    }

    /// <summary>Reads a <c>list&lt;uuid&gt;</c> or its absence.</summary>
    public IReadOnlyList<Guid>? ReadUuidList()
    {
        if (!Present()) return null;
        var items = new Guid[Count()];
        for (var i = 0; i < items.Length; i++) items[i] = new Guid(Take(16), bigEndian: true);
        return items;
    }

    private bool Present() => Take(1)[0] switch
    {
        0 => false,
        1 => true,
        _ => throw new FormatException("The machine state is not in the expected layout."),
    };

    private int Count()
    {
        var count = ReadInt32();
        if (count < 0 || count > _remaining.Length) throw new FormatException("The machine state is not in the expected layout.");
        return count;
    }

    private ReadOnlySpan<byte> ReadRaw() => Take(Count());

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _remaining.Length) throw new FormatException("The machine state ends early.");
        var span = _remaining[..count];
        _remaining = _remaining[count..];
        return span;
    }
}
