using System;
using System.Buffers;
using System.IO;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.WebSockets;

/// <summary>
/// An <see cref="IMessageTransport"/> over a <see cref="WebSocket"/>: one protocol message per
/// WebSocket message. Wraps a client socket (<see cref="ClientWebSocket"/>, see
/// <see cref="WebSocketTransport.ConnectAsync"/>) or one a server accepted.
/// </summary>
/// <remarks>
/// <para>A receive writes fragments straight into the destination and stops as soon as the running
/// count passes <see cref="WebSocketTransportOptions.MaxMessageSize"/>, so an oversized message is
/// never buffered whole. The rest of that message is still on the wire, so the receive direction
/// is unusable afterwards: later receives throw the same error, and <see cref="CloseAsync"/> closes
/// with <see cref="WebSocketCloseStatus.MessageTooBig"/>. A data frame of the wrong type
/// (<see cref="WebSocketTransportOptions.MessageType"/>) does the same with
/// <see cref="TransportError.ProtocolViolation"/>.</para>
/// <para>Sends (including the close frame) are serialised, so a heartbeat timer and a receive loop
/// may send at the same time. Cancelling a receive or send aborts the socket, as
/// <see cref="WebSocket"/> does.</para>
/// </remarks>
public sealed class WebSocketMessageTransport : IMessageTransport
{
    // Fragments are read in chunks of at most this size (and never past the limit).
    private const int ReceiveChunkSize = 16 * 1024;

    private readonly WebSocket _socket;
    private readonly WebSocketTransportOptions _options;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private TransportException? _receiveFailure;
    private volatile bool _peerClosed;
    private int _closed;
    private int _disposed;

