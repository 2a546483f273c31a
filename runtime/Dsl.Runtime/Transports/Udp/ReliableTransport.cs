using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports.Udp;

/// <summary>
/// Makes a handshake survive a lossy datagram link (a <see cref="UdpPeerTransport"/>, or any
/// <see cref="IMessageTransport"/> that may lose, duplicate or reorder messages) the way DTLS does
/// (RFC 6347 §4.2.4): by re-sending this side's last flight when the peer's answer is late, and
/// by dropping messages it has already delivered.
/// </summary>
/// <remarks>
/// <para><b>Flights.</b> A flight is what this side sends between two messages it receives. While a
/// receive waits and nothing arrives within the retransmit timeout, the last flight is sent again
/// and the timeout doubles (from <see cref="ReliabilityOptions.InitialTimeout"/> up to
/// <see cref="ReliabilityOptions.MaxTimeout"/>); after <see cref="ReliabilityOptions.MaxRetransmits"/>
/// re-sends without a new message the receive fails with <see cref="TransportError.ConnectionReset"/>.
/// A new message from the peer restarts the count. Retransmission happens only inside
/// <see cref="ReceiveAsync"/>, and a side that receives first (a server) has no flight to re-send,
/// so it just waits.</para>
/// <para><b>Duplicates.</b> Every message received is identified by its SHA-256; one seen among the
/// last 32 is dropped (<see cref="DuplicatesDropped"/>). If it repeats the peer's flight that this
/// side's last flight answered, and nothing newer has come since, the peer evidently lost the
/// answer: the last flight is re-sent once for it. Messages are therefore told apart by their bytes
/// alone: <b>every message on the wire must differ from the last 32 the peer sent</b>, which holds
/// for handshake messages since they carry nonces and ids. A digest is only a filter: the
/// handshake layer still checks everything it receives.</para>
/// <para><b>The end of the handshake.</b> The side that sends the last flight cannot tell whether it
/// arrived, so it must keep receiving (as DTLS keeps the state of its last flight) to answer the
/// peer's retransmissions; and without a next flight, the timer would re-send the last one until
/// it gives up. Call <see cref="CompleteHandshake"/> when the handshake is over: the timer stops,
/// later sends are application data that is not retransmitted, duplicates are still dropped, and
/// a retransmitted last flight of the peer is still answered.</para>
/// <para>The transport owns the inner transport and disposes it. One receive and one send may run at
/// the same time. A receive that is cancelled leaves the inner receive running; the next receive
/// takes it over.</para>
/// </remarks>
public sealed class ReliableTransport : IMessageTransport
{
    private const int HistorySize = 32;

    private readonly IMessageTransport _inner;
    private readonly ReliabilityOptions _options;
    private readonly ArrayBufferWriter<byte> _inbox = new();
    // Cancelled on dispose, to end the inner receive; never disposed, since a receive may still link to it.
    private readonly CancellationTokenSource _disposing = new();
    private readonly object _gate = new();
    // Guarded by _gate.
    private readonly HashSet<MessageDigest> _seen = new();
    private readonly Queue<MessageDigest> _seenOrder = new();
    private List<byte[]> _flight = new();
    private HashSet<MessageDigest> _peerFlight = new();
    private HashSet<MessageDigest> _answeredPeerFlight = new();
    private bool _flightAnswered = true;
    private bool _handshakeComplete;
    private TimeSpan _timeout;
    private int _retransmitsWithoutAnswer;
    // Owned by the one receive in progress.
    private Task<bool>? _innerReceive;
    private long _retransmissions;
    private long _duplicatesDropped;
    private int _disposed;

