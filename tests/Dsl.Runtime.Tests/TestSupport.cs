using System;
using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Sessions;
using Dsl.Runtime.Transports;

namespace Dsl.Runtime.Tests;

/// <summary>Messages are UTF-8 strings; bytes that are not UTF-8 do not decode.</summary>
internal sealed class StringCodec : IMessageCodec<string>
{
    public static readonly StringCodec Instance = new();
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public void Encode(string message, IBufferWriter<byte> output) => output.Write(Strict.GetBytes(message));

    public bool TryDecode(ReadOnlySpan<byte> data, [NotNullWhen(true)] out string? message, out DecodeError error)
    {
        try
        {
            message = Strict.GetString(data);
            error = default;
            return true;
        }
        catch (DecoderFallbackException)
        {
            message = null;
            error = new DecodeError(DecodeErrorKind.InvalidSyntax, null, null, "not UTF-8");
            return false;
        }
    }

    public string GetName(string message) => message;
}

/// <summary>"ping" is a ping, "pong" is a pong, anything else is an application message.</summary>
internal sealed class StringHeartbeat : IHeartbeatMessages<string>
{
    public static readonly StringHeartbeat Instance = new();
    public string CreatePing() => "ping";
    public string? CreatePong(string received) => received == "ping" ? "pong" : null;
    public bool IsPong(string message) => message == "pong";
}

internal static class Wait
{
    /// <summary>Generous bound for anything that should happen "soon".</summary>
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(10);

    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Long) throw new TimeoutException($"Timed out waiting until {what}");
            await Task.Delay(10);
        }
    }
}

internal static class TransportExtensions
{
    public static async Task<string?> ReceiveStringAsync(this IMessageTransport transport, CancellationToken cancellationToken = default)
    {
        var buffer = new ArrayBufferWriter<byte>();
        return await transport.ReceiveAsync(buffer, cancellationToken) ? Encoding.UTF8.GetString(buffer.WrittenSpan) : null;
    }

    public static ValueTask SendStringAsync(this IMessageTransport transport, string message, CancellationToken cancellationToken = default)
        => transport.SendAsync(Encoding.UTF8.GetBytes(message), cancellationToken);
}
