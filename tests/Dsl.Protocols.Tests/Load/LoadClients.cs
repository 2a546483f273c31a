using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using Dsl.Tests.Shared;

namespace Dsl.Protocols.Tests.Load;

/// <summary>
/// The clients of a suspended-handshake load test, in a process of their own (<c>tests/Dsl.LoadClients</c>): the test's
/// process then holds only the server's end of each connection, so it may hold twice as many under its descriptor
/// limit, and what it measures is the server's memory alone. Disposing closes every connection and ends the process.
/// </summary>
internal sealed class LoadClients : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string? _frames;

    private LoadClients(Process process, string? frames)
    {
        _process = process;
        _frames = frames;
    }

    /// <summary>
    /// One client per frame (a 4-byte length and a body), client k from the k-th loopback address after
    /// <paramref name="firstAddress"/>: each sends its frame, reads the whole length-prefixed answer and falls silent.
    /// Returns once every client has its answer.
    /// </summary>
    public static Task<LoadClients> TcpAsync(int port, ReadOnlySpan<byte[]> frames, int firstAddress)
    {
        var file = Path.GetTempFileName();
        using (var writer = new BinaryWriter(File.Create(file)))
        {
            writer.Write(frames.Length);
            foreach (var frame in frames)
            {
                writer.Write(frame.Length);
                writer.Write(frame);
            }
        }
        return StartAsync(new[] { "tcp", port.ToString(System.Globalization.CultureInfo.InvariantCulture), file, firstAddress.ToString(System.Globalization.CultureInfo.InvariantCulture) }, frames.Length, file);
    }

    /// <summary><paramref name="count"/> clients that upgrade to a WebSocket at <paramref name="path"/> and say nothing.</summary>
    public static Task<LoadClients> WebSocketAsync(int port, string path, int count, int firstAddress)
        => StartAsync(new[] { "ws", port.ToString(System.Globalization.CultureInfo.InvariantCulture), path, count.ToString(System.Globalization.CultureInfo.InvariantCulture), firstAddress.ToString(System.Globalization.CultureInfo.InvariantCulture) }, count, null);

    private static async Task<LoadClients> StartAsync(string[] arguments, int count, string? frames)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add(HelperPrograms.PathOf("Dsl.LoadClients"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        var clients = new LoadClients(process, frames);
        string? line;
        try
        {
            line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(2));
        }
        catch (TimeoutException)
        {
            line = "(no answer in 2 minutes)";
        }
        if (line == $"ready {count}") return clients;
        await clients.DisposeAsync();
        throw new InvalidOperationException($"The load clients did not all connect: {line}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
            if (_frames is not null) File.Delete(_frames);
        }
    }
}
