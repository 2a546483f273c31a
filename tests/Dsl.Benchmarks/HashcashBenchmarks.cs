using System;
using System.Threading;
using BenchmarkDotNet.Attributes;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Expressions;
using Dsl.Runtime.Handshakes;

namespace Dsl.Benchmarks;

/// <summary>
/// CAHP's hashcash: the time to solve one challenge against its difficulty, 8 to 20 leading zero bits in steps of 4,
/// through <c>pow_solve</c> exactly as the metabolic node calls it (<see cref="Builtins.PowSolve"/> over
/// <see cref="Hashcash.Solve(ReadOnlySpan{byte}, int, RandomSource, CancellationToken)"/>), the lowest difficulty the
/// baseline. Each invocation solves a fresh 48-byte challenge (CAHP's 16-byte prefix and 32-byte target) from a
/// seeded generator, so a run is repeatable and the mean is an average over many challenges: a single solve is
/// geometric (its spread is as wide as its mean), so expect a wide error column at low invocation counts.
/// The expected cost doubles with every bit (2^d hashes on average, each 4 bits 16 times the last); operators set
/// CAHP's <c>difficulty</c> (and a prover its <c>max_difficulty</c>) from this curve, against the step timeout.
/// </summary>
[MemoryDiagnoser]
public class HashcashBenchmarks
{
    private const int Seed = 20261124;
    private const int LowestDifficulty = 8;

    private SeededRandom _random = null!;
    private readonly byte[] _challenge = new byte[48];

    /// <summary>Leading zero bits asked of SHA-256(challenge ‖ nonce).</summary>
    [Params(8, 12, 16, 20)]
    public int Difficulty { get; set; }

    [GlobalSetup]
    public void Setup() => _random = new SeededRandom(Seed);

    /// <summary>
    /// The baseline: one solve at the lowest difficulty, 8 bits, whatever <see cref="Difficulty"/> is. BenchmarkDotNet
    /// has no baseline parameter value, so it is measured beside each difficulty and the Ratio column reads as cost
    /// relative to 8 bits (about 1, 16, 256, 4096).
    /// </summary>
    [Benchmark(Baseline = true)]
    public Bytes Solve8Bits() => Solve(LowestDifficulty);

    /// <summary>One solve of a fresh challenge at <see cref="Difficulty"/>.</summary>
    [Benchmark]
    public Bytes Solve() => Solve(Difficulty);

    private Bytes Solve(int difficulty)
    {
        _random.Fill(_challenge);
        return Builtins.PowSolve(_random, new Bytes(_challenge), difficulty, CancellationToken.None);
    }

    /// <summary>
    /// A repeatable source for the challenges and the solver's starting nonces. <see cref="RandomSource.Seeded"/> would
    /// do, but its HMAC per 32 bytes is a few percent of an 8-bit solve; this costs next to nothing. Never for keys.
    /// </summary>
    private sealed class SeededRandom(int seed) : RandomSource
    {
        private readonly Random _random = new(seed);

        public override void Fill(Span<byte> destination) => _random.NextBytes(destination);
    }
}
