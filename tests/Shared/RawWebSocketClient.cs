using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace Dsl.Tests.Shared;

/// <summary>
/// A WebSocket client written against the raw TCP stream: it sends the upgrade request and frames byte by byte
/// (masked or not, any opcode, any length), so that a test can be the hostile peer ManagedWebSocket never is,
/// and it reports what came back on the wire down to how the TCP connection ended.
/// </summary>
/// <remarks>Linked into every test project (the root Directory.Build.props).</remarks>
internal sealed class RawWebSocketClient : IAsyncDisposable
{
    // Generous bound for anything the server should do "soon".
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    public const byte Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawWebSocketClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>A frame from the server.</summary>
    public sealed record Frame(byte Opcode, bool Fin, byte[] Payload)
    {
        /// <summary>The status code of a close frame (its first two bytes, big-endian), or null when it has none.</summary>
        public int? CloseStatus => Opcode == Close && Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : null;

        public override string ToString() => Opcode switch
        {
            Close => CloseStatus is { } status ? $"close {status}" : "close (no status)",
            Text => $"text \"{Encoding.UTF8.GetString(Payload)}\"",
            _ => $"opcode {Opcode} ({Payload.Length} bytes)",
        };
    }

    /// <summary>How the server's side of the connection ended after the frames it sent.</summary>
    public enum Ending { Ended, Reset, StillOpen }

    /// <summary>Everything the server sent until its side of the connection ended.</summary>
    public sealed record Transcript(IReadOnlyList<Frame> Frames, Ending Ending, string? ResetDetail)
    {
        public override string ToString()
        {
            var ending = Ending switch
            {
                Ending.Ended => "end of stream",
                Ending.Reset => $"reset ({ResetDetail})",
                _ => "still open",
            };
            return string.Join(", ", Frames.Select(f => f.ToString()).Append(ending));
        }
    }

    /// <summary>Connects and upgrades; fails the test unless the server answers 101.</summary>
    public static async Task<RawWebSocketClient> ConnectAsync(Uri uri)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(uri.Host, uri.Port).WaitAsync(s_wait);
        var client = new RawWebSocketClient(tcp);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Host}:{uri.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await client._stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var response = await client.ReadResponseHeadAsync();
        Assert.StartsWith("HTTP/1.1 101", response);
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        Assert.Contains($"Sec-WebSocket-Accept: {accept}", response, StringComparison.OrdinalIgnoreCase);
        return client;
    }

    /// <summary>Writes one frame: FIN set unless <paramref name="fin"/> is false, masked unless <paramref name="masked"/> is false.</summary>
    public async Task SendFrameAsync(byte opcode, ReadOnlyMemory<byte> payload, bool fin = true, bool masked = true)
    {
        var frame = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        var maskBit = masked ? 0x80 : 0;
        if (payload.Length <= 125) frame.Add((byte)(maskBit | payload.Length));
        else if (payload.Length <= ushort.MaxValue)
        {
            frame.Add((byte)(maskBit | 126));
            frame.Add((byte)(payload.Length >> 8));
            frame.Add((byte)payload.Length);
        }
        else
        {
            frame.Add((byte)(maskBit | 127));
            for (var shift = 56; shift >= 0; shift -= 8) frame.Add((byte)((long)payload.Length >> shift));
        }
        var body = payload.ToArray();
        if (masked)
        {
            var mask = RandomNumberGenerator.GetBytes(4);
            frame.AddRange(mask);
            for (var i = 0; i < body.Length; i++) body[i] ^= mask[i % 4];
        }
        frame.AddRange(body);
        await _stream.WriteAsync(frame.ToArray()).AsTask().WaitAsync(s_wait);
    }

    public Task SendTextAsync(string text) => SendFrameAsync(Text, Encoding.UTF8.GetBytes(text));

    /// <summary>Writes bytes as they are: a frame cut short, or anything else no frame writer would produce.</summary>
    public Task SendRawAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask().WaitAsync(s_wait);

    /// <summary>
    /// Reads frames until the server's side ends, answering its close frame with a close frame of the same status
    /// as a conforming client does (RFC 6455 §5.5.1), and reports them with how the connection ended.
    /// </summary>
    public async Task<Transcript> ReadUntilEndAsync(TimeSpan? wait = null, bool answerClose = true)
    {
        var frames = new List<Frame>();
        using var timeout = new CancellationTokenSource(wait ?? s_wait);
        try
        {
            while (await ReadFrameAsync(timeout.Token) is { } frame)
            {
                frames.Add(frame);
                if (answerClose && frame.Opcode == Close && frames.FindAll(f => f.Opcode == Close).Count == 1)
                {
                    try
                    {
                        await SendFrameAsync(Close, frame.Payload.AsMemory(0, Math.Min(2, frame.Payload.Length)));
                    }
                    catch (IOException)
                    {
                        // The server may already have gone; what matters is how its side ended.
                    }
                }
            }
            return new Transcript(frames, Ending.Ended, null);
        }
        catch (OperationCanceledException)
        {
            return new Transcript(frames, Ending.StillOpen, null);
        }
        catch (Exception exception) when (exception is IOException or SocketException)
        {
            return new Transcript(frames, Ending.Reset, (exception.InnerException ?? exception).Message);
        }
    }

    /// <summary>The next frame from the server, unanswered, or null at the end of the stream.</summary>
    public async Task<Frame?> ReadFrameAsync()
    {
        using var timeout = new CancellationTokenSource(s_wait);
        return await ReadFrameAsync(timeout.Token);
    }

    /// <summary>The next frame, or null at the end of the stream.</summary>
    private async Task<Frame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var head = new byte[2];
        if (!await ReadExactlyOrEndAsync(head, cancellationToken)) return null;
        long length = head[1] & 0x7F;
        if (length == 126)
        {
            var extended = new byte[2];
            await ReadExactlyAsync(extended, cancellationToken);
            length = BinaryPrimitives.ReadUInt16BigEndian(extended);
        }
        else if (length == 127)
        {
            var extended = new byte[8];
            await ReadExactlyAsync(extended, cancellationToken);
            length = BinaryPrimitives.ReadInt64BigEndian(extended);
        }
        Assert.True((head[1] & 0x80) == 0, "a server must not mask its frames");
        Assert.InRange(length, 0, 1 << 20);
        var payload = new byte[length];
        await ReadExactlyAsync(payload, cancellationToken);
        return new Frame((byte)(head[0] & 0x0F), (head[0] & 0x80) != 0, payload);
    }

    private async Task<bool> ReadExactlyOrEndAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        var read = await _stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        if (read == 0) return false;
        if (read < buffer.Length) throw new IOException("The connection ended inside a frame.");
        return true;
    }

    private async Task ReadExactlyAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        if (buffer.Length > 0 && !await ReadExactlyOrEndAsync(buffer, cancellationToken))
            throw new IOException("The connection ended inside a frame.");
    }

    private async Task<string> ReadResponseHeadAsync()
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await _stream.ReadAsync(one).AsTask().WaitAsync(s_wait) == 0)
                throw new IOException($"The server ended the connection during the upgrade: {head}");
            head.Append((char)one[0]);
        }
        return head.ToString();
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return default;
    }
}
