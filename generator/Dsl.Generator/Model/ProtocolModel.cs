using Dsl.Generator.Diagnostics;

namespace Dsl.Generator.Model;

/// <summary>The value types a field, input or expression can have.</summary>
internal enum TypeKind { String, Int, Bool, Uuid, Timestamp, Map, List, Null, Void, Bytes, Ed25519Key, X25519Key }

/// <summary>A type: a kind, for lists the element kind, for bytes the length (0: any).</summary>
internal sealed record TypeRef(TypeKind Kind, TypeKind Element = TypeKind.Null, int Length = 0)
{
    public static readonly TypeRef String = new(TypeKind.String);
    public static readonly TypeRef Int = new(TypeKind.Int);
    public static readonly TypeRef Bool = new(TypeKind.Bool);
    public static readonly TypeRef Uuid = new(TypeKind.Uuid);
    public static readonly TypeRef Timestamp = new(TypeKind.Timestamp);
    public static readonly TypeRef Map = new(TypeKind.Map);
    public static readonly TypeRef Null = new(TypeKind.Null);
    public static readonly TypeRef Void = new(TypeKind.Void);

    public static readonly TypeRef Bytes = new(TypeKind.Bytes);
    public static readonly TypeRef Ed25519Key = new(TypeKind.Ed25519Key);
    public static readonly TypeRef X25519Key = new(TypeKind.X25519Key);

    public static TypeRef ListOf(TypeKind element) => new(TypeKind.List, element);

    public static TypeRef BytesOf(int length) => new(TypeKind.Bytes, TypeKind.Null, length);

    /// <summary>The spelling used in specs and diagnostics.</summary>
    public override string ToString() => Kind switch
    {
        TypeKind.List => $"list<{new TypeRef(Element)}>",
        TypeKind.Null => "null",
        TypeKind.Bytes => Length > 0 ? $"bytes<{Length}>" : "bytes",
        TypeKind.Ed25519Key => "ed25519_key",
        TypeKind.X25519Key => "x25519_key",
        _ => Kind.ToString().ToLowerInvariant(),
    };

    public bool IsValueType => Kind is TypeKind.Int or TypeKind.Bool or TypeKind.Uuid or TypeKind.Timestamp or TypeKind.Bytes;
}

/// <summary>The static type of an expression: a type and whether the value may be absent.</summary>
internal sealed record ExprType(TypeRef Type, bool Nullable)
{
    public override string ToString() => Nullable ? Type + "?" : Type.ToString();
}

/// <summary>Field constraints; null members are absent.</summary>
internal sealed record Constraints(long? MinLength, long? MaxLength, long? Min, long? Max, string? Pattern, EquatableArray<string> OneOf)
{
    public static readonly Constraints None = new(null, null, null, null, null, EquatableArray<string>.Empty);

    public bool IsEmpty => this == None;
}

/// <summary>A typed field of a message or an input of a role.</summary>
/// <param name="Encoding">For bytes: "hex" or "base64" on the wire.</param>
internal sealed record FieldModel(
    string Name, string PropertyName, TypeRef Type, bool Optional, string? DefaultLiteral, string? Doc, Constraints Constraints, string Encoding = "hex")
{
    /// <summary>Whether the C# property may be null (optional without a default).</summary>
    public bool IsNullable => Optional && DefaultLiteral is null;
}

/// <summary>A message of the protocol.</summary>
/// <param name="ReportsCode">For an error message: the field that carries the error code.</param>
/// <param name="ReportsDetail">For an error message: the field that carries the explanation, if any.</param>
internal sealed record MessageModel(
    string Name, string TypeName, string? Doc, EquatableArray<FieldModel> Fields, string? ReportsCode, string? ReportsDetail, int Index);

/// <summary>A built-in stateful service held by one role.</summary>
/// <param name="Roles">The roles that each hold one (the application gives each its own store, or the same).</param>
/// <param name="Settings">The service's settings from the spec, as C# values, by name.</param>
internal sealed record ServiceModel(string Name, string PropertyName, string Kind, EquatableArray<string> Roles, string? Doc, string CSharpType, TypeRef? ValueType, EquatableArray<SettingValue> Settings);

/// <summary>A service setting's value, as C#.</summary>
internal sealed record SettingValue(string Name, string CSharp);

/// <summary>An error code and what the peer is sent when this side raises it.</summary>
internal sealed record ErrorModel(string Code, string ConstantName, string? Doc, string? SendMessage, EquatableArray<Assignment> Set, EquatableArray<RoleActions> Actions = default);

/// <summary>A field value computed by an expression.</summary>
internal sealed record Assignment(string Field, string PropertyName, BoundExpr Value);

/// <summary>A check: an expression that must hold, else the error code.</summary>
internal sealed record Check(BoundExpr Condition, string Code, string Source);

/// <summary>A named value in a role's result.</summary>
internal sealed record OutcomeField(string Name, string PropertyName, ExprType Type, BoundExpr Value);

/// <summary>A value computed once at a choice and kept by the choosing role.</summary>
internal sealed record LetBinding(string Name, string FieldName, ExprType Type, BoundExpr Value);

/// <summary>The heartbeat that runs after a successful handshake.</summary>
internal sealed record HeartbeatModel(
    string Pinger, string PingMessage, string PongMessage, int MissedIntervals,
    EquatableArray<RoleHeartbeat> Roles);

/// <summary>A role's view of the heartbeat: its interval and the fields of the message it creates.</summary>
internal sealed record RoleHeartbeat(string Role, BoundExpr IntervalMs, EquatableArray<Assignment> Set);

/// <summary>
/// The envelope every message travels in (Mesh's SignedPacket): the message as canonical JSON under
/// <see cref="PayloadField"/>, beside the envelope's own fields, which each sender computes over the payload.
/// </summary>
internal sealed record EnvelopeModel(string Name, string TypeName, string PayloadField, EquatableArray<FieldModel> Fields, EquatableArray<RoleAssignments> Roles);

/// <summary>Values one role computes (an envelope's fields).</summary>
internal sealed record RoleAssignments(string Role, EquatableArray<Assignment> Set);

/// <summary>Effects one role runs (on a failure).</summary>
internal sealed record RoleActions(string Role, EquatableArray<Action> Actions);

/// <summary>A whole protocol, bound and projected: everything the emitter needs.</summary>
internal sealed record ProtocolModel(
    string FilePath,
    string Name,
    string Version,
    string? Description,
    string Namespace,
    string TypePrefix,
    string Discriminator,
    string MalformedCode,
    EquatableArray<MessageModel> Messages,
    EquatableArray<ErrorModel> Errors,
    EquatableArray<RoleModel> Roles,
    HeartbeatModel? Heartbeat,
    long HandshakeTimeoutMs,
    long StepTimeoutMs,
    SourceSpan ProtocolSpan,
    EnvelopeModel? Envelope = null,
    EquatableArray<RoleActions> FailureActions = default);

/// <summary>One role: its inputs, services, result, and its projected state machine.</summary>
internal sealed record RoleModel(
    string Name,
    string TypeName,
    string? Doc,
    EquatableArray<FieldModel> Inputs,
    EquatableArray<ServiceModel> Services,
    EquatableArray<OutcomeField> Outcome,
    EquatableArray<LetBinding> Locals,
    EquatableArray<StateModel> States,
    int InitialState);
