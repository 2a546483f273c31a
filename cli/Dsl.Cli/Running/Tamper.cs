using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Transports;

namespace Dsl.Cli.Running;

/// <summary>
/// One member of one message changed on the way: the <paramref name="Index"/>-th message <paramref name="From"/> sends
/// (from 0) has its member at <paramref name="Member"/> (a dotted path) set to <paramref name="Value"/> (JSON).
/// A peer that misbehaves this little reaches the checks a spec makes on what it receives.
/// </summary>
internal sealed record Tamper(string From, int Index, string Member, string Value)
{
    /// <summary>The message with the member changed; the rest as it was (members, order, spellings).</summary>
    public byte[] Apply(byte[] message)
    {
        if (JsonNode.Parse(message) is not JsonObject root) return message;
        var parts = Member.Split('.');
        JsonObject? owner = root;
        foreach (var part in parts[..^1]) owner = owner?[part] as JsonObject;
        if (owner is null || !owner.ContainsKey(parts[^1])) return message;
        owner[parts[^1]] = JsonNode.Parse(Value);
        return System.Text.Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>For each member (objects followed two levels down) of a message, a changed value, as JSON.</summary>
    public static IEnumerable<(string Member, string Value)> Changes(byte[] message)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(message); }
        catch (System.Text.Json.JsonException) { yield break; }
        foreach (var change in Changes(root as JsonObject, "", 0)) yield return change;
    }

    private static IEnumerable<(string Member, string Value)> Changes(JsonObject? obj, string prefix, int depth)
    {
        if (obj is null) yield break;
        foreach (var (name, node) in obj.ToList())
        {
            var path = prefix + name;
            switch (node)
            {
                case JsonObject inner when depth < 2:
                    foreach (var change in Changes(inner, path + ".", depth + 1)) yield return change;
                    break;
                case JsonValue value when value.TryGetValue<string>(out var text):
                    // Hex, UUIDs and ids: one digit changed; other text: one character more.
                    var changed = text.Length > 0 && Uri.IsHexDigit(text[0]) ? (text[0] == '0' ? "1" : "0") + text[1..] : text + "x";
                    yield return (path, JsonValue.Create(changed).ToJsonString());
                    break;
                case JsonValue value when value.TryGetValue<bool>(out var flag):
                    yield return (path, flag ? "false" : "true");
                    break;
                case JsonValue value when value.TryGetValue<long>(out var number):
                    yield return (path, (number == long.MaxValue ? number - 1 : number + 1).ToString(CultureInfo.InvariantCulture));
                    break;
            }
        }
    }
}

/// <summary>A transport that applies a <see cref="Tamper"/> to the message it is for, as it goes out.</summary>
internal sealed class TamperingTransport(IMessageTransport inner, Tamper tamper) : IMessageTransport
{
    private int _sent;

    public int MaxMessageSize => inner.MaxMessageSize;

    public string? RemoteAddress => inner.RemoteAddress;

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
        => Interlocked.Increment(ref _sent) - 1 == tamper.Index ? inner.SendAsync(tamper.Apply(message.ToArray()), cancellationToken) : inner.SendAsync(message, cancellationToken);

    public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default) => inner.ReceiveAsync(destination, cancellationToken);

    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
