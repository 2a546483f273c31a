using System;
using System.Buffers.Binary;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Services;

// Writes to the store at args[0] as fast as it can: for each i, a replay key, a pin and a trust level, each a
// committed transaction, then prints "acked i" once all three calls have returned. The crash test kills it at a
// random moment and checks that the store is whole and holds every change acknowledged.
using var store = SqliteHandshakeStore.Open(args[0]);
var now = DateTimeOffset.UtcNow;
var stdout = Console.Out;
for (var i = 0; ; i++)
{
    var id = Id(i);
    await store.TryAddAsync(id, now, now.AddDays(1), default);
    await store.PinAsync(id, Id(i + 1_000_000), default);
    await ((ITrustStore)store).AuthenticateAsync(id, now, default);
    await stdout.WriteLineAsync("acked " + i);
    await stdout.FlushAsync();
}

static Bytes Id(int i)
{
    var bytes = new byte[32];
    BinaryPrimitives.WriteInt32BigEndian(bytes, i);
    return new Bytes(bytes);
}
