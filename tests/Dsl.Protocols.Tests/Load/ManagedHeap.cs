using System;
using System.Diagnostics;
using System.Threading.Tasks;

namespace Dsl.Protocols.Tests.Load;

/// <summary>How the load tests read the managed heap: what is still reachable, after a full collection.</summary>
internal static class ManagedHeap
{
    /// <summary>The bytes still reachable, after a full collection and the finalizers it queued.</summary>
    public static long Reachable()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>
    /// Waits until the heap stops shrinking (by more than 16 KB in a quarter of a second, for at most 30 s): what ended
    /// handshakes and closed connections held is gone, so that it is not freed while the next figure is taken.
    /// </summary>
    public static async Task SettledAsync()
    {
        var last = long.MaxValue;
        for (var wait = Stopwatch.StartNew(); wait.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(250))
        {
            var now = Reachable();
            if (now >= last - 16 * 1024) return;
            last = now;
        }
    }
}
