using System.Collections.Generic;
using CsCheck;
using Dsl.Runtime.Channels;
using Xunit;

namespace Dsl.Runtime.Tests.Channels;

/// <summary>The ring-of-bits window against the plainest model: the set of accepted numbers and the highest.</summary>
public sealed class ReplayWindowTests
{
    [Fact]
    public void The_window_agrees_with_a_set_of_accepted_numbers()
    {
        // Numbers spread over a few windows, some frames forged (checked but never accepted), and now and then a long jump.
        var operation = from near in Gen.ULong[0, 3000]
                        from jump in Gen.Int[0, 20]
                        from authentic in Gen.Int[0, 3]
                        select (Sequence: jump == 0 ? near + 1_000_000 : near, Authentic: authentic != 0);
        var gen = from size in Gen.OneOf(Gen.Int[1, 130], Gen.Int[1000, 1024])
                  from operations in operation.Array[1, 400]
                  select (size, operations);

        gen.Sample(c =>
        {
            var (size, operations) = c;
            var window = new ReplayWindow(size);
            var accepted = new HashSet<ulong>();
            ulong? highest = null;
            foreach (var (sequence, authentic) in operations)
            {
                SecureChannelError? expected =
                    highest is not { } h || sequence > h ? null
                    : h - sequence >= (ulong)size ? SecureChannelError.TooOld
                    : accepted.Contains(sequence) ? SecureChannelError.Replayed
                    : null;
                var allowed = window.Check(sequence, out var error);
                if (allowed != (expected is null) || (!allowed && error != expected))
                    throw new Xunit.Sdk.XunitException($"size {size}, {sequence}: expected {expected?.ToString() ?? "allowed"}, got {(allowed ? "allowed" : error.ToString())}");
                if (!allowed || !authentic) continue;
                window.Accept(sequence);
                accepted.Add(sequence);
                if (highest is null || sequence > highest) highest = sequence;
            }
        }, iter: 2000);
    }

    [Fact]
    public void A_window_of_64_keeps_exactly_the_last_64_numbers()
    {
        var window = new ReplayWindow(64);
        window.Accept(100);
        Assert.False(window.Check(36, out var old));
        Assert.Equal(SecureChannelError.TooOld, old);
        Assert.True(window.Check(37, out _));
        Assert.False(window.Check(100, out var seen));
        Assert.Equal(SecureChannelError.Replayed, seen);
        Assert.True(window.Check(101, out _));
    }
}
