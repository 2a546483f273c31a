namespace Dsl.Runtime.Handshakes;

/// <summary>
/// For adversarial tests only (<c>dsl attack</c>'s misbehaving peer): what a sending role changes in what it computes,
/// so that everything after it (signatures, MACs, keys derived from the transcript) is computed over the changed
/// value with the role's own keys, as a peer that lies on purpose would. A machine calls it only when
/// <see cref="HandshakeOptions.Rewriter"/> is set; an application never sets it.
/// </summary>
public abstract class HandshakeRewriter
{
    /// <summary>
    /// A message this role built, after its fields are set and before it is signed, sealed and kept in the transcript:
    /// the generated message record, and one of the same type to send instead.
    /// </summary>
    /// <param name="message">The message as the spec builds it.</param>
    /// <returns>The message to sign and send: <paramref name="message"/>, or a changed copy.</returns>
    public virtual object Message(object message) => message;

    /// <summary>A value this role computed in a <c>let</c> of a step it sends (a stamp, a nonce), before anything reads it.</summary>
    /// <param name="name">The let's name in the spec.</param>
    /// <param name="value">Its value as the spec computes it.</param>
    /// <returns>The value the step goes on with: <paramref name="value"/>, or another of the same type.</returns>
    public virtual object? Let(string name, object? value) => value;
}
