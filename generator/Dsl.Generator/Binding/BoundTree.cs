using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;

namespace Dsl.Generator.Binding;

// The bind stage's output: a tree of symbols and typed expressions. Names are the spec's own; no C# text
// exists here (the emitter derives every C# name with Naming). Value-equal records, cached between runs.

/// <summary>A whole protocol, bound: its declarations and its global flow.</summary>
internal sealed record BoundProtocol(
    string FilePath,
    string Name,
    string Version,
    string? Description,
    string Namespace,
    string Discriminator,
    string MalformedCode,
    EquatableArray<RoleSymbol> Roles,
    EquatableArray<MessageSymbol> Messages,
    EnvelopeSymbol? Envelope,
    string? Wrap,
    EquatableArray<ServiceSymbol> Services,
    EquatableArray<HookSymbol> Hooks,
    EquatableArray<TypeSymbol> Types,
    EquatableArray<ErrorSymbol> Errors,
    EquatableArray<RoleEffects> FailureEffects,
    long HandshakeTimeoutMs,
    long StepTimeoutMs,
    long? ClockSkewMs,
    BoundFlow Flow,
    HeartbeatSymbol? Heartbeat,
    SourceSpan ProtocolSpan)
{
    /// <summary>The secure channel after the handshake, or null.</summary>
    public ChannelSymbol? Channel { get; init; }

    /// <summary>The security lints the spec acknowledges (<see cref="Analysis.SecurityLints"/>).</summary>
    public EquatableArray<AcknowledgementSymbol> Acknowledgements { get; init; } = EquatableArray<AcknowledgementSymbol>.Empty;

    public MessageSymbol Message(string name)
    {
        foreach (var message in Messages)
            if (message.Name == name) return message;
        throw new System.InvalidOperationException($"No message '{name}'.");
    }

    /// <summary>The declared object or enum type of that name (a named type, or an inline one's synthesized name).</summary>
    public TypeSymbol Type(string name)
    {
        foreach (var type in Types)
            if (type.Name == name) return type;
        throw new System.InvalidOperationException($"No type '{name}'.");
    }

    public RoleSymbol Role(string name)
    {
        foreach (var role in Roles)
            if (role.Name == name) return role;
        throw new System.InvalidOperationException($"No role '{name}'.");
    }

    /// <summary>The hooks <paramref name="role"/> calls, by name.</summary>
    public IEnumerable<HookSymbol> HooksOf(string role)
    {
        foreach (var hook in Hooks)
            if (hook.Roles.Contains(role)) yield return hook;
    }

    /// <summary>The services <paramref name="role"/> holds, in declaration order.</summary>
    public IEnumerable<ServiceSymbol> ServicesOf(string role)
    {
        foreach (var service in Services)
            if (service.Roles.Contains(role)) yield return service;
    }
}

/// <summary>A security lint the spec accepts: the lint's name, the findings it covers (all when empty) and why.</summary>
internal sealed record AcknowledgementSymbol(string Lint, EquatableArray<string> At, string Because, SourceSpan Span);

/// <summary>A role: its inputs and what it learns on success.</summary>
internal sealed record RoleSymbol(string Name, string? Doc, EquatableArray<FieldSymbol> Inputs, EquatableArray<OutcomeSymbol> Outcome);

/// <summary>A field's constraints; null members are absent.</summary>
internal sealed record Constraints(long? MinLength, long? MaxLength, long? Min, long? Max, string? Pattern, EquatableArray<string> OneOf)
{
    public static readonly Constraints None = new(null, null, null, null, null, EquatableArray<string>.Empty);

    public bool IsEmpty => this == None;
}

/// <summary>How a bytes field travels.</summary>
internal enum BytesEncoding { Hex, Base64 }

