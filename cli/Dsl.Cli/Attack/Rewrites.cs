using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using Dsl.Generator.Language;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;

namespace Dsl.Cli.Attack;

/// <summary>
/// A misbehaving sender's changes to what it computes, made before the machine signs, seals and keeps anything
/// (<see cref="HandshakeRewriter"/>): what follows, signatures, MACs, keys derived from the transcript, is computed over
/// the changed value with the sender's own keys.
/// </summary>
internal static class Rewrites
{
    /// <summary>The rewriter a machine's options take: it applies <paramref name="rewrite"/> to the message or let it names, once.</summary>
    public static HandshakeRewriter Apply(Rewrite rewrite) => new Applying(rewrite);

    /// <summary>A rewriter that changes nothing and keeps every message and let value the machine computed, in order.</summary>
    public static Recorder Record() => new();

    private sealed class Applying(Rewrite rewrite) : HandshakeRewriter
    {
        private int _seen;

        public override object Message(object message)
        {
            if (rewrite.Message is null || message.GetType().Name != Naming.Pascal(rewrite.Message) || _seen++ != rewrite.Occurrence) return message;
            var type = message.GetType();
            var copy = type.GetMethod("<Clone>$")!.Invoke(message, null)!;
            type.GetProperty(rewrite.Property)!.SetValue(copy, rewrite.Value);
            return copy;
        }

        public override object? Let(string name, object? value)
            => rewrite.Message is null && name == rewrite.Property && _seen++ == rewrite.Occurrence ? rewrite.Value : value;
    }

    /// <summary>What a role computed in a run: its messages (generated records) and its lets' values, in order.</summary>
    public sealed class Recorder : HandshakeRewriter
    {
        public List<object> Messages { get; } = new();

        public List<(string Name, object? Value)> Lets { get; } = new();

        public override object Message(object message)
        {
            lock (Messages) Messages.Add(message);
            return message;
        }

        public override object? Let(string name, object? value)
        {
            lock (Lets) Lets.Add((name, value));
            return value;
        }
    }

    /// <summary>
    /// Values to put in a property in place of <paramref name="current"/>, each with how it reads: bytes with a bit
    /// flipped or all zeros, text with a character more or empty, a number one more or less, a time a day later or
    /// earlier, a flag flipped, an enum's other values, a list emptied.
    /// </summary>
    public static IEnumerable<(object? Value, string Shown)> Alternatives(Type type, object? current)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (current is null)
        {
            if (underlying == typeof(string)) yield return ("x", "\"x\"");
            yield break;
        }
        switch (current)
        {
            case Bytes bytes:
                if (bytes.Length > 0)
                {
                    var flipped = bytes.ToArray();
                    flipped[0] ^= 1;
                    yield return (new Bytes(flipped), "its first bit flipped");
                    if (bytes.Span.IndexOfAnyExcept((byte)0) >= 0) yield return (new Bytes(new byte[bytes.Length]), "all zeros");
                }
                break;
            case string text:
                yield return (text + "x", "with a character more");
                if (text.Length > 0) yield return ("", "empty");
                break;
            case bool flag:
                yield return (!flag, (!flag).ToString(CultureInfo.InvariantCulture).ToLowerInvariant());
                break;
            case long number:
                yield return (number + 1, "one more");
                yield return (number - 1, "one less");
                if (number is not (0 or 1)) yield return (0L, "zero");
                if (number > 1) yield return (1L, "one");
                break;
            case int number:
                yield return (number + 1, "one more");
                yield return (number - 1, "one less");
                if (number is not (0 or 1)) yield return (0, "zero");
                break;
            case DateTimeOffset time:
                yield return (time.AddDays(1), "a day later");
                yield return (time.AddDays(-1), "a day earlier");
                break;
            case Guid id:
                yield return (new Guid("0badc0de-0000-4000-8000-000000000000"), "another id");
                break;
            case Enum value:
                foreach (var other in Enum.GetValues(underlying).Cast<object>().Where(v => !v.Equals(value)))
                    yield return (other, other.ToString()!);
                break;
            case double number:
                yield return (number + 0.25, "a quarter more");
                yield return (-number - 1, "negative");
                break;
            case decimal number:
                yield return (number + 0.25m, "a quarter more");
                if (number != 0) yield return (number / 2, "halved");
                break;
            case IReadOnlyList<string> items:
                yield return (items.Append("x-unknown").ToArray(), "with an item more");
                if (items.Count > 0) yield return (Array.Empty<string>(), "emptied");
                if (items.Count > 1) yield return (items.Skip(1).ToArray(), "without its first item");
                break;
            case Array { Length: > 0 } array:
                yield return (Array.CreateInstance(array.GetType().GetElementType()!, 0), "emptied");
                var longer = Array.CreateInstance(array.GetType().GetElementType()!, array.Length + 1);
                array.CopyTo(longer, 0);
                longer.SetValue(array.GetValue(0), array.Length);
                yield return (longer, "with its first item again at the end");
                break;
        }
    }

    /// <summary>The value of <paramref name="property"/> the honest sender builds: read from the generated record it sent.</summary>
    public static object? Current(object message, string property) => message.GetType().GetProperty(property)?.GetValue(message);
}
