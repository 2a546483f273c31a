using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using Dsl.Generator.Binding;
using Dsl.Generator.Model;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;

namespace Dsl.Cli.Running;

/// <summary>
/// Signs a changed message again, as its sender would, with the sender's own key: a peer that changes what it sends
/// and signs it reaches the checks behind a signature (a stale timestamp, a wrong echo) that a changed byte alone
/// cannot. It signs what the language says a signature covers, where the spec's signature is
/// <c>ed25519_sign(self.KEY, ...)</c> over one of them: the envelope's canonical payload (<c>payload</c>), the canonical
/// envelope without its signature fields (an envelope that signs itself, <c>unsigned</c>), or the canonical message
/// without its signature fields (a message that signs itself, <c>msg.unsigned</c>). Other signatures stay as they were.
/// </summary>
internal sealed class Resigner(BoundProtocol protocol, IReadOnlyDictionary<string, string> inputs)
{
    /// <summary>Whether the spec signs anything a resigner can sign again.</summary>
    public static bool Signs(BoundProtocol protocol)
        => protocol.Envelope?.Set.Any(r => r.Set.Any(a => SignedBy(a.Value) is not null)) == true
           || protocol.Flow.Nodes.OfType<MessageNode>().Any(n => n.Set.Any(a => SignedBy(a.Value) is not null));

    /// <summary>The message <paramref name="role"/> sends, signed again after a change; unchanged when nothing it carries can be.</summary>
    public byte[] Resign(string role, byte[] message)
    {
        if (JsonNode.Parse(message) is not JsonObject root) return message;
        var body = protocol.Wrap is { } wrap && root[wrap] is JsonObject wrapped ? wrapped : root;
        // A message that signs itself: its own set names the key.
        if (body[protocol.Discriminator] is JsonValue discriminator && discriminator.TryGetValue<string>(out var wire)
            && protocol.Messages.FirstOrDefault(m => m.Wire == wire) is { SignsItself: true } signed)
        {
            var step = protocol.Flow.Nodes.OfType<MessageNode>().FirstOrDefault(n => n.Message == signed.Name && n.Sender == role);
            foreach (var assignment in step?.Set ?? default)
                if (signed.SignatureFields.Contains(assignment.Field) && SignedBy(assignment.Value) is { } key)
                    body[assignment.Field] = Sign(key, WithoutCanonical(body, signed.SignatureFields), body[assignment.Field]);
        }
        if (protocol.Envelope is { } envelope && envelope.Set.FirstOrDefault(r => r.Role == role) is { } sealing)
            foreach (var assignment in sealing.Set)
            {
                if (SignedBy(assignment.Value) is not { } key) continue;
                var over = ((BoundCall)assignment.Value).Arguments[1];
                if (over is BoundContext { Value: ContextValue.SealedUnsigned })
                    root[assignment.Field] = Sign(key, WithoutCanonical(root, envelope.SignatureFields), root[assignment.Field]);
                else if (over is BoundContext { Value: ContextValue.SealedPayload } && root[envelope.PayloadField] is JsonObject payload)
                    root[assignment.Field] = Sign(key, JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(payload.ToJsonString()), exactNumbers: true), root[assignment.Field]);
            }
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>The input holding the signing key, when <paramref name="value"/> is <c>ed25519_sign(self.KEY, payload or unsigned)</c>.</summary>
    private static BoundInput? SignedBy(BoundExpression value)
        => value is BoundCall { Function: "ed25519_sign" } call && call.Arguments.Count == 2 && call.Arguments[0] is BoundInput key
           && call.Arguments[1] is BoundContext { Value: ContextValue.SealedPayload or ContextValue.SealedUnsigned or ContextValue.MessageUnsigned } or BoundMessageUnsigned
            ? key
            : null;

    private static byte[] WithoutCanonical(JsonObject obj, EquatableArray<string> omitted)
    {
        var output = new ArrayBufferWriter<byte>();
        return JsonCanonicalizer.TryCanonicalizeWithout(Encoding.UTF8.GetBytes(obj.ToJsonString()), omitted.ToArray(), output, out _)
            ? output.WrittenSpan.ToArray()
            : Array.Empty<byte>();
    }

    /// <summary>The signature by the key in <paramref name="input"/>, spelled as the one it replaces (hex or base64).</summary>
    private JsonNode? Sign(BoundInput input, byte[] data, JsonNode? old)
    {
        if (!inputs.TryGetValue(input.Role + "." + input.Input, out var seed)) return old;
        using var key = Ed25519.Instance.ImportSeed(Convert.FromHexString(seed));
        var signature = Ed25519.Instance.Sign(key, data);
        var wasHex = old is JsonValue value && value.TryGetValue<string>(out var text) && text.Length == signature.Length * 2 && text.All(Uri.IsHexDigit);
        return JsonValue.Create(wasHex ? Convert.ToHexString(signature).ToLowerInvariant() : Convert.ToBase64String(signature));
    }
}
