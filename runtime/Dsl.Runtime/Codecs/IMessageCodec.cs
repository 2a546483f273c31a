using System;
using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Dsl.Runtime.Codecs;

/// <summary>
/// Encodes and decodes one protocol's messages. Generated for each spec; the handshake run and
/// sessions use it without knowing the wire format.
/// </summary>
/// <typeparam name="TMessage">The protocol's message base type.</typeparam>
public interface IMessageCodec<TMessage> where TMessage : class
{
    /// <summary>Writes <paramref name="message"/> to <paramref name="output"/>.</summary>
    void Encode(TMessage message, IBufferWriter<byte> output);

    /// <summary>
    /// Decodes one whole message. Never throws on bad input: a malformed, incomplete or unknown
    /// message returns <see langword="false"/> with a <see cref="DecodeError"/> naming the problem.
    /// </summary>
    bool TryDecode(ReadOnlySpan<byte> data, [NotNullWhen(true)] out TMessage? message, out DecodeError error);

    /// <summary>The wire name of a message (its discriminator value).</summary>
    string GetName(TMessage message);
}
