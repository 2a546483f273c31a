using System.Net;

namespace Dsl.Runtime.Transports;

/// <summary>How socket transports name a peer: IPv4-mapped IPv6 addresses become IPv4, printed as <c>ip:port</c>.</summary>
internal static class PeerAddress
{
    /// <summary>The endpoint with an IPv4-mapped IPv6 address turned into plain IPv4, so one peer has one key.</summary>
    public static IPEndPoint Normalize(IPEndPoint endPoint)
        => endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

    /// <summary>The address without its IPv4 mapping.</summary>
    public static IPAddress Normalize(IPAddress address)
        => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary><c>ip:port</c> (IPv6 in brackets), or <see langword="null"/> for an endpoint that is not an IP endpoint.</summary>
    public static string? Format(EndPoint? endPoint)
        => endPoint is IPEndPoint ip ? Normalize(ip).ToString() : null;
}
