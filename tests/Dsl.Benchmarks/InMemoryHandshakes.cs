using System;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Services;
using Dsl.Runtime.Transports;

namespace Dsl.Benchmarks;

/// <summary>One Mesh node's stores: pins, trust, the replay cache and the block list (the last two a responder's).</summary>
internal readonly record struct MeshStores(IPinnedKeyStore Pins, ITrustStore Trust, IReplayCache Replay, IAddressBlockList Blocked)
{
    /// <summary>A node whose stores are all in process memory.</summary>
    public static MeshStores InMemory()
        => new(new InMemoryPinnedKeyStore(), new InMemoryTrustStore(), new InMemoryReplayCache(), new InMemoryAddressBlockList());

    /// <summary>A node whose stores are all one durable store (SQLite, PostgreSQL).</summary>
    public static MeshStores Of<TStore>(TStore store) where TStore : IPinnedKeyStore, ITrustStore, IReplayCache, IAddressBlockList
        => new(store, store, store, store);

    /// <summary>The services of this node's initiator role.</summary>
    public MeshInitiatorServices Initiator() => new() { Pins = Pins, Trust = Trust };

    /// <summary>The services of this node's responder role.</summary>
    public MeshResponderServices Responder() => new() { Pins = Pins, Trust = Trust, Replay = Replay, Blocked = Blocked };
}

/// <summary>
/// The handshakes more than one benchmark class runs: both roles over an in-memory pair, one complete handshake per
/// call, which throws unless both roles succeeded.
/// </summary>
internal static class InMemoryHandshakes
{
    /// <summary>One Mesh handshake from the node of <paramref name="initiator"/> to the node of <paramref name="responder"/>.</summary>
    public static async Task MeshAsync(Ed25519Key initiator, MeshStores initiatorStores, Ed25519Key responder, MeshStores responderStores)
    {
        var (ta, tb) = InMemoryTransport.CreatePair();
        var responding = new MeshResponder(new MeshResponderInputs { Identity = responder }, responderStores.Responder()).RunAsync(tb).AsTask();
        var initiated = await new MeshInitiator(new MeshInitiatorInputs { Identity = initiator }, initiatorStores.Initiator()).RunAsync(ta);
        var responded = await responding;
        if (!initiated.Succeeded || !responded.Succeeded) throw new InvalidOperationException($"{initiated} / {responded}");
    }

    /// <summary>One STT handshake between two nodes holding <paramref name="seed"/>; the session keys are disposed.</summary>
    public static async Task SttAsync(Bytes seed, Bytes initiatorId, Bytes responderId)
    {
        var (a, b) = InMemoryTransport.CreatePair();
        var responding = new SttResponder(new SttResponderInputs { NodeId = responderId, SharedSeed = seed }).RunAsync(b).AsTask();
        var initiated = await new SttInitiator(new SttInitiatorInputs { NodeId = initiatorId, SharedSeed = seed }).RunAsync(a);
        var responded = await responding;
        if (!initiated.Succeeded || !responded.Succeeded) throw new InvalidOperationException($"{initiated} / {responded}");
        initiated.Result.Dispose();
        responded.Result.Dispose();
    }
}
