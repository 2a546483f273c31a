using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace Dsl.Tests.Shared;

/// <summary>Linked into every test project (the root Directory.Build.props).</summary>
internal static class ResponsiveThreadPool
{
    /// <summary>
    /// The test host blocks thread-pool threads now and then; on a two-core machine that starves timer
    /// continuations for most of a second (measured: a 50 ms Task.Delay taking 880 ms, and a heartbeat's 300 ms
    /// delay waking after 990 ms with work queued and every pool thread busy), which a heartbeat or timeout test
    /// cannot tell from a silent peer. More threads up front keep the pool responsive.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), io);
    }
}
