using System;
using System.IO;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Services;

namespace Dsl.Benchmarks;

/// <summary>
/// One Mesh handshake between two known nodes, in memory, with each node's stores in memory (the baseline), in SQLite
/// on disk (the durable default), and Mesh's own crypto floor alone (its 3 Ed25519 signatures and 3 verifications,
/// nothing else). The ratio of SQLite to in-memory is the store's cost; the ratio of the floor to in-memory is how
/// close the handshake is to its crypto.
/// </summary>
[MemoryDiagnoser]
public class MeshStoreBenchmarks
{
    private Ed25519Key _a = null!, _b = null!;
    private MeshStores _memoryA, _memoryB, _sqliteA, _sqliteB;
    private SqliteHandshakeStore? _fileA, _fileB;
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
        // The nodes know each other already: the handshakes measured are the repeat ones a server mostly sees.
        HandshakeAsync(_memoryA, _memoryB).GetAwaiter().GetResult();
        HandshakeAsync(_sqliteA, _sqliteB).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _fileA?.Dispose();
        _fileB?.Dispose();
        _a.Dispose();
        _b.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private Task HandshakeAsync(MeshStores a, MeshStores b) => InMemoryHandshakes.MeshAsync(_a, a, _b, b);

    /// <summary>The baseline: a handshake with every store in memory.</summary>
    [Benchmark(Baseline = true)]
    public Task InMemoryStores() => HandshakeAsync(_memoryA, _memoryB);

    /// <summary>The same handshake with both nodes' stores in SQLite files.</summary>
    [Benchmark]
    public Task SqliteStores() => HandshakeAsync(_sqliteA, _sqliteB);

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
