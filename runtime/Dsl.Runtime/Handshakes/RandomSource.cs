using System;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// Where a handshake's random bytes come from: <c>random(n)</c>, <c>uuid4()</c>, <c>x25519_keypair()</c> and the
/// starting nonce of <c>pow_solve</c>. <see cref="System"/>, the operating system's cryptographic generator, is the
/// only source for real handshakes; <see cref="Seeded"/> replays the same bytes from a seed, for test vectors and
/// reproducible runs, and must never be used for a real handshake (anyone who knows the seed knows every key).
/// </summary>
public abstract class RandomSource
{
    /// <summary>The operating system's cryptographic random number generator.</summary>
    public static RandomSource System { get; } = new SystemRandom();

    /// <summary>Fills <paramref name="destination"/> with random bytes.</summary>
    public abstract void Fill(Span<byte> destination);

    /// <summary>
    /// A deterministic source: block i is HMAC-SHA256, keyed by HMAC-SHA256(seed, "dsl seeded random"), of i as 8 big-endian
    /// bytes (i from 0); the bytes are the blocks in order. The same
    /// seed gives the same bytes in the same order. For test vectors only.
    /// </summary>
    public static RandomSource Seeded(ReadOnlySpan<byte> seed) => new SeededRandom(seed);

    private sealed class SystemRandom : RandomSource
    {
        // libsodium's generator (getrandom(2) on Linux) where libsodium is installed, as it is wherever the crypto runs:
        // 0.28 us for 32 bytes here, where the BCL's, through OpenSSL 3's locked DRBG, takes 0.65 us; a handshake draws
        // its nonces and secrets a few times each. The BCL's where libsodium is missing (a handshake without crypto).
        private static readonly bool s_sodium = Cryptography.Sodium.IsInstalled;

        public override unsafe void Fill(Span<byte> destination)
        {
            if (!s_sodium)
            {
                RandomNumberGenerator.Fill(destination);
                return;
            }
            fixed (byte* buffer = destination)
                Cryptography.Interop.SodiumCore.randombytes_buf(buffer, (nuint)destination.Length);
        }

        public override string ToString() => "RandomSource.System";
    }

    private sealed class SeededRandom : RandomSource
    {
        private readonly byte[] _key;
        private readonly byte[] _block = new byte[HMACSHA256.HashSizeInBytes];
        private readonly object _gate = new();
        private ulong _counter;
        private int _used = HMACSHA256.HashSizeInBytes;

        public SeededRandom(ReadOnlySpan<byte> seed) => _key = HMACSHA256.HashData(seed, "dsl seeded random"u8);

        public override void Fill(Span<byte> destination)
        {
            Span<byte> counter = stackalloc byte[sizeof(ulong)];
            lock (_gate)
            {
                while (!destination.IsEmpty)
                {
                    if (_used == _block.Length)
                    {
                        BinaryPrimitives.WriteUInt64BigEndian(counter, _counter++);
                        HMACSHA256.HashData(_key, counter, _block);
                        _used = 0;
                    }
                    var take = Math.Min(destination.Length, _block.Length - _used);
                    _block.AsSpan(_used, take).CopyTo(destination);
                    _used += take;
                    destination = destination[take..];
                }
            }
        }

        // Never the seed or the key.
        public override string ToString() => "RandomSource.Seeded";
    }
}