    /// <summary>Wraps a transport; this transport owns it from now on and disposes it.</summary>
    /// <param name="inner">The lossy transport, for example a <see cref="UdpPeerTransport"/>.</param>
    /// <param name="options">Retransmission timing; the defaults when <see langword="null"/>.</param>
    public ReliableTransport(IMessageTransport inner, ReliabilityOptions? options = null)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _options = options ?? new ReliabilityOptions();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.InitialTimeout, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxTimeout, _options.InitialTimeout, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(_options.MaxRetransmits, nameof(options));
        ArgumentNullException.ThrowIfNull(_options.TimeProvider, nameof(options));
        _timeout = _options.InitialTimeout;
    }

    /// <inheritdoc />
    public int MaxMessageSize => _inner.MaxMessageSize;

    /// <inheritdoc />
    public string? RemoteAddress => _inner.RemoteAddress;

    /// <summary>How many times a flight was re-sent, after a timeout or for a duplicate of the peer's flight.</summary>
    public long Retransmissions => Interlocked.Read(ref _retransmissions);

    /// <summary>How many received messages were dropped as repeats of ones already delivered.</summary>
    public long DuplicatesDropped => Interlocked.Read(ref _duplicatesDropped);

    /// <summary>
    /// Says the handshake is over: the retransmit timer stops, later sends are not remembered as a
    /// flight, and the last flight is still re-sent when the peer repeats the flight it answered.
    /// </summary>
    public void CompleteHandshake()
    {
        lock (_gate) _handshakeComplete = true;
    }

    /// <inheritdoc />
    /// <remarks>The message joins this side's current flight (or starts a new one after a message was received).</remarks>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        lock (_gate)
        {
            if (!_handshakeComplete)
            {
                if (_flightAnswered)
                {
                    _flight = new List<byte[]>();
                    _answeredPeerFlight = _peerFlight;
                    _peerFlight = new HashSet<MessageDigest>();
                    _flightAnswered = false;
                    _timeout = _options.InitialTimeout;
                    _retransmitsWithoutAnswer = 0;
                }
                _flight.Add(message.ToArray());
            }
        }
        await _inner.SendAsync(message, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Re-sends this side's last flight whenever the retransmit timeout passes without a message,
    /// and drops messages already delivered.
    /// </remarks>
    /// <exception cref="TransportException">
    /// <see cref="TransportError.ConnectionReset"/>: no message after <see cref="ReliabilityOptions.MaxRetransmits"/>
    /// retransmissions; or a failure of the inner transport.
    /// </exception>
    public async ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ThrowIfDisposed();
        while (true)
        {
            var pending = _innerReceive ??= ReceiveFromInnerAsync();
            bool timed;
            TimeSpan timeout;
            lock (_gate)
            {
                timed = _flight.Count > 0 && !_handshakeComplete;
                timeout = _timeout;
            }
            try
            {
                if (timed) await pending.WaitAsync(timeout, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
                else await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException) when (!pending.IsCompleted)
            {
                await RetransmitAfterSilenceAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (Exception) when (pending.IsCompleted)
            {
                // The inner receive's own failure: rethrown below.
            }

            _innerReceive = null;
            bool received;
            try
            {
                received = await pending.ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not TransportException && Volatile.Read(ref _disposed) != 0)
            {
                throw new TransportException(TransportError.Closed, "The transport is disposed", exception);
            }
            if (!received) return false;

            var digest = MessageDigest.Of(_inbox.WrittenSpan);
            bool isNew, answerAgain = false;
            lock (_gate)
            {
                isNew = _seen.Add(digest);
                if (isNew)
                {
                    _seenOrder.Enqueue(digest);
                    if (_seenOrder.Count > HistorySize) _seen.Remove(_seenOrder.Dequeue());
                    _peerFlight.Add(digest);
                    _flightAnswered = true;
                    _timeout = _options.InitialTimeout;
                    _retransmitsWithoutAnswer = 0;
                }
                else
                {
                    answerAgain = !_flightAnswered && _answeredPeerFlight.Contains(digest);
                }
            }
            if (isNew)
            {
                destination.Write(_inbox.WrittenSpan);
                return true;
            }
            Interlocked.Increment(ref _duplicatesDropped);
            if (answerAgain) await ResendFlightAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => _inner.CloseAsync(cancellationToken);

    /// <summary>Disposes the inner transport and waits for its receive in progress to end. Safe to call more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _inner.DisposeAsync().ConfigureAwait(false);
        if (_innerReceive is { } pending)
        {
            // A transport that ends its receives when disposed (as a UDP peer does) ends this one without an exception;
            // another is cancelled after a moment.
            if (!pending.IsCompleted) await Task.WhenAny(pending, Task.Delay(TimeSpan.FromMilliseconds(100), _options.TimeProvider)).ConfigureAwait(false);
            if (!pending.IsCompleted) _disposing.Cancel();
            try
            {
                await pending.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Ended by the disposal.
            }
        }
    }

    /// <summary>
    /// Hands the end of a completed handshake to the UDP endpoint under this transport, if it is one: the endpoint
    /// answers the peer's repeats of the flight this side answered last with that answer again until
    /// <paramref name="duration"/> has passed, with no task, timer or transport of its own, and the transport is disposed.
    /// Nothing to hand over when the peer sent the last flight (it needs no answer). False when the transport under this
    /// one is not a UDP peer (wrapped, say): the caller keeps receiving instead.
    /// </summary>
    internal async ValueTask<bool> TryHandOverLingerAsync(TimeSpan duration)
    {
        if (_inner is not UdpPeerTransport udp || _innerReceive is not null) return false;
        byte[][] flight;
        MessageDigest[] answered;
        lock (_gate)
        {
            flight = _flightAnswered ? Array.Empty<byte[]>() : _flight.ToArray();
            answered = _flightAnswered ? Array.Empty<MessageDigest>() : [.. _answeredPeerFlight];
        }
        if (flight.Length > 0) udp.Linger(flight, answered.Select(d => d.ToBytes()).ToArray(), duration);
        await DisposeAsync().ConfigureAwait(false);
        return true;
    }

    private Task<bool> ReceiveFromInnerAsync()
    {
        _inbox.Clear();
        return _inner.ReceiveAsync(_inbox, _disposing.Token).AsTask();
    }

    private async ValueTask RetransmitAfterSilenceAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_retransmitsWithoutAnswer >= _options.MaxRetransmits)
                throw new TransportException(TransportError.ConnectionReset,
                    $"The peer sent no answer after {_retransmitsWithoutAnswer} retransmissions");
            _retransmitsWithoutAnswer++;
            var doubled = _timeout * 2;
            _timeout = doubled < _options.MaxTimeout ? doubled : _options.MaxTimeout;
        }
        await ResendFlightAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask ResendFlightAsync(CancellationToken cancellationToken)
    {
        byte[][] flight;
        lock (_gate) flight = _flight.ToArray();
        if (flight.Length == 0) return;
        Interlocked.Increment(ref _retransmissions);
        try
        {
            foreach (var message in flight)
                await _inner.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (TransportException exception) when (exception.Error == TransportError.Closed && Volatile.Read(ref _disposed) == 0)
        {
            // This side has closed its sending direction: nothing can be re-sent, but receiving goes on.
        }
    }

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
            throw new TransportException(TransportError.Closed, "The transport is disposed");
    }

    /// <summary>A message's SHA-256, as four words.</summary>
    private readonly record struct MessageDigest(ulong A, ulong B, ulong C, ulong D)
    {
        public byte[] ToBytes() => MemoryMarshal.AsBytes(new[] { A, B, C, D }.AsSpan()).ToArray();

        public static MessageDigest Of(ReadOnlySpan<byte> message)
        {
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(message, hash);
            var words = MemoryMarshal.Cast<byte, ulong>(hash);
            return new MessageDigest(words[0], words[1], words[2], words[3]);
        }
    }
}
