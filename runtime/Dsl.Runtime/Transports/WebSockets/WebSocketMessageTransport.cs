using System;
using System.Buffers;
using System.IO;
using System.Net.WebSockets;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.WebSockets;

/// <summary>
/// An <see cref="IMessageTransport"/> over a <see cref="WebSocket"/>: one protocol message per
/// WebSocket message. Wraps a client socket (<see cref="ClientWebSocket"/>, see
/// <see cref="WebSocketTransport.ConnectAsync"/>) or one a server accepted.
/// </summary>
/// <remarks>
/// <para>A receive copies fragments into the destination and stops as soon as the running count
/// passes <see cref="WebSocketTransportOptions.MaxMessageSize"/>, so an oversized message is never
/// buffered whole. The rest of that message is still on the wire, so the receive direction is
/// unusable afterwards: later receives throw the same error, and <see cref="CloseAsync(CloseReason, CancellationToken)"/>
/// closes with status 1009 (message too big). A data frame of the wrong type
/// (<see cref="WebSocketTransportOptions.MessageType"/>) does the same with
/// <see cref="TransportError.ProtocolViolation"/> and status 1003 (unsupported data).</para>
/// <para>A frame that breaks the WebSocket protocol (an unmasked client frame, a reserved opcode, a
/// continuation with no message started, a control frame over 125 bytes) or a text message that is not
/// UTF-8 fails the receive with <see cref="TransportError.ProtocolViolation"/>; the socket has then sent
/// its own close frame (1002, or 1007 for the text), and the connection ends without a reset when the
/// transport is disposed.</para>
/// <para>Cancelling a receive does not touch the socket: the socket read goes on, and the next receive
/// takes it up, so that the side whose step timed out can still send its error message and close. A
/// receive cancelled in the middle of a message cannot give that message whole, so later receives fail
/// with <see cref="TransportError.Closed"/>. Cancelling a send aborts the socket, as <see cref="WebSocket"/>
/// does. Sends (including the close frame) are serialised, so a heartbeat timer and a receive loop may
/// send at the same time.</para>
/// </remarks>
public sealed class WebSocketMessageTransport : IMessageTransport
{
    // Payload is read in chunks of at most this size (and never past the limit).
    private const int ReceiveChunkSize = 16 * 1024;

    private readonly WebSocket _socket;
    private readonly WebSocketTransportOptions _options;
    private readonly bool _endsWithRequest;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    // The socket receive in flight, and the pooled buffer it reads into (null while it waits for a frame); only the
    // one receive at a time touches them. They outlive a receive whose caller stopped waiting.
    private Task<ValueWebSocketReceiveResult>? _socketReceive;
    private byte[]? _socketReceiveBuffer;
    private TransportException? _receiveFailure;
    // The close status _receiveFailure calls for, or null to close for the caller's reason.
    private WebSocketCloseStatus? _failureStatus;
    private volatile bool _peerClosed;
    // A close frame went out: this side's, or the one the socket sent itself on a protocol violation.
    private volatile bool _closeSent;
    // The socket's wait for the peer's close frame, which a close that timed out leaves behind.
    private Task? _closing;
    private int _closed;
    private int _disposed;

    /// <summary>Wraps an open WebSocket; the transport owns it from now on and disposes it.</summary>
    /// <param name="socket">An open client or server WebSocket.</param>
    /// <param name="options">Limits and framing; the defaults when <see langword="null"/>.</param>
    /// <param name="remoteAddress">The peer's address, for logs and errors, if known.</param>
    public WebSocketMessageTransport(WebSocket socket, WebSocketTransportOptions? options = null, string? remoteAddress = null)
        : this(socket, options, remoteAddress, endsWithRequest: false)
    {
    }

