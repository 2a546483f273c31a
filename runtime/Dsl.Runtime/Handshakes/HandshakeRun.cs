using System;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Transports;

namespace Dsl.Runtime.Handshakes;

/// <summary>
/// The mechanics of one handshake run, shared by every generated role machine: encoding and sending,
/// receiving and decoding with the step and handshake timeouts, turning any failure into a
/// <see cref="HandshakeError"/>, telling the peer what the spec says, and closing the transport.
/// </summary>
/// <remarks>
/// A run is single-threaded and used once. On failure it closes and disposes the transport; on
/// success the transport stays open and belongs to the caller (or to the session that follows).
/// </remarks>
/// <typeparam name="TMessage">The protocol's message base type.</typeparam>
public sealed class HandshakeRun<TMessage> : IAsyncDisposable where TMessage : class
{
    private readonly IMessageTransport _transport;
    private readonly IMessageCodec<TMessage> _codec;
    private readonly HandshakeOptions _options;
    private readonly CancellationToken _callerToken;
    private readonly CancellationTokenSource _handshakeTimeout;
    private readonly CancellationTokenSource _handshake;
    private readonly PooledBufferWriter _buffer = new();
    private readonly string _malformedCode;
    private bool _stepTimedOut;
    private bool _ended;

    /// <summary>Starts a run; the handshake timeout starts now.</summary>
    /// <param name="role">This side's role, as the spec names it.</param>
    /// <param name="malformedCode">The spec's code for an undecodable, unexpected or oversized message.</param>
    /// <param name="transport">The channel to the peer.</param>
    /// <param name="codec">The protocol's codec.</param>
    /// <param name="options">Timeouts and clock.</param>
    /// <param name="cancellationToken">Cancels the run; the outcome is then <see cref="HandshakeErrorCodes.Cancelled"/>.</param>
    public HandshakeRun(
        string role, string malformedCode, IMessageTransport transport, IMessageCodec<TMessage> codec,
        HandshakeOptions options, CancellationToken cancellationToken)
    {
        Role = role;
        _malformedCode = malformedCode;
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _codec = codec;
        _options = options;
        _callerToken = cancellationToken;
        _handshakeTimeout = new CancellationTokenSource(options.HandshakeTimeout, options.TimeProvider);
        _handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _handshakeTimeout.Token);
    }

    /// <summary>This side's role.</summary>
    public string Role { get; }

    /// <summary>The phase the run is in; failures report it.</summary>
    public string Phase { get; set; } = "start";

    /// <summary>Cancelled when the handshake times out or the caller cancels; pass it to stores and hooks.</summary>
    public CancellationToken CancellationToken => _handshake.Token;

    /// <summary>The current time, from the options' clock.</summary>
    public DateTimeOffset Now => _options.TimeProvider.GetUtcNow();

    /// <summary>The address of the peer, when the transport knows it.</summary>
    public string? RemoteAddress => _transport.RemoteAddress;

    /// <summary>The peer's host (the address without its port), or "unknown": what per-address limits key on.</summary>
    public string PeerHost
    {
        get
        {
            var address = _transport.RemoteAddress;
            if (string.IsNullOrEmpty(address)) return "unknown";
            if (address.StartsWith('['))
            {
                var close = address.IndexOf(']');
                return close > 0 ? address[1..close] : address;
            }
            var colon = address.LastIndexOf(':');
            // One colon: host:port. More: a bare IPv6 address.
            return colon > 0 && address.IndexOf(':') == colon ? address[..colon] : address;
        }
    }

    /// <summary>Encodes and sends a message.</summary>
    public async ValueTask SendAsync(TMessage message)
    {
        _buffer.Clear();
        _codec.Encode(message, _buffer);
        await _transport.SendAsync(_buffer.WrittenMemory, _handshake.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Receives and decodes the peer's next message within the step timeout (or the options' default).
    /// </summary>
    /// <exception cref="HandshakeException">The message is undecodable, or the peer closed.</exception>
    public async ValueTask<TMessage> ReceiveAsync(TimeSpan? stepTimeout = null)
    {
        using var step = new CancellationTokenSource(stepTimeout ?? _options.StepTimeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_handshake.Token, step.Token);
        _buffer.Clear();
        bool received;
        try
        {
            received = await _transport.ReceiveAsync(_buffer, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (step.IsCancellationRequested && !_handshake.IsCancellationRequested)
        {
            _stepTimedOut = true;
            throw;
        }
        if (!received)
            throw Fail(HandshakeErrorCodes.PeerClosed, $"The peer closed the connection during '{Phase}'");
        if (!_codec.TryDecode(_buffer.WrittenSpan, out var message, out var error))
            throw Fail(_malformedCode, error.Detail);
        return message;
    }

    /// <summary>A failure this side detected: the exception to throw from the state machine.</summary>
    public HandshakeException Fail(string code, string detail) => new(new HandshakeError(code, Phase, Role, detail));

    /// <summary>A failure the peer reported in an error message.</summary>
    public HandshakeException PeerError(string code, string detail)
        => new(new HandshakeError(code, Phase, Role, detail, RaisedByPeer: true));

    /// <summary>A message arrived that the flow does not permit here.</summary>
    public HandshakeException Unexpected(TMessage message, string expected)
        => Fail(_malformedCode, $"Unexpected message '{_codec.GetName(message)}' in phase '{Phase}'; expected {expected}");

    /// <summary>Ends the run successfully; the transport stays open.</summary>
    public HandshakeOutcome<TResult> Succeed<TResult>(TResult result) where TResult : class
    {
        _ended = true;
        return HandshakeOutcome<TResult>.Success(result);
    }

    /// <summary>
    /// Ends the run with a failure: classifies <paramref name="exception"/>, sends the peer the error
    /// message the spec names for the code (if any, and if the transport can still carry it), then
    /// closes the transport. Never throws.
    /// </summary>
    /// <param name="exception">What the state machine threw.</param>
    /// <param name="errorMessage">Builds the message the spec sends the peer for an error, or returns <see langword="null"/>.</param>
    public ValueTask<HandshakeOutcome<TResult>> FailAsync<TResult>(Exception exception, Func<HandshakeError, TMessage?>? errorMessage)
        where TResult : class
        => FailAsync<TResult>(Classify(exception), exception, errorMessage);

    /// <summary>
    /// Ends the run with an already classified failure (see <see cref="Classify"/>): sends the peer the
    /// spec's error message if any and the transport can carry it, then closes the transport. Never throws.
    /// </summary>
    public async ValueTask<HandshakeOutcome<TResult>> FailAsync<TResult>(HandshakeError error, Exception exception, Func<HandshakeError, TMessage?>? errorMessage)
        where TResult : class
    {
        _ended = true;
        if (!error.RaisedByPeer && errorMessage is not null && CanStillSend(exception))
        {
            try
            {
                var message = errorMessage(error);
                if (message is not null)
                {
                    using var delivery = new CancellationTokenSource(_options.ErrorDeliveryTimeout, _options.TimeProvider);
                    _buffer.Clear();
                    _codec.Encode(message, _buffer);
                    await _transport.SendAsync(_buffer.WrittenMemory, delivery.Token).ConfigureAwait(false);
                    error = error with { SentToPeer = _codec.GetName(message) };
                }
            }
            catch (Exception)
            {
                // The peer is gone or too slow: the failure stands without the courtesy message.
            }
        }
        await CloseTransportAsync().ConfigureAwait(false);
        return HandshakeOutcome<TResult>.Failure(error);
    }

    /// <summary>What a failure means: its code, phase, role and detail.</summary>
    public HandshakeError Classify(Exception exception) => exception switch
    {
        HandshakeException handshake => handshake.Error,
        OperationCanceledException when _callerToken.IsCancellationRequested
            => new(HandshakeErrorCodes.Cancelled, Phase, Role, "The handshake was cancelled"),
        OperationCanceledException when _handshakeTimeout.IsCancellationRequested
            => new(HandshakeErrorCodes.HandshakeTimeout, Phase, Role, $"The handshake did not complete within {_options.HandshakeTimeout.TotalSeconds:0.###} s"),
        OperationCanceledException when _stepTimedOut
            => new(HandshakeErrorCodes.StepTimeout, Phase, Role, $"No message from the peer within the step timeout in '{Phase}'"),
        TransportException { Error: TransportError.MessageTooLarge } transport
            => new(_malformedCode, Phase, Role, transport.Message),
        TransportException transport
            => new(HandshakeErrorCodes.TransportFailed, Phase, Role, transport.Message),
        _ => new(HandshakeErrorCodes.InternalError, Phase, Role, $"{exception.GetType().Name}: {exception.Message}"),
    };

    private static bool CanStillSend(Exception exception) => exception switch
    {
        HandshakeException { Error.Code: HandshakeErrorCodes.PeerClosed } => false,
        TransportException { Error: not TransportError.MessageTooLarge } => false,
        _ => true,
    };

    private async ValueTask CloseTransportAsync()
    {
        try
        {
            using var closing = new CancellationTokenSource(_options.ErrorDeliveryTimeout, _options.TimeProvider);
            await _transport.CloseAsync(closing.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Closing is best effort; disposal below releases the socket regardless.
        }
        await _transport.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Releases the run's timers and buffer. If the run neither succeeded nor failed (an exception
    /// escaped generated code), the transport is disposed too.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (!_ended) await _transport.DisposeAsync().ConfigureAwait(false);
        _handshake.Dispose();
        _handshakeTimeout.Dispose();
        _buffer.Dispose();
    }
}
