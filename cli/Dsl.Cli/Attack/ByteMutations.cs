using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace Dsl.Cli.Attack;

/// <summary>
/// Changes to a message's bytes that know nothing of the spec: bit and byte flips, truncation at each length, trailing
/// bytes, unknown, duplicated and retyped members, invalid UTF-8 and UTF-16. Each comes with a name that is stable for
/// the same message (the case id).
/// </summary>
internal static class ByteMutations
{
    /// <summary>Every change of <paramref name="message"/>, in a fixed order, as (name, bytes).</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> All(byte[] message)
    {
        for (var bit = 0; bit < message.Length * 8; bit++)
        {
            var flipped = (byte[])message.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            yield return ($"bit-flip/{bit}", flipped);
        }
        for (var i = 0; i < message.Length; i++)
        {
            var flipped = (byte[])message.Clone();
            flipped[i] ^= 0xFF;
            yield return ($"byte-flip/{i}", flipped);
        }
        // Each byte replaced by each character that means something to JSON (a quote, an escape, a bracket, a digit).
        for (var i = 0; i < message.Length; i++)
            foreach (var value in Significant)
            {
                if (message[i] == value) continue;
                var replaced = (byte[])message.Clone();
                replaced[i] = value;
                yield return ($"byte-set/{i}/{value:x2}", replaced);
            }
        for (var length = 0; length < message.Length; length++)
            yield return ($"truncate/{length}", message[..length]);
        foreach (var (name, tail) in Trailers) yield return ($"trailing/{name}", [.. message, .. tail]);
        yield return ("trailing/itself", [.. message, .. message]);
        foreach (var change in Structural(message)) yield return change;
        foreach (var change in InvalidText(message)) yield return change;
    }

    private static readonly byte[] Significant = "\"\\{}[],:0 "u8.ToArray();

    private static readonly (string, byte[])[] Trailers =
    {
        ("space", " "u8.ToArray()), ("letter", "x"u8.ToArray()), ("object", "{}"u8.ToArray()), ("nul", [0]), ("brace", "}"u8.ToArray()),
    };

    /// <summary>The message without each of its members, one at a time (objects followed three levels down).</summary>
    public static IEnumerable<(string Member, byte[] Bytes)> Removals(byte[] message)
        => Members(message).Select(m => (m.Path, Remove(message, m)));

    /// <summary>A member of a JSON message: its path, where its object starts, and where the member itself starts and ends.</summary>
    private sealed record Member(string Path, string Name, int ObjectStart, int Start, int End, JsonTokenType Kind);

