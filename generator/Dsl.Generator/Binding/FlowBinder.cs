using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax;
using Dsl.Generator.Syntax.Yaml;

namespace Dsl.Generator.Binding;

/// <summary>
/// Binds the global flow. Builds the graph from the steps (labels, gotos, unreachable steps, ill-formed choices),
/// then computes, for every point of the flow, the distinct path sets it can be reached with: which messages have
/// been exchanged, which lets evaluated, which presence facts proven by the checks and guards passed on the way
/// (a fixpoint, loops included). Then it binds every let, ensure, set, require, do and when against those paths.
/// </summary>
internal sealed class FlowBinder
{
    private enum NodeKind { Message, Choice, Success, Fail, Goto }

    /// <summary>A node of the graph while it is built (the bind stage's working form, not a cached model).</summary>
    private sealed class Node
    {
        public int Id;
        public NodeKind Kind;
        public StepSyntax? Syntax;
        public SourceSpan Span;
        public string Phase = "";
        public IReadOnlyList<LetDeclaration> Env = new LetDeclaration[0];
        public int Next = -1;
        public long? TimeoutMs;
        public string Sender = "", Receiver = "";
        public MessageSymbol? Message;
        public readonly List<LetDeclaration> Lets = new();
        /// <summary>The receiver's lets, each after the first Position requires.</summary>
        public readonly List<(int Position, LetDeclaration Let)> ReceiverLets = new();
        public string Chooser = "";
        public readonly List<(BranchSyntax Syntax, int First)> Branches = new();
        public string? Label;
        public string? Declared;
        public string? FailCode;
        public string? FailBy;

        // Bound.
        public readonly List<BoundCheck> Ensures = new(), Requires = new();
        public readonly List<BoundAssignment> Set = new();
        public readonly List<RoleEffects> Do = new();
        public readonly List<BoundBranch> Guards = new();
    }

    private readonly BindingContext _context;
    private readonly List<Node> _nodes = new();
    private readonly Dictionary<string, int> _labels = new();
    private readonly List<(string Label, YamlScalar Syntax)> _gotos = new();
    private readonly List<LetDeclaration> _lets = new();
    private readonly HashSet<string> _letNames = new();
    private readonly Dictionary<int, PathSet> _in = new();
    private readonly Dictionary<(string Role, string Code), List<PathFacts>> _raised = new();
    private int _start;

    private FlowBinder(BindingContext context) => _context = context;

    /// <summary>The bits of the path sets: messages, lets and presence facts.</summary>
    public FactTable Facts { get; } = new();

    /// <summary>The expression binder over <see cref="Facts"/>, for the binding that follows the flow's.</summary>
    public ExpressionBinder Binder { get; private set; } = null!;

    /// <summary>The bound flow (null when it has errors).</summary>
    public BoundFlow? Flow { get; private set; }

    /// <summary>The path sets that reach success.</summary>
    public PathSet SuccessPaths { get; private set; } = null!;

    /// <summary>Every path set anywhere in the flow (where a failure of any kind may strike).</summary>
    public PathSet AnyPaths { get; private set; } = null!;

    /// <summary>The messages a reachable step exchanges.</summary>
    public HashSet<string> UsedMessages { get; } = new();

    /// <summary>The path sets where <paramref name="role"/> raises <paramref name="code"/> (by a check or a fail step).</summary>
    public PathSet Raised(string role, string code) => PathSet.Of(_raised.TryGetValue((role, code), out var paths) ? paths : new List<PathFacts>());

    public bool IsRaised(string role, string code) => _raised.TryGetValue((role, code), out var paths) && paths.Count > 0;

    /// <summary>The lets a role's expressions may name at the end of the flow (its own over the other's of the same name).</summary>
    public IReadOnlyDictionary<string, LetDeclaration> LetsFor(string role) => Visible(_lets, role);

    /// <summary>A path set on which nothing has happened: for places outside the flow (an error's set, the envelope's).</summary>
    public PathSet Nowhere => PathSet.Of(new[] { PathFacts.Empty(Facts.Count) });

    public static FlowBinder? Bind(BindingContext context, FlowSyntax? flow)
    {
        // A spec without a flow has been reported by the parser.
        if (flow is null) return null;
        var binder = new FlowBinder(context);
        return binder.Run(flow) ? binder : null;
    }

