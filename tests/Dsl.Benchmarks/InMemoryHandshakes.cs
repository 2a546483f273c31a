using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Stt;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
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
/// The handshakes more than one benchmark class runs: both roles over an in-memory pair (or stepped on one thread), one complete handshake per
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

    /// <summary>
    /// One Mesh handshake as <see cref="MeshAsync"/>, with the two machines stepped in turn on this thread by
    /// <see cref="StepAsync"/>: no transport and no driver.
    /// </summary>
    public static Task MeshSteppedAsync(Ed25519Key initiator, MeshStores initiatorStores, Ed25519Key responder, MeshStores responderStores)
        => StepAsync(new MeshInitiator(new MeshInitiatorInputs { Identity = initiator }, initiatorStores.Initiator()),
            new MeshResponder(new MeshResponderInputs { Identity = responder }, responderStores.Responder()), MeshCodec.Instance);

    /// <summary>One STT handshake as <see cref="SttAsync"/>, with the two machines stepped in turn on this thread by <see cref="StepAsync"/>.</summary>
    public static async Task SttSteppedAsync(Bytes seed, Bytes initiatorId, Bytes responderId)
    {
        var initiator = new SttInitiator(new SttInitiatorInputs { NodeId = initiatorId, SharedSeed = seed });
        var responder = new SttResponder(new SttResponderInputs { NodeId = responderId, SharedSeed = seed });
        var (a, b) = await StepAsync(initiator, responder, SttCodec.Instance);
        a.Dispose();
        b.Dispose();
    }

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_wire;

    /// <summary>
    /// The sans-IO core alone, as a handshake table runs it: each machine's steps taken in turn on this thread, every
    /// message encoded by its sender's codec and decoded for its receiver, with no transport, driver, task, timer or
    /// timeout between them. Throws unless both roles succeed; returns their results.
    /// </summary>
    public static async Task<(TFirst, TSecond)> StepAsync<TMessage, TFirst, TSecond>(
        IHandshakeMachine<TMessage, TFirst> first, IHandshakeMachine<TMessage, TSecond> second, IMessageCodec<TMessage> codec)
        where TMessage : class
        where TFirst : class
        where TSecond : class
    {
        var wire = t_wire ??= new ArrayBufferWriter<byte>(4096);
        TMessage Carry(TMessage message)
        {
            wire.ResetWrittenCount();
            codec.Encode(message, wire);
            return codec.TryDecode(wire.WrittenSpan, out var decoded, out var error) ? decoded : throw new InvalidOperationException(error.Detail);
        }
        var a = await first.StartAsync("memory", default);
        var b = await second.StartAsync("memory", default);
        while (a.Kind != HandshakeStepKind.Succeeded || b.Kind != HandshakeStepKind.Succeeded)
        {
            if (a.Kind == HandshakeStepKind.Send)
            {
                var message = Carry(a.Message!);
                a = await first.ContinueAsync(default);
                b = await second.ReceiveAsync(message, default);
            }
            else if (b.Kind == HandshakeStepKind.Send)
            {
                var message = Carry(b.Message!);
                b = await second.ContinueAsync(default);
                a = await first.ReceiveAsync(message, default);
            }
            else throw new InvalidOperationException($"Neither role can go on: {a} / {b}");
        }
        return (a.Result!, b.Result!);
    }

    /// <summary>The messages of one handshake, each with the bytes its sender's codec wrote, in the order they were sent.</summary>
    public static async Task<(TMessage Message, byte[] Wire)[]> RecordAsync<TMessage, TFirst, TSecond>(
        IHandshakeMachine<TMessage, TFirst> first, IHandshakeMachine<TMessage, TSecond> second, IMessageCodec<TMessage> codec)
        where TMessage : class
        where TFirst : class
        where TSecond : class
    {
        var recording = new RecordingCodec<TMessage>(codec);
        var (a, b) = await StepAsync(first, second, recording);
        (a as IDisposable)?.Dispose();
        (b as IDisposable)?.Dispose();
        return recording.Sent.ToArray();
    }

    /// <summary>A codec that keeps what it encodes.</summary>
    private sealed class RecordingCodec<TMessage>(IMessageCodec<TMessage> inner) : IMessageCodec<TMessage> where TMessage : class
    {
        public List<(TMessage Message, byte[] Wire)> Sent { get; } = new();

        public void Encode(TMessage message, IBufferWriter<byte> output)
        {
            var wire = new ArrayBufferWriter<byte>();
            inner.Encode(message, wire);
            Sent.Add((message, wire.WrittenSpan.ToArray()));
            output.Write(wire.WrittenSpan);
        }

        public bool TryDecode(ReadOnlySpan<byte> data, [NotNullWhen(true)] out TMessage? message, out DecodeError error) => inner.TryDecode(data, out message, out error);

        public string GetName(TMessage message) => inner.GetName(message);
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
