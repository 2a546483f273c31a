using System;
using System.Diagnostics;
using System.Threading.Tasks;
using BenchmarkDotNet.Running;
using Dsl.Benchmarks;

// dotnet run -c Release --project tests/Dsl.Benchmarks -- --filter '*'   (docs/benchmarks.md says what each measures)
// dotnet run -c Release --project tests/Dsl.Benchmarks -- loop mesh 10   (one protocol's in-memory handshake, or its
// crypto floor with mesh-floor and stt-floor, in a loop for 10 s after a warm-up, for a profiler such as perf)
if (args is ["loop", var protocol, ..])
{
    var seconds = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10;
    var benchmarks = new ProtocolFloorBenchmarks();
    benchmarks.Setup();
    Func<Task> handshake = protocol switch
    {
        "ltp" => benchmarks.LtpHandshake,
        "mesh" => benchmarks.MeshHandshake,
        "stt" => benchmarks.SttHandshake,
        "cahp" => benchmarks.CahpHandshake,
        "entft" => benchmarks.EntftHandshake,
        // Each protocol's crypto floor alone, to hold a profile of the handshake against.
        "mesh-floor" => () => { benchmarks.MeshFloor(); return Task.CompletedTask; },
        "stt-floor" => () => { benchmarks.SttFloor(); return Task.CompletedTask; },
        _ => throw new ArgumentException($"No in-memory handshake named '{protocol}': ltp, mesh, stt, cahp, entft, mesh-floor or stt-floor."),
    };
    // Warm, so that the profile is of tiered, steady code rather than the JIT.
    for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(3);) await handshake();
    var count = 0;
    var measured = Stopwatch.StartNew();
    while (measured.Elapsed.TotalSeconds < seconds)
    {
        await handshake();
        count++;
    }
    Console.WriteLine($"{protocol}: {count:N0} handshakes in memory, {measured.Elapsed.TotalMicroseconds / count:0.0} us each");
    benchmarks.Cleanup();
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(MeshStoreBenchmarks).Assembly).Run(args);
