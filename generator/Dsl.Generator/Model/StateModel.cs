namespace Dsl.Generator.Model;

internal enum StateKind { Send, Receive, Decide, Succeed, Fail }

/// <summary>
/// One state of a role's machine, projected from a node of the global flow.
/// Send: build <see cref="Message"/> from <see cref="Set"/>, send, run <see cref="Actions"/>, go to <see cref="Next"/>.
/// Receive: wait for one of <see cref="Alternatives"/>. Decide: take the first branch whose guard holds.
/// </summary>
internal sealed record StateModel(
    int Id,
    string Name,
    StateKind Kind,
    string Phase,
    string? Message,
    EquatableArray<Assignment> Set,
    EquatableArray<Action> Actions,
    int Next,
    EquatableArray<ReceiveAlternative> Alternatives,
    EquatableArray<Branch> Branches,
    EquatableArray<LetBinding> Lets,
    long? TimeoutMs,
    string? FailCode,
    EquatableArray<Check> Ensures = default);

/// <summary>A message a receive state accepts, with its checks, effects and next state.</summary>
internal sealed record ReceiveAlternative(string Message, string Phase, EquatableArray<Check> Checks, EquatableArray<Action> Actions, int Next);

/// <summary>A branch of a choice made by this role.</summary>
internal sealed record Branch(BoundExpr? Guard, int Next);

/// <summary>An effect: a service call run for its side effect.</summary>
internal sealed record Action(BoundExpr Call);
