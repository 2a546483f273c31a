using System;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Runtime.Hosting;

/// <summary>The wait of a graceful stop: the handshakes under way get until the stop's deadline to finish.</summary>
internal static class GracefulStop
{
    /// <summary>
    /// Returns once <paramref name="underWay"/> says none is left, <paramref name="timeout"/> has passed or
    /// <paramref name="cancellationToken"/> is cancelled; looks every <paramref name="poll"/>. Never throws.
    /// </summary>
    public static async Task WaitAsync(Func<int> underWay, TimeSpan timeout, TimeSpan poll, TimeProvider time, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + timeout;
        while (underWay() > 0 && time.GetUtcNow() < deadline && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(poll, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
