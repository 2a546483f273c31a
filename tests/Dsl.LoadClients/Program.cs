using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

// Opens many connections to one server, each from a loopback address of its own, brings each to where a suspended
// handshake waits, prints "ready N" and holds them all until its standard input closes; then closes them and exits.
//
//   Dsl.LoadClients tcp <port> <frames file> <first address>   send each frame (a 4-byte length and a body, one per
//                                                              client, read from the file as a length and the frame),
//                                                              read the whole length-prefixed answer, fall silent
//   Dsl.LoadClients ws <port> <path> <count> <first address>   upgrade to a WebSocket at <path>, say nothing
//
// Client k connects from 127.a.b.c, the k-th address from <first address> on (the addresses the tests use).
try
{
    var port = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
    var server = new IPEndPoint(IPAddress.Loopback, port);
    Socket[] clients;
    if (args[0] == "tcp")
    {
        var frames = ReadFrames(args[2]);
        var first = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
        clients = await OpenAsync(frames.Length, first, server, (client, k, buffer) => SendAndReadAnswerAsync(client, frames[k], buffer));
    }
    else if (args[0] == "ws")
    {
        var request = Encoding.ASCII.GetBytes($"GET {args[2]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        var count = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
        var first = int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture);
        clients = await OpenAsync(count, first, server, (client, _, buffer) => UpgradeAsync(client, request, buffer));
    }
    else throw new ArgumentException($"Unknown mode '{args[0]}': tcp or ws.");

    Console.WriteLine($"ready {clients.Length}");
    Console.Out.Flush();
    while (Console.In.ReadLine() is not null)
    {
        // Anything but the end of input is ignored.
    }
    foreach (var client in clients) client.Dispose();
    return 0;
}
catch (Exception exception)
{
    Console.WriteLine("error " + exception.Message.ReplaceLineEndings(" "));
    return 1;
}

static byte[][] ReadFrames(string path)
{
    using var reader = new BinaryReader(File.OpenRead(path));
    var frames = new byte[reader.ReadInt32()][];
    for (var i = 0; i < frames.Length; i++) frames[i] = reader.ReadBytes(reader.ReadInt32());
    return frames;
}

// Each client from an address of its own, on 32 workers, each with a buffer of its own.
static async Task<Socket[]> OpenAsync(int count, int first, IPEndPoint server, Func<Socket, int, byte[], Task> bring)
{
    var clients = new Socket[count];
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
    {
        var buffer = new byte[4096];
        for (var k = Interlocked.Increment(ref next); k < count; k = Interlocked.Increment(ref next))
        {
            var a = first + k;
            var client = clients[k] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            client.Bind(new IPEndPoint(new IPAddress(new byte[] { 127, (byte)(1 + a / 65025), (byte)(1 + a / 255 % 255), (byte)(1 + a % 255) }), 0));
            await client.ConnectAsync(server);
            await bring(client, k, buffer);
        }
    })));
    return clients;
}

static async Task SendAndReadAnswerAsync(Socket client, byte[] frame, byte[] buffer)
{
    // The receive waits before the send, so that each client's socket is in the same state.
    var answer = client.ReceiveAsync(buffer, SocketFlags.None);
    await client.SendAsync(frame, SocketFlags.None);
    var read = 0;
    for (var got = await answer; ; got = await client.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None))
    {
        if (got == 0) throw new InvalidOperationException("The server closed a connection instead of answering");
        read += got;
        if (read >= 4 && read >= 4 + (buffer[0] << 24 | buffer[1] << 16 | buffer[2] << 8 | buffer[3])) return;
    }
}

static async Task UpgradeAsync(Socket client, byte[] request, byte[] buffer)
{
    await client.SendAsync(request, SocketFlags.None);
    var read = 0;
    while (true)
    {
        var got = await client.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None);
        if (got == 0) throw new InvalidOperationException("The server closed a connection instead of upgrading it");
        read += got;
        var head = Encoding.ASCII.GetString(buffer, 0, read);
        if (!head.Contains("\r\n\r\n", StringComparison.Ordinal)) continue;
        if (!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal)) throw new InvalidOperationException("The server did not upgrade: " + head.Split('\r')[0]);
        return;
    }
}
