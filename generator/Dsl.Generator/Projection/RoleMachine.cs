using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;

namespace Dsl.Generator.Projection;

/// <summary>The project stage's output: the bound protocol and one state machine per role.</summary>
internal sealed record ProjectedProtocol(BoundProtocol Protocol, EquatableArray<RoleMachine> Machines);

/// <summary>
/// One role's machine, projected from the global flow: its states, and the values it keeps between steps. A
/// waiting machine holds only those (a message nothing later reads is not kept).
/// </summary>
/// <param name="Layout">A fingerprint of the states and kept values, which an exported state is bound to.</param>
internal sealed record RoleMachine(string Role, EquatableArray<MachineState> States, EquatableArray<KeptValue> Kept, string Layout)
{
    /// <summary>The state numbered <paramref name="id"/>: states are numbered by their place in <see cref="States"/>.</summary>
    public MachineState State(int id) => States[id];
}

internal enum StateKind { Send, Receive, Decide, Succeed, Fail }

/// <summary>
/// One state of a role's machine. Send: evaluate <see cref="Lets"/>, run <see cref="Ensures"/>, build
/// <see cref="Message"/> from <see cref="Set"/>, send it, then run <see cref="Actions"/> and go to <see cref="Next"/>.
/// Receive: wait for one of <see cref="Alternatives"/>. Decide: evaluate <see cref="Lets"/>, take the first of
/// <see cref="Branches"/> whose guard holds. Fail: end with <see cref="FailCode"/>. Succeed: end with the outcome.
/// </summary>
internal sealed record MachineState(
    int Id,
    StateKind Kind,
    string Phase,
    SourceSpan Span,
    string? Message,
    EquatableArray<LetSymbol> Lets,
    EquatableArray<BoundCheck> Ensures,
    EquatableArray<BoundAssignment> Set,
    EquatableArray<BoundEffect> Actions,
    int Next,
    EquatableArray<ReceiveAlternative> Alternatives,
    long? TimeoutMs,
    EquatableArray<MachineBranch> Branches,
    string? FailCode);

/// <summary>A message a receive state accepts, with its checks, effects and next state.</summary>
internal sealed record ReceiveAlternative(string Message, string Phase, EquatableArray<BoundCheck> Checks, EquatableArray<BoundEffect> Actions, int Next)
{
    /// <summary>The receiver's lets among its checks.</summary>
    public EquatableArray<PositionedLet> Lets { get; init; } = EquatableArray<PositionedLet>.Empty;
}

/// <summary>A branch of a choice this role makes.</summary>
internal sealed record MachineBranch(BoundExpression? Guard, int Next, SourceSpan Span)
{
    /// <summary>The guard as written, for diagrams and docs.</summary>
    public string? GuardSource { get; init; }
}

internal enum KeptKind
{
    /// <summary>A field of the latest instance of a message.</summary>
    Field,
    /// <summary>A field of the latest instance of a message's envelope (<see cref="KeptValue.Field"/> null: its canonical payload).</summary>
    EnvelopeField,
    /// <summary>A let, kept because a later step reads it.</summary>
    Let,
    /// <summary>The transcript hash, kept when the role calls <c>transcript()</c>.</summary>
    Transcript,
}

/// <summary>A value a machine keeps between its steps, and exports with its state.</summary>
internal sealed record KeptValue(KeptKind Kind, string Message, string? Field, int LetId, string Name, TypeRef Type)
{
    /// <summary>A field of a message received or sent earlier.</summary>
    public static KeptValue OfField(BoundProtocol protocol, string message, string field)
        => new(KeptKind.Field, message, field, -1, message + "." + field, protocol.Message(message).Field(field).Type);

    /// <summary>A field of a message's envelope, or (<paramref name="field"/> null) its payload.</summary>
    public static KeptValue OfEnvelope(BoundProtocol protocol, string message, string? field)
        => new(KeptKind.EnvelopeField, message, field, -1, message + ".envelope." + (field ?? "payload"),
            field is null or Naming.UnsignedName ? TypeRef.Bytes : protocol.Envelope!.Fields.First(f => f.Name == field).Type);

    /// <summary>A let.</summary>
    public static KeptValue OfLet(LetSymbol let) => new(KeptKind.Let, "", null, let.Id, let.Name, let.Type.Type);

    /// <summary>The transcript hash (see <c>transcript()</c>).</summary>
    public static readonly KeptValue Transcript = new(KeptKind.Transcript, "", null, -1, "transcript", TypeRef.BytesOf(32));
}
