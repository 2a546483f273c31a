using System;
using System.Diagnostics;
using System.Threading.Tasks;
using BenchmarkDotNet.Running;
using Dsl.Benchmarks;

// dotnet run -c Release --project tests/Dsl.Benchmarks -- --filter '*'   (docs/benchmarks.md says what each measures)
// dotnet run -c Release --project tests/Dsl.Benchmarks -- loop mesh 10   (one protocol's in-memory handshake, or its
// crypto floor with mesh-floor and stt-floor, all its crypto with mesh-crypto and stt-crypto, and its crypto and codecs with mesh-codecs and stt-codecs, in a loop for 10 s after a warm-up, for a profiler such as perf)
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
        // The same handshakes, both machines stepped on one thread without a transport or the driver.
        "mesh-stepped" => benchmarks.MeshStepped,
        "stt-stepped" => benchmarks.SttStepped,
        // Each protocol's crypto floor alone, to hold a profile of the handshake against.
        "mesh-floor" => () => { benchmarks.MeshFloor(); return Task.CompletedTask; },
        "stt-floor" => () => { benchmarks.SttFloor(); return Task.CompletedTask; },
        // And every crypto call it makes, its hashes and random draws included.
        "mesh-crypto" => () => { benchmarks.MeshCrypto(); return Task.CompletedTask; },
        "stt-crypto" => () => { benchmarks.SttCrypto(); return Task.CompletedTask; },
        "mesh-codecs" => () => { benchmarks.MeshCryptoAndCodecs(); return Task.CompletedTask; },
        "stt-codecs" => () => { benchmarks.SttCryptoAndCodecs(); return Task.CompletedTask; },
        _ => throw new ArgumentException($"No in-memory handshake named '{protocol}': ltp, mesh, stt, cahp, entft, mesh-stepped, stt-stepped, mesh-floor, stt-floor, mesh-crypto, stt-crypto, mesh-codecs or stt-codecs."),
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
