using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Services;
using Xunit;

namespace Dsl.Runtime.Tests.Services;

/// <summary>The same behaviour from the in-memory stores and the SQLite store.</summary>
public sealed class StoresTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);
    private static readonly TrustLevel[] Levels = Enum.GetValues<TrustLevel>();

    /// <summary>One set of stores; for SQLite one object in a temporary file, deleted on dispose.</summary>
    private sealed class Stores : IDisposable, IAsyncDisposable
    {
        private readonly SqliteHandshakeStore? _sqlite;

        private Stores(IPinnedKeyStore pins, ITrustStore trust, IReplayCache replay, IAddressBlockList blocks,
            Func<Bytes, ValueTask> reset, Func<Bytes, DateTimeOffset, ValueTask> bootstrap, SqliteHandshakeStore? sqlite, string? path)
        {
            (Pins, Trust, Replay, Blocks, Reset, Bootstrap, _sqlite, Path) = (pins, trust, replay, blocks, reset, bootstrap, sqlite, path);
        }

        /// <summary>For PostgreSQL: the store, in a schema of its own in the tests' throwaway cluster.</summary>
        public Dsl.Runtime.PostgreSql.PostgreSqlHandshakeStore? Postgres { get; private init; }

        public static async Task<Stores> CreateAsync(string kind)
        {
            if (kind != "postgres") return Create(kind);
            var store = await Dsl.Runtime.PostgreSql.PostgreSqlHandshakeStore.OpenAsync(Dsl.Tests.Shared.PostgreSqlCluster.ConnectionString, "t_" + Guid.NewGuid().ToString("N"));
            return new Stores(store, store, store, store, id => store.ResetAsync(id, default), (id, now) => store.BootstrapSystemAsync(id, now, default), null, null) { Postgres = store };
        }

        public async ValueTask DisposeAsync()
        {
            Dispose();
            if (Postgres is not null) await Postgres.DisposeAsync();
        }

        public IPinnedKeyStore Pins { get; }
        public ITrustStore Trust { get; }
        public IReplayCache Replay { get; }
        public IAddressBlockList Blocks { get; }
        public IValueStore<T> Values<T>(string name) where T : struct
            => _sqlite is not null ? _sqlite.Values<T>(name)
               : Postgres is not null ? Postgres.Values<T>(name)
               : (IValueStore<T>)_memoryValues.GetOrAdd(name + "/" + typeof(T).Name, _ => new InMemoryValueStore<T>());
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, object> _memoryValues = new();
        public IThreadStore Threads => (IThreadStore?)_sqlite ?? (IThreadStore?)Postgres ?? (_memoryThreads ??= new InMemoryThreadStore());
        private InMemoryThreadStore? _memoryThreads;
        public Func<Bytes, ValueTask> Reset { get; }
        public Func<Bytes, DateTimeOffset, ValueTask> Bootstrap { get; }
        public string? Path { get; }

        public static Stores Create(string kind)
        {
            switch (kind)
            {
                case "memory":
                    var trust = new InMemoryTrustStore();
                    return new Stores(new InMemoryPinnedKeyStore(), trust, new InMemoryReplayCache(), new InMemoryAddressBlockList(),
                        id => trust.ResetAsync(id, default), (id, now) => trust.BootstrapSystemAsync(id, now, default), null, null);
                case "sqlite":
                    var path = TempFile();
                    return Sqlite(SqliteHandshakeStore.Open(path), path);
                case "sqlite-exclusive":
                    var held = TempFile();
                    return Sqlite(SqliteHandshakeStore.Open(held, SqliteDurability.Normal, SqliteSharing.Exclusive), held);
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind));
            }
        }

        public static Stores Sqlite(SqliteHandshakeStore store, string path)
            => new(store, store, store, store, id => store.ResetAsync(id, default), (id, now) => store.BootstrapSystemAsync(id, now, default), store, path);

        public void Dispose()
        {
            _sqlite?.Dispose();
            if (Path is not null) Delete(Path);
        }
    }

    private static string TempFile() => Path.Combine(Path.GetTempPath(), $"dsl-stores-{Guid.NewGuid():N}.db");

    private static void Delete(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" }) File.Delete(file);
    }

    private static Bytes Id(string text) => new(System.Text.Encoding.UTF8.GetBytes(text));

    private static Bytes Key(byte fill) => new(Enumerable.Repeat(fill, 32).ToArray());

    /// <summary>Starts every call on its own thread at once, behind a barrier, and returns their results in order.</summary>
    private static async Task<bool[]> RaceAsync(params Func<ValueTask<bool>>[] calls)
    {
        using var start = new Barrier(calls.Length);
        return await Task.WhenAll(calls.Select(call => Task.Run(async () =>
        {
            start.SignalAndWait();
            return await call();
        })));
    }

    // Threads

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task A_thread_belongs_to_the_client_it_was_issued_to_and_survives_its_resumptions(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        var thread = Guid.NewGuid();
        Assert.False(await stores.Threads.ContainsAsync(thread, "ada", default));
        await stores.Threads.OpenAsync(thread, "ada", Guid.NewGuid(), default);
        Assert.True(await stores.Threads.ContainsAsync(thread, "ada", default));
        Assert.False(await stores.Threads.ContainsAsync(thread, "bob", default));
        await stores.Threads.TouchAsync(thread, Guid.NewGuid(), default);
        Assert.True(await stores.Threads.ContainsAsync(thread, "ada", default));
        Assert.False(await stores.Threads.ContainsAsync(Guid.NewGuid(), "ada", default));
    }

    // Value stores

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task A_value_store_keeps_each_type_by_key_and_stores_of_other_names_apart(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        var ids = stores.Values<Guid>("saved_threads");
        var others = stores.Values<Guid>("other");
        var id = Guid.NewGuid();
        Assert.Null(await ids.GetAsync("ada", default));
        await ids.SetAsync("ada", id, default);
        Assert.Equal(id, await ids.GetAsync("ada", default));
        Assert.Null(await others.GetAsync("ada", default));
        var replaced = Guid.NewGuid();
        await ids.SetAsync("ada", replaced, default);
        Assert.Equal(replaced, await ids.GetAsync("ada", default));
        await ids.RemoveAsync("ada", default);
        Assert.Null(await ids.GetAsync("ada", default));

        var numbers = stores.Values<long>("n");
        await numbers.SetAsync("k", -42, default);
        Assert.Equal(-42L, await numbers.GetAsync("k", default));
        var flags = stores.Values<bool>("f");
        await flags.SetAsync("k", true, default);
        Assert.True(await flags.GetAsync("k", default));
        var times = stores.Values<DateTimeOffset>("t");
        await times.SetAsync("k", T0, default);
        Assert.Equal(T0, await times.GetAsync("k", default));
        var bytes = stores.Values<Bytes>("b");
        await bytes.SetAsync("k", Key(3), default);
        Assert.Equal(Key(3), await bytes.GetAsync("k", default));
    }

    // Pinned keys

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task APinnedKeyMatchesAndADifferentKeyIsRefusedWithoutOverwriting(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        var node = Id("node-a");

        Assert.Null(await stores.Pins.GetPinAsync(node, default));
        Assert.True(await stores.Pins.MatchesAsync(node, Key(2), default));

        Assert.True(await stores.Pins.PinAsync(node, Key(1), default));
        Assert.Equal(Key(1), await stores.Pins.GetPinAsync(node, default));
        Assert.True(await stores.Pins.MatchesAsync(node, Key(1), default));
        Assert.True(await stores.Pins.PinAsync(node, Key(1), default));

        Assert.False(await stores.Pins.MatchesAsync(node, Key(2), default));
        Assert.False(await stores.Pins.PinAsync(node, Key(2), default));
        Assert.Equal(Key(1), await stores.Pins.GetPinAsync(node, default));
        Assert.True(await stores.Pins.MatchesAsync(Id("node-b"), Key(2), default));

        // An empty id is an id like any other (SQLite binds it as an empty blob, not NULL).
        Assert.True(await stores.Pins.PinAsync(Bytes.Empty, Key(3), default));
        Assert.False(await stores.Pins.PinAsync(Bytes.Empty, Key(4), default));
        Assert.Equal(Key(3), await stores.Pins.GetPinAsync(Bytes.Empty, default));
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task OfConcurrentPinsOfTwoKeysExactlyOneWins(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        for (var round = 0; round < 20; round++)
        {
            var node = Id($"node-{round}");
            var results = await RaceAsync(() => stores.Pins.PinAsync(node, Key(1), default), () => stores.Pins.PinAsync(node, Key(2), default));

            Assert.Equal(1, results.Count(won => won));
            Assert.Equal(results[0] ? Key(1) : Key(2), await stores.Pins.GetPinAsync(node, default));
        }
    }

    // Trust

    [Fact]
    public void TheTransitionTableIsTheReconciledStateMachine()
    {
        var allowed = new[]
        {
            (TrustLevel.Unknown, TrustLevel.Discovered), (TrustLevel.Unknown, TrustLevel.Authenticated), (TrustLevel.Unknown, TrustLevel.Blacklisted),
            (TrustLevel.Discovered, TrustLevel.Authenticated), (TrustLevel.Discovered, TrustLevel.Blacklisted),
            (TrustLevel.Authenticated, TrustLevel.Authenticated), (TrustLevel.Authenticated, TrustLevel.Trusted), (TrustLevel.Authenticated, TrustLevel.Blacklisted),
            (TrustLevel.Trusted, TrustLevel.Blacklisted),
        };
        foreach (var from in Levels)
        {
            foreach (var to in Levels)
            {
                Assert.True(allowed.Contains((from, to)) == TrustTransitions.IsAllowed(from, to), $"{from} -> {to}");
            }
        }
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task EveryPairMovesOnlyWhereTheTableAllows(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        foreach (var from in Levels)
        {
            foreach (var to in Levels)
            {
                var node = Id($"{from}->{to}");
                await BringToAsync(stores, node, from);
                Assert.Equal(from, await stores.Trust.GetAsync(node, default));

                var after = await stores.Trust.TransitionAsync(node, to, T0.AddMinutes(1), default);

                // Authenticated -> Trusted is in the table but guarded by the score, which is 0 here.
                var expected = TrustTransitions.IsAllowed(from, to) && (from, to) != (TrustLevel.Authenticated, TrustLevel.Trusted) ? to : from;
                Assert.True(expected == after, $"{from} -> {to}: got {after}");
                Assert.Equal(expected, await stores.Trust.GetAsync(node, default));
            }
        }
    }

    private static async Task BringToAsync(Stores stores, Bytes node, TrustLevel level)
    {
        switch (level)
        {
            case TrustLevel.Unknown:
                break;
            case TrustLevel.Discovered or TrustLevel.Authenticated or TrustLevel.Blacklisted:
                Assert.Equal(level, await stores.Trust.TransitionAsync(node, level, T0, default));
                break;
            case TrustLevel.Trusted:
                await stores.Trust.AuthenticateAsync(node, T0, default);
                await stores.Trust.AddScoreAsync(node, TrustTransitions.TrustedScore, T0, default);
                break;
            case TrustLevel.System:
                await stores.Bootstrap(node, T0);
                break;
        }
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task AScoreOf80PromotesAnAuthenticatedNodeToTrusted(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        var node = Id("node-a");
        Assert.Null(await stores.Trust.FindAsync(node, default));
        Assert.Equal(TrustLevel.Unknown, await stores.Trust.GetAsync(node, default));

        Assert.Equal(TrustLevel.Discovered, await stores.Trust.TransitionAsync(node, TrustLevel.Discovered, T0, default));
        Assert.Equal(TrustLevel.Authenticated, await stores.Trust.AuthenticateAsync(node, T0, default));
        Assert.Equal(TrustLevel.Authenticated, await stores.Trust.AuthenticateAsync(node, T0, default));
        Assert.Equal(TrustLevel.Authenticated, await stores.Trust.TransitionAsync(node, TrustLevel.Trusted, T0, default));

        Assert.Equal(79, await stores.Trust.AddScoreAsync(node, 79, T0, default));
        Assert.Equal(TrustLevel.Authenticated, await stores.Trust.GetAsync(node, default));
        Assert.Equal(80, await stores.Trust.AddScoreAsync(node, 1, T0.AddDays(3), default));
        Assert.Equal(new TrustRecord(node, TrustLevel.Trusted, 80, T0.AddDays(3)), await stores.Trust.FindAsync(node, default));

        // A new handshake is not a downgrade, nor is a falling score; scores clamp to 0..100.
        Assert.False(TrustTransitions.IsAllowed(TrustLevel.Trusted, TrustLevel.Authenticated));
        Assert.Equal(TrustLevel.Trusted, await stores.Trust.AuthenticateAsync(node, T0, default));
        Assert.Equal(100, await stores.Trust.AddScoreAsync(node, 500, T0, default));
        Assert.Equal(0, await stores.Trust.AddScoreAsync(node, -500, T0, default));
        Assert.Equal(TrustLevel.Trusted, await stores.Trust.GetAsync(node, default));
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task AScoreEarnedBeforeAuthenticationTrustsOnAuthentication(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        var node = Id("node-a");
        await stores.Trust.TransitionAsync(node, TrustLevel.Discovered, T0, default);
        Assert.Equal(90, await stores.Trust.AddScoreAsync(node, 90, T0, default));
        Assert.Equal(TrustLevel.Discovered, await stores.Trust.GetAsync(node, default));

        Assert.Equal(TrustLevel.Trusted, await stores.Trust.AuthenticateAsync(node, T0, default));
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task BlacklistedSticksUntilAnOperatorResetsIt(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        var node = Id("node-a");
        await stores.Trust.AuthenticateAsync(node, T0, default);
        await stores.Trust.AddScoreAsync(node, 50, T0, default);

        Assert.Equal(TrustLevel.Blacklisted, await stores.Trust.BlacklistAsync(node, T0, default));
        Assert.True(await stores.Trust.IsBlacklistedAsync(node, default));
        foreach (var to in Levels) Assert.Equal(TrustLevel.Blacklisted, await stores.Trust.TransitionAsync(node, to, T0, default));
        await stores.Trust.AddScoreAsync(node, 100, T0, default);
        Assert.Equal(TrustLevel.Blacklisted, await stores.Trust.AuthenticateAsync(node, T0, default));

        await stores.Reset(node);
        Assert.Null(await stores.Trust.FindAsync(node, default));
        Assert.False(await stores.Trust.IsBlacklistedAsync(node, default));
        Assert.Equal(TrustLevel.Authenticated, await stores.Trust.AuthenticateAsync(node, T0, default));
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task SystemNeverChanges(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        var node = Id("genesis");
        await stores.Bootstrap(node, T0);

        foreach (var to in Levels) Assert.Equal(TrustLevel.System, await stores.Trust.TransitionAsync(node, to, T0, default));
        Assert.Equal(TrustLevel.System, await stores.Trust.BlacklistAsync(node, T0, default));
        Assert.Equal(TrustLevel.System, await stores.Trust.AuthenticateAsync(node, T0, default));
        Assert.Equal(100, await stores.Trust.AddScoreAsync(node, 100, T0, default));
        Assert.Equal(TrustLevel.System, await stores.Trust.GetAsync(node, default));
        Assert.False(await stores.Trust.IsBlacklistedAsync(node, default));
    }

    // Replay cache

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task AKeyIsRefusedBeforeItExpiresAndAcceptedAfter(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        var nonce = Key(7);
        Assert.True(await stores.Replay.TryAddAsync(nonce, T0, T0 + Minute, default));
        Assert.False(await stores.Replay.TryAddAsync(nonce, T0.AddSeconds(1), T0.AddSeconds(61), default));
        Assert.False(await stores.Replay.TryAddAsync(nonce, T0 + Minute - TimeSpan.FromTicks(1), T0 + 2 * Minute, default));
        Assert.True(await stores.Replay.TryAddAsync(Key(8), T0.AddSeconds(1), T0.AddSeconds(61), default));

        Assert.True(await stores.Replay.TryAddAsync(nonce, T0 + Minute, T0 + 2 * Minute, default));
        Assert.False(await stores.Replay.TryAddAsync(nonce, T0 + Minute, T0 + 2 * Minute, default));
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task A_key_that_expired_moments_ago_is_accepted_again_before_any_cleanup(string kind)
    {
        // SQLite deletes expired keys only now and then: an expired key still in the table must not count.
        await using var stores = await Stores.CreateAsync(kind);
        Assert.True(await stores.Replay.TryAddAsync(Key(9), T0, T0.AddSeconds(1), default));
        Assert.True(await stores.Replay.TryAddAsync(Key(9), T0.AddSeconds(2), T0.AddSeconds(3), default));
        Assert.False(await stores.Replay.TryAddAsync(Key(9), T0.AddSeconds(2.5), T0.AddSeconds(4), default));
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task Authenticating_an_authenticated_node_again_changes_nothing_not_even_its_time(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        var node = Id("again");
        Assert.Equal(TrustLevel.Authenticated, await stores.Trust.AuthenticateAsync(node, T0, default));
        Assert.Equal(TrustLevel.Authenticated, await stores.Trust.AuthenticateAsync(node, T0 + Minute, default));
        Assert.Equal(T0, (await stores.Trust.FindAsync(node, default))!.UpdatedAt);
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task OfConcurrentAddsOfOneKeyExactlyOneSucceeds(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        for (var round = 0; round < 20; round++)
        {
            var nonce = Id($"nonce-{round}");
            var adds = Enumerable.Repeat(() => stores.Replay.TryAddAsync(nonce, T0, T0 + Minute, default), 8).ToArray();
            Assert.Equal(1, (await RaceAsync(adds)).Count(added => added));
        }
    }

    [Fact]
    public async Task AnExclusiveSqliteStoreHoldsItsFileUntilDisposedThenAnotherMayOpenIt()
    {
        var path = TempFile();
        try
        {
            using (var held = SqliteHandshakeStore.Open(path, SqliteDurability.Normal, SqliteSharing.Exclusive))
            {
                Assert.True(await held.PinAsync(Id("node"), Key(1), default));
                var refused = Assert.Throws<InvalidOperationException>(() => SqliteHandshakeStore.Open(path));
                Assert.Contains(path, refused.Message);
            }
            using var next = SqliteHandshakeStore.Open(path);
            Assert.Equal(Key(1), await next.GetPinAsync(Id("node"), default));
        }
        finally
        {
            Delete(path);
        }
    }

    [Fact]
    public async Task TwoSqliteStoresOnOneFileAgreeOnReplaysAndPins()
    {
        var path = TempFile();
        try
        {
            using var first = SqliteHandshakeStore.Open(path);
            using var second = SqliteHandshakeStore.Open(path);
            for (var round = 0; round < 20; round++)
            {
                var nonce = Id($"nonce-{round}");
                var adds = await RaceAsync(() => first.TryAddAsync(nonce, T0, T0 + Minute, default), () => second.TryAddAsync(nonce, T0, T0 + Minute, default));
                Assert.Equal(1, adds.Count(added => added));

                var node = Id($"node-{round}");
                var pins = await RaceAsync(() => first.PinAsync(node, Key(1), default), () => second.PinAsync(node, Key(2), default));
                Assert.Equal(1, pins.Count(won => won));
            }
        }
        finally
        {
            Delete(path);
        }
    }

    [Fact]
    public async Task TheInMemoryReplayCacheStaysBounded()
    {
        var cache = new InMemoryReplayCache(capacity: 100);
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(await cache.TryAddAsync(Id($"nonce-{i}"), T0.AddSeconds(i), T0.AddSeconds(i + 10), default));
            Assert.True(cache.Count <= 100);
        }
        // Live keys survive pruning of expired ones.
        Assert.False(await cache.TryAddAsync(Id("nonce-999"), T0.AddSeconds(999), T0.AddSeconds(1009), default));
    }

    // Address block list

    /// <summary>A failure under the seed's policy: 3 failures within 60 s block the address for 60 s.</summary>
    private static ValueTask<bool> FailAsync(IAddressBlockList blocks, string address, DateTimeOffset now)
        => blocks.RecordFailureAsync(address, now, 3, Minute, Minute, default);

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task ThreeFailuresWithinAMinuteBlockForAMinute(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        const string address = "192.0.2.1";

        Assert.False(await FailAsync(stores.Blocks, address, T0));
        Assert.False(await FailAsync(stores.Blocks, address, T0.AddSeconds(30)));
        Assert.False(await stores.Blocks.IsBlockedAsync(address, T0.AddSeconds(30), default));
        var blockedAt = T0.AddSeconds(60);
        Assert.True(await FailAsync(stores.Blocks, address, blockedAt));

        Assert.True(await stores.Blocks.IsBlockedAsync(address, blockedAt, default));
        Assert.True(await stores.Blocks.IsBlockedAsync(address, blockedAt + Minute - TimeSpan.FromTicks(1), default));
        Assert.False(await stores.Blocks.IsBlockedAsync("192.0.2.2", blockedAt, default));
        // A failure while blocked does not extend the block.
        Assert.True(await FailAsync(stores.Blocks, address, blockedAt.AddSeconds(30)));

        Assert.False(await stores.Blocks.IsBlockedAsync(address, blockedAt + Minute, default));
        // The count started again with the block.
        Assert.False(await FailAsync(stores.Blocks, address, blockedAt + Minute));
    }

    [Theory, InlineData("memory"), InlineData("sqlite"), InlineData("sqlite-exclusive"), InlineData("postgres")]
    public async Task ThreeFailuresSpreadOverMoreThanAMinuteDoNotBlock(string kind)
    {
        await using var stores = await Stores.CreateAsync(kind);
        const string address = "2001:db8::1";

        Assert.False(await FailAsync(stores.Blocks, address, T0));
        Assert.False(await FailAsync(stores.Blocks, address, T0.AddSeconds(30)));
        Assert.False(await FailAsync(stores.Blocks, address, T0.AddSeconds(61)));
        Assert.False(await stores.Blocks.IsBlockedAsync(address, T0.AddSeconds(61), default));
        // The failures at 30 s and 61 s are still in the window of one at 90 s.
        Assert.True(await FailAsync(stores.Blocks, address, T0.AddSeconds(90)));
    }

    // Restart

    [Fact]
    public async Task ReopeningTheSqliteFileKeepsEverything()
    {
        var path = TempFile();
        try
        {
            using (var store = SqliteHandshakeStore.Open(path))
            {
                Assert.True(await store.PinAsync(Id("node-a"), Key(1), default));
                await ((ITrustStore)store).AuthenticateAsync(Id("node-a"), T0, default);
                await store.AddScoreAsync(Id("node-a"), 85, T0.AddDays(1), default);
                await ((ITrustStore)store).BlacklistAsync(Id("node-b"), T0, default);
                await store.BootstrapSystemAsync(Id("genesis"), T0, default);
                Assert.True(await store.TryAddAsync(Key(7), T0, T0 + Minute, default));
                for (var i = 0; i < 3; i++) await FailAsync(store, "192.0.2.1", T0.AddSeconds(i));
                Assert.False(await FailAsync(store, "192.0.2.9", T0));
                Assert.True(File.Exists(path + "-wal"));
            }

            using (var store = SqliteHandshakeStore.Open(path))
            {
                Assert.Equal(Key(1), await store.GetPinAsync(Id("node-a"), default));
                Assert.False(await store.PinAsync(Id("node-a"), Key(2), default));
                Assert.Equal(new TrustRecord(Id("node-a"), TrustLevel.Trusted, 85, T0.AddDays(1)), await store.FindAsync(Id("node-a"), default));
                Assert.True(await ((ITrustStore)store).IsBlacklistedAsync(Id("node-b"), default));
                Assert.Equal(TrustLevel.System, await store.GetAsync(Id("genesis"), default));
                Assert.False(await store.TryAddAsync(Key(7), T0.AddSeconds(10), T0 + Minute, default));
                Assert.True(await store.IsBlockedAsync("192.0.2.1", T0.AddSeconds(10), default));
                Assert.False(await FailAsync(store, "192.0.2.9", T0.AddSeconds(1)));
                Assert.True(await FailAsync(store, "192.0.2.9", T0.AddSeconds(2)));
            }
        }
        finally
        {
            Delete(path);
        }
    }

    [Fact]
    public async Task ADisposedSqliteStoreRefusesCalls()
    {
        var path = TempFile();
        try
        {
            var store = SqliteHandshakeStore.Open(path);
            store.Dispose();
            store.Dispose();
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.GetPinAsync(Id("node-a"), default));
        }
        finally
        {
            Delete(path);
        }
    }
}
