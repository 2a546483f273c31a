using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Dsl.Protocols.Stt;
using Dsl.Protocols.Tests.Ltp;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;
using Xunit;

namespace Dsl.Protocols.Tests.Machines;

/// <summary>A clock that always reads the same instant.</summary>
public sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>
/// With a seeded random source and a fixed clock, a handshake is a function of its inputs: the same bytes cross the
/// wire every time (what test vectors stand on), and another seed changes them.
/// </summary>
public sealed class DeterminismTests
{
    private static HandshakeOptions Options(HandshakeOptions defaults, byte seed) => defaults with
    {
        Random = RandomSource.Seeded(new[] { seed }),
        TimeProvider = new FixedClock(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero)),
    };

    private static async Task<List<string>> Ltp03(byte seed)
    {
        using var serverKey = Ed25519.Instance.ImportSeed(new byte[32]);
        using var clientKey = Ed25519.Instance.ImportSeed(Enumerable.Repeat((byte)1, 32).ToArray());
        var (a, b) = InMemoryTransport.CreatePair();
        var wire = new RecordingTransport(a);
        var server = new Dsl.Protocols.Ltp03.LtpServer(
            new Dsl.Protocols.Ltp03.LtpServerInputs { ServerCapabilities = new[] { "x" }, Identity = serverKey },
            new Dsl.Protocols.Ltp03.LtpServerServices { Threads = new InMemoryThreadStore(), ClientKeys = new InMemoryValueStore<Bytes>(), SeenNonces = new InMemoryReplayCache() },
            Options(Dsl.Protocols.Ltp03.LtpServer.DefaultOptions, seed)).RunAsync(b).AsTask();
        var client = await new Dsl.Protocols.Ltp03.LtpClient(
            new Dsl.Protocols.Ltp03.LtpClientInputs { ClientId = "c", Identity = clientKey, ServerKey = new Bytes(serverKey.PublicKeyBytes()) },
            new Dsl.Protocols.Ltp03.LtpClientServices { SavedThreads = new InMemoryValueStore<Guid>() },
            Options(Dsl.Protocols.Ltp03.LtpClient.DefaultOptions, (byte)(seed + 100))).RunAsync(wire);
        Assert.True(client.Succeeded, client.ToString());
        Assert.True((await server).Succeeded);
        return wire.Sent.Concat(wire.Received).Select(m => m.GetRawText()).ToList();
    }

    private static async Task<List<string>> Stt(byte seed)
    {
        var shared = new Bytes(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        var (a, b) = InMemoryTransport.CreatePair();
        var wire = new RecordingTransport(a);
        var responder = new SttResponder(new SttResponderInputs { NodeId = new Bytes(new byte[32]), SharedSeed = shared }, Options(SttResponder.DefaultOptions, seed)).RunAsync(b).AsTask();
        var initiator = await new SttInitiator(new SttInitiatorInputs { NodeId = new Bytes(Enumerable.Repeat((byte)7, 32).ToArray()), SharedSeed = shared }, Options(SttInitiator.DefaultOptions, (byte)(seed + 100))).RunAsync(wire);
        Assert.True(initiator.Succeeded, initiator.ToString());
        Assert.True((await responder).Succeeded);
        return wire.Sent.Concat(wire.Received).Select(m => m.GetRawText()).ToList();
    }

    [Fact]
    public async Task Ltp_03_sends_the_same_bytes_for_the_same_seed_and_clock()
    {
        var first = await Ltp03(1);
        Assert.Equal(first, await Ltp03(1));
        Assert.NotEqual(first, await Ltp03(2));
    }

    [Fact]
    public async Task Stt_sends_the_same_bytes_for_the_same_seed_and_clock()
    {
        var first = await Stt(1);
        Assert.Equal(first, await Stt(1));
        Assert.NotEqual(first, await Stt(2));
    }
}
