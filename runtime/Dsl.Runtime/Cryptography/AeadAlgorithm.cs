using System;
using System.Security.Cryptography;

namespace Dsl.Runtime.Cryptography;

/// <summary>
/// Authenticated encryption with associated data, from the BCL: ChaCha20-Poly1305 (RFC 8439) and AES-GCM,
/// both with 12-byte nonces and 16-byte tags. A ciphertext is the encrypted bytes followed by the tag.
/// </summary>
public sealed class AeadAlgorithm
{
    private readonly bool _chacha;

    private AeadAlgorithm(string name, int keySize, bool chacha)
    {
        Name = name;
        KeySize = keySize;
        _chacha = chacha;
    }

    /// <summary>ChaCha20-Poly1305 with a 32-byte key.</summary>
    public static AeadAlgorithm ChaCha20Poly1305 { get; } = new("chacha20-poly1305", 32, chacha: true);

    /// <summary>AES-256-GCM.</summary>
    public static AeadAlgorithm Aes256Gcm { get; } = new("aes-256-gcm", 32, chacha: false);

    /// <summary>AES-192-GCM.</summary>
    public static AeadAlgorithm Aes192Gcm { get; } = new("aes-192-gcm", 24, chacha: false);

    /// <summary>AES-128-GCM.</summary>
    public static AeadAlgorithm Aes128Gcm { get; } = new("aes-128-gcm", 16, chacha: false);

    /// <summary>The algorithm's name, as specs write it.</summary>
    public string Name { get; }

    /// <summary>Key length in bytes.</summary>
    public int KeySize { get; }

    /// <summary>Nonce length in bytes; no other length is accepted.</summary>
    public int NonceSize => 12;

    /// <summary>Tag length in bytes.</summary>
    public int TagSize => 16;

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/>, which is exactly
    /// <see cref="TagSize"/> bytes longer. A nonce must never repeat under one key.
    /// </summary>
    public void Seal(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData, Span<byte> ciphertext)
    {
        Check(key, nonce);
        if (ciphertext.Length != plaintext.Length + TagSize)
            throw new ArgumentException($"The ciphertext is the plaintext's length plus {TagSize}.", nameof(ciphertext));
        var body = ciphertext[..plaintext.Length];
        var tag = ciphertext[plaintext.Length..];
        if (_chacha)
        {
            using var cipher = new System.Security.Cryptography.ChaCha20Poly1305(key);
            cipher.Encrypt(nonce, plaintext, body, tag, associatedData);
        }
        else
        {
            using var cipher = new AesGcm(key, TagSize);
            cipher.Encrypt(nonce, plaintext, body, tag, associatedData);
        }
    }

    /// <summary>Encrypts <paramref name="plaintext"/>; the result ends with the tag.</summary>
    public byte[] Seal(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData = default)
    {
        var ciphertext = new byte[plaintext.Length + TagSize];
        Seal(key, nonce, plaintext, associatedData, ciphertext);
        return ciphertext;
    }

    /// <summary>
    /// Decrypts and authenticates. Returns <see langword="false"/> (and writes nothing meaningful) when the
    /// tag does not verify or any length is wrong: a forged or truncated ciphertext is not an exception.
    /// </summary>
    public bool TryOpen(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> associatedData, Span<byte> plaintext)
    {
        if (key.Length != KeySize || nonce.Length != NonceSize || ciphertext.Length < TagSize || plaintext.Length != ciphertext.Length - TagSize)
            return false;
        var body = ciphertext[..plaintext.Length];
        var tag = ciphertext[plaintext.Length..];
        try
        {
            if (_chacha)
            {
                using var cipher = new System.Security.Cryptography.ChaCha20Poly1305(key);
                cipher.Decrypt(nonce, body, tag, plaintext, associatedData);
            }
            else
            {
                using var cipher = new AesGcm(key, TagSize);
                cipher.Decrypt(nonce, body, tag, plaintext, associatedData);
            }
            return true;
        }
        catch (CryptographicException)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            return false;
        }
    }

    /// <summary>Decrypts and authenticates; <see langword="null"/> when the ciphertext is not authentic.</summary>
    public byte[]? Open(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> associatedData = default)
    {
        if (ciphertext.Length < TagSize) return null;
        var plaintext = new byte[ciphertext.Length - TagSize];
        return TryOpen(key, nonce, ciphertext, associatedData, plaintext) ? plaintext : null;
    }

    private void Check(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce)
    {
        if (key.Length != KeySize) throw new ArgumentException($"A {Name} key is {KeySize} bytes, not {key.Length}.", nameof(key));
        if (nonce.Length != NonceSize) throw new ArgumentException($"A {Name} nonce is {NonceSize} bytes, not {nonce.Length}.", nameof(nonce));
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