    private bool Run(FlowSyntax flow)
    {
        var end = NewNode(NodeKind.Success, null, flow.Span);
        end.Phase = "done";
        if (flow.Steps.IsEmpty)
        {
            _context.Report(DiagnosticTable.EmptyFlow, flow.Span, "The flow");
            return false;
        }
        var start = BuildSequence(flow, end.Id, new LetDeclaration[0], null, "The flow");
        foreach (var (label, syntax) in _gotos)
            if (!_labels.ContainsKey(label)) _context.Report(DiagnosticTable.UnknownLabel, syntax.Span, label);
        if (_context.HasErrors) return false;

        // Resolve gotos: every edge that points at a goto now points at its label's step (only message and
        // choice steps carry labels, so one hop always lands on a step).
        int Resolve(int id) => _nodes[id].Kind == NodeKind.Goto ? _labels[_nodes[id].Label!] : id;
        foreach (var node in _nodes)
        {
            if (node.Next >= 0) node.Next = Resolve(node.Next);
            for (var i = 0; i < node.Branches.Count; i++) node.Branches[i] = (node.Branches[i].Syntax, Resolve(node.Branches[i].First));
        }
        _start = Resolve(start);
        if (_context.HasErrors) return false;
        CheckChoices();
        if (_context.HasErrors) return false;

        AllocateFacts();
        Binder = new ExpressionBinder(_context, Facts);
        ComputePaths();

        foreach (var node in _nodes)
            if (_in.ContainsKey(node.Id) && node.Kind == NodeKind.Message) UsedMessages.Add(node.Message!.Name);

        // Lets first, in the order they were declared, so that later expressions know their types.
        foreach (var node in _nodes)
            if (node.Lets.Count > 0 && _in.TryGetValue(node.Id, out var paths)) BindLets(node, paths);
        foreach (var node in _nodes)
            if (node.ReceiverLets.Count > 0 && _in.TryGetValue(node.Id, out var paths)) BindReceiverLets(node, paths);
        foreach (var node in _nodes)
        {
            _context.CancellationToken.ThrowIfCancellationRequested();
            if (!_in.TryGetValue(node.Id, out var paths)) continue;
            if (node.Kind == NodeKind.Message) BindMessageStep(node, paths);
            else if (node.Kind == NodeKind.Choice) BindGuards(node, paths);
            else if (node.Kind == NodeKind.Fail) Raise(node.FailBy!, node.FailCode!, paths);
        }
        SuccessPaths = PathSet.Of(_nodes.Where(n => n.Kind == NodeKind.Success && _in.ContainsKey(n.Id)).SelectMany(n => _in[n.Id].Paths));
        AnyPaths = PathSet.Of(_in.Values.SelectMany(p => p.Paths).Concat(_in.Keys.SelectMany(id => Out(_nodes[id], _in[id]))));
        if (_context.HasErrors) return false;
        Flow = Build();
        return true;
    }

    // ---- Building the graph ----------------------------------------------------------------------

    private Node NewNode(NodeKind kind, StepSyntax? syntax, SourceSpan span)
    {
        var node = new Node { Id = _nodes.Count, Kind = kind, Syntax = syntax, Span = span };
        _nodes.Add(node);
        return node;
    }

    /// <summary>What ends a list of steps, so that nothing after it can run; null for a step the flow goes on from.</summary>
    private static string? TerminalName(StepSyntax step) => step switch
    {
        SuccessStepSyntax => "success",
        GotoStepSyntax g => "goto: " + g.Label.Value,
        FailStepSyntax f => "fail: " + f.Code.Value,
        ChoiceStepSyntax c when c.Branches.Count > 0 && c.Branches.All(b => b.Steps.Steps.Count > 0 && TerminalName(b.Steps.Steps[b.Steps.Steps.Count - 1]) is not null)
            => $"the choice by '{c.Chooser.Value}', whose branches all end",
        _ => null,
    };