/// <summary>A typed field of a message or an envelope, or an input of a role.</summary>
/// <param name="Default">The value when absent on the wire (a literal, or a list of literals), or null.</param>
internal sealed record FieldSymbol(
    string Name, TypeRef Type, bool Optional, BoundExpression? Default, string? Doc, Constraints Constraints, BytesEncoding Encoding, SourceSpan Span)
{
    /// <summary>Whether the value may be absent in the record (optional without a default).</summary>
    public bool IsNullable => Optional && Default is null;

    /// <summary>The JSON name, when <c>wire</c> gives one that differs from <see cref="Name"/>.</summary>
    public string? WireName { get; init; }

    /// <summary>The name on the wire.</summary>
    public string Wire => WireName ?? Name;

    /// <summary>For a constant field: its only value (the sender writes it; the receiver refuses any other).</summary>
    public ConstantValue? Const { get; init; }

    /// <summary>For an input: a secret the role must never send (<c>secret: true</c>); a string one is low-entropy.</summary>
    public bool Secret { get; init; }
}

/// <summary>An object or enum type the spec declares, under <c>types</c> or inline (then named after its place: <c>auth_auth</c>).</summary>
/// <param name="Kind"><see cref="TypeKind.Object"/> or <see cref="TypeKind.Enum"/>.</param>
/// <param name="Fields">An object's fields.</param>
/// <param name="Values">An enum's values, as they travel.</param>
internal sealed record TypeSymbol(string Name, TypeKind Kind, string? Doc, EquatableArray<FieldSymbol> Fields, EquatableArray<string> Values, SourceSpan Span);

/// <summary>A message of the protocol.</summary>
/// <param name="ReportsCode">For an error message: the field that carries the error code.</param>
/// <param name="ReportsDetail">For an error message: the field that carries the explanation, if any.</param>
/// <param name="Index">Its position among the messages (its bit in the binder's path sets).</param>
internal sealed record MessageSymbol(string Name, string? Doc, EquatableArray<FieldSymbol> Fields, string? ReportsCode, string? ReportsDetail, int Index, SourceSpan Span)
{
    /// <summary>The discriminator's value, when <c>wire</c> gives one that differs from <see cref="Name"/>.</summary>
    public string? WireName { get; init; }

    /// <summary>The discriminator's value on the wire.</summary>
    public string Wire => WireName ?? Name;

    public bool IsErrorMessage => ReportsCode is not null;

    /// <summary>The fields that sign the rest of the message (<c>signature:</c>); the message carries <c>unsigned</c> then.</summary>
    public EquatableArray<string> SignatureFields { get; init; } = EquatableArray<string>.Empty;

    /// <summary>Whether some of its fields sign the rest of it.</summary>
    public bool SignsItself => !SignatureFields.IsEmpty;

    public FieldSymbol Field(string name)
    {
        foreach (var field in Fields)
            if (field.Name == name) return field;
        throw new System.InvalidOperationException($"No field '{name}' in '{Name}'.");
    }
}

/// <summary>The envelope every message travels in; each role computes its fields over the canonical payload.</summary>
internal sealed record EnvelopeSymbol(string Name, string PayloadField, EquatableArray<FieldSymbol> Fields, EquatableArray<RoleAssignments> Set)
{
    /// <summary>The fields that sign the rest of the envelope (<c>signature:</c>); empty when the fields cover only the payload.</summary>
    public EquatableArray<string> SignatureFields { get; init; } = EquatableArray<string>.Empty;

    /// <summary>The checks each role runs on every message's envelope it receives, before the message's own.</summary>
    public EquatableArray<RoleChecks> Checks { get; init; } = EquatableArray<RoleChecks>.Empty;

    /// <summary>Whether the envelope's fields sign the envelope itself, so that it carries <c>unsigned</c>.</summary>
    public bool SignsItself => !SignatureFields.IsEmpty;
}

/// <summary>The checks one role runs.</summary>
internal sealed record RoleChecks(string Role, EquatableArray<BoundCheck> Checks);

/// <summary>A service held by one or more roles.</summary>
/// <param name="ValueType">For a generic kind (value_store): the type of its values.</param>
internal sealed record ServiceSymbol(string Name, string Kind, TypeRef? ValueType, EquatableArray<string> Roles, string? Doc, EquatableArray<SettingValue> Settings)
{
    public ServiceKindDescriptor Descriptor => ServiceKinds.Find(Kind)!;
}

