using System.Collections.Generic;
using System.Net;

namespace Dsl.Runtime.Transports.Tcp;

/// <summary>A connection as <see cref="AddressSlots{T}"/> counts it: where it comes from, and whether it has sent anything yet.</summary>
internal interface IAddressSlot
{
    /// <summary>The peer's IP address (without its IPv4 mapping).</summary>
    IPAddress Address { get; }

    /// <summary>Whether the peer has sent nothing yet: such a connection may give its slot to a newcomer.</summary>
    bool Silent { get; }
}

/// <summary>
/// The connections a TCP server holds, in all and per IP address, and who gives way when it is full: a silent connection
/// of the busiest address, if that address holds more than the newcomer's. So a flood of silent connections from a few
/// addresses cannot shut out a client from another. Not thread-safe: its owner locks around it.
/// </summary>
internal sealed class AddressSlots<T>(int maxConnections, int maxPerAddress)
    where T : class, IAddressSlot
{
    private readonly HashSet<T> _held = new();
    private readonly Dictionary<IPAddress, int> _perAddress = new();

    public int Count => _held.Count;

    public bool Contains(T connection) => _held.Contains(connection);

    public T[] ToArray() => [.. _held];

    /// <summary>
    /// Takes <paramref name="connection"/> in if there is room, making room by evicting a silent connection when the table
    /// is full; false when it must be refused. <paramref name="evicted"/> is off the books already; its owner closes it.
    /// </summary>
    public bool TryAdmit(T connection, out T? evicted)
    {
        evicted = null;
        var address = connection.Address;
        _perAddress.TryGetValue(address, out var fromAddress);
        if (fromAddress >= maxPerAddress) return false;
        if (_held.Count >= maxConnections)
        {
            // One pass each, no LINQ: this runs for every connection while a flood keeps the table full.
            KeyValuePair<IPAddress, int> busiest = default;
            foreach (var held in _perAddress)
                if (held.Value > busiest.Value) busiest = held;
            if (busiest.Value <= fromAddress + 1) return false;
            foreach (var candidate in _held)
            {
                if (!candidate.Silent || !candidate.Address.Equals(busiest.Key)) continue;
                evicted = candidate;
                break;
            }
            if (evicted is null) return false;
            Release(evicted);
        }
        _held.Add(connection);
        _perAddress[address] = fromAddress + 1;
        return true;
    }

    /// <summary>Takes a connection off the books; false when it was not on them (released already).</summary>
    public bool Release(T connection)
    {
        if (!_held.Remove(connection)) return false;
        if (--_perAddress[connection.Address] == 0) _perAddress.Remove(connection.Address);
        return true;
    }
}
