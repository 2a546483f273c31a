using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.Tcp;

/// <summary>
/// An <see cref="IMessageTransport"/> over a connected TCP <see cref="Socket"/>: each message is a
/// frame of a 4-byte big-endian unsigned length followed by that many bytes. Wraps a client socket
/// (see <see cref="TcpTransport.ConnectAsync"/>) or one a server accepted (see <see cref="TcpHandshakeListener"/>).
/// </summary>
/// <remarks>
/// <para>Reads and writes go through <see cref="System.IO.Pipelines"/>. A receive fails with
/// <see cref="TransportError.MessageTooLarge"/> as soon as a length prefix announces more than
/// <see cref="TcpTransportOptions.MaxMessageSize"/>, without waiting for the body. The body is still
/// on the wire, so the stream is out of step: later receives throw the same error (sending and
/// closing still work).</para>
/// <para>A peer that closes between frames ends the receive direction: receives return
/// <see langword="false"/>. A connection that ends inside a frame, or is reset, fails receives with
/// <see cref="TransportError.ConnectionReset"/>, and keeps failing them.</para>
/// <para>Sends are serialised; each writes the prefix and the body with one flush. Cancelling a
/// send while it is being written resets the connection, since half a frame would put the peer out
/// of step. A cancelled receive keeps what it has read for the next receive.</para>
/// <para><see cref="CloseAsync"/> half-closes: it shuts down the send direction, the peer's receives
/// return <see langword="false"/>, and this side may still receive. Disposing without closing
/// first resets the connection, so the peer sees <see cref="TransportError.ConnectionReset"/>
/// rather than a clean end.</para>
/// </remarks>
public sealed class TcpMessageTransport : IMessageTransport
{
    private const int PrefixLength = sizeof(uint);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly TcpTransportOptions _options;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly SemaphoreSlim _receiveLock = new(1, 1);
    // Guarded by _receiveLock.
    private TransportException? _receiveFailure;
    private bool _peerClosed;
    private string _receiveProgress = "";
    private int _closed;
    private int _disposed;

    /// <summary>Wraps a connected stream socket; the transport owns it from now on and disposes it.</summary>
    /// <param name="socket">A connected TCP socket.</param>
    /// <param name="options">Limits; the defaults when <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">The socket is not a connected stream socket.</exception>
    public TcpMessageTransport(Socket socket, TcpTransportOptions? options = null)
        : this(socket, options, remoteEndPoint: null)
    {
    }

