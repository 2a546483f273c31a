using System;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Expressions;
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

    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
