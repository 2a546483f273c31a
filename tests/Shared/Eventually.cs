using System;
using System.Diagnostics;
using System.Threading.Tasks;

namespace Dsl.Tests.Shared;

/// <summary>Waiting for what another thread or process does: a host's count, a peer's end, a load's last client.</summary>
internal static class Eventually
{
    /// <summary>
    /// Returns once <paramref name="condition"/> holds, polling every 20 ms; throws <see cref="TimeoutException"/> if it
    /// still does not after <paramref name="within"/>.
    /// </summary>
    public static async Task HoldsAsync(Func<bool> condition, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > within) throw new TimeoutException($"Timed out after {within.TotalSeconds:0.#} s waiting");
            await Task.Delay(20);
        }
    }
}
