using System;
using System.Security.Cryptography;
using System.Threading;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Expressions;
using Dsl.Runtime.Handshakes;
using Xunit;

namespace Dsl.Runtime.Tests.Expressions;

/// <summary>The runtime side of the spec language's built-ins and operators, as generated code calls them.</summary>
public sealed class BuiltinsTests
{
    [Theory]
    [InlineData("", "")]
    [InlineData("00ff10", "00ff10")]
    [InlineData("ABCDEF", "abcdef")]
    public void Unhex_reads_hex_in_either_case(string text, string hex)
        => Assert.Equal(hex, Builtins.Unhex(text)!.Value.ToHex());

    [Theory]
    [InlineData("0")]
    [InlineData("0g")]
    [InlineData("zz")]
    [InlineData(" 00")]
    public void Unhex_is_absent_for_text_that_is_not_hex(string text) => Assert.Null(Builtins.Unhex(text));

    [Theory]
    [InlineData("", "")]
    [InlineData("AAEC", "000102")]
    [InlineData("aGk=", "6869")]
    public void Unbase64_reads_standard_base64(string text, string hex)
        => Assert.Equal(hex, Builtins.Unbase64(text)!.Value.ToHex());

    [Theory]
    [InlineData("aGk")]
    [InlineData("a$k=")]
    [InlineData("aGk==")]
    public void Unbase64_is_absent_for_text_that_is_not_base64(string text) => Assert.Null(Builtins.Unbase64(text));

    [Fact]
    public void Hex_and_unhex_round_trip() => Assert.Equal(Bytes.FromHex("c0ffee"), Builtins.Unhex(Builtins.Hex(Bytes.FromHex("c0ffee"))));

    [Theory]
    [InlineData(long.MaxValue, 1, long.MaxValue)]
    [InlineData(long.MinValue, -1, long.MinValue)]
    [InlineData(2, 3, 5)]
    public void Int_addition_saturates(long left, long right, long sum) => Assert.Equal(sum, Operators.Plus(left, right));

    [Theory]
    [InlineData(long.MinValue, 1, long.MinValue)]
    [InlineData(long.MaxValue, -1, long.MaxValue)]
    [InlineData(0, long.MinValue, long.MaxValue)]
    [InlineData(5, 3, 2)]
    public void Int_subtraction_saturates(long left, long right, long difference) => Assert.Equal(difference, Operators.Minus(left, right));

    [Fact]
    public void A_hostile_timestamp_fails_a_skew_check_instead_of_overflowing()
    {
        // abs(unix_ms(now()) - msg.timestamp) <= 300000 with msg.timestamp = long.MinValue: false, not an exception.
        var now = Builtins.UnixMs(DateTimeOffset.UnixEpoch.AddYears(56));
        Assert.False(Builtins.Abs(Operators.Minus(now, long.MinValue)) <= 300000);
        Assert.Equal(long.MaxValue, Builtins.Abs(long.MinValue));
    }

    [Fact]
    public void The_step_clock_is_in_whole_seconds()
    {
        var clock = new FixedTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_987));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), Builtins.Now(Builtins.Clock(clock)));
    }

    [Fact]
    public void Pow_solve_finds_a_stamp_pow_check_accepts()
    {
        var challenge = Bytes.FromHex("00112233445566778899");
        var nonce = Builtins.PowSolve(RandomSource.System, challenge, 12, CancellationToken.None);
        Assert.Equal(8, nonce.Length);
        Assert.True(Builtins.PowCheck(challenge, nonce, 12));
        Assert.True(Hashcash.LeadingZeroBits(Builtins.Sha256(Builtins.Concat(challenge, nonce)).Span) >= 12);
        Assert.False(Builtins.PowCheck(Bytes.FromHex("00112233445566778898"), nonce, 12));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(65)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void Pow_check_is_false_for_a_difficulty_out_of_range_and_pow_solve_refuses_it(long difficulty)
    {
        // False rather than an exception: the difficulty may come from the peer.
        Assert.False(Builtins.PowCheck(Bytes.Empty, Bytes.Empty, difficulty));
        Assert.Throws<ArgumentOutOfRangeException>(() => Builtins.PowSolve(RandomSource.System, Bytes.Empty, difficulty, CancellationToken.None));
    }

    [Fact]
    public void Pow_check_at_difficulty_zero_accepts_anything()
        => Assert.True(Builtins.PowCheck(Bytes.Empty, Bytes.Empty, 0));

    [Fact]
    public void Pow_solve_honours_its_token()
        => Assert.Throws<OperationCanceledException>(() => Builtins.PowSolve(RandomSource.System, Bytes.Empty, 64, new CancellationToken(canceled: true)));

    [Fact]
    public void Merkle_root_of_chunks_is_the_salted_tree_of_the_pieces()
    {
        var salt = Bytes.FromHex("0102");
        var chunks = Builtins.Chunks(Bytes.FromHex("aabbccddee"), 2);
        Assert.Equal(new[] { Bytes.FromHex("aabb"), Bytes.FromHex("ccdd"), Bytes.FromHex("ee") }, chunks);

        static byte[] Leaf(string hex) => SHA256.HashData([0x00, 0x01, 0x02, .. Convert.FromHexString(hex)]);
        var left = SHA256.HashData([0x01, .. Leaf("aabb"), .. Leaf("ccdd")]);
        var expected = SHA256.HashData([0x01, .. left, .. Leaf("ee")]);
        Assert.Equal(new Bytes(expected), Builtins.MerkleRoot(chunks, salt));
    }

    [Fact]
    public void Chunks_larger_than_the_data_give_one_piece_and_a_size_below_one_is_refused()
    {
        Assert.Equal(new[] { Bytes.FromHex("aabb") }, Builtins.Chunks(Bytes.FromHex("aabb"), long.MaxValue));
        Assert.Empty(Builtins.Chunks(Bytes.Empty, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Builtins.Chunks(Bytes.FromHex("aabb"), 0));
    }

    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