    /// <summary>The members of the message's objects, three levels down; none when it is not JSON.</summary>
    private static List<Member> Members(byte[] message)
    {
        var members = new List<Member>();
        try
        {
            var reader = new Utf8JsonReader(message);
            // Each open object: its path, where it starts, and the member that holds it (-1 for the root).
            var objects = new Stack<(string Path, int Start, int Holder)>();
            string? pending = null;
            var pendingStart = 0;
            while (reader.Read())
            {
                var path = pending is null || objects.Count == 0 ? "" : objects.Peek().Path.Length == 0 ? pending : objects.Peek().Path + "." + pending;
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        pending = reader.GetString();
                        pendingStart = (int)reader.TokenStartIndex;
                        continue;
                    case JsonTokenType.StartObject:
                        var holder = -1;
                        if (pending is not null && objects.Count is > 0 and < 3)
                        {
                            holder = members.Count;
                            members.Add(new Member(path, pending, objects.Peek().Start, pendingStart, -1, JsonTokenType.StartObject));
                        }
                        objects.Push((path, (int)reader.TokenStartIndex, holder));
                        break;
                    case JsonTokenType.EndObject:
                        var closed = objects.Pop();
                        if (closed.Holder >= 0) members[closed.Holder] = members[closed.Holder] with { End = (int)reader.BytesConsumed };
                        break;
                    case JsonTokenType.StartArray:
                        reader.Skip();
                        if (pending is not null && objects.Count is > 0 and <= 3)
                            members.Add(new Member(path, pending, objects.Peek().Start, pendingStart, (int)reader.BytesConsumed, JsonTokenType.StartArray));
                        break;
                    default:
                        if (pending is not null && objects.Count is > 0 and <= 3)
                            members.Add(new Member(path, pending, objects.Peek().Start, pendingStart, (int)reader.BytesConsumed, reader.TokenType));
                        break;
                }
                pending = null;
            }
        }
        catch (JsonException)
        {
            return new List<Member>();
        }
        return members.Where(m => m.End > 0).ToList();
    }

    /// <summary>An unknown member added to each object; each member duplicated (before and after itself, the copy's value changed); each member's value retyped.</summary>
    private static IEnumerable<(string Name, byte[] Bytes)> Structural(byte[] message)
    {
        var members = Members(message);
        foreach (var start in members.Select(m => m.ObjectStart).Distinct().OrderBy(s => s))
            yield return ($"unknown-member/{start}", Insert(message, start + 1, "\"zz_unknown\":1" + (IsEmptyObject(message, start) ? "" : ",")));
        foreach (var member in members)
        {
            var text = message.AsSpan(member.Start, member.End - member.Start).ToArray();
            var changed = Encoding.UTF8.GetBytes($"\"{member.Name}\":{Retyped(member.Kind).First()}");
            yield return ($"duplicate-before/{member.Path}", Insert(message, member.Start, Encoding.UTF8.GetString(changed) + ","));
            yield return ($"duplicate-after/{member.Path}", Insert(message, member.End, "," + Encoding.UTF8.GetString(changed)));
            yield return ($"duplicate-same/{member.Path}", Insert(message, member.End, "," + Encoding.UTF8.GetString(text)));
            foreach (var value in Retyped(member.Kind))
            {
                var replaced = Encoding.UTF8.GetBytes($"\"{member.Name}\":{value}");
                yield return ($"retype/{member.Path}/{value}", [.. message[..member.Start], .. replaced, .. message[member.End..]]);
            }
            yield return ($"remove/{member.Path}", Remove(message, member));
        }
    }

    /// <summary>Values of other JSON kinds than <paramref name="kind"/>.</summary>
    private static IEnumerable<string> Retyped(JsonTokenType kind)
    {
        if (kind != JsonTokenType.Null) yield return "null";
        if (kind != JsonTokenType.Number) yield return "12";
        if (kind != JsonTokenType.Number) yield return "1e400";
        if (kind != JsonTokenType.String) yield return "\"x\"";
        if (kind is not (JsonTokenType.True or JsonTokenType.False)) yield return "true";
        if (kind != JsonTokenType.StartArray) yield return "[]";
        if (kind != JsonTokenType.StartObject) yield return "{}";
        if (kind == JsonTokenType.Number) yield return "-0.5";
        if (kind == JsonTokenType.String) yield return "\"\"";
    }

    /// <summary>Invalid UTF-8 inside the first string values (a lone continuation byte, a truncated sequence, an overlong form, an encoded surrogate, 0xFF) and an unpaired UTF-16 surrogate escape.</summary>
    private static IEnumerable<(string Name, byte[] Bytes)> InvalidText(byte[] message)
    {
        var strings = Members(message).Where(m => m.Kind == JsonTokenType.String).Take(4).ToList();
        var bad = new (string, byte[])[] { ("continuation", [0x80]), ("truncated", [0xC3]), ("overlong", [0xC0, 0xAF]), ("surrogate", [0xED, 0xA0, 0x80]), ("ff", [0xFF]) };
        foreach (var member in strings)
        {
            // The value's opening quote: the first quote after the colon.
            var colon = Array.IndexOf(message, (byte)':', member.Start);
            var quote = Array.IndexOf(message, (byte)'"', colon);
            if (colon < 0 || quote < 0) continue;
            foreach (var (name, bytes) in bad) yield return ($"invalid-utf8/{member.Path}/{name}", [.. message[..(quote + 1)], .. bytes, .. message[(quote + 1)..]]);
            yield return ($"invalid-utf16/{member.Path}", Insert(message, quote + 1, "\\ud800"));
        }
        yield return ("invalid-utf8/first-byte", [0xFF, .. message]);
    }

    private static bool IsEmptyObject(byte[] message, int start)
    {
        for (var i = start + 1; i < message.Length; i++)
            if (message[i] is not ((byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')) return message[i] == (byte)'}';
        return false;
    }

    private static byte[] Insert(byte[] message, int at, string text) => [.. message[..at], .. Encoding.UTF8.GetBytes(text), .. message[at..]];

    /// <summary>The message without <paramref name="member"/> (and the comma that joined it).</summary>
    private static byte[] Remove(byte[] message, Member member)
    {
        var start = member.Start;
        var end = member.End;
        if (end < message.Length && message[end] == (byte)',') end++;
        else if (start > 0 && message[start - 1] == (byte)',') start--;
        return [.. message[..start], .. message[end..]];
    }
}