    /// <summary>Wraps an open WebSocket, saying who ends its connection.</summary>
    /// <param name="socket">An open client or server WebSocket.</param>
    /// <param name="options">Limits and framing; the defaults when <see langword="null"/>.</param>
    /// <param name="remoteAddress">The peer's address, for logs and errors, if known.</param>
    /// <param name="endsWithRequest">
    /// The socket is an ASP.NET Core server's, whose connection the server ends with the request; disposing it in the
    /// Aborted state makes ASP.NET Core reset the connection instead.
    /// </param>
    internal WebSocketMessageTransport(WebSocket socket, WebSocketTransportOptions? options, string? remoteAddress, bool endsWithRequest)
    {
        _socket = socket ?? throw new ArgumentNullException(nameof(socket));
        _endsWithRequest = endsWithRequest;
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
            ValueWebSocketReceiveResult result;
            byte[]? buffer;
            try
            {
                // Wait for a frame holding no buffer (given none, ManagedWebSocket reads only the header), then read its
                // payload, at most one byte past the limit: enough to see that a message is too large.
                (result, buffer) = await ReceiveFromSocketAsync(0, cancellationToken).ConfigureAwait(false);
                if (buffer is null && !result.EndOfMessage && result.MessageType == _options.MessageType)
                    (result, buffer) = await ReceiveFromSocketAsync(Math.Min(limit - received + 1, ReceiveChunkSize), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && started)
            {
                FailReceive(TransportError.Closed, "A receive was cancelled in the middle of a message, whose start is lost", status: null);
                throw;
            }
            catch (WebSocketException exception) when (IsFailureTheSocketClosedFor(exception))
            {
                _closeSent = true;
                throw FailReceive(TransportError.ProtocolViolation, $"The peer broke the WebSocket protocol: {exception.Message}", status: null, exception);
            }
            catch (Exception exception) when (Translate(exception, cancellationToken) is { } translated)
            {
                throw translated;
            }

            try
            {
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
                        $"Expected a {_options.MessageType.ToString().ToLowerInvariant()} message, got a {result.MessageType.ToString().ToLowerInvariant()} frame",
                        WebSocketCloseStatus.InvalidMessageType);
                received += result.Count;
                if (received > limit)
                    throw FailReceive(TransportError.MessageTooLarge, $"Message exceeds the {limit}-byte limit", WebSocketCloseStatus.MessageTooBig);
                if (result.Count > 0)
                    destination.Write(buffer.AsSpan(0, result.Count));
                if (result.EndOfMessage) return true;
            }
            finally
            {
                if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Closes gracefully with status 1000; see <see cref="CloseAsync(CloseReason, CancellationToken)"/>.</summary>
    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => CloseAsync(CloseReason.Normal, cancellationToken);

    /// <summary>
    /// Closes gracefully: sends a close frame and waits for the peer's, within <see cref="WebSocketTransportOptions.CloseTimeout"/>.
    /// The status is the reason's (1000 normal, 1001 going away, 1008 policy violation, 1011 internal error), unless a
    /// receive failed first: 1009 after an oversized message, 1003 after a frame of the wrong type. After a protocol
    /// violation the socket has sent its close frame already, and nothing more is sent. A close that cannot send its
    /// frame aborts the socket; one whose frame went out leaves the connection to end when the transport is disposed.
    /// It never throws.
    /// </summary>
    /// <param name="reason">Why this side closes.</param>
    /// <param name="cancellationToken">Cuts the close short.</param>
    public async ValueTask CloseAsync(CloseReason reason, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0 || Interlocked.Exchange(ref _closed, 1) != 0 || _closeSent) return;
        var status = _failureStatus ?? StatusOf(reason);
        using var timeout = new CancellationTokenSource(_options.CloseTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await _sendLock.WaitAsync(linked.Token).ConfigureAwait(false);
            try
            {
                if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync(status, null, linked.Token).ConfigureAwait(false);
                    _closeSent = true;
                }
            }
            finally
            {
                _sendLock.Release();
            }
            // The peer's close frame: ManagedWebSocket lets a receive in flight take it, and reads for it otherwise. It
            // never sees the token: a cancelled close aborts the socket, and an aborted server socket resets the connection.
            if (_socket.State == WebSocketState.CloseSent)
            {
                _closing = _socket.CloseAsync(status, null, CancellationToken.None);
                await _closing.WaitAsync(linked.Token).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // The peer is gone or too slow to answer. Once the close frame is out, a reset could only lose it.
            if (!_closeSent) _socket.Abort();
        }
    }

    /// <summary>
    /// Aborts the socket unless a close frame went out, then disposes it: after a close frame the peer sees the
    /// connection end, not a reset.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return default;
        // A receive left in flight may have failed the peer since, with the socket's own close frame.
        if (_socketReceive is { IsFaulted: true } receive && IsFailureTheSocketClosedFor(receive.Exception?.InnerException)) _closeSent = true;
        if (!_closeSent && _socket.State != WebSocketState.Closed) _socket.Abort();
        // A socket that failed the peer on a protocol violation is Aborted, and ASP.NET Core resets the connection of a
        // server socket disposed in that state: left undisposed, it ends with its request, after its close frame.
        if (!(_endsWithRequest && _closeSent && _socket.State == WebSocketState.Aborted)) _socket.Dispose();
        // What is still in flight fails with the socket; nobody is left to see it, and a receive's buffer goes to the GC.
        Observe(_socketReceive);
        Observe(_closing);
        return default;
    }