    /// <summary>Wraps an open WebSocket; the transport owns it from now on and disposes it.</summary>
    /// <param name="socket">An open client or server WebSocket.</param>
    /// <param name="options">Limits and framing; the defaults when <see langword="null"/>.</param>
    /// <param name="remoteAddress">The peer's address, for logs and errors, if known.</param>
    public WebSocketMessageTransport(WebSocket socket, WebSocketTransportOptions? options = null, string? remoteAddress = null)
    {
        _socket = socket ?? throw new ArgumentNullException(nameof(socket));
        _options = options ?? new WebSocketTransportOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxMessageSize, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.CloseTimeout, TimeSpan.Zero, nameof(options));
        if (_options.MessageType == WebSocketMessageType.Close)
            throw new ArgumentException("Messages must be sent as text or binary frames.", nameof(options));
        RemoteAddress = remoteAddress;
    }

    /// <inheritdoc />
    public int MaxMessageSize => _options.MaxMessageSize;

    /// <inheritdoc />
    public string? RemoteAddress { get; }

    /// <inheritdoc />
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            await _socket.SendAsync(message, _options.MessageType, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (Translate(exception, cancellationToken) is { } translated)
        {
            throw translated;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <inheritdoc />
    /// <remarks>Returns <see langword="false"/> once the peer's close frame arrives, after completing the close handshake.</remarks>
    public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (Volatile.Read(ref _disposed) != 0)
            throw new TransportException(TransportError.Closed, "The transport is disposed");
        if (_receiveFailure is { } failure)
            throw new TransportException(failure.Error, failure.Message);
        if (_peerClosed) return false;
        if (Volatile.Read(ref _closed) != 0)
            throw new TransportException(TransportError.Closed, "The transport is closed");

        var limit = _options.MaxMessageSize;
        var received = 0;
        var started = false;
        while (true)
        {
            // Ask for at most one byte past the limit: enough to see that a message is too large.
            var room = limit - received + 1;
            var memory = destination.GetMemory(Math.Min(room, ReceiveChunkSize));
            if (memory.Length > room) memory = memory[..room];

            ValueWebSocketReceiveResult result;
            try
            {
                result = await _socket.ReceiveAsync(memory, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (Translate(exception, cancellationToken) is { } translated)
            {
                throw translated;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                _peerClosed = true;
                await CompleteCloseHandshakeAsync(cancellationToken).ConfigureAwait(false);
                if (started)
                    throw new TransportException(TransportError.ConnectionReset, "The peer closed in the middle of a message");
                return false;
            }
            started = true;
            if (result.MessageType != _options.MessageType)
                throw FailReceive(TransportError.ProtocolViolation,
                    $"Expected a {_options.MessageType.ToString().ToLowerInvariant()} message, got a {result.MessageType.ToString().ToLowerInvariant()} frame");
            received += result.Count;
            if (received > limit)
                throw FailReceive(TransportError.MessageTooLarge, $"Message exceeds the {limit}-byte limit");
            destination.Advance(result.Count);
            if (result.EndOfMessage) return true;
        }
    }

    /// <summary>
    /// Closes gracefully: sends a close frame (normal closure, or "message too big" after an
    /// oversized message) and waits for the peer's, within <see cref="WebSocketTransportOptions.CloseTimeout"/>.
    /// A close that fails or times out aborts the socket; it never throws.
    /// </summary>
    public async ValueTask CloseAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0 || Interlocked.Exchange(ref _closed, 1) != 0) return;
        var status = _receiveFailure?.Error == TransportError.MessageTooLarge
            ? WebSocketCloseStatus.MessageTooBig
            : _receiveFailure is null ? WebSocketCloseStatus.NormalClosure : WebSocketCloseStatus.ProtocolError;
        using var timeout = new CancellationTokenSource(_options.CloseTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await _sendLock.WaitAsync(linked.Token).ConfigureAwait(false);
            try
            {
                switch (_socket.State)
                {
                    case WebSocketState.Open:
                        // The full handshake: ManagedWebSocket lets a pending receive take the peer's close frame.
                        await _socket.CloseAsync(status, null, linked.Token).ConfigureAwait(false);
                        break;
                    case WebSocketState.CloseReceived:
                        await _socket.CloseOutputAsync(status, null, linked.Token).ConfigureAwait(false);
                        break;
                }
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (Exception)
        {
            // The peer is gone or too slow to answer; the socket goes down hard instead.
            _socket.Abort();
        }
    }

    /// <summary>Aborts the socket unless it was closed gracefully, then disposes it.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return default;
        if (_socket.State != WebSocketState.Closed) _socket.Abort();
        _socket.Dispose();
        return default;
    }

    private async ValueTask CompleteCloseHandshakeAsync(CancellationToken cancellationToken)
    {
        if (_socket.State != WebSocketState.CloseReceived) return;
        using var timeout = new CancellationTokenSource(_options.CloseTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await _sendLock.WaitAsync(linked.Token).ConfigureAwait(false);
            try
            {
                // A local CloseAsync may have answered in the meantime.
                if (_socket.State == WebSocketState.CloseReceived)
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, linked.Token).ConfigureAwait(false);
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (Exception)
        {
            // The peer has closed already; failing to answer its close changes nothing for the caller.
        }
    }

    private TransportException FailReceive(TransportError error, string message)
    {
        _receiveFailure = new TransportException(error, message);
        return new TransportException(error, message);
    }

    private void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closed) != 0 || Volatile.Read(ref _disposed) != 0)
            throw new TransportException(TransportError.Closed, "The transport is closed");
    }

    // What a failure of the socket means to the caller, or null to let it through unchanged.
    private Exception? Translate(Exception exception, CancellationToken cancellationToken)
    {
        if (exception is TransportException) return null;
        if (cancellationToken.IsCancellationRequested)
            return exception is OperationCanceledException ? null : new OperationCanceledException(null, exception, cancellationToken);
        if (Volatile.Read(ref _disposed) != 0 || Volatile.Read(ref _closed) != 0)
            return new TransportException(TransportError.Closed, "The transport is closed", exception);
        // An aborted WebSocket fails pending operations with OperationCanceledException too.
        return exception is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException
            ? new TransportException(TransportError.ConnectionReset, $"The connection to the peer failed: {exception.Message}", exception)
            : null;
    }
}

/// <summary>Opens client WebSocket transports.</summary>
public static class WebSocketTransport
{
    /// <summary>Connects to a <c>ws://</c> or <c>wss://</c> endpoint.</summary>
    /// <param name="uri">The endpoint.</param>
    /// <param name="options">Limits and framing; the defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>An open transport whose <see cref="IMessageTransport.RemoteAddress"/> is the endpoint's host and port.</returns>
    /// <exception cref="WebSocketException">The connection or the WebSocket upgrade failed.</exception>
    public static async Task<WebSocketMessageTransport> ConnectAsync(Uri uri, WebSocketTransportOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (uri.Scheme is not ("ws" or "wss"))
            throw new ArgumentException($"Expected a ws:// or wss:// address, got '{uri}'.", nameof(uri));
        var socket = new ClientWebSocket();
        try
        {
            await socket.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new WebSocketMessageTransport(socket, options, $"{uri.Host}:{uri.Port}");
    }
}
