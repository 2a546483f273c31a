using System;
using System.Buffers;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Transports;

namespace Dsl.Samples.Demo;

/// <summary>A transport decorator that prints every message that crosses it, for a readable transcript.</summary>
public sealed class TranscriptTransport(IMessageTransport inner, TextWriter output, string self, string peer) : IMessageTransport
{
    private readonly PooledBufferWriter _received = new();

    public int MaxMessageSize => inner.MaxMessageSize;

    public string? RemoteAddress => inner.RemoteAddress;

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        Print(self, peer, message.Span);
        return inner.SendAsync(message, cancellationToken);
    }

    public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        _received.Clear();
        if (!await inner.ReceiveAsync(_received, cancellationToken).ConfigureAwait(false))
        {
            lock (output) output.WriteLine($"    (connection closed)");
            return false;
        }
        Print(peer, self, _received.WrittenSpan);
        destination.Write(_received.WrittenSpan);
        return true;
    }

    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        _received.Dispose();
    }

    private void Print(string from, string to, ReadOnlySpan<byte> message)
    {
        var text = Encoding.UTF8.GetString(message);
        if (text.Length > 320) text = text[..320] + "…";
        lock (output) output.WriteLine($"    {from,-6} → {to,-6} {text}");
    }
}
