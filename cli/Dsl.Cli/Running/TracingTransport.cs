using System;
using System.Buffers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;

namespace Dsl.Cli.Running;

/// <summary>One message as it went out: who sent it to whom, and its bytes.</summary>
internal sealed record TracedMessage(string From, string To, byte[] Bytes)
{
    /// <summary>The message as a line: <c>client -> server: {...}</c>.</summary>
    public override string ToString() => $"{From} -> {To}: {(Bytes.Length == 0 ? "(an empty message)" : Encoding.UTF8.GetString(Bytes))}";
}

/// <summary>A transport that tells what its side sends, as the bytes go out.</summary>
internal sealed class TracingTransport(IMessageTransport inner, string from, string to, Action<TracedMessage> trace) : IMessageTransport
{
    public int MaxMessageSize => inner.MaxMessageSize;

    public string? RemoteAddress => inner.RemoteAddress;

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        trace(new TracedMessage(from, to, message.ToArray()));
        return inner.SendAsync(message, cancellationToken);
    }

    public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
        => inner.ReceiveAsync(destination, cancellationToken);

    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
