using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;

namespace Dsl.Cli.Attack;

/// <summary>A clock that reads one instant until it is moved on: the victim's, when a message arrives late.</summary>
internal sealed class MovingClock(DateTimeOffset start) : TimeProvider
{
    private long _offsetTicks;

    public void MoveOn(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => start + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
}

/// <summary>
/// The attacker on the wire: each message its role's machine sends goes out as its <see cref="WirePlan"/> says, and
/// the one a late session names arrives after the victim's clock has moved on.
/// </summary>
internal sealed class AttackerTransport(IMessageTransport inner, WirePlan? plan, (int Index, TimeSpan By)? late = null, MovingClock? victimClock = null) : IMessageTransport
{
    private int _sent;
    private bool _closed;

    public int MaxMessageSize => inner.MaxMessageSize;

    public string? RemoteAddress => inner.RemoteAddress;

    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        if (_closed) return;
        if (late is { } delay && delay.Index == _sent) victimClock?.MoveOn(delay.By);
        var instead = plan is null ? [message.ToArray()] : plan.OnSend(_sent, message.ToArray());
        _sent++;
        if (instead is null)
        {
            // The attacker hangs up here: the victim sees the connection end.
            _closed = true;
            await inner.CloseAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        foreach (var bytes in instead) await inner.SendAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
        => _closed ? new ValueTask<bool>(false) : inner.ReceiveAsync(destination, cancellationToken);

    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);

    public ValueTask CloseAsync(CloseReason reason, CancellationToken cancellationToken = default) => inner.CloseAsync(reason, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>
/// A lossy network under one role's datagrams: the one of a given index (retransmissions counted) is lost, delivered
/// twice, or held back and delivered after the next (after 300 ms, when no next comes).
/// </summary>
internal sealed class FaultyDatagrams(IMessageTransport inner, int index, DatagramFault fault) : IMessageTransport
{
    private int _sent;
    private byte[]? _held;

    public int MaxMessageSize => inner.MaxMessageSize;

    public string? RemoteAddress => inner.RemoteAddress;

    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        var current = Interlocked.Increment(ref _sent) - 1;
        if (current == index)
        {
            switch (fault)
            {
                case DatagramFault.Drop:
                    return;
                case DatagramFault.Duplicate:
                    await inner.SendAsync(message, cancellationToken).ConfigureAwait(false);
                    break;
                case DatagramFault.Reorder:
                    _held = message.ToArray();
                    _ = ReleaseLaterAsync();
                    return;
            }
        }
        await inner.SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _held, null) is { } held) await inner.SendAsync(held, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReleaseLaterAsync()
    {
        await Task.Delay(300).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _held, null) is { } held)
        {
            try { await inner.SendAsync(held).ConfigureAwait(false); }
            catch (Exception ex) when (ex is ObjectDisposedException or TransportException or OperationCanceledException) { }
        }
    }

    public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default) => inner.ReceiveAsync(destination, cancellationToken);

    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);

    public ValueTask CloseAsync(CloseReason reason, CancellationToken cancellationToken = default) => inner.CloseAsync(reason, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>Tells whether a role let go of its transport: closed or disposed it.</summary>
internal sealed class WatchedTransport(IMessageTransport inner) : IMessageTransport
{
    public bool Released { get; private set; }

    public int MaxMessageSize => inner.MaxMessageSize;

    public string? RemoteAddress => inner.RemoteAddress;

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) => inner.SendAsync(message, cancellationToken);

    public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default) => inner.ReceiveAsync(destination, cancellationToken);

    public ValueTask CloseAsync(CancellationToken cancellationToken = default)
    {
        Released = true;
        return inner.CloseAsync(cancellationToken);
    }

    public ValueTask CloseAsync(CloseReason reason, CancellationToken cancellationToken = default)
    {
        Released = true;
        return inner.CloseAsync(reason, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        Released = true;
        return inner.DisposeAsync();
    }
}

/// <summary>
/// A role's store that remembers what was written to it. Writes to a store that counts against the connection (a
/// replay cache, an address block list: <c>ServiceKindDescriptor.CountsAgainstConnection</c>) are what a failed
/// handshake may leave; any other is durable state about the peer, which the verdict holds to the honest run's.
/// </summary>
public class StoreWatch : DispatchProxy
{
    private object _inner = null!;
    private Type _service = null!;
    private List<string> _writes = null!;
    private string _name = "";

    /// <summary>Methods that only read.</summary>
    private static readonly string[] Reads = { "Get", "Find", "Is", "Contains", "Matches", "Allows" };

    internal static object Create(Type service, object inner, string name, List<string> writes)
    {
        var proxy = (StoreWatch)DispatchProxy.Create(service, typeof(StoreWatch));
        proxy._inner = inner;
        proxy._service = service;
        proxy._writes = writes;
        proxy._name = name;
        return proxy;
    }

    /// <summary>Whether a write to <paramref name="service"/> is one a failed handshake may leave.</summary>
    internal static bool Defensive(Type service)
        => Dsl.Generator.Language.ServiceKinds.All.Any(k => k.CountsAgainstConnection && k.RuntimeInterface == "global::" + service.FullName);

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (!Reads.Any(r => targetMethod!.Name.StartsWith(r, StringComparison.Ordinal)) && !Defensive(_service))
        {
            // The call with its values (not the clock), so that a write an honest run makes too is told from one it does not.
            var values = (args ?? Array.Empty<object?>()).Where(a => a is not (CancellationToken or DateTimeOffset)).Select(a => a switch
            {
                Dsl.Runtime.Codecs.Bytes bytes => bytes.ToHex(),
                null => "null",
                _ => a.ToString(),
            });
            lock (_writes) _writes.Add($"{_name}.{targetMethod!.Name.Replace("Async", "")}({string.Join(", ", values)})");
        }
        try
        {
            return targetMethod!.Invoke(_inner, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }
    }
}
