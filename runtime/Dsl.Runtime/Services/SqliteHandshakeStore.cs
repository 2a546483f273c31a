using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Microsoft.Data.Sqlite;

namespace Dsl.Runtime.Services;

/// <summary>
/// Pinned keys, trust levels, seen nonces and blocked addresses in one SQLite file, so that a restart keeps them.
/// One table per concept; times are stored as UTC ticks (100 ns since 0001-01-01), so they come back exactly.
/// Every change runs in a transaction that takes the write lock up front (<c>BEGIN IMMEDIATE</c>), so nothing is
/// half-written and read-then-write steps are atomic, also across processes sharing the file; a call that would
/// change nothing (a pin already there, a trust level already held) only reads. Calls on one instance run one at a
/// time over one connection, with their statements prepared once.
/// </summary>
/// <remarks>
/// <para><b>After a crash.</b> The file is in write-ahead-log mode. A change is acknowledged (its call returns) once
/// its transaction is committed to the log. If the process dies, at any point, the file is consistent when next
/// opened and holds every acknowledged change; a transaction in progress is rolled back whole. With
/// <see cref="SqliteDurability.Normal"/> (the default) the log is flushed to the disk at checkpoints, so a power
/// loss or an operating-system crash may lose the changes of the last moments (never half of one);
/// <see cref="SqliteDurability.Full"/> flushes every commit, at several times the cost of a write.</para>
/// </remarks>
public sealed class SqliteHandshakeStore : IPinnedKeyStore, ITrustStore, IReplayCache, IAddressBlockList, IThreadStore, IDisposable
{
    private const int SchemaVersion = 1;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS pins (node_id BLOB NOT NULL PRIMARY KEY, public_key BLOB NOT NULL, pinned_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS trust (node_id BLOB NOT NULL PRIMARY KEY, level INTEGER NOT NULL, score INTEGER NOT NULL, updated_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS replay (key BLOB NOT NULL PRIMARY KEY, expires_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS replay_by_expiry ON replay (expires_at);
        CREATE TABLE IF NOT EXISTS failures (address TEXT NOT NULL, at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS failures_by_address ON failures (address, at);
        CREATE TABLE IF NOT EXISTS blocks (address TEXT NOT NULL PRIMARY KEY, until INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS threads (thread_id BLOB NOT NULL PRIMARY KEY, client_id TEXT NOT NULL, session_id BLOB NOT NULL, updated_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS vals (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key));
        """;

    private static readonly Lazy<bool> NativeLibraryLoaded = new(LoadNativeLibrary);

    // Expired replay keys are deleted at most this often: not on every insert.
    private static readonly TimeSpan PruneInterval = TimeSpan.FromSeconds(30);

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    // Prepared statements by SQL text, used under _gate only.
    private readonly Dictionary<string, SqliteCommand> _statements = new(StringComparer.Ordinal);
    private long _nextPruneTicks;
    private bool _disposed;

    private SqliteHandshakeStore(SqliteConnection connection) => _connection = connection;

    /// <summary>
    /// Opens the store in the file at <paramref name="path"/>, creating the file and its tables if missing, in
    /// write-ahead-log mode, with <see cref="SqliteDurability.Normal"/> durability.
    /// </summary>
    /// <exception cref="InvalidOperationException">The native SQLite library cannot be loaded, or the file was
    /// written by a newer version of this store.</exception>
    public static SqliteHandshakeStore Open(string path) => Open(path, SqliteDurability.Normal);

    /// <summary>Opens the store in the file at <paramref name="path"/> with the given durability (see the remarks on the type).</summary>
    /// <exception cref="InvalidOperationException">The native SQLite library cannot be loaded, or the file was
    /// written by a newer version of this store.</exception>
    public static SqliteHandshakeStore Open(string path, SqliteDurability durability) => Open(path, durability, SqliteSharing.Shared);

    /// <summary>
    /// Opens the store in the file at <paramref name="path"/> with the given durability, shared with other stores
    /// (<see cref="SqliteSharing.Shared"/>, the default) or held by this one alone while it is open
    /// (<see cref="SqliteSharing.Exclusive"/>: no file lock is taken and released per call, about a tenth of a Mesh
    /// handshake's cost on its stores).
    /// </summary>
    /// <exception cref="InvalidOperationException">The native SQLite library cannot be loaded, the file was written by
    /// a newer version of this store, or (exclusive) another store holds it.</exception>
    public static SqliteHandshakeStore Open(string path, SqliteDurability durability, SqliteSharing sharing)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _ = NativeLibraryLoaded.Value;
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // Dispose closes the file rather than parking it in a pool.
            Pooling = false,
        }.ToString());
        try
        {
            connection.Open();
            // Exclusive: set before the log is first used, so the log's index lives in this process's memory, and the
            // lock taken by the schema's transaction below is kept until the store is disposed.
            Execute(connection, "PRAGMA busy_timeout = " + (sharing == SqliteSharing.Exclusive ? "0; PRAGMA locking_mode = EXCLUSIVE;" : "5000;")
                + " PRAGMA journal_mode = WAL; PRAGMA synchronous = " + (durability == SqliteDurability.Full ? "FULL;" : "NORMAL;"));
            using (var transaction = connection.BeginTransaction(deferred: false))
            {
                using var version = Command(connection, transaction, "PRAGMA user_version;");
                var found = Convert.ToInt32(version.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
                if (found > SchemaVersion)
                {
                    throw new InvalidOperationException($"'{path}' holds handshake store schema {found}; this version reads up to {SchemaVersion}.");
                }
                Execute(connection, Schema + $"PRAGMA user_version = {SchemaVersion};", transaction);
                transaction.Commit();
            }
            if (sharing == SqliteSharing.Exclusive) Execute(connection, "PRAGMA busy_timeout = 5000;");
            return new SqliteHandshakeStore(connection);
        }
        catch (SqliteException exception) when (exception.SqliteErrorCode is 5 or 6)
        {
            // SQLITE_BUSY or SQLITE_LOCKED at open: another store holds the file (one opened exclusive holds it for good).
            connection.Dispose();
            throw new InvalidOperationException($"'{path}' is in use by another store: one opened with SqliteSharing.Exclusive holds its file until disposed, and an exclusive open needs the file to itself.", exception);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask<Bytes?> GetPinAsync(Bytes nodeId, CancellationToken cancellationToken)
    {
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            return await ReadPinAsync(nodeId, null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> MatchesAsync(Bytes nodeId, Bytes publicKey, CancellationToken cancellationToken)
        => await GetPinAsync(nodeId, cancellationToken).ConfigureAwait(false) is not { } pinned || pinned == publicKey;

    /// <inheritdoc />
    public async ValueTask<bool> PinAsync(Bytes nodeId, Bytes publicKey, CancellationToken cancellationToken)
    {
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            // Already pinned (every handshake after the first): a read, no write.
            if (await ReadPinAsync(nodeId, null, cancellationToken).ConfigureAwait(false) is { } existing) return existing == publicKey;
            using var transaction = _connection.BeginTransaction(deferred: false);
            var insert = Statement("INSERT INTO pins (node_id, public_key, pinned_at) VALUES ($node, $key, $at) ON CONFLICT (node_id) DO NOTHING;", transaction);
            insert.Parameters["$node"].Value = nodeId.ToArray();
            insert.Parameters["$key"].Value = publicKey.ToArray();
            insert.Parameters["$at"].Value = DateTimeOffset.UtcNow.UtcTicks;
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            var pinned = await ReadPinAsync(nodeId, transaction, cancellationToken).ConfigureAwait(false);
            transaction.Commit();
            return pinned == publicKey;
        }
    }

    /// <inheritdoc />
    public async ValueTask<TrustLevel> GetAsync(Bytes nodeId, CancellationToken cancellationToken)
        => (await FindAsync(nodeId, cancellationToken).ConfigureAwait(false))?.Level ?? TrustLevel.Unknown;

    /// <inheritdoc />
    public async ValueTask<TrustRecord?> FindAsync(Bytes nodeId, CancellationToken cancellationToken)
    {
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            return await ReadTrustAsync(nodeId, null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<TrustLevel> TransitionAsync(Bytes nodeId, TrustLevel to, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            // A move that changes nothing (authenticated again) only reads.
            var seen = await ReadTrustAsync(nodeId, null, cancellationToken).ConfigureAwait(false);
            var unchanged = TrustTransitions.Transition(seen, nodeId, to, now);
            if (unchanged is null || ReferenceEquals(unchanged, seen)) return unchanged?.Level ?? seen?.Level ?? TrustLevel.Unknown;
            using var transaction = _connection.BeginTransaction(deferred: false);
            var current = await ReadTrustAsync(nodeId, transaction, cancellationToken).ConfigureAwait(false);
            if (TrustTransitions.Transition(current, nodeId, to, now) is not { } next) return current?.Level ?? TrustLevel.Unknown;
            if (!ReferenceEquals(next, current)) await WriteTrustAsync(next, transaction, cancellationToken).ConfigureAwait(false);
            transaction.Commit();
            return next.Level;
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> AddScoreAsync(Bytes nodeId, int delta, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            var current = await ReadTrustAsync(nodeId, transaction, cancellationToken).ConfigureAwait(false);
            var next = TrustTransitions.AddScore(current, nodeId, delta, now);
            if (!ReferenceEquals(next, current)) await WriteTrustAsync(next, transaction, cancellationToken).ConfigureAwait(false);
            transaction.Commit();
            return next.Score;
        }
    }

    /// <summary>
    /// An operator's reset: forgets the level and score of <paramref name="nodeId"/>, which is
    /// <see cref="TrustLevel.Unknown"/> again. The only way out of <see cref="TrustLevel.Blacklisted"/>. Its pinned
    /// key is kept.
    /// </summary>
    public async ValueTask ResetAsync(Bytes nodeId, CancellationToken cancellationToken)
    {
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            using var delete = Command(_connection, transaction, "DELETE FROM trust WHERE node_id = $node;");
            delete.Parameters.AddWithValue("$node", nodeId.ToArray());
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            transaction.Commit();
        }
    }

    /// <summary>
    /// An operator's genesis bootstrap: makes <paramref name="nodeId"/> <see cref="TrustLevel.System"/>, whatever
    /// its level, keeping its score. Handshakes never change it afterwards.
    /// </summary>
    public async ValueTask BootstrapSystemAsync(Bytes nodeId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            var current = await ReadTrustAsync(nodeId, transaction, cancellationToken).ConfigureAwait(false);
            await WriteTrustAsync(TrustTransitions.BootstrapSystem(current, nodeId, now), transaction, cancellationToken).ConfigureAwait(false);
            transaction.Commit();
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// One statement: a new key is inserted, an expired one takes its new expiry, a live one is left (and the call
    /// returns false). Expired keys are deleted at most every 30 s, in the same transaction as an insert.
    /// </remarks>
    public async ValueTask<bool> TryAddAsync(Bytes key, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            if (now.UtcTicks >= _nextPruneTicks)
            {
                var prune = Statement("DELETE FROM replay WHERE expires_at <= $now;", null);
                prune.Parameters["$now"].Value = now.UtcTicks;
                prune.ExecuteNonQuery();
                _nextPruneTicks = (now + PruneInterval).UtcTicks;
            }
            // One statement is its own transaction: atomic, and committed before the call returns.
            var insert = Statement("""
                INSERT INTO replay (key, expires_at) VALUES ($key, $expires)
                ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= $now;
                """, null);
            insert.Parameters["$key"].Value = key.ToArray();
            insert.Parameters["$expires"].Value = expiresAt.UtcTicks;
            insert.Parameters["$now"].Value = now.UtcTicks;
            return insert.ExecuteNonQuery() == 1;
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> IsBlockedAsync(string address, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            return await ReadBlockedUntilAsync(address, null, cancellationToken).ConfigureAwait(false) > now.UtcTicks;
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Expired blocks, and failures older than <paramref name="within"/> for every address, are deleted on each call:
    /// one store serves one block policy.
    /// </remarks>
    public async ValueTask<bool> RecordFailureAsync(string address, DateTimeOffset now, int maxFailures, TimeSpan within, TimeSpan blockFor, CancellationToken cancellationToken)
    {
        AddressBlockListArguments.Check(address, maxFailures, within, blockFor);
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            if (await ReadBlockedUntilAsync(address, transaction, cancellationToken).ConfigureAwait(false) > now.UtcTicks) return true;

            using (var record = Command(_connection, transaction, """
                DELETE FROM blocks WHERE until <= $now;
                DELETE FROM failures WHERE at < $windowStart;
                INSERT INTO failures (address, at) VALUES ($address, $now);
                """))
            {
                record.Parameters.AddWithValue("$now", now.UtcTicks);
                record.Parameters.AddWithValue("$windowStart", (now - within).UtcTicks);
                record.Parameters.AddWithValue("$address", address);
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            long failures;
            using (var count = Command(_connection, transaction, "SELECT COUNT(*) FROM failures WHERE address = $address;"))
            {
                count.Parameters.AddWithValue("$address", address);
                failures = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
            var blocked = failures >= maxFailures;
            if (blocked)
            {
                using var block = Command(_connection, transaction, """
                    DELETE FROM failures WHERE address = $address;
                    INSERT INTO blocks (address, until) VALUES ($address, $until) ON CONFLICT (address) DO UPDATE SET until = excluded.until;
                    """);
                block.Parameters.AddWithValue("$address", address);
                block.Parameters.AddWithValue("$until", (now + blockFor).UtcTicks);
                await block.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            transaction.Commit();
            return blocked;
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> ContainsAsync(Guid threadId, string clientId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            var select = Statement("SELECT 1 FROM threads WHERE thread_id = $thread AND client_id = $client;", null);
            select.Parameters["$thread"].Value = threadId.ToByteArray();
            select.Parameters["$client"].Value = clientId;
            return await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
        }
    }

    /// <inheritdoc />
    public async ValueTask OpenAsync(Guid threadId, string clientId, Guid sessionId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            var insert = Statement("INSERT INTO threads (thread_id, client_id, session_id, updated_at) VALUES ($thread, $client, $session, $at) ON CONFLICT (thread_id) DO UPDATE SET client_id = excluded.client_id, session_id = excluded.session_id, updated_at = excluded.updated_at;", null);
            insert.Parameters["$thread"].Value = threadId.ToByteArray();
            insert.Parameters["$client"].Value = clientId;
            insert.Parameters["$session"].Value = sessionId.ToByteArray();
            insert.Parameters["$at"].Value = DateTimeOffset.UtcNow.UtcTicks;
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask TouchAsync(Guid threadId, Guid sessionId, CancellationToken cancellationToken)
    {
        using (await EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            var update = Statement("UPDATE threads SET session_id = $session, updated_at = $at WHERE thread_id = $thread;", null);
            update.Parameters["$thread"].Value = threadId.ToByteArray();
            update.Parameters["$session"].Value = sessionId.ToByteArray();
            update.Parameters["$at"].Value = DateTimeOffset.UtcNow.UtcTicks;
            await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A value store (the spec's <c>value_store</c>) named <paramref name="name"/> in this file: values of
    /// <typeparamref name="TValue"/> (int, bool, uuid, timestamp or bytes) by string key. Stores of other names keep
    /// other values.
    /// </summary>
    /// <exception cref="NotSupportedException"><typeparamref name="TValue"/> is not one of those types.</exception>
    public IValueStore<TValue> Values<TValue>(string name) where TValue : struct
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        StoredValue<TValue>.Check();
        return new SqliteValueStore<TValue>(this, name);
    }

    private sealed class SqliteValueStore<TValue>(SqliteHandshakeStore owner, string name) : IValueStore<TValue> where TValue : struct
    {
        public async ValueTask<TValue?> GetAsync(string key, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(key);
            using (await owner.EnterAsync(cancellationToken).ConfigureAwait(false))
            {
                var select = owner.Statement("SELECT value FROM vals WHERE store = $store AND key = $key;", null);
                select.Parameters["$store"].Value = name;
                select.Parameters["$key"].Value = key;
                return await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is byte[] stored ? StoredValue<TValue>.FromBytes(stored) : null;
            }
        }

        public async ValueTask SetAsync(string key, TValue value, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(key);
            using (await owner.EnterAsync(cancellationToken).ConfigureAwait(false))
            {
                var upsert = owner.Statement("INSERT INTO vals (store, key, value) VALUES ($store, $key, $value) ON CONFLICT (store, key) DO UPDATE SET value = excluded.value;", null);
                upsert.Parameters["$store"].Value = name;
                upsert.Parameters["$key"].Value = key;
                upsert.Parameters["$value"].Value = StoredValue<TValue>.ToBytes(value);
                await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        public async ValueTask RemoveAsync(string key, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(key);
            using (await owner.EnterAsync(cancellationToken).ConfigureAwait(false))
            {
                var delete = owner.Statement("DELETE FROM vals WHERE store = $store AND key = $key;", null);
                delete.Parameters["$store"].Value = name;
                delete.Parameters["$key"].Value = key;
                await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Closes the file; calls after this throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        // Waits for a call in progress, so the connection is never closed under it.
        _gate.Wait();
        try
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var statement in _statements.Values) statement.Dispose();
            _connection.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask<Lease> EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_disposed)
        {
            _gate.Release();
            throw new ObjectDisposedException(nameof(SqliteHandshakeStore));
        }
        return new Lease(_gate);
    }

    /// <summary>
    /// The prepared statement for <paramref name="sql"/>, made on first use with a parameter for each <c>$name</c> in
    /// it, in <paramref name="transaction"/> (or none); under the gate.
    /// </summary>
    private SqliteCommand Statement(string sql, SqliteTransaction? transaction)
    {
        if (!_statements.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            foreach (System.Text.RegularExpressions.Match name in System.Text.RegularExpressions.Regex.Matches(sql, @"\$[a-zA-Z]+"))
                if (!command.Parameters.Contains(name.Value)) command.Parameters.Add(new SqliteParameter(name.Value, null));
            _statements[sql] = command;
        }
        command.Transaction = transaction;
        return command;
    }

    private ValueTask<Bytes?> ReadPinAsync(Bytes nodeId, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        var select = Statement("SELECT public_key FROM pins WHERE node_id = $node;", transaction);
        select.Parameters["$node"].Value = nodeId.ToArray();
        // Microsoft.Data.Sqlite runs every call synchronously; the async forms only add a task.
        cancellationToken.ThrowIfCancellationRequested();
        return new(select.ExecuteScalar() is byte[] key ? new Bytes(key) : null);
    }

    private async ValueTask<TrustRecord?> ReadTrustAsync(Bytes nodeId, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        var select = Statement("SELECT level, score, updated_at FROM trust WHERE node_id = $node;", transaction);
        select.Parameters["$node"].Value = nodeId.ToArray();
        using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) return null;
        return new TrustRecord(nodeId, (TrustLevel)reader.GetInt32(0), reader.GetInt32(1), new DateTimeOffset(reader.GetInt64(2), TimeSpan.Zero));
    }

    private async ValueTask WriteTrustAsync(TrustRecord record, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        var upsert = Statement("""
            INSERT INTO trust (node_id, level, score, updated_at) VALUES ($node, $level, $score, $at)
            ON CONFLICT (node_id) DO UPDATE SET level = excluded.level, score = excluded.score, updated_at = excluded.updated_at;
            """, transaction);
        upsert.Parameters["$node"].Value = record.NodeId.ToArray();
        upsert.Parameters["$level"].Value = (int)record.Level;
        upsert.Parameters["$score"].Value = record.Score;
        upsert.Parameters["$at"].Value = record.UpdatedAt.UtcTicks;
        await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private ValueTask<long> ReadBlockedUntilAsync(string address, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        var select = Statement("SELECT until FROM blocks WHERE address = $address;", transaction);
        select.Parameters["$address"].Value = address;
        cancellationToken.ThrowIfCancellationRequested();
        return new(select.ExecuteScalar() is long until ? until : long.MinValue);
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = Command(connection, transaction, sql);
        command.ExecuteNonQuery();
    }

    private static bool LoadNativeLibrary()
    {
        try
        {
            SQLitePCL.Batteries_V2.Init();
            return true;
        }
        catch (Exception exception) when (exception is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException)
        {
            throw new InvalidOperationException(
                "The native SQLite library (e_sqlite3) could not be loaded; SQLitePCLRaw.bundle_e_sqlite3 ships it for the supported runtime identifiers.",
                exception);
        }
    }

    /// <summary>Holds the gate until disposed.</summary>
    private readonly struct Lease(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}

/// <summary>Who may use a <see cref="SqliteHandshakeStore"/>'s file while it is open.</summary>
public enum SqliteSharing
{
    /// <summary>Other stores, in this process or others, may open the same file; every call takes the file's locks and releases them (a few system calls each).</summary>
    Shared,
    /// <summary>This store holds the file until it is disposed (another store's open fails, naming the file); calls take no file lock.</summary>
    Exclusive,
}

/// <summary>How hard a <see cref="SqliteHandshakeStore"/> works to keep a commit through a power loss.</summary>
public enum SqliteDurability
{
    /// <summary>A commit survives the process dying at any point; a power loss or an OS crash may lose the last moments' commits (never half of one).</summary>
    Normal,
    /// <summary>Every commit is flushed to the disk before the call returns: it survives a power loss too, at several times the cost of a write.</summary>
    Full,
}
