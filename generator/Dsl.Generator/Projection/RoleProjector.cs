using System.Collections.Generic;
using System.Linq;
using System.Text;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;
using Dsl.Generator.Model;

namespace Dsl.Generator.Projection;

/// <summary>
/// Project stage: the global flow onto each role, as session-type tools do. A message step becomes a send for its
/// sender and a receive for its receiver; a choice becomes a decision for the role that makes it and, for the other,
/// one receive whose alternatives are the branches' first messages. Then a liveness pass decides what each machine
/// keeps between its steps: a transcript field or an envelope field a later step reads, a let read outside the step
/// that computes it.
/// </summary>
internal static class RoleProjector
{
    public static ProjectedProtocol Project(BoundProtocol protocol, System.Threading.CancellationToken cancellationToken)
        => new(protocol, protocol.Roles.Select(role =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            return Project(protocol, role.Name);
        }).ToEquatableArray());

    private static RoleMachine Project(BoundProtocol protocol, string role)
    {
        var flow = protocol.Flow;

        // Number the states in the order the role meets them, starting at 0.
        var order = new List<int>();
        var ids = new Dictionary<int, int> { [flow.Start] = 0 };
        var queue = new Queue<int>();
        queue.Enqueue(flow.Start);
        while (queue.Count > 0)
        {
            var id = queue.Dequeue();
            order.Add(id);
            foreach (var next in RoleSuccessors(role, flow, flow[id]))
            {
                if (ids.ContainsKey(next)) continue;
                ids[next] = ids.Count;
                queue.Enqueue(next);
            }
        }

        var states = order.Select(node => ProjectNode(role, flow[node], flow, ids)).ToEquatableArray();
        var kept = KeptValues(protocol, role, states);
        return new RoleMachine(role, states, kept, Layout(states, kept));
    }

    /// <summary>
    /// The nodes a role can go to next. A role that receives a choice goes straight from its one receive to the
    /// step after the branch's first message, so that message's own state is never entered.
    /// </summary>
    private static IEnumerable<int> RoleSuccessors(string role, BoundFlow flow, FlowNode node) => node switch
    {
        MessageNode message => new[] { message.Next },
        ChoiceNode choice when choice.Chooser != role
            => choice.Branches.Select(b => flow[b.First]).OfType<MessageNode>().Select(m => m.Next),
        ChoiceNode choice => choice.Branches.Select(b => b.First),
        _ => new int[0],
    };

    private static MachineState ProjectNode(string role, FlowNode node, BoundFlow flow, Dictionary<int, int> ids)
    {
        var id = ids[node.Id];
        var none = EquatableArray<LetSymbol>.Empty;
        var noChecks = EquatableArray<BoundCheck>.Empty;
        var noSet = EquatableArray<BoundAssignment>.Empty;
        var noEffects = EquatableArray<BoundEffect>.Empty;
        var noAlternatives = EquatableArray<ReceiveAlternative>.Empty;
        var noBranches = EquatableArray<MachineBranch>.Empty;
        switch (node)
        {
            case MessageNode message when message.Sender == role:
                return new MachineState(id, StateKind.Send, message.Phase, message.Span, message.Message,
                    message.Lets, message.Ensures, message.Set, ActionsOf(message, role), ids[message.Next], noAlternatives, null, noBranches, null);
            case MessageNode message:
                return new MachineState(id, StateKind.Receive, message.Phase, message.Span, null,
                    none, noChecks, noSet, noEffects, -1, new[] { Alternative(role, message, ids) }.ToEquatableArray(), message.TimeoutMs, noBranches, null);
            case ChoiceNode choice when choice.Chooser == role:
                return new MachineState(id, StateKind.Decide, choice.Phase, choice.Span, null,
                    choice.Lets, noChecks, noSet, noEffects, -1, noAlternatives, null,
                    choice.Branches.Select(b => new MachineBranch(b.Guard, ids[b.First], b.Span) { GuardSource = b.GuardSource }).ToEquatableArray(), null);
            case ChoiceNode choice:
            {
                var firsts = choice.Branches.Select(b => flow[b.First]).OfType<MessageNode>().ToList();
                // The choice's own timeout, else the shortest of its branches' first steps.
                var timeout = choice.TimeoutMs ?? firsts.Select(m => m.TimeoutMs).Where(t => t is not null).Min();
                return new MachineState(id, StateKind.Receive, choice.Phase, choice.Span, null, none, noChecks, noSet, noEffects, -1,
                    firsts.Select(m => Alternative(role, m, ids)).ToEquatableArray(), timeout, noBranches, null);
            }
            case FailNode fail when fail.RaisedBy != role:
                // The other role learns of the failure from the peer's error message or its close.
                return new MachineState(id, StateKind.Receive, fail.Phase, fail.Span, null, none, noChecks, noSet, noEffects, -1,
                    noAlternatives, null, noBranches, null);
            case FailNode fail:
                return new MachineState(id, StateKind.Fail, fail.Phase, fail.Span, null, none, noChecks, noSet, noEffects, -1,
                    noAlternatives, null, noBranches, fail.Code);
            default:
                return new MachineState(id, StateKind.Succeed, node.Phase, node.Span, null, none, noChecks, noSet, noEffects, -1,
                    noAlternatives, null, noBranches, null);
        }
    }

    private static ReceiveAlternative Alternative(string role, MessageNode message, Dictionary<int, int> ids)
        => new(message.Message, message.Phase, message.Requires, ActionsOf(message, role), ids[message.Next]) { Lets = message.ReceiverLets };

    private static EquatableArray<BoundEffect> ActionsOf(MessageNode message, string role)
        => message.Do.FirstOrDefault(d => d.Role == role)?.Calls ?? EquatableArray<BoundEffect>.Empty;

    // ---- What a machine keeps -----------------------------------------------------------------

    /// <summary>
    /// The values a machine keeps: every transcript field, envelope field and let that an expression reads in a
    /// part of the machine other than the one that has it at hand. Within a receive, the received message is at hand
    /// (<c>msg</c>); within a send, the step's own lets are; everything else comes from a kept value.
    /// </summary>
    private static EquatableArray<KeptValue> KeptValues(BoundProtocol protocol, string role, EquatableArray<MachineState> states)
    {
        var kept = new List<KeptValue>();
        void Keep(KeptValue value)
        {
            if (!kept.Contains(value)) kept.Add(value);
        }
        var lets = protocol.Flow.Lets.ToDictionary(l => l.Id);

        // An expression evaluated where the message 'current' (if any) is at hand and the lets 'local' are computed.
        void Read(BoundExpression? expression, string? current, IReadOnlyCollection<int> local)
        {
            foreach (var reference in References(expression))
            {
                switch (reference)
                {
                    case BoundField { Source: MessageSource.Ping }:
                        break;
                    case BoundField field when field.Source == MessageSource.Transcript || field.Message != current:
                        Keep(KeptValue.OfField(protocol, field.Message, field.Field));
                        break;
                    case BoundEnvelopeField envelope when envelope.Source == MessageSource.Transcript || envelope.Message != current:
                        Keep(KeptValue.OfEnvelope(protocol, envelope.Message, envelope.Field));
                        break;
                    case BoundLet let when !local.Contains(let.LetId):
                        Keep(KeptValue.OfLet(lets[let.LetId]));
                        break;
                    case BoundCall { Descriptor.Implicit: var implicitArguments } when implicitArguments.Contains(ImplicitArgument.Transcript):
                        Keep(KeptValue.Transcript);
                        break;
                }
            }
        }

        var nothing = new int[0];
        foreach (var state in states)
        {
            switch (state.Kind)
            {
                case StateKind.Send:
                {
                    var local = state.Lets.Select(l => l.Id).ToList();
                    foreach (var let in state.Lets) Read(let.Value, null, local);
                    foreach (var check in state.Ensures) Read(check.Condition, null, local);
                    foreach (var set in state.Set) Read(set.Value, null, local);
                    // The sender's effects run after the message went out, in a later call: nothing is at hand.
                    foreach (var action in state.Actions) Read(action.Call, null, nothing);
                    break;
                }
                case StateKind.Receive:
                    foreach (var alternative in state.Alternatives)
                    {
                        foreach (var check in protocol.Envelope?.Checks.FirstOrDefault(c => c.Role == role)?.Checks ?? EquatableArray<BoundCheck>.Empty)
                            Read(check.Condition, Binding.ExpressionBinder.AnyMessageName, nothing);
                        // The receiver's lets are computed in the alternative itself: local to it.
                        var local = alternative.Lets.Select(l => l.Let.Id).ToList();
                        foreach (var let in alternative.Lets) Read(let.Let.Value, alternative.Message, local);
                        foreach (var check in alternative.Checks) Read(check.Condition, alternative.Message, local);
                        foreach (var action in alternative.Actions) Read(action.Call, alternative.Message, local);
                    }
                    break;
                case StateKind.Decide:
                {
                    var local = state.Lets.Select(l => l.Id).ToList();
                    foreach (var let in state.Lets) Read(let.Value, null, local);
                    foreach (var branch in state.Branches) Read(branch.Guard, null, local);
                    break;
                }
            }
        }
        var self = protocol.Role(role);
        foreach (var outcome in self.Outcome) Read(outcome.Value, null, nothing);
        foreach (var error in protocol.Errors)
        foreach (var effects in error.Effects.Where(e => e.Role == role))
        foreach (var call in effects.Calls)
            Read(call.Call, null, nothing);
        foreach (var effects in protocol.FailureEffects.Where(e => e.Role == role))
        foreach (var call in effects.Calls)
            Read(call.Call, null, nothing);
        if (protocol.Heartbeat?.Roles.FirstOrDefault(r => r.Role == role) is { } heartbeat)
        {
            Read(heartbeat.IntervalMs, null, nothing);
            foreach (var set in heartbeat.Set) Read(set.Value, null, nothing);
        }
        return kept.ToEquatableArray();
    }

    /// <summary>Every transcript field, envelope field and let an expression reads.</summary>
    public static IEnumerable<BoundExpression> References(BoundExpression? expression)
    {
        if (expression is null) yield break;
        var pending = new Stack<BoundExpression>();
        pending.Push(expression);
        while (pending.Count > 0)
        {
            var next = pending.Pop();
            switch (next)
            {
                case BoundField or BoundEnvelopeField or BoundLet:
                    yield return next;
                    break;
                case BoundCall call:
                    // A call that reads the machine's own state (transcript()) is a reference too.
                    if (call.Descriptor.Implicit.Contains(ImplicitArgument.Transcript)) yield return call;
                    foreach (var argument in call.Arguments) pending.Push(argument);
                    break;
                case BoundServiceCall service:
                    foreach (var argument in service.Arguments) pending.Push(argument);
                    break;
                case BoundHookCall hook:
                    foreach (var argument in hook.Arguments) pending.Push(argument);
                    break;
                case BoundUnary unary:
                    pending.Push(unary.Operand);
                    break;
                case BoundBinary binary:
                    pending.Push(binary.Right);
                    pending.Push(binary.Left);
                    break;
                case BoundList list:
                    foreach (var item in list.Items) pending.Push(item);
                    break;
                case BoundMember member:
                    pending.Push(member.Target);
                    break;
                case BoundObject obj:
                    foreach (var field in obj.Fields) pending.Push(field.Value);
                    break;
                case BoundConditional conditional:
                    pending.Push(conditional.Else);
                    pending.Push(conditional.Then);
                    pending.Push(conditional.Condition);
                    break;
            }
        }
    }

    private static string N(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A fingerprint (FNV-1a, 64 bits) of the states and the kept values, in hex.</summary>
    private static string Layout(EquatableArray<MachineState> states, EquatableArray<KeptValue> kept)
    {
        var text = new StringBuilder();
        foreach (var state in states)
        {
            // Numbers in the invariant culture: the fingerprint must not depend on the build machine's settings.
            text.Append(N(state.Id)).Append(':').Append(state.Kind).Append(':').Append(state.Message ?? state.FailCode ?? state.Phase);
            foreach (var alternative in state.Alternatives) text.Append(':').Append(alternative.Message).Append('>').Append(N(alternative.Next));
            foreach (var branch in state.Branches) text.Append(':').Append(N(branch.Next));
            text.Append('>').Append(N(state.Next)).Append(';');
        }
        foreach (var value in kept) text.Append(value.Name).Append(':').Append(value.Type).Append(';');
        var hash = 14695981039346656037UL;
        foreach (var c in text.ToString())
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }
}
