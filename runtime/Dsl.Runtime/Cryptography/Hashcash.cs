using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using System.Threading;

namespace Dsl.Runtime.Cryptography;

/// <summary>
/// Hashcash-style proof of work: a nonce is a stamp of difficulty <c>d</c> for a challenge when
/// SHA-256(challenge || nonce) starts with at least <c>d</c> zero bits. Checking costs one hash; finding
/// a stamp costs 2^d hashes on average (each attempt succeeds with probability 2^-d), so every extra
/// bit doubles the solver's work.
/// </summary>
public static class Hashcash
{
    /// <summary>The length of the nonces <see cref="Solve(ReadOnlySpan{byte}, int, CancellationToken)"/> returns.</summary>
    public const int NonceSize = 8;

    /// <summary>The largest difficulty: all 64 bits of the first eight bytes of the hash are zero.</summary>
    public const int MaxDifficulty = 64;

    // Attempts between two looks at the cancellation token: rare enough to cost nothing, often
    // enough (a few milliseconds of hashing) that cancelling is prompt.
    private const int CancellationCheckInterval = 4096;

    // Challenges up to this length are hashed from the stack; longer ones from one rented buffer.
    private const int StackLimit = 256;

    /// <summary>The number of leading zero bits of <paramref name="data"/>, most significant bit of the first byte first.</summary>
    public static int LeadingZeroBits(ReadOnlySpan<byte> data)
    {
        for (var i = 0; i < data.Length; i++)
            if (data[i] != 0) return i * 8 + BitOperations.LeadingZeroCount((uint)data[i]) - 24;
        return data.Length * 8;
    }

    /// <summary>
    /// Whether SHA-256(<paramref name="challenge"/> || <paramref name="nonce"/>) has at least
    /// <paramref name="difficulty"/> leading zero bits. A nonce of any length is hashed as given; a stamp
    /// from <see cref="Solve(ReadOnlySpan{byte}, int, CancellationToken)"/> is 8 bytes.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="difficulty"/> is not in 0..64.</exception>
    public static bool Check(ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> nonce, int difficulty)
    {
        ThrowIfOutOfRange(difficulty);
        var length = checked(challenge.Length + nonce.Length);
        byte[]? rented = null;
        Span<byte> input = length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            challenge.CopyTo(input);
            nonce.CopyTo(input[challenge.Length..]);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(input[..length], hash);
            return HasLeadingZeroBits(hash, difficulty);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Finds an 8-byte nonce such that SHA-256(<paramref name="challenge"/> || nonce) has at least
    /// <paramref name="difficulty"/> leading zero bits. Expect 2^<paramref name="difficulty"/> attempts
    /// (about a million at 20); at high difficulties this runs until cancelled, and a challenge may have no
    /// stamp at all near 64.
    /// </summary>
    /// <remarks>
    /// The nonce is a big-endian counter that starts at a random value, so two solvers of one challenge
    /// do not walk the same nonces. Attempts allocate nothing; the token is checked every 4096 attempts.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="difficulty"/> is not in 0..64.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before a stamp was found.</exception>
    public static byte[] Solve(ReadOnlySpan<byte> challenge, int difficulty, CancellationToken cancellationToken = default)
        => Solve(challenge, difficulty, Handshakes.RandomSource.System, cancellationToken);

    /// <summary>As <see cref="Solve(ReadOnlySpan{byte}, int, CancellationToken)"/>, with the starting nonce from <paramref name="random"/>.</summary>
    public static byte[] Solve(ReadOnlySpan<byte> challenge, int difficulty, Handshakes.RandomSource random, CancellationToken cancellationToken = default)
    {
        ThrowIfOutOfRange(difficulty);
        cancellationToken.ThrowIfCancellationRequested();
        var length = challenge.Length + NonceSize;
        byte[]? rented = null;
        Span<byte> input = length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(length));
        input = input[..length];
        try
        {
            challenge.CopyTo(input);
            var nonce = input[challenge.Length..];
            random.Fill(nonce);
            var counter = BinaryPrimitives.ReadUInt64BigEndian(nonce);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            for (var attempt = 1; ; attempt++)
            {
                SHA256.TryHashData(input, hash, out _);
                if (HasLeadingZeroBits(hash, difficulty)) return nonce.ToArray();
                if (attempt == CancellationCheckInterval)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    attempt = 0;
                }
                // Wraps after 2^64 attempts, by which time every nonce has been tried.
                counter = unchecked(counter + 1);
                BinaryPrimitives.WriteUInt64BigEndian(nonce, counter);
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // The first eight bytes as one big-endian number: its leading zeros are the hash's, up to 64.
    private static bool HasLeadingZeroBits(ReadOnlySpan<byte> hash, int difficulty)
        => BitOperations.LeadingZeroCount(BinaryPrimitives.ReadUInt64BigEndian(hash)) >= difficulty;

    private static void ThrowIfOutOfRange(int difficulty)
    {
        if ((uint)difficulty > MaxDifficulty)
            throw new ArgumentOutOfRangeException(nameof(difficulty), difficulty, $"A proof-of-work difficulty is 0 to {MaxDifficulty} bits.");
    }
}