/// <summary>A hook: a decision the application makes, called by the roles that hold it.</summary>
/// <param name="Parameters">Its inputs, in order; their types, optionality and docs.</param>
/// <param name="Output">Its answer's type; <paramref name="OutputMayBeAbsent"/> when it may answer nothing.</param>
internal sealed record HookSymbol(string Name, EquatableArray<string> Roles, string? Doc, EquatableArray<FieldSymbol> Parameters, TypeRef Output, bool OutputMayBeAbsent, SourceSpan Span);

/// <summary>A service setting's value (a duration, a count).</summary>
internal sealed record SettingValue(string Name, ConstantValue Value);

/// <summary>An error code: what the side raising it sends, and what each role does after raising it.</summary>
internal sealed record ErrorSymbol(string Code, string? Doc, string? Send, EquatableArray<BoundAssignment> Set, EquatableArray<RoleEffects> Effects);

/// <summary>Service calls one role runs (a step's <c>do</c>, an error's <c>do</c>, <c>on_failure</c>).</summary>
internal sealed record RoleEffects(string Role, EquatableArray<BoundEffect> Calls);

internal sealed record BoundEffect(BoundExpression Call, SourceSpan Span);

/// <summary>Values one role computes (the envelope's fields).</summary>
internal sealed record RoleAssignments(string Role, EquatableArray<BoundAssignment> Set);

/// <summary>A field's value, computed by an expression.</summary>
internal sealed record BoundAssignment(string Field, BoundExpression Value, SourceSpan Span)
{
    /// <summary>The value as written, for docs and diagrams.</summary>
    public string? Source { get; init; }
}

/// <summary>A check: an expression that must hold, else the error code.</summary>
/// <param name="Source">The condition as written, for the failure's detail.</param>
internal sealed record BoundCheck(BoundExpression Condition, string Code, string Source, SourceSpan Span);

/// <summary>A value of a role's result.</summary>
internal sealed record OutcomeSymbol(string Name, ExprType Type, BoundExpression Value, SourceSpan Span)
{
    /// <summary>Whether the value is key material (<see cref="Secrecy"/>): the result holds it as a <c>SecretBytes</c>.</summary>
    public bool IsSecret { get; init; }
}

/// <summary>A let: a value one role computes at a step and keeps.</summary>
/// <param name="Id">Unique in the protocol (the let's bit in the binder's path sets, less the messages).</param>
internal sealed record LetSymbol(int Id, string Name, string Owner, ExprType Type, BoundExpression Value, SourceSpan Span)
{
    /// <summary>The value as written, for docs and diagrams.</summary>
    public string? Source { get; init; }
}

/// <summary>The AEAD channel the traffic keys open: a cipher (a name, or the outcome value that holds one) and each role's keys.</summary>
/// <param name="Cipher">The cipher's name, when the spec gives it.</param>
/// <param name="CipherValue">The outcome value that names the cipher, when the handshake negotiates it.</param>
/// <param name="Binding">The outcome value bound into every frame, or null.</param>
internal sealed record ChannelSymbol(string? Cipher, string? CipherValue, string? Binding, EquatableArray<ChannelKeys> Keys);

/// <summary>A role's channel keys: the names of its outcome values.</summary>
internal sealed record ChannelKeys(string Role, string Send, string Receive);

/// <summary>The heartbeat after a successful handshake.</summary>
internal sealed record HeartbeatSymbol(string Pinger, string PingMessage, string PongMessage, int MissedIntervals, EquatableArray<RoleHeartbeat> Roles);

/// <summary>A role's view of the heartbeat: its interval and the fields of the message it creates.</summary>
internal sealed record RoleHeartbeat(string Role, BoundExpression IntervalMs, EquatableArray<BoundAssignment> Set);

// ---- The global flow ------------------------------------------------------------------------------

