using System;
using System.IO;
using System.Threading.Tasks;
using System.Threading;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.PostgreSql;
using Dsl.Runtime.Services;
using Dsl.Tests.Shared;

namespace Dsl.Benchmarks;

/// <summary>
/// One Mesh handshake between two known nodes, in memory, with each node's stores in memory (the baseline), in SQLite
/// on disk (the durable default), in PostgreSQL (a fleet's store: each node its own schema on a throwaway local
/// cluster; left out, saying so, where PostgreSQL is not installed), and Mesh's own crypto floor alone (its 3 Ed25519
/// signatures and 3 verifications, nothing else). The ratio of a durable store to in-memory is the store's cost; the
/// ratio of the floor to in-memory is how close the handshake is to its crypto.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(NeedsPostgreSqlConfig))]
public class MeshStoreBenchmarks
{
    private Ed25519Key _a = null!, _b = null!;
    private MeshStores _memoryA, _memoryB, _sqliteA, _sqliteB, _exclusiveA, _exclusiveB;
    private SqliteHandshakeStore? _fileA, _fileB, _heldA, _heldB;
    private PostgreSqlHandshakeStore? _postgresA, _postgresB;
    private MeshStores _postgresStoresA, _postgresStoresB;
    private string _folder = "";
    private readonly byte[] _message = new byte[200];
    private readonly byte[] _signature = new byte[64];

    [GlobalSetup]
    public void Setup()
    {
        _a = Ed25519.Instance.GenerateKey();
        _b = Ed25519.Instance.GenerateKey();
        _memoryA = MeshStores.InMemory();
        _memoryB = MeshStores.InMemory();
        _folder = Path.Combine(Path.GetTempPath(), "dsl-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_folder);
        _fileA = SqliteHandshakeStore.Open(Path.Combine(_folder, "a.db"));
        _fileB = SqliteHandshakeStore.Open(Path.Combine(_folder, "b.db"));
        _sqliteA = MeshStores.Of(_fileA);
        _sqliteB = MeshStores.Of(_fileB);
        _heldA = SqliteHandshakeStore.Open(Path.Combine(_folder, "held-a.db"), SqliteDurability.Normal, SqliteSharing.Exclusive);
        _heldB = SqliteHandshakeStore.Open(Path.Combine(_folder, "held-b.db"), SqliteDurability.Normal, SqliteSharing.Exclusive);
        _exclusiveA = MeshStores.Of(_heldA);
        _exclusiveB = MeshStores.Of(_heldB);
        // The nodes know each other already: the handshakes measured are the repeat ones a server mostly sees.
        HandshakeAsync(_memoryA, _memoryB).GetAwaiter().GetResult();
        HandshakeAsync(_sqliteA, _sqliteB).GetAwaiter().GetResult();
        HandshakeAsync(_exclusiveA, _exclusiveB).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _fileA?.Dispose();
        _fileB?.Dispose();
        _heldA?.Dispose();
        _heldB?.Dispose();
        _a.Dispose();
        _b.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    /// <summary>The PostgreSQL case's setup: the others', then each node's store in its own schema of the throwaway cluster.</summary>
    [GlobalSetup(Target = nameof(PostgreSqlStores))]
    public void SetupPostgreSql()
    {
        Setup();
        var schema = "bench_mesh_" + Guid.NewGuid().ToString("N")[..8];
        _postgresA = PostgreSqlHandshakeStore.OpenAsync(PostgreSqlCluster.ConnectionString, schema + "_a").GetAwaiter().GetResult();
        _postgresB = PostgreSqlHandshakeStore.OpenAsync(PostgreSqlCluster.ConnectionString, schema + "_b").GetAwaiter().GetResult();
        _postgresStoresA = MeshStores.Of(_postgresA);
        _postgresStoresB = MeshStores.Of(_postgresB);
        HandshakeAsync(_postgresStoresA, _postgresStoresB).GetAwaiter().GetResult();
    }

    /// <summary>The PostgreSQL case's cleanup; the cluster itself is stopped and deleted when the process ends.</summary>
    [GlobalCleanup(Target = nameof(PostgreSqlStores))]
    public void CleanupPostgreSql()
    {
        _postgresA?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _postgresB?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Cleanup();
    }

    private Task HandshakeAsync(MeshStores a, MeshStores b) => InMemoryHandshakes.MeshAsync(_a, a, _b, b);

    /// <summary>The baseline: a handshake with every store in memory.</summary>
    [Benchmark(Baseline = true)]
    public Task InMemoryStores() => HandshakeAsync(_memoryA, _memoryB);

    /// <summary>The same handshake with both nodes' stores in SQLite files.</summary>
    [Benchmark]
    public Task SqliteStores() => HandshakeAsync(_sqliteA, _sqliteB);

    /// <summary>The same with each node's SQLite file held by its store alone (<see cref="SqliteSharing.Exclusive"/>): no file lock per call.</summary>
    [Benchmark]
    public Task SqliteExclusiveStores() => HandshakeAsync(_exclusiveA, _exclusiveB);

    /// <summary>The same handshake with both nodes' stores in PostgreSQL, each node in its own schema.</summary>
    [Benchmark, BenchmarkCategory(NeedsPostgreSqlConfig.Category)]
    public Task PostgreSqlStores() => HandshakeAsync(_postgresStoresA, _postgresStoresB);

    /// <summary>Mesh's crypto alone: 3 Ed25519 signatures and 3 verifications.</summary>
    [Benchmark]
    public bool CryptoFloor()
    {
        var ok = true;
        for (var i = 0; i < 3; i++)
        {
            Ed25519.Instance.Sign(i % 2 == 0 ? _a : _b, _message, _signature);
            ok &= Ed25519.Instance.Verify(i % 2 == 0 ? _a.PublicKey : _b.PublicKey, _message, _signature);
        }
        return ok;
    }
}

/// <summary>
/// Leaves out the benchmarks of <see cref="Category"/> where PostgreSQL is not installed, and says so once, so that a
/// run without it measures everything else instead of failing.
/// </summary>
public sealed class NeedsPostgreSqlConfig : ManualConfig
{
    /// <summary>The category of the benchmarks that need PostgreSQL.</summary>
    public const string Category = "PostgreSQL";

    private static int s_told;

    /// <summary>A filter when PostgreSQL is missing; nothing otherwise.</summary>
    public NeedsPostgreSqlConfig()
    {
        if (PostgreSqlCluster.IsInstalled) return;
        AddFilter(new SimpleFilter(benchmark =>
        {
            if (!benchmark.Descriptor.HasCategory(Category)) return true;
            if (Interlocked.Exchange(ref s_told, 1) == 0)
                Console.WriteLine("// PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): the PostgreSQL benchmarks are skipped. "
                    + "Install it with 'apt-get install -y postgresql' to measure them.");
            return false;
        }));
    }
}
