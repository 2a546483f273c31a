using System;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Services;

/// <summary>
/// Network addresses temporarily refused after repeated failed handshakes (the spec's <c>address_block_list</c>
/// service; the Mesh seed's "max retries 3: block IP temporarily (60 s)"). Addresses are IP strings: callers
/// strip the port, so that reconnecting from another port does not reset the count.
/// </summary>
public interface IAddressBlockList
{
    /// <summary>Whether <paramref name="address"/> is blocked at <paramref name="now"/>.</summary>
    ValueTask<bool> IsBlockedAsync(string address, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Records a failed attempt from <paramref name="address"/> at <paramref name="now"/>. When
    /// <paramref name="maxFailures"/> failures fall within <paramref name="within"/> (the oldest at most that long
    /// before <paramref name="now"/>), the address is blocked for <paramref name="blockFor"/> from
    /// <paramref name="now"/> and its count starts again. A failure while blocked neither counts nor extends the
    /// block. Returns <see langword="true"/> if the address is now blocked.
    /// </summary>
    ValueTask<bool> RecordFailureAsync(string address, DateTimeOffset now, int maxFailures, TimeSpan within, TimeSpan blockFor, CancellationToken cancellationToken);

    /// <summary>The spec's <c>allows(address)</c>: <see langword="false"/> while <paramref name="address"/> is blocked.</summary>
    async ValueTask<bool> AllowsAsync(string address, DateTimeOffset now, CancellationToken cancellationToken)
        => !await IsBlockedAsync(address, now, cancellationToken).ConfigureAwait(false);

    /// <summary>The spec's <c>strike(address)</c>: <see cref="RecordFailureAsync"/> with the service's settings.</summary>
    ValueTask<bool> StrikeAsync(string address, DateTimeOffset now, int maxFailures, TimeSpan within, TimeSpan blockFor, CancellationToken cancellationToken)
        => RecordFailureAsync(address, now, maxFailures, within, blockFor, cancellationToken);
}

/// <summary>Argument checks shared by the <see cref="IAddressBlockList"/> implementations.</summary>
internal static class AddressBlockListArguments
{
    public static void Check(string address, int maxFailures, TimeSpan within, TimeSpan blockFor)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFailures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(within, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockFor, TimeSpan.Zero);
    }
}
