using System;
using System.Buffers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;

namespace Dsl.Cli.Running;

/// <summary>A transport that tells what its side sends, as the bytes go out.</summary>
internal sealed class TracingTransport(IMessageTransport inner, string from, string to, Action<string> trace) : IMessageTransport
{
    public int MaxMessageSize => inner.MaxMessageSize;

    public string? RemoteAddress => inner.RemoteAddress;

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        trace($"{from} -> {to}: {(message.IsEmpty ? "(an empty message)" : Encoding.UTF8.GetString(message.Span))}");
        return inner.SendAsync(message, cancellationToken);
    }

    public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
        => inner.ReceiveAsync(destination, cancellationToken);

    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
