using System;
using System.Security.Cryptography;
using Dsl.Runtime.Cryptography.Interop;

namespace Dsl.Runtime.Cryptography;

/// <summary>X25519 key agreement (RFC 7748) over libsodium.</summary>
public sealed class X25519
{
    /// <summary>The algorithm.</summary>
    public static X25519 Instance { get; } = new();

    private X25519() { }

    /// <summary>Length of private keys, public keys and shared secrets.</summary>
    public const int KeySize = 32;

    /// <summary>Imports a 32-byte private key (clamped by the scalar multiplication, as RFC 7748 says).</summary>
    public unsafe X25519Key ImportPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != KeySize) throw new ArgumentException($"An X25519 private key is {KeySize} bytes, not {privateKey.Length}.", nameof(privateKey));
        var secret = SecureMemoryHandle.Allocate(KeySize);
        var publicKey = new byte[KeySize];
        try
        {
            using var lease = secret.Lease();
            privateKey.CopyTo(lease.Span);
            fixed (byte* q = publicKey)
            fixed (byte* n = lease.Span)
            {
                if (CryptoScalarmultCurve25519.crypto_scalarmult_curve25519_base(q, n) != 0)
                    throw new CryptographicException("crypto_scalarmult_curve25519_base failed.");
            }
        }
        catch
        {
            secret.Dispose();
            throw;
        }
        return new X25519Key(secret, publicKey);
    }

    /// <summary>A new random key pair.</summary>
    public X25519Key GenerateKey() => GenerateKey(Handshakes.RandomSource.System);

    /// <summary>A new key pair from <paramref name="random"/>.</summary>
    public X25519Key GenerateKey(Handshakes.RandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<byte> privateKey = stackalloc byte[KeySize];
        random.Fill(privateKey);
        try
        {
            return ImportPrivateKey(privateKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
        }
    }

    /// <summary>
    /// Computes the shared secret with <paramref name="peerPublicKey"/>. Returns <see langword="false"/>
    /// for a wrong length or a peer key that yields the all-zero secret (a low-order point), which
    /// libsodium refuses so that a peer cannot force a known key.
    /// </summary>
    public unsafe bool TryAgree(X25519Key key, ReadOnlySpan<byte> peerPublicKey, Span<byte> sharedSecret)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (peerPublicKey.Length != KeySize || sharedSecret.Length != KeySize) return false;
        using var lease = key.Secret.Lease();
        fixed (byte* q = sharedSecret)
        fixed (byte* n = lease.Span)
        fixed (byte* p = peerPublicKey)
        {
            if (CryptoScalarmultCurve25519.crypto_scalarmult_curve25519(q, n, p) == 0) return true;
        }
        CryptographicOperations.ZeroMemory(sharedSecret);
        return false;
    }
}

/// <summary>An X25519 key pair; the private half lives in guarded memory and is wiped on dispose.</summary>
public sealed class X25519Key : IDisposable
{
    private readonly byte[] _publicKey;

    internal X25519Key(SecureMemoryHandle secret, byte[] publicKey)
    {
        Secret = secret;
        _publicKey = publicKey;
    }

    internal SecureMemoryHandle Secret { get; }

    /// <summary>The public key (32 bytes).</summary>
    public ReadOnlySpan<byte> PublicKey => _publicKey;

    /// <summary>A copy of the public key.</summary>
    public byte[] PublicKeyBytes() => (byte[])_publicKey.Clone();

    /// <summary>Wipes and frees the private key.</summary>
    public void Dispose() => Secret.Dispose();
}
