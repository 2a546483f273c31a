using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Model;

namespace Dsl.Generator.Projection;

/// <summary>
/// Project stage: the global flow onto one role, as session-type tools do. A message step becomes a
/// send for its sender and a receive for its receiver; a choice becomes a decision for the role that
/// makes it and, for the other role, one receive whose alternatives are the branches' first messages.
/// </summary>
internal static class RoleProjector
{
    public static RoleModel Project(string role, string prefix, string? roleDoc, BindingContext context, FlowGraph flow, List<OutcomeField> outcome)
    {
        // Number the states in the order the role meets them, starting at 0.
        var order = new List<int>();
        var ids = new Dictionary<int, int>();
        var queue = new Queue<int>();
        queue.Enqueue(flow.Start);
        ids[flow.Start] = 0;
        while (queue.Count > 0)
        {
            var id = queue.Dequeue();
            order.Add(id);
            foreach (var next in RoleSuccessors(role, flow, flow.Nodes[id]))
            {
                if (ids.ContainsKey(next)) continue;
                ids[next] = ids.Count;
                queue.Enqueue(next);
            }
        }

        var names = new HashSet<string>();
        var states = new List<StateModel>();
        foreach (var nodeId in order)
        {
            var node = flow.Nodes[nodeId];
            states.Add(ProjectNode(role, node, flow, ids, names));
        }

        var locals = flow.Nodes.Where(n => ids.ContainsKey(n.Id))
            .SelectMany(n => n.Lets).Where(l => l.Owner == role && l.Bound is not null).Select(l => l.Bound!).ToEquatableArray();
        var services = context.ServicesByName.Values.Where(s => s.Roles.Contains(role)).OrderBy(s => s.Name, System.StringComparer.Ordinal).ToEquatableArray();
        return new RoleModel(role, prefix + BindingContext.Pascal(role), roleDoc, context.Inputs[role].ToEquatableArray(), services,
            outcome.ToEquatableArray(), locals, states.ToEquatableArray(), 0);
    }

    /// <summary>
    /// The states a role can go to next. A role that receives a choice goes straight from its one
    /// receive to the step after the branch's first message, so that message's own state is never entered.
    /// </summary>
    private static IEnumerable<int> RoleSuccessors(string role, FlowGraph flow, FlowNode node)
        => node.Kind == FlowNodeKind.Choice && node.Chooser != role
            ? node.Branches.Where(b => flow.Nodes[b.First].Kind == FlowNodeKind.Message).Select(b => flow.Nodes[b.First].Next)
            : flow.Successors(node);

    private static StateModel ProjectNode(string role, FlowNode node, FlowGraph flow, Dictionary<int, int> ids, HashSet<string> names)
    {
        var empty = EquatableArray<Assignment>.Empty;
        var noActions = EquatableArray<Action>.Empty;
        var noAlternatives = EquatableArray<ReceiveAlternative>.Empty;
        var noBranches = EquatableArray<Branch>.Empty;
        var noLets = EquatableArray<LetBinding>.Empty;
        var id = ids[node.Id];
        switch (node.Kind)
        {
            case FlowNodeKind.Message when node.Sender == role:
                return new StateModel(id, Unique(names, "Send" + node.Message!.TypeName), StateKind.Send, node.Phase, node.Message.Name,
                    node.Set.ToEquatableArray(), ActionsOf(node, role), ids[node.Next], noAlternatives, noBranches,
                    node.Lets.Where(l => l.Bound is not null).Select(l => l.Bound!).ToEquatableArray(), null, null, node.Ensures.ToEquatableArray());
            case FlowNodeKind.Message:
                return new StateModel(id, Unique(names, "Await" + node.Message!.TypeName), StateKind.Receive, node.Phase, null,
                    empty, noActions, -1, new[] { Alternative(role, node, ids) }.ToEquatableArray(), noBranches, noLets, node.TimeoutMs, null);
            case FlowNodeKind.Choice when node.Chooser == role:
                return new StateModel(id, Unique(names, "Choose" + BindingContext.Pascal(node.Phase)), StateKind.Decide, node.Phase, null,
                    empty, noActions, -1, noAlternatives,
                    node.Branches.Select(b => new Branch(b.Guard, ids[b.First])).ToEquatableArray(),
                    node.Lets.Where(l => l.Bound is not null).Select(l => l.Bound!).ToEquatableArray(), null, null);
            case FlowNodeKind.Choice:
            {
                var messageFirst = node.Branches.Where(b => flow.Nodes[b.First].Kind == FlowNodeKind.Message).ToList();
                var alternatives = messageFirst.Select(b => Alternative(role, flow.Nodes[b.First], ids)).ToEquatableArray();
                var name = "Await" + string.Join("Or", messageFirst.Select(b => flow.Nodes[b.First].Message!.TypeName));
                // The choice's own timeout, else the shortest of its branches' first steps.
                var timeout = node.TimeoutMs ?? messageFirst.Select(b => flow.Nodes[b.First].TimeoutMs).Where(t => t is not null).Min();
                return new StateModel(id, Unique(names, name), StateKind.Receive, node.Phase, null, empty, noActions, -1,
                    alternatives, noBranches, noLets, timeout, null);
            }
            case FlowNodeKind.Fail when node.FailBy != role:
                // The other role learns of the failure from the peer's error message or its close.
                return new StateModel(id, Unique(names, "AwaitFailure"), StateKind.Receive, node.Phase, null, empty, noActions, -1,
                    noAlternatives, noBranches, noLets, null, null);
            case FlowNodeKind.Fail:
                return new StateModel(id, Unique(names, "Fail" + BindingContext.Pascal(node.FailCode!)), StateKind.Fail, node.Phase, null,
                    empty, noActions, -1, noAlternatives, noBranches, noLets, null, node.FailCode);
            default:
                return new StateModel(id, Unique(names, "Succeeded"), StateKind.Succeed, node.Phase, null,
                    empty, noActions, -1, noAlternatives, noBranches, noLets, null, null);
        }
    }

    private static ReceiveAlternative Alternative(string role, FlowNode node, Dictionary<int, int> ids)
        => new(node.Message!.Name, node.Phase, node.Checks.ToEquatableArray(), ActionsOf(node, role), ids[node.Next]);

    private static EquatableArray<Action> ActionsOf(FlowNode node, string role)
        => node.Actions.TryGetValue(role, out var actions) ? actions.ToEquatableArray() : EquatableArray<Action>.Empty;

    private static string Unique(HashSet<string> names, string name)
    {
        var candidate = name;
        for (var i = 2; !names.Add(candidate); i++) candidate = name + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return candidate;
    }
}
