using System;
using System.Buffers.Binary;
using Dsl.Runtime.Codecs;

namespace Dsl.Runtime.Services;

/// <summary>
/// How a durable value store writes a value of the spec's <c>value_store</c> types as bytes: <c>int</c> (8 bytes,
/// big-endian), <c>bool</c> (1 byte), <c>uuid</c> (16 bytes, RFC 4122 order), <c>timestamp</c> (UTC ticks, 8 bytes,
/// big-endian), <c>bytes</c> (as they are). The same bytes on every machine, so a fleet reads what another wrote.
/// </summary>
internal static class StoredValue<TValue> where TValue : struct
{
    /// <summary>Throws when a durable store cannot hold <typeparamref name="TValue"/>.</summary>
    public static void Check()
    {
        if (typeof(TValue) != typeof(long) && typeof(TValue) != typeof(bool) && typeof(TValue) != typeof(Guid)
            && typeof(TValue) != typeof(DateTimeOffset) && typeof(TValue) != typeof(Bytes))
            throw new NotSupportedException($"A durable value store holds int, bool, uuid, timestamp or bytes values, not {typeof(TValue).Name}.");
    }

    public static byte[] ToBytes(TValue value)
    {
        switch (value)
        {
            case long number:
                var eight = new byte[8];
                BinaryPrimitives.WriteInt64BigEndian(eight, number);
                return eight;
            case bool flag:
                return new[] { flag ? (byte)1 : (byte)0 };
            case Guid id:
                return id.ToByteArray(bigEndian: true);
            case DateTimeOffset time:
                var ticks = new byte[8];
                BinaryPrimitives.WriteInt64BigEndian(ticks, time.UtcTicks);
                return ticks;
            case Bytes bytes:
                return bytes.ToArray();
            default:
                throw new NotSupportedException(typeof(TValue).Name);
        }
    }

    public static TValue FromBytes(byte[] stored)
    {
        object value = typeof(TValue) == typeof(long) ? BinaryPrimitives.ReadInt64BigEndian(stored)
            : typeof(TValue) == typeof(bool) ? stored[0] != 0
            : typeof(TValue) == typeof(Guid) ? new Guid(stored, bigEndian: true)
            : typeof(TValue) == typeof(DateTimeOffset) ? new DateTimeOffset(BinaryPrimitives.ReadInt64BigEndian(stored), TimeSpan.Zero)
            : new Bytes(stored);
        return (TValue)value;
    }
}
