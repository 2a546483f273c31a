using System;
using System.Linq;
using Dsl.Runtime.Handshakes;
using Xunit;

namespace Dsl.Runtime.Tests.Handshakes;

/// <summary>A seeded random source replays its bytes, however they are asked for; it never prints its seed.</summary>
public sealed class RandomSourceTests
{
    [Fact]
    public void A_seed_gives_the_same_bytes_in_the_same_order_whatever_the_chunks()
    {
        var seed = new byte[] { 1, 2, 3 };
        var whole = new byte[100];
        RandomSource.Seeded(seed).Fill(whole);

        var chunked = RandomSource.Seeded(seed);
        var pieces = new byte[100];
        foreach (var (start, length) in new[] { (0, 1), (1, 31), (32, 33), (65, 35) }) chunked.Fill(pieces.AsSpan(start, length));
        Assert.Equal(whole, pieces);

        var other = new byte[100];
        RandomSource.Seeded(new byte[] { 1, 2, 4 }).Fill(other);
        Assert.NotEqual(whole, other);
        Assert.False(whole.All(b => b == 0));
    }

    [Fact]
    public void The_system_source_is_not_a_replay_and_neither_prints_anything_secret()
    {
        var a = new byte[32];
        var b = new byte[32];
        RandomSource.System.Fill(a);
        RandomSource.System.Fill(b);
        Assert.NotEqual(a, b);
        // Filled to the end, past the 256 bytes libsodium draws from the kernel at a time; an empty span is no error.
        var large = new byte[1000];
        RandomSource.System.Fill(large);
        Assert.All(large.Chunk(32), chunk => Assert.False(chunk.All(x => x == 0)));
        RandomSource.System.Fill(Span<byte>.Empty);
        Assert.Equal("RandomSource.Seeded", RandomSource.Seeded(new byte[] { 42 }).ToString());
        Assert.Same(RandomSource.System, new HandshakeOptions().Random);
    }
}
