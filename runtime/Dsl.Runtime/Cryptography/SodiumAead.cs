using System;
using System.Security.Cryptography;
using Dsl.Runtime.Cryptography.Interop;

namespace Dsl.Runtime.Cryptography;

/// <summary>
/// The AEADs of libsodium, keyed by a <see cref="SecretBytes"/> so the key never leaves sodium memory
/// (<see cref="AeadAlgorithm"/> takes keys as spans, for the spec language's built-ins). Both have 32-byte
/// keys, 12-byte nonces and 16-byte tags; a ciphertext is the encrypted bytes followed by the tag.
/// </summary>
internal abstract unsafe class SodiumAead
{
    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;

    /// <summary>ChaCha20-Poly1305, IETF variant (RFC 8439): available everywhere libsodium is.</summary>
    public static SodiumAead ChaCha20Poly1305 { get; } = new ChaCha20Poly1305Ietf();

    /// <summary>AES-256-GCM: libsodium has only a hardware implementation, see <see cref="IsAvailable"/>.</summary>
    public static SodiumAead Aes256Gcm { get; } = new Aes256GcmAead();

    /// <summary>The name used in errors and logs.</summary>
    public abstract string Name { get; }

    /// <summary>Whether this machine can run the algorithm.</summary>
    public abstract bool IsAvailable { get; }

    /// <summary>Encrypts into <paramref name="ciphertext"/>, exactly <see cref="TagSize"/> bytes longer than <paramref name="plaintext"/>.</summary>
    /// <exception cref="ObjectDisposedException"><paramref name="key"/> was disposed.</exception>
    public void Seal(SecretBytes key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData, Span<byte> ciphertext)
    {
        CheckLengths(key, nonce, plaintext.Length, ciphertext.Length);
        using var lease = key.Lease();
        byte empty = 0;
        fixed (byte* k = lease.Span)
        fixed (byte* n = nonce)
        fixed (byte* m = plaintext)
        fixed (byte* ad = associatedData)
        fixed (byte* c = ciphertext)
        {
            // libsodium reads nothing through a pointer to zero bytes, but is not promised a null one.
            if (Encrypt(c, m == null ? &empty : m, (ulong)plaintext.Length, ad == null ? &empty : ad, (ulong)associatedData.Length, n, k) != 0)
                throw new CryptographicException($"{Name} encryption failed.");
        }
    }

    /// <summary>
    /// Authenticates and decrypts into <paramref name="plaintext"/>, exactly <see cref="TagSize"/> bytes
    /// shorter than <paramref name="ciphertext"/>. False, with <paramref name="plaintext"/> zeroed, when the
    /// ciphertext is not authentic under this key, nonce and associated data.
    /// </summary>
    /// <exception cref="ObjectDisposedException"><paramref name="key"/> was disposed.</exception>
    public bool TryOpen(SecretBytes key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> associatedData, Span<byte> plaintext)
    {
        CheckLengths(key, nonce, plaintext.Length, ciphertext.Length);
        using var lease = key.Lease();
        byte empty = 0;
        fixed (byte* k = lease.Span)
        fixed (byte* n = nonce)
        fixed (byte* c = ciphertext)
        fixed (byte* ad = associatedData)
        fixed (byte* m = plaintext)
        {
            if (Decrypt(m == null ? &empty : m, c, (ulong)ciphertext.Length, ad == null ? &empty : ad, (ulong)associatedData.Length, n, k) == 0)
                return true;
        }
        CryptographicOperations.ZeroMemory(plaintext);
        return false;
    }

    private void CheckLengths(SecretBytes key, ReadOnlySpan<byte> nonce, int plaintextLength, int ciphertextLength)
    {
        if (key.Length != KeySize || nonce.Length != NonceSize || ciphertextLength != plaintextLength + TagSize)
            throw new ArgumentException($"{Name} takes a {KeySize}-byte key, a {NonceSize}-byte nonce and a ciphertext {TagSize} bytes longer than the plaintext.");
    }

    protected abstract int Encrypt(byte* c, byte* m, ulong mlen, byte* ad, ulong adlen, byte* npub, byte* k);

    protected abstract int Decrypt(byte* m, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    /// <inheritdoc />
    public override string ToString() => Name;

    private sealed class ChaCha20Poly1305Ietf : SodiumAead
    {
        public override string Name => "chacha20-poly1305";

        public override bool IsAvailable
        {
            get
            {
                Sodium.EnsureInitialized();
                return true;
            }
        }

        protected override int Encrypt(byte* c, byte* m, ulong mlen, byte* ad, ulong adlen, byte* npub, byte* k)
            => CryptoAeadChaCha20Poly1305Ietf.crypto_aead_chacha20poly1305_ietf_encrypt(c, null, m, mlen, ad, adlen, null, npub, k);

        protected override int Decrypt(byte* m, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k)
            => CryptoAeadChaCha20Poly1305Ietf.crypto_aead_chacha20poly1305_ietf_decrypt(m, null, null, c, clen, ad, adlen, npub, k);
    }

    private sealed class Aes256GcmAead : SodiumAead
    {
        private static readonly Lazy<bool> s_available = new(() =>
        {
            Sodium.EnsureInitialized();
            return CryptoAeadAes256Gcm.crypto_aead_aes256gcm_is_available() == 1;
        });

        public override string Name => "aes-256-gcm";

        public override bool IsAvailable => s_available.Value;

        protected override int Encrypt(byte* c, byte* m, ulong mlen, byte* ad, ulong adlen, byte* npub, byte* k)
            => CryptoAeadAes256Gcm.crypto_aead_aes256gcm_encrypt(c, null, m, mlen, ad, adlen, null, npub, k);

        protected override int Decrypt(byte* m, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k)
            => CryptoAeadAes256Gcm.crypto_aead_aes256gcm_decrypt(m, null, null, c, clen, ad, adlen, npub, k);
    }
}
