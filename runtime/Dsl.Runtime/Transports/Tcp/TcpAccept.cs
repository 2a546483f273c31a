using System;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Services;

namespace Dsl.Runtime.Transports.Tcp;

/// <summary>What every TCP server here does before a connection is its own: bind, accept, refuse blocked addresses, reset.</summary>
internal static class TcpAccept
{
    private const int Backlog = 512;

    /// <summary>A socket bound to <paramref name="address"/> and listening (IPv6's any address takes IPv4 too).</summary>
    public static Socket Listen(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(Backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Accepts until <paramref name="stopping"/> is cancelled or the socket closes, resets connections from addresses
    /// <paramref name="blockList"/> refuses (telling <paramref name="refused"/>), and hands the rest to
    /// <paramref name="admit"/> with the peer's address. Never throws.
    /// </summary>
    public static async Task LoopAsync(Socket listenSocket, IAddressBlockList? blockList, TimeProvider time, Action<Exception> report,
        Action refused, Action<Socket, IPAddress> admit, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listenSocket.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                // Stopped gracefully: the listening socket is closed.
                return;
            }
            catch (SocketException exception) when (exception.SocketErrorCode == SocketError.OperationAborted)
            {
                return;
            }
            catch (SocketException exception)
            {
                // A connection reset while waiting in the backlog, or out of descriptors: the server goes on.
                report(exception);
                continue;
            }
            IPAddress address;
            try
            {
                socket.NoDelay = true;
                address = PeerAddress.Normalize(((IPEndPoint)socket.RemoteEndPoint!).Address);
            }
            catch (Exception)
            {
                // The peer reset before we looked at it.
                Reset(socket);
                continue;
            }
            if (blockList is { } blocked)
            {
                bool isBlocked;
                try
                {
                    isBlocked = await blocked.IsBlockedAsync(address.ToString(), time.GetUtcNow(), stopping).ConfigureAwait(false);
                }
                catch (Exception exception) when (!stopping.IsCancellationRequested)
                {
                    // A store that fails refuses no one: the handshake's own checks still run.
                    report(exception);
                    isBlocked = false;
                }
                catch (Exception)
                {
                    Reset(socket);
                    return;
                }
                if (isBlocked)
                {
                    refused();
                    Reset(socket);
                    continue;
                }
            }
            admit(socket, address);
        }
    }

    /// <summary>Whether bytes wait to be read on <paramref name="socket"/> (a first byte that arrived but was not yet seen); false once it is gone.</summary>
    public static bool HasData(Socket socket)
    {
        try
        {
            return socket.Available > 0;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>Closes the socket with a TCP reset; never throws.</summary>
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(enable: true, seconds: 0);
        }
        catch (Exception)
        {
            // Already gone; closing is all that is left.
        }
        socket.Dispose();
    }
}
