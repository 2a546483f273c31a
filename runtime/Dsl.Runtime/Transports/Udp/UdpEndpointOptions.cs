using System;

namespace Dsl.Runtime.Transports.Udp;

/// <summary>Limits of a <see cref="UdpEndpoint"/>.</summary>
public sealed record UdpEndpointOptions
{
    /// <summary>The largest datagram, in bytes, accepted from a peer; larger ones are dropped. Also each peer transport's <see cref="IMessageTransport.MaxMessageSize"/>.</summary>
    public int MaxDatagramSize { get; init; } = UdpDatagramSocket.DefaultMaxDatagramSize;

    /// <summary>How many peers (connected, accepted or waiting to be accepted) the endpoint tracks at once; datagrams from further new addresses are dropped.</summary>
    public int MaxPeers { get; init; } = 1024;

    /// <summary>How many received datagrams wait for one peer's receive; more are dropped, as a network would.</summary>
    public int PeerQueueCapacity { get; init; } = 32;

    /// <summary>
    /// Whether a new address must first show that it receives at its address before the endpoint keeps anything for
    /// it: its first datagram is answered with a short stateless retry (an 18-byte cookie, never more than three times
    /// what it answers), and only the datagram sent again behind the cookie makes a peer (see the UDP section of the
    /// protocol pages). On by default: without it, one spoofed datagram makes a peer and draws answers to an address
    /// that never asked (amplification). Off only for peers that cannot answer a retry.
    /// </summary>
    public bool ValidateAddresses { get; init; } = true;

    /// <summary>
    /// The key retry cookies are made with (at least 32 bytes); a random one per endpoint when <see langword="null"/>.
    /// Endpoints that share an address (behind one load balancer) share a key, so any of them accepts another's cookie.
    /// </summary>
    public byte[]? RetryKey { get; init; }

    /// <summary>
    /// How many completed handshakes may still answer their peer's repeats at once (each holds its last flight, a few
    /// hundred bytes, and no task or timer); beyond it, the oldest stops answering.
    /// </summary>
    public int MaxLingering { get; init; } = 65_536;

    /// <summary>The clock cookies and lingering handshakes are dated by.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
