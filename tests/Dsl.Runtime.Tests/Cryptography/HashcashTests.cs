using System;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Cryptography;
using Xunit;

namespace Dsl.Runtime.Tests.Cryptography;

public sealed class HashcashTests
{
    private static readonly byte[] Challenge = "challenge from the responder"u8.ToArray();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(12)]
    [InlineData(16)]
    public void A_solved_stamp_checks_at_its_difficulty_and_hashes_to_that_many_zero_bits(int difficulty)
    {
        var nonce = Hashcash.Solve(Challenge, difficulty, CancellationToken.None);

        Assert.Equal(Hashcash.NonceSize, nonce.Length);
        Assert.True(Hashcash.Check(Challenge, nonce, difficulty));
        // Independently of Check: the hash really starts with that many zero bits.
        var hash = SHA256.HashData([.. Challenge, .. nonce]);
        Assert.True(Hashcash.LeadingZeroBits(hash) >= difficulty);
    }

    [Fact]
    public void A_stamp_for_another_challenge_fails()
    {
        var nonce = Hashcash.Solve(Challenge, 16, CancellationToken.None);
        Assert.False(Hashcash.Check("another challenge"u8, nonce, 16));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(9)]
    public void A_stamp_one_bit_short_fails(int bits)
    {
        // Walk nonces until one hashes to exactly `bits` leading zero bits.
        Span<byte> nonce = stackalloc byte[8];
        for (ulong counter = 0; ; counter++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(nonce, counter);
            if (Hashcash.LeadingZeroBits(SHA256.HashData([.. Challenge, .. nonce])) == bits) break;
        }

        Assert.True(Hashcash.Check(Challenge, nonce, bits));
        Assert.False(Hashcash.Check(Challenge, nonce, bits + 1));
    }

    [Fact]
    public void Check_hashes_a_long_challenge_too()
    {
        var challenge = new byte[1000];
        RandomNumberGenerator.Fill(challenge);
        var nonce = Hashcash.Solve(challenge, 10, CancellationToken.None);
        Assert.True(Hashcash.Check(challenge, nonce, 10));
        Assert.Equal(Hashcash.LeadingZeroBits(SHA256.HashData([.. challenge, .. nonce])) >= 11, Hashcash.Check(challenge, nonce, 11));
    }

    [Fact]
    public void Two_solvers_start_from_different_nonces()
    {
        // At difficulty 0 the first attempt wins, so the stamp is the random starting point.
        Assert.NotEqual(Hashcash.Solve(Challenge, 0, CancellationToken.None), Hashcash.Solve(Challenge, 0, CancellationToken.None));
    }

    [Fact]
    public async Task Solving_stops_when_cancelled()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        // Not passing the token to Task.Run: Solve itself must notice it.
        var solving = Task.Run(() => Hashcash.Solve(Challenge, Hashcash.MaxDifficulty, cancellation.Token));
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => solving.WaitAsync(Wait.Long));
        Assert.Equal(cancellation.Token, error.CancellationToken);
    }

    [Fact]
    public void An_already_cancelled_token_throws_before_any_work()
        => Assert.Throws<OperationCanceledException>(() => Hashcash.Solve(Challenge, 1, new CancellationToken(canceled: true)));

    [Theory]
    [InlineData(-1)]
    [InlineData(65)]
    public void Difficulty_outside_0_to_64_is_refused(int difficulty)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Hashcash.Solve(Challenge, difficulty, CancellationToken.None));
        Assert.Throws<ArgumentOutOfRangeException>(() => Hashcash.Check(Challenge, new byte[8], difficulty));
    }

    [Fact]
    public void Difficulty_64_asks_for_the_first_eight_bytes_to_be_zero()
    {
        // Hashcash.Check only ever sees hashes; LeadingZeroBits is the part it can be held to.
        Assert.Equal(64, Hashcash.LeadingZeroBits(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0x80 }));
        Assert.Equal(63, Hashcash.LeadingZeroBits(new byte[] { 0, 0, 0, 0, 0, 0, 0, 1 }));
        Assert.Equal(0, Hashcash.LeadingZeroBits(new byte[] { 0x80 }));
        Assert.Equal(7, Hashcash.LeadingZeroBits(new byte[] { 0x01, 0xff }));
        Assert.Equal(16, Hashcash.LeadingZeroBits(new byte[] { 0, 0 }));
        Assert.True(Hashcash.Check(Challenge, new byte[8], 0));
    }
}
