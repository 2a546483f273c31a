using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Services;
using Dsl.Tests.Shared;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Dsl.Runtime.Tests.Services;

/// <summary>
/// What the SQLite store guarantees after a crash: a writer process killed at any moment (here, mid-stream, many times
/// over) leaves a file that is consistent when next opened and holds every change the writer acknowledged.
/// </summary>
public sealed class SqliteCrashTests
{
    private static Bytes Id(int i)
    {
        var bytes = new byte[32];
        BinaryPrimitives.WriteInt32BigEndian(bytes, i);
        return new Bytes(bytes);
    }

    [Theory]
    [InlineData(50)]
    [InlineData(400)]
    [InlineData(1500)]
    public async Task A_writer_killed_mid_stream_leaves_a_whole_store_with_every_acknowledged_change(int killAfter)
    {
        var path = Path.Combine(Path.GetTempPath(), "dsl-crash-" + Guid.NewGuid().ToString("N") + ".db");
        try
        {
            var start = new ProcessStartInfo("dotnet", new[] { HelperPrograms.PathOf("Dsl.StoreCrashWriter"), path }) { RedirectStandardOutput = true, UseShellExecute = false };
            var acked = -1;
            using (var writer = Process.Start(start)!)
            {
                while (await writer.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
                {
                    acked = int.Parse(line.AsSpan("acked ".Length), System.Globalization.CultureInfo.InvariantCulture);
                    if (acked >= killAfter) break;
                }
                // Killed while it writes on: the kill lands in the middle of some transaction or between two.
                writer.Kill(entireProcessTree: true);
                await writer.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            Assert.True(acked >= killAfter, $"the writer acknowledged {acked} changes");

            using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                connection.Open();
                using var check = connection.CreateCommand();
                check.CommandText = "PRAGMA integrity_check;";
                Assert.Equal("ok", (string)check.ExecuteScalar()!);
            }
            using var store = SqliteHandshakeStore.Open(path);
            var now = DateTimeOffset.UtcNow;
            for (var i = 0; i <= acked; i++)
            {
                Assert.False(await store.TryAddAsync(Id(i), now, now.AddDays(1), default), $"replay key {i} of {acked} acknowledged is there");
                Assert.Equal(Id(i + 1_000_000), await store.GetPinAsync(Id(i), default));
                Assert.Equal(TrustLevel.Authenticated, await store.GetAsync(Id(i), default));
            }
        }
        finally
        {
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
                try { File.Delete(file); } catch (IOException) { }
        }
    }
}