    internal TcpMessageTransport(Socket socket, TcpTransportOptions? options, IPEndPoint? remoteEndPoint)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.SocketType != SocketType.Stream || !socket.Connected)
            throw new ArgumentException("Expected a connected stream socket.", nameof(socket));
        _options = options ?? new TcpTransportOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxMessageSize, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.CloseTimeout, TimeSpan.Zero, nameof(options));
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        // A zero-byte read waits for the peer's bytes first, so that a connection waiting for its next message holds no
        // receive buffer (as Kestrel's transport does): the buffer is rented when there is something to read.
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true, useZeroByteReads: true));
        _writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
        try
        {
            // After the stream: asking a socket the peer has reset for its address marks it disconnected.
            RemoteAddress = PeerAddress.Format(remoteEndPoint ?? socket.RemoteEndPoint);
        }
        catch (SocketException)
        {
            // Already reset by the peer: the first receive will say so.
        }
    }

    /// <inheritdoc />
    public int MaxMessageSize => _options.MaxMessageSize;

    /// <inheritdoc />
    /// <remarks>The peer's <c>ip:port</c>.</remarks>
    public string? RemoteAddress { get; }

    /// <inheritdoc />
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        var writing = false;
        try
        {
            ThrowIfClosed();
            cancellationToken.ThrowIfCancellationRequested();
            writing = true;
            BinaryPrimitives.WriteUInt32BigEndian(_writer.GetSpan(PrefixLength), (uint)message.Length);
            _writer.Advance(PrefixLength);
            _writer.Write(message.Span);
            await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (writing && cancellationToken.IsCancellationRequested)
        {
            // Part of the frame may be written or still buffered: the stream is out of step for good.
            Reset();
            throw;
        }
        catch (Exception exception) when (Translate(exception, "send") is { } translated)
        {
            throw translated;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        await _receiveLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _disposed) != 0)
                throw new TransportException(TransportError.Closed, "The transport is disposed");
            if (_receiveFailure is { } failure)
                throw new TransportException(failure.Error, failure.Message);
            if (_peerClosed) return false;

            while (true)
            {
                ReadResult result;
                try
                {
                    result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (Translate(exception, "receive" + _receiveProgress) is { } translated)
                {
                    if (translated.Error == TransportError.ConnectionReset) _receiveFailure = translated;
                    throw translated;
                }

                var buffer = result.Buffer;
                var consumed = buffer.Start;
                var examined = buffer.End;
                try
                {
                    if (TryParseFrame(ref buffer, _options.MaxMessageSize, out var frame))
                    {
                        foreach (var segment in frame) destination.Write(segment.Span);
                        consumed = examined = buffer.Start;
                        _receiveProgress = "";
                        return true;
                    }
                    _receiveProgress = buffer.IsEmpty ? "" : " " + DescribeProgress(buffer);
                    if (result.IsCompleted)
                    {
                        if (buffer.IsEmpty)
                        {
                            _peerClosed = true;
                            return false;
                        }
                        throw _receiveFailure = new TransportException(TransportError.ConnectionReset,
                            $"The peer closed the connection{_receiveProgress}");
                    }
                }
                catch (TransportException exception) when (exception.Error == TransportError.MessageTooLarge)
                {
                    _receiveFailure = exception;
                    throw;
                }
                finally
                {
                    _reader.AdvanceTo(consumed, examined);
                }
            }
        }
        finally
        {
            _receiveLock.Release();
        }
    }

    /// <summary>
    /// Half-closes gracefully: waits (within <see cref="TcpTransportOptions.CloseTimeout"/>) for a
    /// send in progress, then shuts down the send direction so the peer reads a clean end. This
    /// side may still receive. A close that fails or times out resets the connection; it never throws.
    /// </summary>
    public async ValueTask CloseAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0 || Interlocked.Exchange(ref _closed, 1) != 0) return;
        using var timeout = new CancellationTokenSource(_options.CloseTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await _sendLock.WaitAsync(linked.Token).ConfigureAwait(false);
            try
            {
                // Every send flushes before it lets go of the lock, so nothing of a frame is pending here.
                await _writer.CompleteAsync().ConfigureAwait(false);
                _socket.Shutdown(SocketShutdown.Send);
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (Exception)
        {
            // The peer is gone, or a send is stuck behind a peer that does not read: the connection
            // goes down hard instead (the pipe is completed on dispose, once that send has failed).
            Reset();
        }
    }

    /// <summary>
    /// Closes the socket (with a reset unless <see cref="CloseAsync"/> ran first), waits for a
    /// receive or send in progress to fail, and completes the pipes. Safe to call more than once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Exception? error = null;
        try
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0) Reset();
            else _socket.Dispose();
            // Closing the socket fails a pending read or write at once; only then is completing the pipes safe.
            await _receiveLock.WaitAsync().ConfigureAwait(false);
            await _sendLock.WaitAsync().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            error = exception;
        }
        finally
        {
            await CompleteQuietlyAsync(_reader, error).ConfigureAwait(false);
            await CompleteQuietlyAsync(_writer, error).ConfigureAwait(false);
            await _stream.DisposeAsync().ConfigureAwait(false);
            // Waiting receives and sends now see the transport disposed.
            _receiveLock.Release();
            _sendLock.Release();
        }
    }

    /// <summary>
    /// Takes one frame off the front of <paramref name="buffer"/>: a 4-byte big-endian unsigned
    /// length, then the message.
    /// </summary>
    /// <param name="buffer">What has been read; on success, advanced past the frame.</param>
    /// <param name="maxMessageSize">The largest message length accepted.</param>
    /// <param name="frame">The message, without its prefix, on success.</param>
    /// <returns><see langword="true"/> if a whole frame was there; <see langword="false"/> if more bytes are needed.</returns>
    /// <exception cref="TransportException">
    /// <see cref="TransportError.MessageTooLarge"/>: the prefix announces more than
    /// <paramref name="maxMessageSize"/>; thrown as soon as the prefix is complete, whatever of the body has arrived.
    /// </exception>
    internal static bool TryParseFrame(ref ReadOnlySequence<byte> buffer, int maxMessageSize, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        if (!TryReadPrefix(buffer, out var length)) return false;
        if (length > (uint)maxMessageSize)
            throw new TransportException(TransportError.MessageTooLarge, $"Message of {length} bytes exceeds the {maxMessageSize}-byte limit");
        if (buffer.Length - PrefixLength < length) return false;
        frame = buffer.Slice(PrefixLength, length);
        buffer = buffer.Slice(frame.End);
        return true;
    }

    private static bool TryReadPrefix(in ReadOnlySequence<byte> buffer, out uint length)
    {
        length = 0;
        if (buffer.Length < PrefixLength) return false;
        if (buffer.FirstSpan.Length >= PrefixLength)
        {
            length = BinaryPrimitives.ReadUInt32BigEndian(buffer.FirstSpan);
            return true;
        }
        Span<byte> prefix = stackalloc byte[PrefixLength];
        buffer.Slice(0, PrefixLength).CopyTo(prefix);
        length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        return true;
    }

    // Where an unfinished frame stands, for the error that says the connection ended inside it.
    private static string DescribeProgress(in ReadOnlySequence<byte> buffer)
        => TryReadPrefix(buffer, out var length)
            ? $"mid-frame after {buffer.Length - PrefixLength} of {length} bytes"
            : $"mid-frame after {buffer.Length} of {PrefixLength} length-prefix bytes";

    private static async ValueTask CompleteQuietlyAsync(PipeReader reader, Exception? error)
    {
        try { await reader.CompleteAsync(error).ConfigureAwait(false); }
        catch (Exception) { /* the stream underneath is gone already */ }
    }

    private static async ValueTask CompleteQuietlyAsync(PipeWriter writer, Exception? error)
    {
        // Completing flushes what is buffered, which fails once the socket is gone.
        try { await writer.CompleteAsync(error).ConfigureAwait(false); }
        catch (Exception) { /* the stream underneath is gone already */ }
    }

    // Closes the socket with a TCP reset: the peer's pending and later receives fail at once.
    private void Reset()
    {
        Volatile.Write(ref _closed, 1);
        try
        {
            _socket.LingerState = new LingerOption(enable: true, seconds: 0);
        }
        catch (Exception)
        {
            // Already reset or closed: closing is all that is left.
        }
        _socket.Dispose();
    }

    private void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closed) != 0 || Volatile.Read(ref _disposed) != 0)
            throw new TransportException(TransportError.Closed, "The transport is closed");
    }

    // What a failure of the socket means to the caller, or null to let it through unchanged.
    private TransportException? Translate(Exception exception, string during)
    {
        if (exception is TransportException) return null;
        if (Volatile.Read(ref _disposed) != 0 || (Volatile.Read(ref _closed) != 0 && exception is ObjectDisposedException))
            return new TransportException(TransportError.Closed, "The transport is closed", exception);
        return exception is IOException or SocketException or ObjectDisposedException
            ? new TransportException(TransportError.ConnectionReset, $"The connection to the peer failed during {during}: {exception.Message}", exception)
            : null;
    }
}

/// <summary>Opens client TCP transports.</summary>
public static class TcpTransport
{
    /// <summary>Connects to a TCP endpoint, with Nagle's algorithm off (handshake messages are small and latency-bound).</summary>
    /// <param name="endPoint">The server's address and port.</param>
    /// <param name="options">Limits; the defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>An open transport whose <see cref="IMessageTransport.RemoteAddress"/> is <paramref name="endPoint"/>.</returns>
    /// <exception cref="SocketException">The connection failed.</exception>
    public static async Task<TcpMessageTransport> ConnectAsync(IPEndPoint endPoint, TcpTransportOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new TcpMessageTransport(socket, options, endPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
