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

    [Fact]
    public void A_key_slot_is_wiped_when_freed_and_reused_for_the_next_key()
    {
        var slot = SecureSlots.Rent();
        byte[] Read()
        {
            var copy = new byte[SecureSlots.SlotSize];
            System.Runtime.InteropServices.Marshal.Copy(slot, copy, 0, copy.Length);
            return copy;
        }
        // A new slot starts wiped (sodium_malloc's own fill pattern never shows).
        Assert.All(Read(), b => Assert.Equal(0, b));
        var pattern = new byte[SecureSlots.SlotSize];
        Array.Fill(pattern, (byte)0xAB);
        System.Runtime.InteropServices.Marshal.Copy(pattern, 0, slot, SecureSlots.SlotSize);
        SecureSlots.Return(slot);
        Assert.All(Read(), b => Assert.Equal(0, b));
        // The most recently freed slot is the next one given.
        Assert.Equal(slot, SecureSlots.Rent());
        SecureSlots.Return(slot);
    }

    [Fact]
    public void More_keys_than_a_region_holds_each_get_their_own_slot()
    {
        var secrets = new SecretBytes[200];
        for (var i = 0; i < secrets.Length; i++) secrets[i] = SecretBytes.CopyFrom(new[] { (byte)i, (byte)(i >> 8), (byte)0x5A });
        for (var i = 0; i < secrets.Length; i++)
        {
            using var lease = secrets[i].Lease();
            Assert.Equal(new[] { (byte)i, (byte)(i >> 8), (byte)0x5A }, lease.Span.ToArray());
        }
        foreach (var secret in secrets) secret.Dispose();
        // A key longer than a slot has a sodium_malloc region of its own, and works the same.
        using var large = SecretBytes.CopyFrom(new byte[SecureSlots.SlotSize + 1]);
        Assert.Equal(SecureSlots.SlotSize + 1, large.Length);
    }
}
