using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace Dsl.Tests.Shared;

/// <summary>
/// A throwaway PostgreSQL cluster for the tests and the benchmarks: made with Debian's <c>initdb</c> in a temporary
/// folder, started with <c>pg_ctl</c> on a free loopback port, stopped and deleted when the process ends. One per
/// process, made on first use. Without PostgreSQL it fails, saying how to install it (<c>.ci/run</c> does); ask
/// <see cref="IsInstalled"/> first to do without it.
/// </summary>
public static class PostgreSqlCluster
{
    private static readonly Lazy<string> s_connectionString = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>A connection string to the cluster's <c>postgres</c> database as the superuser <c>dsl</c>.</summary>
    public static string ConnectionString => s_connectionString.Value;

    /// <summary>Whether PostgreSQL is installed here (a <c>/usr/lib/postgresql/*/bin/initdb</c>), so that a cluster can be made.</summary>
    public static bool IsInstalled => FindBin() is not null;

    /// <summary>The <c>bin</c> folder of the newest PostgreSQL installed, or <see langword="null"/>.</summary>
    private static string? FindBin()
        => Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;

    private static string Start()
    {
        var bin = FindBin();
        if (bin is null)
            throw new InvalidOperationException("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb). Install it with 'apt-get install -y postgresql' (.ci/run does).");
        var folder = Path.Combine(Path.GetTempPath(), "dsl-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        // initdb refuses to run as root: the cluster then belongs to the postgres user.
        var asPostgres = Environment.UserName == "root";
        if (asPostgres) Run("chown", $"postgres {folder}");
        var port = FreePort();
        Run(bin, "initdb", $"-D {folder}/data -A trust -U dsl --no-sync", asPostgres);
        Run(bin, "pg_ctl", $"-D {folder}/data -l {folder}/log -w -o \"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off\" start", asPostgres);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Run(bin, "pg_ctl", $"-D {folder}/data -m immediate stop", asPostgres);
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception)
            {
                // A temporary folder left behind is all that can go wrong here.
            }
        };
        return $"Host=127.0.0.1;Port={port};Username=dsl;Database=postgres;Pooling=true;Maximum Pool Size=50";
    }

    private static void Run(string bin, string tool, string arguments, bool asPostgres)
        => Run(asPostgres ? "runuser" : Path.Combine(bin, tool), asPostgres ? $"-u postgres -- {Path.Combine(bin, tool)} {arguments}" : arguments);

    private static void Run(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000)) throw new TimeoutException($"{file} {arguments} did not finish");
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {output.Result}{error.Result}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
