using System;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Transports;

/// <summary>
/// How the runtime lets go of a transport it owns: close within a time limit, best effort, then dispose.
/// Neither step throws; a transport that fails to close or to dispose has nothing more to give.
/// </summary>
internal static class TransportLifetime
{
    /// <summary>Closes <paramref name="transport"/> for <paramref name="reason"/>, then disposes it; never throws.</summary>
    public static async ValueTask ReleaseAsync(this IMessageTransport transport, TimeSpan closeTimeout, TimeProvider time, CloseReason reason = CloseReason.Normal)
    {
        await transport.CloseQuietlyAsync(closeTimeout, time, reason).ConfigureAwait(false);
        await transport.DisposeQuietlyAsync().ConfigureAwait(false);
    }

    /// <summary>Closes <paramref name="transport"/> for <paramref name="reason"/> within <paramref name="closeTimeout"/>; never throws.</summary>
    public static async ValueTask CloseQuietlyAsync(this IMessageTransport transport, TimeSpan closeTimeout, TimeProvider time, CloseReason reason = CloseReason.Normal)
    {
        try
        {
            using var closing = new CancellationTokenSource(closeTimeout, time);
            await transport.CloseAsync(reason, closing.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Closing is best effort; disposal releases the transport regardless.
        }
    }

    /// <summary>Disposes <paramref name="transport"/>; never throws.</summary>
    public static async ValueTask DisposeQuietlyAsync(this IMessageTransport transport)
    {
        try
        {
            await transport.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Nothing more can be done for a transport that fails to dispose.
        }
    }
}