/// <summary>The bound global flow: nodes by id, gotos resolved to edges.</summary>
internal sealed record BoundFlow(EquatableArray<FlowNode> Nodes, int Start, EquatableArray<LetSymbol> Lets)
{
    public FlowNode this[int id] => Nodes[id];
}

/// <summary>A node of the global flow; <see cref="Label"/> is the name a <c>goto</c> (or an extension) addresses it by.</summary>
internal abstract record FlowNode(int Id, string Phase, SourceSpan Span)
{
    public string? Label { get; init; }
}

/// <summary><c>sender -> receiver: message</c>, with what each side computes and checks.</summary>
internal sealed record MessageNode(
    int Id, string Phase, SourceSpan Span,
    string Sender, string Receiver, string Message,
    EquatableArray<LetSymbol> Lets,
    EquatableArray<BoundCheck> Ensures,
    EquatableArray<BoundAssignment> Set,
    EquatableArray<BoundCheck> Requires,
    EquatableArray<RoleEffects> Do,
    long? TimeoutMs,
    int Next) : FlowNode(Id, Phase, Span)
{
    /// <summary>The receiver's lets, each evaluated once the first <see cref="PositionedLet.Position"/> requires have passed.</summary>
    public EquatableArray<PositionedLet> ReceiverLets { get; init; } = EquatableArray<PositionedLet>.Empty;
}

/// <summary>A receiver's let and the number of requires that come before it.</summary>
internal sealed record PositionedLet(int Position, LetSymbol Let);

/// <summary>A decision by <see cref="Chooser"/>: the first branch whose guard holds.</summary>
internal sealed record ChoiceNode(
    int Id, string Phase, SourceSpan Span,
    string Chooser,
    EquatableArray<LetSymbol> Lets,
    EquatableArray<BoundBranch> Branches,
    long? TimeoutMs) : FlowNode(Id, Phase, Span);

/// <summary>A branch: its guard (null for the default) and its first node.</summary>
internal sealed record BoundBranch(BoundExpression? Guard, int First, SourceSpan Span)
{
    /// <summary>The guard as written, for diagrams and docs.</summary>
    public string? GuardSource { get; init; }
}

/// <summary><c>fail: CODE</c>, raised by <see cref="RaisedBy"/>.</summary>
internal sealed record FailNode(int Id, string Phase, SourceSpan Span, string Code, string RaisedBy) : FlowNode(Id, Phase, Span);

/// <summary><c>success</c>, or the end of the flow.</summary>
internal sealed record SuccessNode(int Id, string Phase, SourceSpan Span) : FlowNode(Id, Phase, Span);

// ---- Expressions ----------------------------------------------------------------------------------

/// <summary>A bound, typed expression. <see cref="ExprType.MayBeAbsent"/> is what the binder proved at the place of use.</summary>
internal abstract record BoundExpression(ExprType Type)
{
    /// <summary>The expressions this one is made of, in order (a call's arguments, an operator's operands...); none for a leaf.</summary>
    public IEnumerable<BoundExpression> Children => this switch
    {
        BoundCall call => call.Arguments,
        BoundServiceCall call => call.Arguments,
        BoundHookCall call => call.Arguments,
        BoundUnary unary => new[] { unary.Operand },
        BoundBinary binary => new[] { binary.Left, binary.Right },
        BoundConditional conditional => new[] { conditional.Condition, conditional.Then, conditional.Else },
        BoundMember member => new[] { member.Target },
        BoundList list => list.Items,
        BoundObject obj => obj.Fields.Select(f => f.Value),
        _ => System.Array.Empty<BoundExpression>(),
    };
}

internal sealed record BoundLiteral(ExprType Type, ConstantValue Value) : BoundExpression(Type);

/// <summary><c>self.name</c>: an input of the evaluating role.</summary>
internal sealed record BoundInput(ExprType Type, string Role, string Input) : BoundExpression(Type);

/// <summary>Which instance of a message a field reference reads.</summary>
internal enum MessageSource
{
    /// <summary>The message of the current step (<c>msg</c>, or the message named by its name in its own step).</summary>
    Current,
    /// <summary>The latest instance in the transcript.</summary>
    Transcript,
    /// <summary>The ping a heartbeat pong answers.</summary>
    Ping,
}

