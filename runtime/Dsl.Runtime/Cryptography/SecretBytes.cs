using System;

namespace Dsl.Runtime.Cryptography;

/// <summary>
/// Key material in <c>sodium_malloc</c> memory (kept out of swap, wiped when freed): a derived
/// traffic key or shared secret, held as a type rather than as bytes. Printing it shows its length,
/// never its value; disposing it wipes and frees it.
/// </summary>
public sealed class SecretBytes : IDisposable
{
    private readonly SecureMemoryHandle _memory;

    private SecretBytes(SecureMemoryHandle memory) => _memory = memory;

    /// <summary>
    /// A secret holding a copy of <paramref name="value"/>. The caller still owns its own copy and should
    /// wipe it (<see cref="System.Security.Cryptography.CryptographicOperations.ZeroMemory"/>) when done.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="value"/> is empty.</exception>
    public static SecretBytes CopyFrom(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty) throw new ArgumentException("A secret has at least one byte.", nameof(value));
        var memory = SecureMemoryHandle.Allocate(value.Length);
        value.CopyTo(memory.DangerousSpan());
        return new SecretBytes(memory);
    }

    /// <summary>A secret holding a copy of <paramref name="value"/> (a derived key in a handshake's result).</summary>
    /// <exception cref="ArgumentException"><paramref name="value"/> is empty.</exception>
    public static SecretBytes CopyOf(Codecs.Bytes value) => CopyFrom(value.Span);

    /// <summary>
    /// A secret holding <paramref name="value"/>, whose own bytes are then wiped: for a value nothing else holds (the
    /// fresh result of a key derivation), so that the key lives on only in sodium memory.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="value"/> is empty.</exception>
    public static SecretBytes Take(Codecs.Bytes value)
    {
        var secret = CopyFrom(value.Span);
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(value.Memory, out var array) && array.Array is { } bytes)
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes.AsSpan(array.Offset, array.Count));
        return secret;
    }

    /// <summary>As <see cref="Take"/>, or <see langword="null"/> when there is no value.</summary>
    public static SecretBytes? TakeOrNull(Codecs.Bytes? value) => value is { } bytes ? Take(bytes) : null;

    /// <summary>As <see cref="CopyOf"/>, or <see langword="null"/> when there is no value.</summary>
    public static SecretBytes? CopyOfOrNull(Codecs.Bytes? value) => value is { } bytes ? CopyFrom(bytes.Span) : null;

    /// <summary>A copy of <paramref name="secret"/>, with a lifetime of its own.</summary>
    /// <exception cref="ObjectDisposedException"><paramref name="secret"/> was disposed.</exception>
    public static SecretBytes CopyFrom(SecretBytes secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        using var lease = secret.Lease();
        return CopyFrom(lease.Span);
    }

    /// <summary>The number of bytes.</summary>
    public int Length => _memory.Length;

    /// <summary>Whether the secret was disposed (and so wiped).</summary>
    public bool IsDisposed => _memory.IsClosed;

    /// <summary>
    /// Keeps the memory alive while the bytes are used: <c>using var key = secret.Lease();</c>. A dispose
    /// during a lease is deferred until the lease ends.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The secret was disposed.</exception>
    internal SecureMemoryHandle.LeaseScope Lease() => _memory.Lease();

    /// <summary>Whether both secrets hold the same bytes, compared in constant time (two sides' derived keys agree).</summary>
    /// <exception cref="ObjectDisposedException">Either secret was disposed.</exception>
    public bool ContentEquals(SecretBytes other)
    {
        ArgumentNullException.ThrowIfNull(other);
        using var mine = Lease();
        using var theirs = other.Lease();
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(mine.Span, theirs.Span);
    }

    /// <summary>Wipes the bytes and frees their memory.</summary>
    public void Dispose() => _memory.Dispose();

    /// <summary>The length only, such as <c>SecretBytes(32 bytes)</c>; never the value.</summary>
    public override string ToString() => $"SecretBytes({Length} bytes)";
}