    private int BuildSequence(FlowSyntax steps, int continuation, IReadOnlyList<LetDeclaration> env, string? chooser, string what)
    {
        var items = steps.Steps.ToList();
        if (items.Count == 0)
        {
            _context.Report(DiagnosticTable.EmptyFlow, steps.Span, what);
            return continuation;
        }
        for (var i = 0; i < items.Count - 1; i++)
        {
            if (TerminalName(items[i]) is not { } terminal) continue;
            _context.Report(DiagnosticTable.UnreachableStep, items[i + 1].Span, terminal);
            items.RemoveRange(i + 1, items.Count - i - 1);
            break;
        }
        // Allocate in document order, then link each step to the one after it.
        var ids = new List<int>();
        foreach (var item in items)
        {
            var id = BuildStep(item, env);
            if (id >= 0 && _nodes[id].Kind == NodeKind.Fail)
            {
                // A fail after a message is raised by its receiver (it has just checked it); in a branch, by the chooser.
                var previous = ids.LastOrDefault(i => i >= 0 && _nodes[i].Kind == NodeKind.Message);
                var by = ids.Any(i => i >= 0 && _nodes[i].Kind == NodeKind.Message) ? _nodes[previous].Receiver : chooser;
                if (by is null)
                    _context.Report(DiagnosticTable.InvalidValue, item.Span, "fail", "this step", "a 'fail' step follows a message (its receiver fails) or sits in a choice's branch (its chooser fails)");
                _nodes[id].FailBy = by;
            }
            ids.Add(id);
            // A step's lets (and a choice's) are in scope for the steps after it.
            if (id >= 0 && _nodes[id].Lets.Count + _nodes[id].ReceiverLets.Count > 0)
                env = env.Concat(_nodes[id].Lets).Concat(_nodes[id].ReceiverLets.Select(r => r.Let)).ToList();
        }
        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i] < 0) continue;
            var next = continuation;
            for (var j = i + 1; j < ids.Count; j++)
                if (ids[j] >= 0) { next = ids[j]; break; }
            Link(_nodes[ids[i]], next);
        }
        return ids.Any(id => id >= 0) ? ids.First(id => id >= 0) : continuation;
    }

    /// <summary>Links a step to the one after it: a message step directly, a choice through the ends of its branches.</summary>
    private void Link(Node node, int next)
    {
        if (node.Kind is NodeKind.Message) node.Next = next;
        if (node.Kind is not NodeKind.Choice) return;
        var choice = (ChoiceStepSyntax)node.Syntax!;
        var env = node.Env.Concat(node.Lets).ToList();
        for (var i = 0; i < choice.Branches.Count; i++)
        {
            var branch = choice.Branches[i];
            var last = i == choice.Branches.Count - 1;
            if (!branch.HasWhen && !last) _context.Report(DiagnosticTable.NoDefaultBranch, branch.Span);
            if (branch.HasWhen && last) _context.Report(DiagnosticTable.NoDefaultBranch, branch.WhenSpan);
            var first = BuildSequence(branch.Steps, next, env, node.Chooser, "A branch");
            node.Branches.Add((branch, first));
        }
    }

    private int BuildStep(StepSyntax step, IReadOnlyList<LetDeclaration> env)
    {
        switch (step)
        {
            case SuccessStepSyntax:
            {
                var success = NewNode(NodeKind.Success, step, step.Span);
                success.Phase = "done";
                success.Env = env;
                return success.Id;
            }
            case GotoStepSyntax go:
            {
                var node = NewNode(NodeKind.Goto, step, step.Span);
                node.Label = go.Label.Value;
                _gotos.Add((go.Label.Value, go.Label));
                return node.Id;
            }
            case FailStepSyntax fail:
            {
                if (!_context.ErrorCodes.Contains(fail.Code.Value)) _context.Report(DiagnosticTable.UnknownErrorCode, fail.Code.Span, fail.Code.Value);
                var node = NewNode(NodeKind.Fail, step, step.Span);
                node.FailCode = fail.Code.Value;
                node.Phase = "failed";
                node.Env = env;
                return node.Id;
            }
            case ChoiceStepSyntax choice:
            {
                if (!_context.Roles.Contains(choice.Chooser.Value))
                {
                    _context.Report(DiagnosticTable.UnknownRole, choice.Chooser.Span, choice.Chooser.Value, _context.RoleList);
                    return -1;
                }
                var node = NewNode(NodeKind.Choice, step, step.Span);
                node.Chooser = choice.Chooser.Value;
                node.Env = env;
                node.Phase = choice.Phase?.Value ?? "choice";
                node.TimeoutMs = choice.Timeout?.Milliseconds;
                DeclareLets(choice.Lets, node, node.Chooser);
                DeclareLabel(choice.Label, node.Id);
                return node.Id;
            }
            case MessageStepSyntax message:
                return BuildMessageStep(message, env);
            default:
                return -1;
        }
    }

    private int BuildMessageStep(MessageStepSyntax step, IReadOnlyList<LetDeclaration> env)
    {
        var ok = true;
        if (step.Sender.Length == 0 || step.Receiver.Length == 0)
        {
            _context.Report(DiagnosticTable.BadStepRoles, step.Arrow.Span, step.Arrow.Value, "write 'sender -> receiver'");
            ok = false;
        }
        else
        {
            foreach (var role in new[] { step.Sender, step.Receiver })
            {
                if (_context.Roles.Contains(role)) continue;
                _context.Report(DiagnosticTable.UnknownRole, step.Arrow.Span, role, _context.RoleList);
                ok = false;
            }
            if (ok && step.Sender == step.Receiver)
            {
                _context.Report(DiagnosticTable.BadStepRoles, step.Arrow.Span, step.Arrow.Value, "a role cannot send a message to itself");
                ok = false;
            }
        }
        if (!_context.Messages.TryGetValue(step.Message.Value, out var message))
        {
            _context.Report(DiagnosticTable.UnknownFlowMessage, step.Message.Span, step.Message.Value);
            ok = false;
        }
        if (!ok) return -1;
        if (message!.IsErrorMessage)
            _context.Report(DiagnosticTable.ErrorMessageShape, step.Message.Span, message.Name, "an error message is sent by 'errors', not by a flow step");

        var node = NewNode(NodeKind.Message, step, step.Span);
        node.Sender = step.Sender;
        node.Receiver = step.Receiver;
        node.Message = message;
        node.Env = env;
        node.Phase = step.Phase?.Value ?? message.Name;
        node.TimeoutMs = step.Timeout?.Milliseconds;
        DeclareLets(step.Lets, node, step.Sender);
        foreach (var positioned in step.ReceiverLets)
            foreach (var declared in DeclareLets(new EquatableArray<LetSyntax>(new[] { positioned.Let }), null, step.Receiver))
                node.ReceiverLets.Add((positioned.Position, declared));
        DeclareLabel(step.Label, node.Id);
        return node.Id;
    }

    /// <summary>Declares lets of <paramref name="owner"/>; a sender's or chooser's go to <paramref name="node"/>'s lets.</summary>
    private List<LetDeclaration> DeclareLets(EquatableArray<LetSyntax> lets, Node? node, string owner)
    {
        var declared = new List<LetDeclaration>();
        foreach (var let in lets)
        {
            var name = let.Name.Value;
            if (!_letNames.Add(owner + "/" + name) || _context.Messages.ContainsKey(name) || _context.Services.ContainsKey(name) || name is "msg" or "self" or "spec")
            {
                _context.Report(DiagnosticTable.DuplicateKey, let.Name.Span, name, $"the names of '{owner}''s lets, the messages and the services");
                continue;
            }
            var declaration = new LetDeclaration(_lets.Count, name, owner, let.Value, let.Name.Span);
            _lets.Add(declaration);
            node?.Lets.Add(declaration);
            declared.Add(declaration);
        }
        return declared;
    }

    private void DeclareLabel(YamlScalar? label, int id)
    {
        if (label is null) return;
        _nodes[id].Declared = label.Value;
        if (_labels.ContainsKey(label.Value)) _context.Report(DiagnosticTable.DuplicateLabel, label.Span, label.Value);
        else _labels[label.Value] = id;
    }

    /// <summary>Every branch starts with a message its chooser sends (or its own fail), and no two with the same one.</summary>
    private void CheckChoices()
    {
        foreach (var choice in _nodes.Where(n => n.Kind == NodeKind.Choice))
        {
            var firsts = new HashSet<string>();
            var other = _context.Roles.First(r => r != choice.Chooser);
            foreach (var (syntax, first) in choice.Branches)
            {
                var node = _nodes[first];
                // A branch may also just fail: the chooser's error message is what the other role sees.
                if (node.Kind == NodeKind.Fail && node.FailBy == choice.Chooser) continue;
                if (node.Kind != NodeKind.Message || node.Sender != choice.Chooser)
                {
                    var found = node.Kind switch
                    {
                        NodeKind.Message => $"'{node.Message!.Name}', which '{node.Sender}' sends",
                        NodeKind.Choice => "another choice",
                        _ => "'" + ((node.Syntax is { } s ? TerminalName(s) : null) ?? node.Kind.ToString().ToLowerInvariant()) + "'",
                    };
                    _context.Report(DiagnosticTable.BranchStart, syntax.Span, choice.Chooser, found);
                    continue;
                }
                if (!firsts.Add(node.Message!.Name))
                    _context.Report(DiagnosticTable.IndistinctBranches, node.Span, choice.Chooser, node.Message.Name, other);
            }
        }
    }

    // ---- Paths -------------------------------------------------------------------------------------

    /// <summary>One bit per message, per let, and per presence fact a check or a guard can prove.</summary>
    private void AllocateFacts()
    {
        foreach (var message in _context.Messages.Values.OrderBy(m => m.Index)) Facts.Message(message.Name);
        foreach (var let in _lets) Facts.Let(let.Id);
        bool IsMessage(string name) => _context.Messages.ContainsKey(name);
        foreach (var node in _nodes)
        {
            if (node.Syntax is MessageStepSyntax step)
            {
                foreach (var check in step.Ensure)
                {
                    foreach (var target in FactTable.ProvenPresent(check.Condition.Syntax, true, null, IsMessage))
                        Facts.Presence(node.Sender, target);
                }
                foreach (var check in step.Require)
                {
                    foreach (var target in FactTable.ProvenPresent(check.Condition.Syntax, true, node.Message!.Name, IsMessage))
                        Facts.Presence(node.Receiver, target);
                }
            }
            else if (node.Syntax is ChoiceStepSyntax choice)
            {
                foreach (var branch in choice.Branches)
                {
                    if (branch.When is null) continue;
                    foreach (var holds in new[] { true, false })
                    foreach (var target in FactTable.ProvenPresent(branch.When.Syntax, holds, null, IsMessage))
                        Facts.Presence(node.Chooser, target);
                }
            }
        }
    }

    /// <summary>What the checks of a list prove, one after the other, for <paramref name="role"/>.</summary>
    private PathFacts AfterChecks(PathFacts path, IEnumerable<CheckSyntax> checks, string role, string? current)
    {
        foreach (var check in checks) path = AfterCondition(path, check.Condition.Syntax, true, role, current);
        return path;
    }

    private PathFacts AfterCondition(PathFacts path, ExprSyntax condition, bool holds, string role, string? current)
    {
        foreach (var target in FactTable.ProvenPresent(condition, holds, current, _context.Messages.ContainsKey))
            if (Facts.Find(role, target) is { } bit) path = path.With(bit);
        return path;
    }

    private PathFacts AfterLet(PathFacts path, LetDeclaration let)
        => path.Without(Facts.FactsAboutLet(let.Owner, let.Name)).With(Facts.Let(let.Id));

    private PathFacts AfterLets(PathFacts path, Node node)
    {
        foreach (var let in node.Lets) path = AfterLet(path, let);
        return path;
    }

    private PathFacts AfterMessage(PathFacts path, Node node)
        => path.Without(Facts.FactsAboutMessage(node.Message!.Name)).With(Facts.Message(node.Message.Name));

    /// <summary>The path of a message step after its lets, ensures, message and requires.</summary>
    private PathFacts Through(PathFacts path, Node node)
    {
        var step = (MessageStepSyntax)node.Syntax!;
        path = AfterChecks(AfterLets(path, node), step.Ensure, node.Sender, null);
        return AfterRequires(AfterMessage(path, node), node, step.Require.Count);
    }

    /// <summary>The receiver's path through the first <paramref name="count"/> requires and the lets among them.</summary>
    private PathFacts AfterRequires(PathFacts path, Node node, int count)
    {
        var step = (MessageStepSyntax)node.Syntax!;
        for (var i = 0; i <= count; i++)
        {
            foreach (var (position, let) in node.ReceiverLets)
                if (position == i) path = AfterLet(path, let);
            if (i < count && i < step.Require.Count) path = AfterCondition(path, step.Require[i].Condition.Syntax, true, node.Receiver, node.Message!.Name);
        }
        return path;
    }

    /// <summary>The path into branch <paramref name="index"/> of a choice: its guard held, the earlier ones did not.</summary>
    private PathFacts IntoBranch(PathFacts path, Node node, int index)
    {
        var choice = (ChoiceStepSyntax)node.Syntax!;
        path = AfterLets(path, node);
        for (var j = 0; j < index; j++)
            if (choice.Branches[j].When is { } earlier) path = AfterCondition(path, earlier.Syntax, false, node.Chooser, null);
        return choice.Branches[index].When is { } when ? AfterCondition(path, when.Syntax, true, node.Chooser, null) : path;
    }

    private IEnumerable<(int Next, PathFacts Path)> Successors(Node node, PathFacts path)
    {
        switch (node.Kind)
        {
            case NodeKind.Message:
                yield return (node.Next, Through(path, node));
                break;
            case NodeKind.Choice:
                for (var i = 0; i < node.Branches.Count; i++) yield return (node.Branches[i].First, IntoBranch(path, node, i));
                break;
        }
    }

    private IEnumerable<PathFacts> Out(Node node, PathSet paths)
        => paths.Paths.SelectMany(p => Successors(node, p).Select(s => s.Path));

    /// <summary>
    /// The fixpoint: for each reachable node, the distinct path sets it can be reached with. A node reached with
    /// more than <see cref="PathSet.Limit"/> is widened for good to what holds on all of them and on any of them;
    /// after that, a new path only counts when it shrinks the one or grows the other, so loops terminate.
    /// </summary>
    private void ComputePaths()
    {
        var sets = new Dictionary<int, HashSet<PathFacts>> { [_start] = new() { PathFacts.Empty(Facts.Count) } };
        var widened = new Dictionary<int, (PathFacts All, PathFacts Any)>();
        var work = new Queue<int>();
        var queued = new HashSet<int>();
        work.Enqueue(_start);
        queued.Add(_start);
        while (work.Count > 0)
        {
            _context.CancellationToken.ThrowIfCancellationRequested();
            var id = work.Dequeue();
            queued.Remove(id);
            var node = _nodes[id];
            foreach (var path in sets[node.Id].ToList())
            foreach (var (next, outPath) in Successors(node, path))
            {
                if (!sets.TryGetValue(next, out var target)) sets[next] = target = new HashSet<PathFacts>();
                if (widened.TryGetValue(next, out var bounds))
                {
                    var all = bounds.All.Intersect(outPath);
                    var any = bounds.Any.Union(outPath);
                    if (all.Equals(bounds.All) && any.Equals(bounds.Any)) continue;
                    widened[next] = (all, any);
                    target.Clear();
                    target.Add(all);
                    target.Add(any);
                }
                else
                {
                    if (!target.Add(outPath)) continue;
                    if (target.Count > PathSet.Limit)
                    {
                        var all = target.Aggregate((x, y) => x.Intersect(y));
                        var any = target.Aggregate((x, y) => x.Union(y));
                        widened[next] = (all, any);
                        target.Clear();
                        target.Add(all);
                        target.Add(any);
                    }
                }
                if (queued.Add(next)) work.Enqueue(next);
            }
        }
        foreach (var pair in sets) _in[pair.Key] = PathSet.Of(pair.Value);
    }

    private void Raise(string role, string code, PathSet paths)
    {
        if (!_raised.TryGetValue((role, code), out var list)) _raised[(role, code)] = list = new List<PathFacts>();
        list.AddRange(paths.Paths);
    }

    // ---- Binding ---------------------------------------------------------------------------------

    /// <summary>The lets a role sees among <paramref name="lets"/>: two roles may each have one of a name, and a role sees its own.</summary>
    private static Dictionary<string, LetDeclaration> Visible(IEnumerable<LetDeclaration> lets, string role)
    {
        var visible = new Dictionary<string, LetDeclaration>();
        foreach (var let in lets)
            if (!visible.TryGetValue(let.Name, out var existing) || existing.Owner != role) visible[let.Name] = let;
        return visible;
    }

    private Scope ScopeFor(IEnumerable<LetDeclaration> lets, string role, PathSet paths, MessageSymbol? current, string where, AbsenceAdvice advice)
        => new() { Role = role, Where = where, Current = current, Paths = paths, Lets = Visible(lets, role), Advice = advice };

    /// <summary>
    /// The receiver's lets, each where it is written among the requires: after the message and the checks before it,
    /// seeing the lets before it (bound before the steps, like a sender's, so later steps know their types).
    /// </summary>
    private void BindReceiverLets(Node node, PathSet paths)
    {
        var step = (MessageStepSyntax)node.Syntax!;
        var earlier = node.Env.Concat(node.Lets).ToList();
        var received = paths.Select(p => AfterMessage(AfterChecks(AfterLets(p, node), step.Ensure, node.Sender, null), node));
        foreach (var (position, let) in node.ReceiverLets)
        {
            var before = received.Select(p => AfterRequiresBefore(p, node, position, let));
            var scope = ScopeFor(earlier, let.Owner, before, node.Message, $"let '{let.Name}'", AbsenceAdvice.Require) with { LetValue = true };
            earlier.Add(let);
            var value = Binder.BindExpression(let.Value, scope, expected: null, requirePresent: false, $"let '{let.Name}'");
            if (value is null) continue;
            if (!Keepable(value, let)) continue;
            let.Symbol = new LetSymbol(let.Id, let.Name, let.Owner, value.Type, value, let.Span) { Source = let.Value.Source.Value.Trim() };
        }
    }

    /// <summary>The receiver's path up to a let of its own: the requires before it and the lets before it.</summary>
    private PathFacts AfterRequiresBefore(PathFacts path, Node node, int position, LetDeclaration until)
    {
        var step = (MessageStepSyntax)node.Syntax!;
        for (var i = 0; i <= position; i++)
        {
            foreach (var (at, let) in node.ReceiverLets)
            {
                if (let == until) return path;
                if (at == i) path = AfterLet(path, let);
            }
            if (i < position && i < step.Require.Count) path = AfterCondition(path, step.Require[i].Condition.Syntax, true, node.Receiver, node.Message!.Name);
        }
        return path;
    }

    /// <summary>Whether a let's value can be kept: of a known type a machine can hold (reported otherwise).</summary>
    private bool Keepable(BoundExpression value, LetDeclaration let)
    {
        if (value.Type.Type.Kind is TypeKind.Void or TypeKind.Null || value.Type.Type is { Kind: TypeKind.List, Element: TypeKind.Null })
        {
            // [] alone has no item type: a let of it could be used as any list.
            _context.Report(DiagnosticTable.TypeMismatch, let.Value.Span, $"let '{let.Name}'", "a value of a known type", value.Type.ToString());
            return false;
        }
        if (!value.Type.Type.Descriptor.Allows(TypePlaces.Kept))
        {
            _context.Report(DiagnosticTable.TypeMismatch, let.Value.Span, $"let '{let.Name}'", "a value a machine can keep (not an ed25519_key)", value.Type.ToString());
            return false;
        }
        return true;
    }

    private void BindLets(Node node, PathSet paths)
    {
        // A let sees the lets before it in the same step, as evaluated.
        var earlier = new List<LetDeclaration>();
        var before = paths;
        foreach (var let in node.Lets)
        {
            var scope = ScopeFor(node.Env.Concat(earlier), let.Owner, before, null, $"let '{let.Name}'", AbsenceAdvice.Fallback) with { LetValue = true };
            earlier.Add(let);
            before = before.Select(p => AfterLet(p, let));
            var value = Binder.BindExpression(let.Value, scope, expected: null, requirePresent: false, $"let '{let.Name}'");
            if (value is null) continue;
            if (value.Type.Type.Kind is TypeKind.Void or TypeKind.Null || value.Type.Type is { Kind: TypeKind.List, Element: TypeKind.Null })
            {
                // [] alone has no item type: a let of it could be used as any list.
                _context.Report(DiagnosticTable.TypeMismatch, let.Value.Span, $"let '{let.Name}'", "a value of a known type", value.Type.ToString());
                continue;
            }
            if (!value.Type.Type.Descriptor.Allows(TypePlaces.Kept))
            {
                _context.Report(DiagnosticTable.TypeMismatch, let.Value.Span, $"let '{let.Name}'", "a value a machine can keep (not an ed25519_key)", value.Type.ToString());
                continue;
            }
            let.Symbol = new LetSymbol(let.Id, let.Name, let.Owner, value.Type, value, let.Span) { Source = let.Value.Source.Value.Trim() };
        }
    }

    private void BindGuards(Node node, PathSet paths)
    {
        var lets = node.Env.Concat(node.Lets).ToList();
        var choice = (ChoiceStepSyntax)node.Syntax!;
        // A guard is evaluated after the choice's lets, where every earlier guard was false.
        var before = paths.Select(p => AfterLets(p, node));
        for (var i = 0; i < node.Branches.Count; i++)
        {
            var branch = choice.Branches[i];
            BoundExpression? guard = null;
            if (branch.When is { } when)
            {
                guard = Binder.BindExpression(when, ScopeFor(lets, node.Chooser, before, null, "a branch's 'when'", AbsenceAdvice.When), TypeRef.Bool, requirePresent: true, "a branch's 'when'");
                before = before.Select(p => AfterCondition(p, when.Syntax, false, node.Chooser, null));
            }
            node.Guards.Add(new BoundBranch(guard, node.Branches[i].First, branch.Span) { GuardSource = branch.When?.Source.Value });
        }
    }

    private void BindMessageStep(Node node, PathSet paths)
    {
        var step = (MessageStepSyntax)node.Syntax!;
        var message = node.Message!;
        var lets = node.Env.Concat(node.Lets).ToList();

        // The sender: its lets, then each ensure proving what it tests for the next, then the set.
        var mid = paths.Select(p => AfterLets(p, node));
        var ensured = mid;
        foreach (var check in step.Ensure)
        {
            var scope = ScopeFor(lets, node.Sender, ensured, null, $"the 'ensure' of '{message.Name}'", AbsenceAdvice.Ensure);
            if (Binder.BindCheck(check, scope) is { } bound) node.Ensures.Add(bound);
            Raise(node.Sender, check.Code, ensured);
            ensured = ensured.Select(p => AfterCondition(p, check.Condition.Syntax, true, node.Sender, null));
        }
        var set = step.Set ?? new AssignmentsSyntax(step.Span, EquatableArray<AssignmentSyntax>.Empty);
        var assignments = SpecBinder.BindAssignments(_context, Binder, message.Name, message.Fields, set,
            ScopeFor(lets, node.Sender, ensured, null, $"the 'set' of '{message.Name}'", AbsenceAdvice.Ensure) with { Signing = message.SignsItself ? message : null },
            new string[0]);
        // 'unsigned' is the message without its signature fields: only they can be computed over it.
        foreach (var assignment in assignments.Where(a => !message.SignatureFields.Contains(a.Field) && SpecBinder.Reads(a.Value, ContextValue.MessageUnsigned)))
            _context.Report(DiagnosticTable.InvalidValue, assignment.Span, assignment.Field, $"the 'set' of '{message.Name}'",
                "'unsigned' is the message without its signature fields, so only those (named under the message's 'signature') can be computed over it");
        node.Set.AddRange(assignments);

        // The receiver: the message, then each require proving what it tests for the next, and its lets among them.
        var received = ensured.Select(p => AfterMessage(p, node));
        for (var i = 0; i <= step.Require.Count; i++)
        {
            foreach (var (position, let) in node.ReceiverLets.Where(r => r.Position == i))
            {
                lets.Add(let);
                received = received.Select(p => AfterLet(p, let));
            }
            if (i == step.Require.Count) break;
            var check = step.Require[i];
            var scope = ScopeFor(lets, node.Receiver, received, message, $"the 'require' of '{message.Name}'", AbsenceAdvice.Require);
            if (Binder.BindCheck(check, scope) is { } bound) node.Requires.Add(bound);
            Raise(node.Receiver, check.Code, received);
            received = received.Select(p => AfterCondition(p, check.Condition.Syntax, true, node.Receiver, message.Name));
        }

        if (step.Do is { } effects)
        {
            foreach (var role in SpecBinder.BindEffects(_context, Binder, effects, "'do'", role => true,
                role => ScopeFor(lets, role, received, message, $"the 'do' of '{message.Name}'", AbsenceAdvice.Fallback), "An action must call a service method, such as 'threads.open(...)', or a hook"))
                node.Do.Add(role);
        }
    }

    // ---- The bound flow ----------------------------------------------------------------------------

    private BoundFlow Build()
    {
        // Reachable nodes only (gotos are edges now), renumbered in document order.
        var reachable = _nodes.Where(n => _in.ContainsKey(n.Id) && n.Kind != NodeKind.Goto).ToList();
        var ids = reachable.Select((n, i) => (n.Id, i)).ToDictionary(p => p.Id, p => p.i);
        var nodes = new List<FlowNode>();
        foreach (var node in reachable)
        {
            var id = ids[node.Id];
            var lets = node.Lets.Where(l => l.Symbol is not null).Select(l => l.Symbol!).ToEquatableArray();
            nodes.Add(node.Kind switch
            {
                NodeKind.Message => new MessageNode(id, node.Phase, node.Span, node.Sender, node.Receiver, node.Message!.Name, lets,
                    node.Ensures.ToEquatableArray(), node.Set.ToEquatableArray(), node.Requires.ToEquatableArray(), node.Do.ToEquatableArray(), node.TimeoutMs, ids[node.Next])
                {
                    ReceiverLets = node.ReceiverLets.Where(r => r.Let.Symbol is not null).Select(r => new PositionedLet(r.Position, r.Let.Symbol!)).ToEquatableArray(),
                },
                NodeKind.Choice => new ChoiceNode(id, node.Phase, node.Span, node.Chooser, lets,
                    node.Guards.Select(g => g with { First = ids[g.First] }).ToEquatableArray(), node.TimeoutMs),
                NodeKind.Fail => new FailNode(id, node.Phase, node.Span, node.FailCode!, node.FailBy!),
                _ => (FlowNode)new SuccessNode(id, node.Phase, node.Span),
            } with { Label = node.Declared });
        }
        return new BoundFlow(nodes.ToEquatableArray(), ids[_start], _lets.Where(l => l.Symbol is not null).Select(l => l.Symbol!).ToEquatableArray());
    }
}
