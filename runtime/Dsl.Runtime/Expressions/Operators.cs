using System;

namespace Dsl.Runtime.Expressions;

/// <summary>
/// The arithmetic of the spec language, as generated code calls it. <c>int</c> arithmetic saturates at the
/// 64-bit bounds instead of wrapping or throwing, so that a hostile value (a timestamp of <see cref="long.MinValue"/>)
/// fails the range check it is meant for, not the machine.
/// </summary>
public static class Operators
{
    /// <summary><c>a + b</c> of ints, saturating.</summary>
    public static long Plus(long left, long right)
    {
        var sum = unchecked(left + right);
        // Overflow when both operands have the same sign and the sum's differs.
        if (((left ^ sum) & (right ^ sum)) < 0) return left < 0 ? long.MinValue : long.MaxValue;
        return sum;
    }

    /// <summary><c>a + b</c> of decimals, saturating at the decimal bounds.</summary>
    public static decimal Plus(decimal left, decimal right)
    {
        try
        {
            return left + right;
        }
        catch (OverflowException)
        {
            return left < 0 ? decimal.MinValue : decimal.MaxValue;
        }
    }

    /// <summary><c>a - b</c> of decimals, saturating at the decimal bounds.</summary>
    public static decimal Minus(decimal left, decimal right) => Plus(left, -right);

    /// <summary><c>a + b</c> of strings: concatenation.</summary>
    public static string Plus(string left, string right) => string.Concat(left, right);

    /// <summary><c>a - b</c> of ints, saturating.</summary>
    public static long Minus(long left, long right)
    {
        var difference = unchecked(left - right);
        // Overflow when the operands have different signs and the difference's sign differs from the left's.
        if (((left ^ right) & (left ^ difference)) < 0) return left < 0 ? long.MinValue : long.MaxValue;
        return difference;
    }

    /// <summary>
    /// <c>a != null</c> where the generator knows <c>a</c> is never absent: evaluates it (a service call in it still
    /// runs) and gives <see langword="true"/>, without the C# warning a comparison of a value with null raises.
    /// </summary>
    public static bool IsPresent<T>(T value) => value is not null;

    /// <summary><c>a - b</c> of timestamps: the duration from <paramref name="right"/> to <paramref name="left"/>, negative when it is later.</summary>
    public static TimeSpan Minus(DateTimeOffset left, DateTimeOffset right) => left - right;

    /// <summary><c>t + d</c>: a timestamp moved by a duration, saturating at the earliest and latest timestamps.</summary>
    public static DateTimeOffset Plus(DateTimeOffset time, TimeSpan duration)
    {
        var ticks = Plus(time.UtcTicks, duration.Ticks);
        return ticks < DateTimeOffset.MinValue.UtcTicks ? DateTimeOffset.MinValue
             : ticks > DateTimeOffset.MaxValue.UtcTicks ? DateTimeOffset.MaxValue
             : new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    /// <summary><c>t - d</c>: a timestamp moved back by a duration, saturating.</summary>
    public static DateTimeOffset Minus(DateTimeOffset time, TimeSpan duration)
        => Plus(time, duration == TimeSpan.MinValue ? TimeSpan.MaxValue : -duration);

    /// <summary><c>a + b</c> of durations, saturating.</summary>
    public static TimeSpan Plus(TimeSpan left, TimeSpan right) => new(Plus(left.Ticks, right.Ticks));

    /// <summary><c>a - b</c> of durations, saturating.</summary>
    public static TimeSpan Minus(TimeSpan left, TimeSpan right) => new(Minus(left.Ticks, right.Ticks));
}

/// <summary>
/// Values the generator proved present where C# still sees a nullable. Reaching the exception is a bug of the
/// generator (the handshake then ends with <c>internal_error</c>), never a protocol failure.
/// </summary>
public static class Present
{
    /// <summary>
    /// Bytes a machine keeps for later steps, as a <see cref="KeptBytes"/>: 8 bytes in the machine, where a nullable
    /// <see cref="Codecs.Bytes"/> takes 16 (what a waiting handshake holds, with 100,000 of them in a table). No copy.
    /// </summary>
    public static KeptBytes Keep(Codecs.Bytes? value) => new(value);

    /// <summary>Kept bytes (<see cref="Keep"/>) as the value they were; null when none was kept.</summary>
    public static Codecs.Bytes? Kept(KeptBytes value) => value.Value;

    /// <summary>The value of <paramref name="value"/>, which the spec proves present.</summary>
    public static T Value<T>(T? value) where T : struct
        => value ?? throw new InvalidOperationException("A value the spec proves present is absent; this is a bug of the generator.");

    /// <summary><paramref name="value"/>, which the spec proves present.</summary>
    public static T Reference<T>(T? value) where T : class
        => value ?? throw new InvalidOperationException("A value the spec proves present is absent; this is a bug of the generator.");
}

/// <summary>
/// A value of bytes a generated machine keeps for a later step, or none: the array a <see cref="Codecs.Bytes"/> wraps,
/// in 8 bytes. Machines store and read it through <see cref="Present.Keep"/> and <see cref="Present.Kept"/>.
/// </summary>
public readonly struct KeptBytes
{
    private readonly byte[]? _value;

    /// <summary>Keeps <paramref name="value"/> (the array it wraps, not a copy); nothing when it is null.</summary>
    public KeptBytes(Codecs.Bytes? value)
    {
        if (value is not { } bytes) return;
        _value = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(bytes.Memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : bytes.ToArray();
    }

    /// <summary>The kept value; null when none was kept.</summary>
    public Codecs.Bytes? Value => _value is null ? null : new Codecs.Bytes(_value);

    /// <summary>The value's length, never its content (a kept value may be a secret).</summary>
    public override string ToString() => _value is null ? "(none)" : $"KeptBytes({_value.Length} bytes)";
}
