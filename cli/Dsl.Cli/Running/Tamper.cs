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
/// A peer that misbehaves this little reaches the checks a spec makes on what it receives; one that also signs the
/// message again with its own key (<see cref="Resign"/>, <see cref="Resigner"/>) reaches those behind a signature.
/// </summary>
internal sealed record Tamper(string From, int Index, string Member, string Value)
{
    /// <summary>Whether the sender signs the changed message again with its own key.</summary>
    public bool Resign { get; init; }

    /// <summary>A tamper that sends, in place of the message, one sent before (a replay), given as its bytes.</summary>
    public static Tamper Replace(string from, int index, byte[] earlier)
        => new(from, index, "", JsonValue.Create(Convert.ToHexString(earlier).ToLowerInvariant()).ToJsonString());

    /// <summary>Whether the whole message is replaced (<see cref="Replace"/>) rather than one member changed.</summary>
    public bool Replaces => Member.Length == 0;

    /// <summary>The message with the member changed, the rest as it was (members, order, spellings); or the message that replaces it.</summary>
    public byte[] Apply(byte[] message)
    {
        if (Replaces) return Convert.FromHexString(JsonNode.Parse(Value)!.GetValue<string>());
        if (JsonNode.Parse(message) is not JsonObject root) return message;
        var parts = Member.Split('.');
        JsonObject? owner = root;
        foreach (var part in parts[..^1]) owner = owner?[part] as JsonObject;
        if (owner is null || !owner.ContainsKey(parts[^1])) return message;
        owner[parts[^1]] = JsonNode.Parse(Value);
        return System.Text.Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>
    /// For each member (objects followed two levels down) of a message, changed values, as JSON: text with one
    /// character changed or added (hex also all zeros), and where it is one of an enum's values (<paramref name="enums"/>), each other value;
    /// a flag flipped; a number one more, and a time a day later and a day earlier.
    /// </summary>
    public static IEnumerable<(string Member, string Value)> Changes(byte[] message, IReadOnlyList<IReadOnlyList<string>> enums)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(message); }
        catch (System.Text.Json.JsonException) { yield break; }
        foreach (var change in Changes(root as JsonObject, "", 0, enums)) yield return change;
    }

    private static IEnumerable<(string Member, string Value)> Changes(JsonObject? obj, string prefix, int depth, IReadOnlyList<IReadOnlyList<string>> enums)
    {
        if (obj is null) yield break;
        foreach (var (name, node) in obj.ToList())
        {
            var path = prefix + name;
            switch (node)
            {
                case JsonObject inner when depth < 2:
                    foreach (var change in Changes(inner, path + ".", depth + 1, enums)) yield return change;
                    break;
                case JsonValue value when value.TryGetValue<string>(out var text):
                    // Hex, UUIDs and ids: one digit changed; other text: one character more.
                    var changed = text.Length > 0 && Uri.IsHexDigit(text[0]) ? (text[0] == '0' ? "1" : "0") + text[1..] : text + "x";
                    yield return (path, JsonValue.Create(changed).ToJsonString());
                    // Bytes in hex: also all zeros (a low-order X25519 point, an empty hash).
                    if (text.Length >= 32 && text.Length % 2 == 0 && text.All(Uri.IsHexDigit) && text.Any(c => c != '0'))
                        yield return (path, JsonValue.Create(new string('0', text.Length)).ToJsonString());
                    foreach (var values in enums.Where(e => e.Contains(text)))
                        foreach (var other in values.Where(v => v != text))
                            yield return (path, JsonValue.Create(other).ToJsonString());
                    break;
                case JsonValue value when value.TryGetValue<bool>(out var flag):
                    yield return (path, flag ? "false" : "true");
                    break;
                case JsonValue value when value.TryGetValue<long>(out var number):
                    yield return (path, (number == long.MaxValue ? number - 1 : number + 1).ToString(CultureInfo.InvariantCulture));
                    // A number that reads as a Unix time (2001 to 2100) in seconds or milliseconds: also a day later and a day
                    // earlier, past any clock skew a spec allows (expired, or not yet valid).
                    var day = number is > 1_000_000_000 and < 4_102_444_800 ? 86_400L : number is > 1_000_000_000_000 and < 4_102_444_800_000 ? 86_400_000L : 0;
                    if (day > 0)
                    {
                        yield return (path, (number + day).ToString(CultureInfo.InvariantCulture));
                        yield return (path, (number - day).ToString(CultureInfo.InvariantCulture));
                    }
                    break;
            }
        }
    }
}

/// <summary>A transport that applies a <see cref="Tamper"/> to the message it is for, as it goes out, and signs it again when the tamper says so.</summary>
internal sealed class TamperingTransport(IMessageTransport inner, Tamper tamper, Resigner? resigner = null) : IMessageTransport
{
    private int _sent;

    public int MaxMessageSize => inner.MaxMessageSize;

    public string? RemoteAddress => inner.RemoteAddress;

    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
        => Interlocked.Increment(ref _sent) - 1 == tamper.Index ? inner.SendAsync(Changed(message.ToArray()), cancellationToken) : inner.SendAsync(message, cancellationToken);

    private byte[] Changed(byte[] message)
    {
        var changed = tamper.Apply(message);
        return resigner is null ? changed : resigner.Resign(tamper.From, changed);
    }

    public ValueTask<bool> ReceiveAsync(IBufferWriter<byte> destination, CancellationToken cancellationToken = default) => inner.ReceiveAsync(destination, cancellationToken);

    public ValueTask CloseAsync(CancellationToken cancellationToken = default) => inner.CloseAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
