using System;
using System.Buffers;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;

namespace Dsl.Protocols.Tests;

/// <summary>A transport decorator that keeps a copy of every message sent and received, as JSON.</summary>
public sealed class RecordingTransport(IMessageTransport inner) : IMessageTransport
{
    public List<JsonElement> Sent { get; } = new();
    public List<JsonElement> Received { get; } = new();

    public int MaxMessageSize => inner.MaxMessageSize;
    public string? RemoteAddress => inner.RemoteAddress;

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        lock (Sent) Sent.Add(Parse(message));
        return inner.SendAsync(message, cancellationToken);
    }

    public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        var copy = new ArrayBufferWriter<byte>();
        if (!await inner.ReceiveAsync(copy, cancellationToken)) return false;
        lock (Received) Received.Add(Parse(copy.WrittenMemory));
        destination.Write(copy.WrittenSpan);
        return true;
    }

    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private static JsonElement Parse(ReadOnlyMemory<byte> message)
    {
        using var document = JsonDocument.Parse(message);
        return document.RootElement.Clone();
    }
}
