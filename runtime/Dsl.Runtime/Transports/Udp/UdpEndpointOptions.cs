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
}