/// <summary>A field of a message.</summary>
internal sealed record BoundField(ExprType Type, string Message, string Field, MessageSource Source) : BoundExpression(Type);

/// <summary><c>msg.unsigned</c>: the message as received, canonical, without its signature fields.</summary>
internal sealed record BoundMessageUnsigned(ExprType Type, string Message) : BoundExpression(Type);

/// <summary>A field of a message's envelope; <see cref="Field"/> is null for the payload (the canonical message bytes).</summary>
internal sealed record BoundEnvelopeField(ExprType Type, string Message, string? Field, MessageSource Source) : BoundExpression(Type);

/// <summary>A let of the evaluating role.</summary>
internal sealed record BoundLet(ExprType Type, int LetId, string Name, string Owner) : BoundExpression(Type);

/// <summary>A value the place gives.</summary>
internal enum ContextValue
{
    /// <summary><c>code</c> in an error's set.</summary>
    ErrorCode,
    /// <summary><c>detail</c> in an error's set.</summary>
    ErrorDetail,
    /// <summary><c>peer.address</c>.</summary>
    PeerAddress,
    /// <summary><c>payload</c> in the envelope's set: the canonical bytes of the message being sealed.</summary>
    SealedPayload,
    /// <summary><c>unsigned</c> in the envelope's set, for a signature field: the canonical envelope without its signature fields.</summary>
    SealedUnsigned,
    /// <summary><c>unsigned</c> in the set of a message that signs itself: the canonical message without its signature fields.</summary>
    MessageUnsigned,
}

internal sealed record BoundContext(ExprType Type, ContextValue Value) : BoundExpression(Type);

/// <summary>A call of a built-in function (see <see cref="Builtins"/>).</summary>
internal sealed record BoundCall(ExprType Type, string Function, EquatableArray<BoundExpression> Arguments) : BoundExpression(Type)
{
    public BuiltinDescriptor Descriptor => Builtins.Find(Function)!;
}

/// <summary>A call of a service method (see <see cref="ServiceKinds"/>).</summary>
internal sealed record BoundServiceCall(ExprType Type, string Service, string Kind, string Method, EquatableArray<BoundExpression> Arguments) : BoundExpression(Type)
{
    public ServiceMethodDescriptor Descriptor => ServiceKinds.Find(Kind)!.Method(Method)!;
}

/// <summary>A call of a hook the evaluating role holds.</summary>
internal sealed record BoundHookCall(ExprType Type, string Hook, EquatableArray<BoundExpression> Arguments) : BoundExpression(Type);

internal enum UnaryOperator { Not }

internal enum BinaryOperator { Or, And, Equal, NotEqual, Less, LessOrEqual, Greater, GreaterOrEqual, Coalesce, Plus, Minus }

internal sealed record BoundUnary(ExprType Type, UnaryOperator Operator, BoundExpression Operand) : BoundExpression(Type);

internal sealed record BoundBinary(ExprType Type, BinaryOperator Operator, BoundExpression Left, BoundExpression Right) : BoundExpression(Type);

/// <summary><c>if Condition then Then else Else</c>.</summary>
internal sealed record BoundConditional(ExprType Type, BoundExpression Condition, BoundExpression Then, BoundExpression Else) : BoundExpression(Type);

/// <summary><c>target.FIELD</c>: a field of an object value.</summary>
internal sealed record BoundMember(ExprType Type, BoundExpression Target, string ObjectType, string Field) : BoundExpression(Type);

/// <summary>An object built from its fields' values (a mapping under <c>set</c>); fields not given take their defaults or stay absent.</summary>
internal sealed record BoundObject(ExprType Type, string ObjectType, EquatableArray<BoundAssignment> Fields) : BoundExpression(Type);

internal sealed record BoundList(ExprType Type, EquatableArray<BoundExpression> Items) : BoundExpression(Type);
