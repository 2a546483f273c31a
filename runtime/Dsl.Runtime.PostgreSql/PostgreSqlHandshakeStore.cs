using System;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Services;
using Npgsql;

namespace Dsl.Runtime.PostgreSql;

/// <summary>
/// Pinned keys, trust levels, seen nonces, blocked addresses and issued threads in PostgreSQL, shared by every server
/// of a fleet: a thread opened on one node resumes on another, a pin recorded by one is enforced by all, an address
/// blocked by one is refused by all, a nonce seen by one is a replay everywhere. One table per concept in one schema;
/// times are UTC ticks (100 ns since 0001-01-01), so they come back exactly.
/// </summary>
/// <remarks>
/// <para>Each call is one statement or one transaction. A read-then-write step (a trust move, a failure that may block)
/// holds a transaction-scoped advisory lock on its key, so concurrent servers serialize on that key only; a nonce is
/// one <c>INSERT ... ON CONFLICT</c>, so of two servers that see it at once exactly one wins. A call that would change
/// nothing (a pin already there, authenticated again) only reads.</para>
/// <para><b>After a crash</b> of a server, nothing it acknowledged is lost and nothing half-done remains: PostgreSQL
/// commits each transaction durably before the call returns (with the server's default <c>synchronous_commit</c>).</para>
/// </remarks>
public sealed class PostgreSqlHandshakeStore : IPinnedKeyStore, ITrustStore, IReplayCache, IAddressBlockList, IThreadStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly string _schema;
    private long _nextPruneTicks;

    private PostgreSqlHandshakeStore(NpgsqlDataSource dataSource, bool ownsDataSource, string schema)
        => (_dataSource, _ownsDataSource, _schema) = (dataSource, ownsDataSource, schema);

    /// <summary>Opens the store over <paramref name="connectionString"/>, creating its schema and tables if missing.</summary>
    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <param name="schema">The schema the tables live in (a plain SQL identifier): one per set of stores.</param>
    /// <param name="cancellationToken">Cancels the connection.</param>
    public static async Task<PostgreSqlHandshakeStore> OpenAsync(string connectionString, string schema = "dsl_handshakes", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            return await OpenAsync(dataSource, schema, ownsDataSource: true, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens the store over the application's <paramref name="dataSource"/> (not disposed with the store).</summary>
    public static Task<PostgreSqlHandshakeStore> OpenAsync(NpgsqlDataSource dataSource, string schema = "dsl_handshakes", CancellationToken cancellationToken = default)
        => OpenAsync(dataSource ?? throw new ArgumentNullException(nameof(dataSource)), schema, ownsDataSource: false, cancellationToken);

    private static async Task<PostgreSqlHandshakeStore> OpenAsync(NpgsqlDataSource dataSource, string schema, bool ownsDataSource, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(schema) || !System.Text.RegularExpressions.Regex.IsMatch(schema, "^[a-z_][a-z0-9_]{0,62}$"))
            throw new ArgumentException($"Schema '{schema}' is not a plain lower-case SQL identifier.", nameof(schema));
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // Servers starting together create the tables once.
        await using (var create = new NpgsqlCommand($"""
            SELECT pg_advisory_xact_lock(hashtext('dsl handshake schema {schema}'));
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {schema}.pins (node_id bytea PRIMARY KEY, public_key bytea NOT NULL, pinned_at bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS {schema}.trust (node_id bytea PRIMARY KEY, level integer NOT NULL, score integer NOT NULL, updated_at bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS {schema}.replay (key bytea PRIMARY KEY, expires_at bigint NOT NULL);
            CREATE INDEX IF NOT EXISTS replay_by_expiry ON {schema}.replay (expires_at);
            CREATE TABLE IF NOT EXISTS {schema}.failures (address text NOT NULL, at bigint NOT NULL);
            CREATE INDEX IF NOT EXISTS failures_by_address ON {schema}.failures (address, at);
            CREATE TABLE IF NOT EXISTS {schema}.blocks (address text PRIMARY KEY, until bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS {schema}.threads (thread_id uuid PRIMARY KEY, client_id text NOT NULL, session_id uuid NOT NULL, updated_at bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS {schema}.vals (store text NOT NULL, key text NOT NULL, value bytea NOT NULL, PRIMARY KEY (store, key));
            """, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new PostgreSqlHandshakeStore(dataSource, ownsDataSource, schema);
    }

    // ---- Pins ----------------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask<Bytes?> GetPinAsync(Bytes nodeId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"SELECT public_key FROM {_schema}.pins WHERE node_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = nodeId.ToArray() });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is byte[] key ? new Bytes(key) : null;
    }

    /// <inheritdoc />
    public async ValueTask<bool> MatchesAsync(Bytes nodeId, Bytes publicKey, CancellationToken cancellationToken)
        => await GetPinAsync(nodeId, cancellationToken).ConfigureAwait(false) is not { } pinned || pinned == publicKey;

    /// <inheritdoc />
    public async ValueTask<bool> PinAsync(Bytes nodeId, Bytes publicKey, CancellationToken cancellationToken)
    {
        if (await GetPinAsync(nodeId, cancellationToken).ConfigureAwait(false) is { } existing) return existing == publicKey;
        // The first pin wins, across servers: the insert does nothing when another got there first.
        await using var command = _dataSource.CreateCommand($"""
            WITH inserted AS (
                INSERT INTO {_schema}.pins (node_id, public_key, pinned_at) VALUES ($1, $2, $3) ON CONFLICT (node_id) DO NOTHING RETURNING public_key)
            SELECT public_key FROM inserted UNION ALL SELECT public_key FROM {_schema}.pins WHERE node_id = $1 LIMIT 1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = nodeId.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = publicKey.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = DateTimeOffset.UtcNow.UtcTicks });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is byte[] pinned && new Bytes(pinned) == publicKey;
    }

    // ---- Trust ---------------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask<TrustLevel> GetAsync(Bytes nodeId, CancellationToken cancellationToken)
        => (await FindAsync(nodeId, cancellationToken).ConfigureAwait(false))?.Level ?? TrustLevel.Unknown;

    /// <inheritdoc />
    public async ValueTask<TrustRecord?> FindAsync(Bytes nodeId, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReadTrustAsync(connection, null, nodeId, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<TrustLevel> TransitionAsync(Bytes nodeId, TrustLevel to, DateTimeOffset now, CancellationToken cancellationToken)
        => ChangeTrustAsync(nodeId, current => TrustTransitions.Transition(current, nodeId, to, now), next => next?.Level, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<int> AddScoreAsync(Bytes nodeId, int delta, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var score = 0;
        await ChangeTrustAsync(nodeId, current =>
        {
            var next = TrustTransitions.AddScore(current, nodeId, delta, now);
            score = next.Score;
            return next;
        }, next => next?.Level, cancellationToken).ConfigureAwait(false);
        return score;
    }

    /// <summary>An operator's reset: forgets the level and score of <paramref name="nodeId"/> (the only way out of <see cref="TrustLevel.Blacklisted"/>); its pin is kept.</summary>
    public async ValueTask ResetAsync(Bytes nodeId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"DELETE FROM {_schema}.trust WHERE node_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = nodeId.ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An operator's genesis bootstrap: makes <paramref name="nodeId"/> <see cref="TrustLevel.System"/>, keeping its score.</summary>
    public async ValueTask BootstrapSystemAsync(Bytes nodeId, DateTimeOffset now, CancellationToken cancellationToken)
        => await ChangeTrustAsync(nodeId, current => TrustTransitions.BootstrapSystem(current, nodeId, now), next => next?.Level, cancellationToken).ConfigureAwait(false);

    /// <summary>A read-modify-write of one node's trust, under an advisory lock on the node; no write when nothing changes.</summary>
    private async ValueTask<TrustLevel> ChangeTrustAsync(Bytes nodeId, Func<TrustRecord?, TrustRecord?> change, Func<TrustRecord?, TrustLevel?> levelOf, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var seen = await ReadTrustAsync(connection, null, nodeId, cancellationToken).ConfigureAwait(false);
        var guess = change(seen);
        if (guess is null || ReferenceEquals(guess, seen)) return levelOf(guess) ?? seen?.Level ?? TrustLevel.Unknown;

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockAsync(connection, transaction, "trust", Convert.ToHexString(nodeId.Span), cancellationToken).ConfigureAwait(false);
        var current = await ReadTrustAsync(connection, transaction, nodeId, cancellationToken).ConfigureAwait(false);
        var next = change(current);
        if (next is null) return current?.Level ?? TrustLevel.Unknown;
        if (!ReferenceEquals(next, current))
        {
            await using var upsert = new NpgsqlCommand($"""
                INSERT INTO {_schema}.trust (node_id, level, score, updated_at) VALUES ($1, $2, $3, $4)
                ON CONFLICT (node_id) DO UPDATE SET level = excluded.level, score = excluded.score, updated_at = excluded.updated_at
                """, connection, transaction);
            upsert.Parameters.Add(new NpgsqlParameter { Value = nodeId.ToArray() });
            upsert.Parameters.Add(new NpgsqlParameter { Value = (int)next.Level });
            upsert.Parameters.Add(new NpgsqlParameter { Value = next.Score });
            upsert.Parameters.Add(new NpgsqlParameter { Value = next.UpdatedAt.UtcTicks });
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return next.Level;
    }

    private async ValueTask<TrustRecord?> ReadTrustAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Bytes nodeId, CancellationToken cancellationToken)
    {
        await using var select = new NpgsqlCommand($"SELECT level, score, updated_at FROM {_schema}.trust WHERE node_id = $1", connection, transaction);
        select.Parameters.Add(new NpgsqlParameter { Value = nodeId.ToArray() });
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) return null;
        return new TrustRecord(nodeId, (TrustLevel)reader.GetInt32(0), reader.GetInt32(1), new DateTimeOffset(reader.GetInt64(2), TimeSpan.Zero));
    }

    // ---- Replay cache --------------------------------------------------------------------------------------------

    /// <inheritdoc />
    /// <remarks>One statement, atomic across servers: a new key is inserted, an expired one takes its new expiry, a live one is left (false). Expired keys are deleted at most every 30 s.</remarks>
    public async ValueTask<bool> TryAddAsync(Bytes key, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        if (now.UtcTicks >= Interlocked.Read(ref _nextPruneTicks))
        {
            Interlocked.Exchange(ref _nextPruneTicks, (now + TimeSpan.FromSeconds(30)).UtcTicks);
            await using var prune = _dataSource.CreateCommand($"DELETE FROM {_schema}.replay WHERE expires_at <= $1");
            prune.Parameters.Add(new NpgsqlParameter { Value = now.UtcTicks });
            await prune.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using var insert = _dataSource.CreateCommand($"""
            INSERT INTO {_schema}.replay (key, expires_at) VALUES ($1, $2)
            ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE {_schema}.replay.expires_at <= $3
            """);
        insert.Parameters.Add(new NpgsqlParameter { Value = key.ToArray() });
        insert.Parameters.Add(new NpgsqlParameter { Value = expiresAt.UtcTicks });
        insert.Parameters.Add(new NpgsqlParameter { Value = now.UtcTicks });
        return await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    // ---- Block list ----------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask<bool> IsBlockedAsync(string address, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        await using var select = _dataSource.CreateCommand($"SELECT until FROM {_schema}.blocks WHERE address = $1");
        select.Parameters.Add(new NpgsqlParameter { Value = address });
        return await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long until && until > now.UtcTicks;
    }

    /// <inheritdoc />
    public async ValueTask<bool> RecordFailureAsync(string address, DateTimeOffset now, int maxFailures, TimeSpan within, TimeSpan blockFor, CancellationToken cancellationToken)
    {
        AddressBlockListArguments.Check(address, maxFailures, within, blockFor);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockAsync(connection, transaction, "address", address, cancellationToken).ConfigureAwait(false);
        await using (var blocked = new NpgsqlCommand($"SELECT until FROM {_schema}.blocks WHERE address = $1", connection, transaction))
        {
            blocked.Parameters.Add(new NpgsqlParameter { Value = address });
            if (await blocked.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long until && until > now.UtcTicks) return true;
        }
        long failures;
        await using (var record = new NpgsqlBatch(connection, transaction))
        {
            record.BatchCommands.Add(Batched($"DELETE FROM {_schema}.failures WHERE address = $1 AND at < $2", address, (now - within).UtcTicks));
            record.BatchCommands.Add(Batched($"INSERT INTO {_schema}.failures (address, at) VALUES ($1, $2)", address, now.UtcTicks));
            record.BatchCommands.Add(Batched($"SELECT count(*) FROM {_schema}.failures WHERE address = $1", address));
            failures = (long)(await record.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        var nowBlocked = failures >= maxFailures;
        if (nowBlocked)
        {
            await using var block = new NpgsqlBatch(connection, transaction);
            block.BatchCommands.Add(Batched($"DELETE FROM {_schema}.failures WHERE address = $1", address));
            block.BatchCommands.Add(Batched($"INSERT INTO {_schema}.blocks (address, until) VALUES ($1, $2) ON CONFLICT (address) DO UPDATE SET until = excluded.until",
                address, (now + blockFor).UtcTicks));
            await block.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return nowBlocked;
    }

    // ---- Threads -------------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask<bool> ContainsAsync(Guid threadId, string clientId, CancellationToken cancellationToken)
    {
        await using var select = _dataSource.CreateCommand($"SELECT 1 FROM {_schema}.threads WHERE thread_id = $1 AND client_id = $2");
        select.Parameters.Add(new NpgsqlParameter { Value = threadId });
        select.Parameters.Add(new NpgsqlParameter { Value = clientId });
        return await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <inheritdoc />
    public async ValueTask OpenAsync(Guid threadId, string clientId, Guid sessionId, CancellationToken cancellationToken)
    {
        await using var insert = _dataSource.CreateCommand($"INSERT INTO {_schema}.threads (thread_id, client_id, session_id, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (thread_id) DO UPDATE SET client_id = excluded.client_id, session_id = excluded.session_id, updated_at = excluded.updated_at");
        insert.Parameters.Add(new NpgsqlParameter { Value = threadId });
        insert.Parameters.Add(new NpgsqlParameter { Value = clientId });
        insert.Parameters.Add(new NpgsqlParameter { Value = sessionId });
        insert.Parameters.Add(new NpgsqlParameter { Value = DateTimeOffset.UtcNow.UtcTicks });
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask TouchAsync(Guid threadId, Guid sessionId, CancellationToken cancellationToken)
    {
        await using var update = _dataSource.CreateCommand($"UPDATE {_schema}.threads SET session_id = $2, updated_at = $3 WHERE thread_id = $1");
        update.Parameters.Add(new NpgsqlParameter { Value = threadId });
        update.Parameters.Add(new NpgsqlParameter { Value = sessionId });
        update.Parameters.Add(new NpgsqlParameter { Value = DateTimeOffset.UtcNow.UtcTicks });
        await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A value store (the spec's <c>value_store</c>) named <paramref name="name"/> in this schema: values of
    /// <typeparamref name="TValue"/> (int, bool, uuid, timestamp or bytes) by string key, shared by the fleet.
    /// </summary>
    /// <exception cref="NotSupportedException"><typeparamref name="TValue"/> is not one of those types.</exception>
    public IValueStore<TValue> Values<TValue>(string name) where TValue : struct
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        StoredValue<TValue>.Check();
        return new PostgreSqlValueStore<TValue>(this, name);
    }

    private sealed class PostgreSqlValueStore<TValue>(PostgreSqlHandshakeStore owner, string name) : IValueStore<TValue> where TValue : struct
    {
        public async ValueTask<TValue?> GetAsync(string key, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(key);
            await using var select = owner._dataSource.CreateCommand($"SELECT value FROM {owner._schema}.vals WHERE store = $1 AND key = $2");
            select.Parameters.Add(new NpgsqlParameter { Value = name });
            select.Parameters.Add(new NpgsqlParameter { Value = key });
            return await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is byte[] stored ? StoredValue<TValue>.FromBytes(stored) : null;
        }

        public async ValueTask SetAsync(string key, TValue value, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(key);
            await using var upsert = owner._dataSource.CreateCommand(
                $"INSERT INTO {owner._schema}.vals (store, key, value) VALUES ($1, $2, $3) ON CONFLICT (store, key) DO UPDATE SET value = excluded.value");
            upsert.Parameters.Add(new NpgsqlParameter { Value = name });
            upsert.Parameters.Add(new NpgsqlParameter { Value = key });
            upsert.Parameters.Add(new NpgsqlParameter { Value = StoredValue<TValue>.ToBytes(value) });
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask RemoveAsync(string key, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(key);
            await using var delete = owner._dataSource.CreateCommand($"DELETE FROM {owner._schema}.vals WHERE store = $1 AND key = $2");
            delete.Parameters.Add(new NpgsqlParameter { Value = name });
            delete.Parameters.Add(new NpgsqlParameter { Value = key });
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Closes the connection pool, if the store opened it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsDataSource) await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    private static NpgsqlBatchCommand Batched(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        return command;
    }

    private async ValueTask LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string kind, string key, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = _schema + " " + kind + " " + key });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
