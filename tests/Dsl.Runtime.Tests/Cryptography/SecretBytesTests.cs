using System;
using Dsl.Runtime.Cryptography;
using Xunit;

namespace Dsl.Runtime.Tests.Cryptography;

public sealed class SecretBytesTests
{
    private static readonly byte[] Value = Convert.FromHexString("c0ffee00deadbeef");

    [Fact]
    public void Printing_shows_the_length_and_never_the_value()
    {
        using var secret = SecretBytes.CopyFrom(Value);
        var text = secret.ToString();
        Assert.Equal("SecretBytes(8 bytes)", text);
        Assert.DoesNotContain("c0ffee", text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(8, secret.Length);
    }

    [Fact]
    public void The_secret_is_a_copy_the_caller_may_wipe()
    {
        var source = (byte[])Value.Clone();
        using var secret = SecretBytes.CopyFrom(source);
        Array.Clear(source);

        using var lease = secret.Lease();
        Assert.Equal(Value, lease.Span.ToArray());
    }

    [Fact]
    public void A_copy_of_a_secret_outlives_the_original()
    {
        var original = SecretBytes.CopyFrom(Value);
        using var copy = SecretBytes.CopyFrom(original);
        original.Dispose();

        using var lease = copy.Lease();
        Assert.Equal(Value, lease.Span.ToArray());
        Assert.Throws<ObjectDisposedException>(() => SecretBytes.CopyFrom(original));
    }

    [Fact]
    public void A_disposed_secret_can_no_longer_be_read()
    {
        var secret = SecretBytes.CopyFrom(Value);
        Assert.False(secret.IsDisposed);
        secret.Dispose();
        secret.Dispose();

        Assert.True(secret.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => { using var lease = secret.Lease(); });
        Assert.Equal("SecretBytes(8 bytes)", secret.ToString());
    }

    [Fact]
    public void Dispose_during_a_lease_waits_for_the_lease()
    {
        var secret = SecretBytes.CopyFrom(Value);
        using (var lease = secret.Lease())
        {
            secret.Dispose();
            // Still readable: sodium_free runs when the lease ends.
            Assert.Equal(Value, lease.Span.ToArray());
        }
        Assert.True(secret.IsDisposed);
    }

    [Fact]
    public void An_empty_secret_is_refused()
        => Assert.Throws<ArgumentException>(() => SecretBytes.CopyFrom(ReadOnlySpan<byte>.Empty));
}