    /// <summary>
    /// Receives from the socket into a pooled buffer of <paramref name="size"/> bytes (none for 0), which the caller
    /// returns; or takes up the receive a cancelled caller left in flight, whatever its size.
    /// </summary>
    /// <remarks>
    /// The socket never sees the caller's token: ManagedWebSocket aborts the connection when a receive's token fires,
    /// which would leave a step timeout no way to send its error message and close frame.
    /// </remarks>
    private async ValueTask<(ValueWebSocketReceiveResult Result, byte[]? Buffer)> ReceiveFromSocketAsync(int size, CancellationToken cancellationToken)
    {
        if (_socketReceive is null)
        {
            _socketReceiveBuffer = size == 0 ? null : ArrayPool<byte>.Shared.Rent(size);
            _socketReceive = _socket.ReceiveAsync(_socketReceiveBuffer.AsMemory(0, size), CancellationToken.None).AsTask();
        }
        var receive = _socketReceive;
        var buffer = _socketReceiveBuffer;
        try
        {
            var result = await receive.WaitAsync(cancellationToken).ConfigureAwait(false);
            (_socketReceive, _socketReceiveBuffer) = (null, null);
            return (result, buffer);
        }
        catch (Exception) when (receive.IsFaulted || receive.IsCanceled)
        {
            // The socket failed: its buffer is free again, and its failure (did it send its own close?) beats a token
            // that fired at the same time.
            (_socketReceive, _socketReceiveBuffer) = (null, null);
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
            if (receive.Exception?.InnerException is { } failure) ExceptionDispatchInfo.Throw(failure);
            throw;
        }
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
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, linked.Token).ConfigureAwait(false);
                    _closeSent = true;
                }
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

    // ManagedWebSocket fails a receive with Faulted after it has sent the close frame itself: 1002 for a frame that breaks
    // the protocol, 1007 for text that is not UTF-8.
    private static bool IsFailureTheSocketClosedFor(Exception? exception)
        => exception is WebSocketException { WebSocketErrorCode: WebSocketError.Faulted };

    private static void Observe(Task? operation)
        => operation?.ContinueWith(static failed => _ = failed.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private static WebSocketCloseStatus StatusOf(CloseReason reason) => reason switch
    {
        CloseReason.GoingAway => WebSocketCloseStatus.EndpointUnavailable,
        CloseReason.PolicyViolation => WebSocketCloseStatus.PolicyViolation,
        CloseReason.InternalError => WebSocketCloseStatus.InternalServerError,
        _ => WebSocketCloseStatus.NormalClosure,
    };

    private TransportException FailReceive(TransportError error, string message, WebSocketCloseStatus? status, Exception? innerException = null)
    {
        _receiveFailure = new TransportException(error, message);
        _failureStatus = status;
        return new TransportException(error, message, innerException);
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
