using System.Collections.Generic;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Syntax;

namespace Dsl.Generator.Binding;

/// <summary>A let as the flow binder declares it: its type is known once its value is bound.</summary>
internal sealed class LetDeclaration(int id, string name, string owner, ExpressionText value, SourceSpan span)
{
    public int Id { get; } = id;
    public string Name { get; } = name;
    public string Owner { get; } = owner;
    public ExpressionText Value { get; } = value;
    public SourceSpan Span { get; } = span;
    public LetSymbol? Symbol { get; set; }
}

/// <summary>Where a value that may be absent is used, for DSL205's advice.</summary>
internal enum AbsenceAdvice
{
    /// <summary>Give a fallback with '??'.</summary>
    Fallback,
    /// <summary>The sender's ensure and set: check it with an ensure first.</summary>
    Ensure,
    /// <summary>The receiver's require: check it with an earlier require.</summary>
    Require,
    /// <summary>A choice's let or guard: test it in a when.</summary>
    When,
}

/// <summary>What an expression may refer to where it is written, and on which paths it runs.</summary>
internal sealed record Scope
{
    /// <summary>The role that evaluates the expression, or null for role-neutral places (an error's set).</summary>
    public string? Role { get; init; }

    /// <summary>Where the expression is, for messages ("the 'set' of handshake_init").</summary>
    public string Where { get; init; } = "";

    /// <summary>The message <c>msg</c> (and <c>envelope</c>) refers to.</summary>
    public MessageSymbol? Current { get; init; }

    /// <summary>The path sets the expression can be reached with.</summary>
    public PathSet Paths { get; init; } = null!;

    /// <summary>The lets visible here, by name (a role's own over the other's of the same name).</summary>
    public IReadOnlyDictionary<string, LetDeclaration> Lets { get; init; } = new Dictionary<string, LetDeclaration>();

    public bool AllowTranscript { get; init; } = true;

    /// <summary>Whether <c>peer.address</c> may be used (only while a role runs a handshake).</summary>
    public bool AllowPeer { get; init; } = true;

    /// <summary>In an error's <c>set</c>: <c>code</c> and <c>detail</c>.</summary>
    public bool ErrorValues { get; init; }

    /// <summary>In the envelope's <c>set</c>: <c>payload</c> (and <c>unsigned</c>, when the envelope signs itself).</summary>
    public bool Sealing { get; init; }

    /// <summary>In the <c>set</c> of a message that signs itself: <c>unsigned</c>, the canonical message without its signature fields.</summary>
    public MessageSymbol? Signing { get; init; }

    /// <summary>Binding the value of a let (where <c>x25519_keypair()</c> may be the whole value).</summary>
    public bool LetValue { get; init; }

    /// <summary>In the envelope's <c>require</c>: <c>envelope</c> is the envelope of whichever message arrived; there is no <c>msg</c>.</summary>
    public bool AnyMessage { get; init; }

    /// <summary>In a heartbeat pong: the ping it answers, by its message name.</summary>
    public MessageSymbol? Ping { get; init; }

    public AbsenceAdvice Advice { get; init; }

    /// <summary>
    /// What the expression itself has proven present so far: the right of <c>a &amp;&amp; b</c> runs only where
    /// <c>a</c> held, so <c>x != null &amp;&amp; len(x) &gt; 0</c> may read <c>x</c> on the right.
    /// </summary>
    public IReadOnlyCollection<NarrowTarget> Narrowed { get; init; } = new NarrowTarget[0];
}
