using System;
using System.Security.Cryptography;
using Dsl.Runtime.Cryptography.Interop;

namespace Dsl.Runtime.Cryptography;

/// <summary>Ed25519 signatures (RFC 8032) over libsodium.</summary>
public sealed class Ed25519
{
    /// <summary>The algorithm.</summary>
    public static Ed25519 Instance { get; } = new();

    private Ed25519() { }

    /// <summary>Length of the seed a key pair is derived from.</summary>
    public const int SeedSize = CryptoSignEd25519.SeedBytes;

    /// <summary>Length of a public key.</summary>
    public const int PublicKeySize = CryptoSignEd25519.PublicKeyBytes;

    /// <summary>Length of a signature.</summary>
    public const int SignatureSize = CryptoSignEd25519.Bytes;

    /// <summary>Derives the key pair of a 32-byte seed (RFC 8032's "secret key").</summary>
    public unsafe Ed25519Key ImportSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != SeedSize) throw new ArgumentException($"An Ed25519 seed is {SeedSize} bytes, not {seed.Length}.", nameof(seed));
        var secret = SecureMemoryHandle.Allocate(CryptoSignEd25519.SecretKeyBytes);
        var publicKey = new byte[PublicKeySize];
        try
        {
            using var lease = secret.Lease();
            fixed (byte* pk = publicKey)
            fixed (byte* s = seed)
            fixed (byte* sk = lease.Span)
            {
                if (CryptoSignEd25519.crypto_sign_ed25519_seed_keypair(pk, sk, s) != 0)
                    throw new CryptographicException("crypto_sign_ed25519_seed_keypair failed.");
            }
        }
        catch
        {
            secret.Dispose();
            throw;
        }
        return new Ed25519Key(secret, publicKey);
    }

    /// <summary>A new key pair from a random seed.</summary>
    public Ed25519Key GenerateKey()
    {
        Span<byte> seed = stackalloc byte[SeedSize];
        RandomNumberGenerator.Fill(seed);
        try
        {
            return ImportSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>Signs <paramref name="data"/> into <paramref name="signature"/> (64 bytes).</summary>
    public unsafe void Sign(Ed25519Key key, ReadOnlySpan<byte> data, Span<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (signature.Length != SignatureSize) throw new ArgumentException($"An Ed25519 signature is {SignatureSize} bytes.", nameof(signature));
        using var lease = key.Secret.Lease();
        fixed (byte* sig = signature)
        fixed (byte* m = data)
        fixed (byte* sk = lease.Span)
        {
            if (CryptoSignEd25519.crypto_sign_ed25519_detached(sig, null, m, (ulong)data.Length, sk) != 0)
                throw new CryptographicException("crypto_sign_ed25519_detached failed.");
        }
    }

    /// <summary>Signs <paramref name="data"/>.</summary>
    public byte[] Sign(Ed25519Key key, ReadOnlySpan<byte> data)
    {
        var signature = new byte[SignatureSize];
        Sign(key, data, signature);
        return signature;
    }

    /// <summary>
    /// Whether <paramref name="signature"/> is a valid signature of <paramref name="data"/> by
    /// <paramref name="publicKey"/>. Wrong lengths, non-canonical encodings and small-order keys are
    /// simply not valid: this never throws on bad input.
    /// </summary>
    public unsafe bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != PublicKeySize || signature.Length != SignatureSize) return false;
        Sodium.EnsureInitialized();
        fixed (byte* sig = signature)
        fixed (byte* m = data)
        fixed (byte* pk = publicKey)
            return CryptoSignEd25519.crypto_sign_ed25519_verify_detached(sig, m, (ulong)data.Length, pk) == 0;
    }
}

/// <summary>An Ed25519 key pair; the secret half lives in guarded memory and is wiped on dispose.</summary>
public sealed class Ed25519Key : IDisposable
{
    private readonly byte[] _publicKey;

    internal Ed25519Key(SecureMemoryHandle secret, byte[] publicKey)
    {
        Secret = secret;
        _publicKey = publicKey;
    }

    internal SecureMemoryHandle Secret { get; }

    /// <summary>The public key (32 bytes).</summary>
    public ReadOnlySpan<byte> PublicKey => _publicKey;

    /// <summary>A copy of the public key.</summary>
    public byte[] PublicKeyBytes() => (byte[])_publicKey.Clone();

    /// <summary>Wipes and frees the secret key.</summary>
    public void Dispose() => Secret.Dispose();
}
