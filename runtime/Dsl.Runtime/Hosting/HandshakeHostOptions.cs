using System;
using System.Net;
using System.Net.Sockets;
using Dsl.Runtime.Handshakes;

namespace Dsl.Runtime.Hosting;

/// <summary>
/// What every handshake host (<see cref="TcpHandshakeHost"/>, <see cref="UdpHandshakeHost{TResult}"/>, and the
/// WebSocket endpoints of Dsl.Runtime.AspNetCore) is configured with: where it listens, how much it takes on, and how
/// it stops. Bindable from configuration (a section such as <c>Handshakes:Mesh</c>).
/// </summary>
public sealed class HandshakeHostOptions
{
    /// <summary>
    /// The address to listen on: an IPv4 or IPv6 address, <c>localhost</c> (127.0.0.1, the default), or <c>*</c> for
    /// every interface (IPv6 and IPv4 where the machine has IPv6; IPv4 otherwise).
    /// </summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The port; 0 for any free one (the host's <c>LocalEndPoint</c> says which).</summary>
    public int Port { get; set; }

    /// <summary>How many handshakes (connections, for TCP) may be under way at once.</summary>
    public int MaxConcurrentHandshakes { get; set; } = 1024;

    /// <summary>How many of them may come from one IP address.</summary>
    public int MaxHandshakesPerAddress { get; set; } = 64;

    /// <summary>The largest TCP frame body (a message), in bytes; a larger one fails the connection as malformed.</summary>
    public int MaxFrameSize { get; set; } = 64 * 1024;

    /// <summary>The largest UDP datagram, in bytes; a larger one is dropped.</summary>
    public int MaxDatagramSize { get; set; } = 8192;

    /// <summary>How long a TCP connection may send nothing before it is reset; <see langword="null"/> for a server that speaks first.</summary>
    public TimeSpan? FirstByteTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a handshake may wait for each message of the peer (and do its own work for it); <see langword="null"/>
    /// for the spec's own (its <c>timeouts</c>). The machines a host runs take it through <see cref="Apply"/>; the UDP
    /// handshake table, which drives its machines itself, applies it to every one.
    /// </summary>
    public TimeSpan? StepTimeout { get; set; }

    /// <summary>How long a whole handshake may take; <see langword="null"/> for the spec's own. Applied as <see cref="StepTimeout"/> is.</summary>
    public TimeSpan? HandshakeTimeout { get; set; }

    /// <summary>
    /// A role's options (its generated <c>DefaultOptions</c>, or the application's) with this host's
    /// <see cref="StepTimeout"/> and <see cref="HandshakeTimeout"/> where they are set: what the host's machines are
    /// made with, <c>new MeshResponder(inputs, services, host.Apply(MeshResponder.DefaultOptions))</c>.
    /// </summary>
    public HandshakeOptions Apply(HandshakeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return StepTimeout is null && HandshakeTimeout is null ? options : options with
        {
            StepTimeout = StepTimeout ?? options.StepTimeout,
            HandshakeTimeout = HandshakeTimeout ?? options.HandshakeTimeout,
        };
    }

    /// <summary>How long a graceful stop lets the handshakes under way finish before it cancels them.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The endpoint <see cref="Host"/> and <see cref="Port"/> name.</summary>
    /// <exception cref="FormatException"><see cref="Host"/> is not an address, <c>localhost</c> or <c>*</c>.</exception>
    public IPEndPoint EndPoint()
    {
        if (Port is < 0 or > IPEndPoint.MaxPort) throw new FormatException($"Port {Port} is not a TCP or UDP port (0 to 65535).");
        var address = Host.Trim() switch
        {
            "*" => Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any,
            "" or "localhost" => IPAddress.Loopback,
            var text when IPAddress.TryParse(text.Trim('[', ']'), out var parsed) => parsed,
            var text => throw new FormatException($"Host '{text}' is not an IP address, 'localhost' or '*'."),
        };
        return new IPEndPoint(address, Port);
    }

    /// <summary>Checks the limits; the message names the option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxConcurrentHandshakes, nameof(MaxConcurrentHandshakes));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxHandshakesPerAddress, nameof(MaxHandshakesPerAddress));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxFrameSize, nameof(MaxFrameSize));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxDatagramSize, nameof(MaxDatagramSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(StopTimeout, TimeSpan.Zero, nameof(StopTimeout));
        if (FirstByteTimeout is { } firstByte) ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(firstByte, TimeSpan.Zero, nameof(FirstByteTimeout));
        if (StepTimeout is { } step) ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(step, TimeSpan.Zero, nameof(StepTimeout));
        if (HandshakeTimeout is { } handshake) ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(handshake, TimeSpan.Zero, nameof(HandshakeTimeout));
    }
}
