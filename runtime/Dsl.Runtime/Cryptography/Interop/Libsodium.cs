using System;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Dsl.Runtime.Cryptography.Interop;

/// <summary>
/// Finds libsodium. On Debian and Ubuntu the runtime package (<c>libsodium23</c>) ships only
/// <c>libsodium.so.23</c>, without the unversioned <c>libsodium.so</c> that the development package adds,
/// so the versioned name is tried first; then the unversioned names used elsewhere (macOS, Windows, other
/// distributions, or a copy next to the application).
/// </summary>
internal static class Libsodium
{
    public const string Name = "libsodium";

    private static readonly string[] s_candidates =
    {
        "libsodium.so.23", "libsodium.so.26", "libsodium.so", "libsodium.dylib", "libsodium.23.dylib", "libsodium.dll", "libsodium",
    };

    private static int s_registered;

    /// <summary>Registers the resolver for this assembly's <c>[LibraryImport("libsodium")]</c> declarations.</summary>
    public static void RegisterResolver()
    {
        if (System.Threading.Interlocked.Exchange(ref s_registered, 1) != 0) return;
        NativeLibrary.SetDllImportResolver(typeof(Libsodium).Assembly, Resolve);
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Name) return IntPtr.Zero;
        foreach (var candidate in s_candidates)
            if (NativeLibrary.TryLoad(candidate, assembly, searchPath, out var handle)) return handle;
        return IntPtr.Zero;
    }
}

/// <summary>sodium/core.h, sodium/utils.h, randombytes.h.</summary>
internal static partial class SodiumCore
{
    [LibraryImport(Libsodium.Name, EntryPoint = "sodium_init")]
    internal static partial int sodium_init();

    [LibraryImport(Libsodium.Name, EntryPoint = "sodium_version_string")]
    internal static partial IntPtr sodium_version_string();

    [LibraryImport(Libsodium.Name, EntryPoint = "sodium_malloc")]
    internal static partial IntPtr sodium_malloc(nuint size);

    [LibraryImport(Libsodium.Name, EntryPoint = "sodium_free")]
    internal static partial void sodium_free(IntPtr pointer);

    [LibraryImport(Libsodium.Name, EntryPoint = "randombytes_buf")]
    internal static unsafe partial void randombytes_buf(byte* buffer, nuint size);
}

/// <summary>sodium/crypto_sign_ed25519.h.</summary>
internal static unsafe partial class CryptoSignEd25519
{
    internal const int PublicKeyBytes = 32;
    internal const int SecretKeyBytes = 64;
    internal const int SeedBytes = 32;
    internal const int Bytes = 64;

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_sign_ed25519_seed_keypair")]
    internal static partial int crypto_sign_ed25519_seed_keypair(byte* pk, byte* sk, byte* seed);

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_sign_ed25519_detached")]
    internal static partial int crypto_sign_ed25519_detached(byte* sig, ulong* siglen, byte* m, ulong mlen, byte* sk);

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_sign_ed25519_verify_detached")]
    internal static partial int crypto_sign_ed25519_verify_detached(byte* sig, byte* m, ulong mlen, byte* pk);
}

/// <summary>sodium/crypto_scalarmult_curve25519.h.</summary>
internal static unsafe partial class CryptoScalarmultCurve25519
{
    internal const int Bytes = 32;
    internal const int ScalarBytes = 32;

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_scalarmult_curve25519")]
    internal static partial int crypto_scalarmult_curve25519(byte* q, byte* n, byte* p);

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_scalarmult_curve25519_base")]
    internal static partial int crypto_scalarmult_curve25519_base(byte* q, byte* n);
}

/// <summary>sodium/crypto_aead_chacha20poly1305.h (the IETF variant: 96-bit nonces, RFC 8439).</summary>
internal static unsafe partial class CryptoAeadChaCha20Poly1305Ietf
{
    internal const int KeyBytes = 32;
    internal const int NPubBytes = 12;
    internal const int ABytes = 16;

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_aead_chacha20poly1305_ietf_encrypt")]
    internal static partial int crypto_aead_chacha20poly1305_ietf_encrypt(byte* c, ulong* clen_p, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_aead_chacha20poly1305_ietf_decrypt")]
    internal static partial int crypto_aead_chacha20poly1305_ietf_decrypt(byte* m, ulong* mlen_p, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);
}

/// <summary>sodium/crypto_aead_aes256gcm.h (only where the CPU has AES-NI and PCLMUL, or ARM crypto extensions).</summary>
internal static unsafe partial class CryptoAeadAes256Gcm
{
    internal const int KeyBytes = 32;
    internal const int NPubBytes = 12;
    internal const int ABytes = 16;

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_aead_aes256gcm_is_available")]
    internal static partial int crypto_aead_aes256gcm_is_available();

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_aead_aes256gcm_encrypt")]
    internal static partial int crypto_aead_aes256gcm_encrypt(byte* c, ulong* clen_p, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Libsodium.Name, EntryPoint = "crypto_aead_aes256gcm_decrypt")]
    internal static partial int crypto_aead_aes256gcm_decrypt(byte* m, ulong* mlen_p, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);
}
