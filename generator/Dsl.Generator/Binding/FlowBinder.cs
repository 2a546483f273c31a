using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Binding.Expressions;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax;

namespace Dsl.Generator.Binding;

internal enum FlowNodeKind { Message, Choice, Success, Fail, Goto }

/// <summary>A let declared at a choice; its type is known once bound.</summary>
internal sealed class LetDeclaration(string name, string owner, string fieldName, YamlNode value, int bit)
{
    /// <summary>The let's bit in the seen sets: set on the paths that evaluated it.</summary>
    public int Bit { get; } = bit;
    public string Name { get; } = name;
    public string Owner { get; } = owner;
    public string FieldName { get; } = fieldName;
    public YamlNode Value { get; } = value;
    public LetBinding? Bound { get; set; }
}

/// <summary>The lets visible at a step, and those a guard has proven present.</summary>
internal sealed record LexicalEnv(IReadOnlyList<LetDeclaration> Lets, IReadOnlyCollection<string> Narrowed)
{
    public static readonly LexicalEnv Empty = new(new LetDeclaration[0], new string[0]);

    /// <summary>The role that made the innermost enclosing choice, if any.</summary>
    public string? Chooser { get; init; }
}

/// <summary>A node of the global flow graph (the bind stage's working form, not a cached model).</summary>
internal sealed class FlowNode
{
    public int Id { get; set; }
    public FlowNodeKind Kind { get; set; }
    public YamlNode Syntax { get; set; } = null!;
    public string Phase { get; set; } = "";
    public LexicalEnv Env { get; set; } = LexicalEnv.Empty;
    public int Next { get; set; } = -1;
    public long? TimeoutMs { get; set; }

    // Message steps.
    public string Sender { get; set; } = "";
    public string Receiver { get; set; } = "";
    public MessageModel? Message { get; set; }
    public List<Assignment> Set { get; } = new();
    public List<Check> Checks { get; } = new();
    public List<Check> Ensures { get; } = new();
    public Dictionary<string, List<Action>> Actions { get; } = new();

    /// <summary>Values the sender (of a step) or the chooser (of a choice) computes first.</summary>
    public List<LetDeclaration> Lets { get; } = new();

    // Choices.
    public string Chooser { get; set; } = "";
    public List<(YamlScalar? When, int First, YamlNode Syntax)> BranchSyntax { get; } = new();
    public List<(BoundExpr? Guard, int First)> Branches { get; } = new();

    // Gotos and failures.
    public string? Label { get; set; }
    public string? FailCode { get; set; }

    /// <summary>The role that raises a <c>fail</c>: the chooser of the enclosing choice, else the receiver of the step before.</summary>
    public string? FailBy { get; set; }
}

/// <summary>The bound global flow.</summary>
internal sealed class FlowGraph
{
    public List<FlowNode> Nodes { get; } = new();
    public int Start { get; set; }
    public IReadOnlyList<ulong> SuccessSeenSets { get; set; } = new ulong[] { 0 };
    public HashSet<string> UsedMessages { get; } = new();
    public IReadOnlyCollection<string> SuccessNarrowed { get; set; } = new string[0];
    public IReadOnlyList<LetDeclaration> AllLets { get; set; } = new LetDeclaration[0];

    /// <summary>Every seen set anywhere in the flow (where an unexpected failure may strike).</summary>
    public HashSet<ulong> AnySets { get; } = new();

    private readonly Dictionary<(string Role, string Code), HashSet<ulong>> _raised = new();

    /// <summary>The seen sets where <paramref name="role"/> raises <paramref name="code"/> (by a check, an ensure or a fail).</summary>
    public HashSet<ulong> Raised(string role, string code)
        => _raised.TryGetValue((role, code), out var sets) ? sets : _raised[(role, code)] = new HashSet<ulong>();

    public bool IsRaised(string role, string code) => _raised.TryGetValue((role, code), out var sets) && sets.Count > 0;

    /// <summary>The lets a role's expressions may name at the end of the flow (its own over the peer's of the same name).</summary>
    public Dictionary<string, LocalInfo> LocalsFor(string role)
    {
        var locals = new Dictionary<string, LocalInfo>();
        foreach (var let in AllLets)
            if (!locals.TryGetValue(let.Name, out var existing) || (existing.Owner != role && let.Owner == role))
                locals[let.Name] = new LocalInfo(let.Name, let.Owner, let.FieldName, let.Bound!.Type, let.Bit);
        return locals;
    }

    public IEnumerable<int> Successors(FlowNode node) => node.Kind switch
    {
        FlowNodeKind.Message => new[] { node.Next },
        FlowNodeKind.Choice => node.Branches.Count > 0 ? node.Branches.Select(b => b.First) : node.BranchSyntax.Select(b => b.First),
        _ => new int[0],
    };
}

/// <summary>
/// Binds the global flow: builds the graph from the steps, resolves labels and gotos, reports unreachable
/// steps and ill-formed choices, computes which messages may have been exchanged at each step, and binds
/// every <c>set</c>, <c>require</c>, <c>do</c>, <c>let</c> and <c>when</c>.
/// </summary>
internal sealed class FlowBinder
{
    private readonly BindingContext _context;
    private readonly ExpressionBinder _binder;
    private readonly FlowGraph _graph = new();
    private readonly Dictionary<string, int> _labels = new();
    private readonly List<(string Label, YamlScalar Syntax, int Node)> _gotos = new();
    private readonly List<FlowNode> _choicesInOrder = new();
    private readonly HashSet<string> _letNames = new();
    private int _nextBit;
    private Dictionary<int, IReadOnlyList<ulong>> _mid = new();

    private FlowBinder(BindingContext context, ExpressionBinder binder)
    {
        _context = context;
        _binder = binder;
    }

    public static FlowGraph? Bind(BindingContext context, ExpressionBinder binder, YamlMapping root)
    {
        var flowNode = root["flow"];
        if (flowNode is null)
        {
            context.Report(DiagnosticTable.MissingKey, root.Span, "The spec", "flow");
            return null;
        }
        var steps = context.AsSequence(flowNode, "'flow'");
        if (steps is null) return null;
        var flow = new FlowBinder(context, binder);
        return flow.Run(steps);
    }

    private FlowGraph? Run(YamlSequence steps)
    {
        _nextBit = _context.MessagesByName.Count;
        var end = NewNode(FlowNodeKind.Success, steps);
        end.Phase = "done";
        if (steps.Items.Count == 0)
        {
            _context.Report(DiagnosticTable.EmptyFlow, steps.Span, "The flow");
            return null;
        }
        var start = BuildSequence(steps, end.Id, LexicalEnv.Empty, "The flow");
        foreach (var (label, syntax, node) in _gotos)
        {
            if (!_labels.ContainsKey(label)) _context.Report(DiagnosticTable.UnknownLabel, syntax.Span, label);
        }
        if (_context.HasErrors) return null;

        // Resolve gotos: every edge that points at a goto now points at its label's step.
        int Resolve(int id)
        {
            for (var hops = 0; _graph.Nodes[id].Kind == FlowNodeKind.Goto; hops++)
            {
                if (hops > _graph.Nodes.Count)
                {
                    _context.Report(DiagnosticTable.UnknownLabel, _graph.Nodes[id].Syntax.Span, _graph.Nodes[id].Label + " (the gotos form a loop with no step)");
                    return id;
                }
                id = _labels[_graph.Nodes[id].Label!];
            }
            return id;
        }
        foreach (var node in _graph.Nodes)
        {
            if (node.Next >= 0) node.Next = Resolve(node.Next);
            for (var i = 0; i < node.BranchSyntax.Count; i++)
                node.BranchSyntax[i] = (node.BranchSyntax[i].When, Resolve(node.BranchSyntax[i].First), node.BranchSyntax[i].Syntax);
        }
        _graph.Start = Resolve(start);
        if (_context.HasErrors) return null;

        CheckChoices();
        if (_context.HasErrors) return null;

        var (seenIn, seenOut) = SeenSets();
        foreach (var node in _graph.Nodes)
            if (seenIn.ContainsKey(node.Id) && node.Kind == FlowNodeKind.Message) _graph.UsedMessages.Add(node.Message!.Name);

        // Lets first, in the order they were declared, so that later expressions know their types.
        foreach (var node in _graph.Nodes)
            if (node.Lets.Count > 0 && seenIn.TryGetValue(node.Id, out var sets)) BindLets(node, sets);
        foreach (var node in _graph.Nodes)
        {
            _context.CancellationToken.ThrowIfCancellationRequested();
            if (!seenIn.TryGetValue(node.Id, out var before)) continue;
            if (node.Kind == FlowNodeKind.Message) BindMessageStep(node, before, seenOut[node.Id]);
            else if (node.Kind == FlowNodeKind.Choice) BindGuards(node, _mid[node.Id]);
        }
        var success = _graph.Nodes.Where(n => n.Kind == FlowNodeKind.Success && seenIn.ContainsKey(n.Id))
            .SelectMany(n => seenIn[n.Id]).Distinct().OrderBy(s => s).ToList();
        _graph.SuccessSeenSets = Cap(success);
        // At the end, the names proven present on every way into every success.
        IEnumerable<string>? narrowed = null;
        foreach (var node in _graph.Nodes.Where(n => n.Kind == FlowNodeKind.Success && seenIn.ContainsKey(n.Id)))
        foreach (var incoming in Incoming(node.Id))
            narrowed = narrowed is null ? incoming.ToList() : narrowed.Intersect(incoming).ToList();
        _graph.SuccessNarrowed = (narrowed ?? new string[0]).ToList();
        _graph.AllLets = _graph.Nodes.SelectMany(n => n.Lets).Where(l => l.Bound is not null).ToList();

        // Where each role can raise each code, for binding the errors' effects.
        foreach (var node in _graph.Nodes)
        {
            if (!seenIn.TryGetValue(node.Id, out var before)) continue;
            _graph.AnySets.UnionWith(before);
            _graph.AnySets.UnionWith(seenOut[node.Id]);
            if (node.Kind == FlowNodeKind.Message)
            {
                foreach (var check in node.Checks) _graph.Raised(node.Receiver, check.Code).UnionWith(seenOut[node.Id]);
                foreach (var check in node.Ensures) _graph.Raised(node.Sender, check.Code).UnionWith(_mid[node.Id]);
            }
            else if (node.Kind == FlowNodeKind.Fail && node.FailBy is not null)
                _graph.Raised(node.FailBy, node.FailCode!).UnionWith(before);
        }
        return _graph;
    }

    private FlowNode NewNode(FlowNodeKind kind, YamlNode syntax)
    {
        var node = new FlowNode { Id = _graph.Nodes.Count, Kind = kind, Syntax = syntax };
        _graph.Nodes.Add(node);
        return node;
    }

    private int BuildSequence(YamlSequence steps, int continuation, LexicalEnv env, string what)
    {
        var items = steps.Items.ToList();
        if (items.Count == 0)
        {
            _context.Report(DiagnosticTable.EmptyFlow, steps.Span, what);
            return continuation;
        }
        for (var i = 0; i < items.Count - 1; i++)
        {
            var terminal = TerminalName(items[i]);
            if (terminal is null) continue;
            _context.Report(DiagnosticTable.UnreachableStep, items[i + 1].Span, terminal);
            items.RemoveRange(i + 1, items.Count - i - 1);
            break;
        }
        // Allocate in document order, then link each step to the one after it.
        var ids = new List<int>();
        foreach (var item in items)
        {
            var id = BuildStep(item, env);
            if (id >= 0 && _graph.Nodes[id].Kind == FlowNodeKind.Fail)
            {
                var previous = -1;
                foreach (var i in ids)
                    if (i >= 0 && _graph.Nodes[i].Kind == FlowNodeKind.Message) previous = i;
                var by = previous >= 0 ? _graph.Nodes[previous].Receiver : env.Chooser;
                if (by is null)
                    _context.Report(DiagnosticTable.InvalidValue, item.Span, "fail", "this step", "a 'fail' step follows a message (its receiver fails) or sits in a choice's branch (its chooser fails)");
                _graph.Nodes[id].FailBy = by;
            }
            ids.Add(id);
            // A step's lets (and a choice's) are in scope for the steps after it, and what its
            // 'ensure' proved present stays present.
            if (id >= 0 && _graph.Nodes[id].Lets.Count > 0)
                env = env with { Lets = env.Lets.Concat(_graph.Nodes[id].Lets).ToList() };
            if (id >= 0 && item is YamlMapping m && m["ensure"] is YamlSequence ensures)
            {
                var proven = ensures.Items.OfType<YamlScalar>().SelectMany(e => ExpressionBinder.NarrowedByCheck(e.Value));
                env = env with { Narrowed = env.Narrowed.Concat(proven).Distinct().ToList() };
            }
        }
        if (ids.Count > 0 && ids[ids.Count - 1] >= 0 && TerminalName(items[items.Count - 1]) is null)
            Incoming(continuation).Add(env.Narrowed);
        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i] < 0) continue;
            var next = continuation;
            for (var j = i + 1; j < ids.Count; j++)
                if (ids[j] >= 0) { next = ids[j]; break; }
            Link(_graph.Nodes[ids[i]], next);
        }
        return ids.FirstOrDefault(id => id >= 0) is var first && ids.Any(id => id >= 0) ? first : continuation;
    }

    private readonly Dictionary<int, List<IReadOnlyCollection<string>>> _incoming = new();

    /// <summary>What the sequences that end by falling into <paramref name="node"/> have proven present.</summary>
    private List<IReadOnlyCollection<string>> Incoming(int node)
        => _incoming.TryGetValue(node, out var list) ? list : _incoming[node] = new List<IReadOnlyCollection<string>>();

    private void Link(FlowNode node, int next)
    {
        if (node.Kind is FlowNodeKind.Message) node.Next = next;
        else if (node.Kind is FlowNodeKind.Choice)
        {
            node.Next = next;
            var env = node.Env;
            var lets = env.Lets.Concat(node.Lets).ToList();
            var branches = (YamlSequence)((YamlMapping)node.Syntax)["branches"]!;
            for (var i = 0; i < branches.Items.Count; i++)
            {
                var branch = _context.AsMapping(branches.Items[i], "A branch");
                if (branch is null) continue;
                _context.CheckKeys(branch, "a branch", "when", "steps");
                var when = _context.AsScalar(branch["when"], "'when'");
                if (when is null && branch["when"] is null && i < branches.Items.Count - 1)
                    _context.Report(DiagnosticTable.NoDefaultBranch, branch.Span);
                if (when is not null && i == branches.Items.Count - 1)
                    _context.Report(DiagnosticTable.NoDefaultBranch, when.Span);
                var narrowed = when is null ? env.Narrowed : env.Narrowed.Concat(ExpressionBinder.NarrowedBy(when.Value)).Distinct().ToList();
                var stepsNode = branch["steps"];
                if (stepsNode is null)
                {
                    _context.Report(DiagnosticTable.MissingKey, branch.Span, "A branch", "steps");
                    continue;
                }
                var steps = _context.AsSequence(stepsNode, "'steps'");
                if (steps is null) continue;
                var first = BuildSequence(steps, next, new LexicalEnv(lets, narrowed) { Chooser = node.Chooser }, "A branch");
                node.BranchSyntax.Add((when, first, branch));
            }
        }
    }

    private static string? TerminalName(YamlNode item) => item switch
    {
        YamlScalar { Value: "success" } => "success",
        YamlMapping m when m["goto"] is YamlScalar g => "goto: " + g.Value,
        YamlMapping m when m["fail"] is YamlScalar f => "fail: " + f.Value,
        YamlMapping m when m["choice"] is YamlScalar c && m["branches"] is YamlSequence branches && branches.Items.Count > 0
            && branches.Items.All(b => b is YamlMapping bm && bm["steps"] is YamlSequence steps && steps.Items.Count > 0 && TerminalName(steps.Items[steps.Items.Count - 1]) is not null)
            => $"the choice by '{c.Value}', whose branches all end",
        _ => null,
    };

    private int BuildStep(YamlNode item, LexicalEnv env)
    {
        if (item is YamlScalar { Value: "success" })
        {
            var success = NewNode(FlowNodeKind.Success, item);
            success.Phase = "done";
            success.Env = env;
            Incoming(success.Id).Add(env.Narrowed);
            return success.Id;
        }
        var step = _context.AsMapping(item, "A flow step");
        if (step is null) return -1;

        if (step["goto"] is { } gotoNode)
        {
            _context.CheckKeys(step, "a goto step", "goto");
            var label = _context.AsScalar(gotoNode, "'goto'");
            if (label is null) return -1;
            var node = NewNode(FlowNodeKind.Goto, step);
            node.Label = label.Value;
            _gotos.Add((label.Value, label, node.Id));
            return node.Id;
        }
        if (step["fail"] is { } failNode)
        {
            _context.CheckKeys(step, "a fail step", "fail");
            var code = _context.AsScalar(failNode, "'fail'");
            if (code is null) return -1;
            if (!_context.ErrorCodes.Contains(code.Value)) _context.Report(DiagnosticTable.UnknownErrorCode, code.Span, code.Value);
            var node = NewNode(FlowNodeKind.Fail, step);
            node.FailCode = code.Value;
            node.Phase = "failed";
            return node.Id;
        }
        if (step["choice"] is { } chooserNode)
            return BuildChoice(step, chooserNode, env);
        return BuildMessageStep(step, env);
    }

    private void DeclareLabel(YamlMapping step, int id)
    {
        if (_context.AsScalar(step["label"], "'label'") is not { } label) return;
        if (!_context.ValidName(label, "label")) return;
        if (_labels.ContainsKey(label.Value)) _context.Report(DiagnosticTable.DuplicateLabel, label.Span, label.Value);
        else _labels[label.Value] = id;
    }

    private int BuildChoice(YamlMapping step, YamlNode chooserNode, LexicalEnv env)
    {
        _context.CheckKeys(step, "a choice", "choice", "branches", "let", "phase", "label", "timeout");
        var chooser = _context.AsScalar(chooserNode, "'choice'");
        if (chooser is null) return -1;
        if (!_context.Roles.Contains(chooser.Value))
        {
            _context.Report(DiagnosticTable.UnknownRole, chooser.Span, chooser.Value, _context.RoleList);
            return -1;
        }
        var branches = step["branches"];
        if (branches is null)
        {
            _context.Report(DiagnosticTable.MissingKey, step.Span, "A choice", "branches");
            return -1;
        }
        if (_context.AsSequence(branches, "'branches'") is not { } branchList) return -1;
        if (branchList.Items.Count < 2)
        {
            _context.Report(DiagnosticTable.InvalidValue, branchList.Span, branchList.Items.Count + " branch", "'branches'", "a choice needs two or more branches");
            return -1;
        }
        var node = NewNode(FlowNodeKind.Choice, step);
        node.Chooser = chooser.Value;
        node.Env = env;
        node.Phase = _context.Text(step, "phase", "'phase'") ?? "choice";
        if (step["timeout"] is { } timeout) node.TimeoutMs = _context.Duration(timeout, "the step timeout");
        DeclareLets(step, node, chooser.Value);
        DeclareLabel(step, node.Id);
        _choicesInOrder.Add(node);
        return node.Id;
    }

    private void DeclareLets(YamlMapping step, FlowNode node, string owner)
    {
        if (_context.AsMapping(step["let"], "'let'") is not { } lets) return;
        foreach (var entry in lets.Entries)
        {
            if (!_context.ValidName(entry.Key, "let")) continue;
            var name = entry.Key.Value;
            if (!_letNames.Add(owner + "/" + name) || _context.MessagesByName.ContainsKey(name) || _context.ServicesByName.ContainsKey(name) || name is "msg" or "self")
            {
                _context.Report(DiagnosticTable.DuplicateKey, entry.Key.Span, name, $"the names of '{owner}''s lets, the messages and the services");
                continue;
            }
            if (_nextBit >= 64)
            {
                _context.Report(DiagnosticTable.InvalidValue, entry.Key.Span, name, "'let'", "a protocol has at most 64 messages and lets together");
                continue;
            }
            var pascal = BindingContext.Pascal(name);
            node.Lets.Add(new LetDeclaration(name, owner, "_let" + pascal, entry.Value, _nextBit++));
        }
    }

    private int BuildMessageStep(YamlMapping step, LexicalEnv env)
    {
        var arrow = step.Entries.FirstOrDefault(e => e.Key.Value.Contains("->"));
        if (arrow is null)
        {
            _context.Report(DiagnosticTable.WrongNodeKind, step.Span, "A flow step",
                "a message ('sender -> receiver: message'), a 'choice', 'goto', 'fail' or 'success'");
            return -1;
        }
        _context.CheckKeys(step, "a message step", arrow.Key.Value, "let", "ensure", "set", "require", "do", "timeout", "phase", "label");
        var parts = arrow.Key.Value.Split(new[] { "->" }, System.StringSplitOptions.None);
        var sender = parts[0].Trim();
        var receiver = parts.Length == 2 ? parts[1].Trim() : "";
        var ok = true;
        if (parts.Length != 2 || sender.Length == 0 || receiver.Length == 0)
        {
            _context.Report(DiagnosticTable.BadStepRoles, arrow.Key.Span, arrow.Key.Value, "write 'sender -> receiver'");
            ok = false;
        }
        else
        {
            foreach (var role in new[] { sender, receiver })
            {
                if (!_context.Roles.Contains(role))
                {
                    _context.Report(DiagnosticTable.UnknownRole, arrow.Key.Span, role, _context.RoleList);
                    ok = false;
                }
            }
            if (ok && sender == receiver)
            {
                _context.Report(DiagnosticTable.BadStepRoles, arrow.Key.Span, arrow.Key.Value, "a role cannot send a message to itself");
                ok = false;
            }
        }
        var messageName = _context.AsScalar(arrow.Value, $"The message of step '{arrow.Key.Value}'");
        if (messageName is null) return -1;
        if (!_context.MessagesByName.TryGetValue(messageName.Value, out var message))
        {
            _context.Report(DiagnosticTable.UnknownFlowMessage, messageName.Span, messageName.Value);
            ok = false;
        }
        if (!ok) return -1;
        if (message!.ReportsCode is not null)
            _context.Report(DiagnosticTable.ErrorMessageShape, messageName.Span, message.Name, "an error message is sent by 'errors', not by a flow step");

        var node = NewNode(FlowNodeKind.Message, step);
        node.Sender = sender;
        node.Receiver = receiver;
        node.Message = message;
        node.Env = env;
        node.Phase = _context.Text(step, "phase", "'phase'") ?? message.Name;
        if (step["timeout"] is { } timeout) node.TimeoutMs = _context.Duration(timeout, "the step timeout");
        DeclareLets(step, node, sender);
        DeclareLabel(step, node.Id);
        return node.Id;
    }

    private void CheckChoices()
    {
        foreach (var choice in _choicesInOrder)
        {
            var firsts = new Dictionary<string, YamlNode>();
            var other = _context.Roles.First(r => r != choice.Chooser);
            foreach (var (_, first, syntax) in choice.BranchSyntax)
            {
                var node = _graph.Nodes[first];
                // A branch may also just fail: the chooser's error message is what the other role sees.
                if (node.Kind == FlowNodeKind.Fail && node.FailBy == choice.Chooser) continue;
                if (node.Kind != FlowNodeKind.Message || node.Sender != choice.Chooser)
                {
                    var found = node.Kind switch
                    {
                        FlowNodeKind.Message => $"'{node.Message!.Name}', which '{node.Sender}' sends",
                        FlowNodeKind.Choice => "another choice",
                        _ => "'" + (TerminalName(node.Syntax) ?? node.Kind.ToString().ToLowerInvariant()) + "'",
                    };
                    _context.Report(DiagnosticTable.BranchStart, syntax.Span, choice.Chooser, found);
                    continue;
                }
                if (firsts.ContainsKey(node.Message!.Name))
                    _context.Report(DiagnosticTable.IndistinctBranches, node.Syntax.Span, choice.Chooser, node.Message.Name, other);
                else firsts[node.Message.Name] = node.Syntax;
            }
        }
    }

    /// <summary>
    /// For each reachable node, the distinct sets of messages that may have been exchanged before it
    /// (in) and after it (out): a fixpoint over the graph, loops included.
    /// </summary>
    private (Dictionary<int, IReadOnlyList<ulong>> In, Dictionary<int, IReadOnlyList<ulong>> Out) SeenSets()
    {
        var inSets = new Dictionary<int, HashSet<ulong>> { [_graph.Start] = new() { 0 } };
        var work = new Queue<int>();
        work.Enqueue(_graph.Start);
        while (work.Count > 0)
        {
            _context.CancellationToken.ThrowIfCancellationRequested();
            var node = _graph.Nodes[work.Dequeue()];
            var outSet = OutOf(node, inSets[node.Id]);
            foreach (var next in _graph.Successors(node))
            {
                if (!inSets.TryGetValue(next, out var target)) inSets[next] = target = new HashSet<ulong>();
                var before = target.Count;
                target.UnionWith(outSet);
                if (target.Count != before) work.Enqueue(next);
            }
        }
        var result = inSets.ToDictionary(p => p.Key, p => Cap(p.Value.OrderBy(s => s).ToList()));
        _mid = inSets.ToDictionary(p => p.Key, p => Cap(MidOf(_graph.Nodes[p.Key], p.Value).OrderBy(s => s).ToList()));
        var outs = inSets.ToDictionary(p => p.Key, p => Cap(OutOf(_graph.Nodes[p.Key], p.Value).OrderBy(s => s).ToList()));
        return (result, outs);
    }

    private static ulong LetBits(FlowNode node)
    {
        var bits = 0UL;
        foreach (var let in node.Lets) bits |= 1UL << let.Bit;
        return bits;
    }

    /// <summary>After the node's lets, before its message: what a step's 'set' and 'ensure' and a choice's guards see.</summary>
    private static HashSet<ulong> MidOf(FlowNode node, HashSet<ulong> inSet)
    {
        var lets = LetBits(node);
        return lets == 0 ? inSet : new HashSet<ulong>(inSet.Select(s => s | lets));
    }

    private static HashSet<ulong> OutOf(FlowNode node, HashSet<ulong> inSet)
    {
        var mid = MidOf(node, inSet);
        return node.Kind == FlowNodeKind.Message ? new HashSet<ulong>(mid.Select(s => s | (1UL << node.Message!.Index))) : mid;
    }

    /// <summary>More than 64 distinct paths: keep the intersection only (sound, less precise).</summary>
    private static IReadOnlyList<ulong> Cap(IReadOnlyList<ulong> sets)
    {
        if (sets.Count <= 64) return sets.Count == 0 ? new ulong[] { 0 } : sets;
        var all = ulong.MaxValue;
        var any = 0UL;
        foreach (var s in sets) { all &= s; any |= s; }
        // One set holding what is always present; messages that are only sometimes present stay reachable as absent.
        return new[] { all, all | any }.Distinct().ToList();
    }

    private Scope ScopeFor(FlowNode node, string role, IReadOnlyList<ulong> sets, MessageModel? current, string where)
    {
        var locals = new Dictionary<string, LocalInfo>();
        foreach (var let in node.Env.Lets)
            // Two roles may each have a let of the same name: a role sees its own.
            if (let.Bound is { } bound && (!locals.TryGetValue(let.Name, out var existing) || existing.Owner != role))
                locals[let.Name] = new LocalInfo(let.Name, let.Owner, let.FieldName, bound.Type, let.Bit);
        return new Scope { Role = role, Where = where, Current = current, SeenSets = sets, Locals = locals, Narrowed = node.Env.Narrowed };
    }

    private void BindLets(FlowNode node, IReadOnlyList<ulong> sets)
    {
        var earlier = new List<LetDeclaration>();
        foreach (var let in node.Lets)
        {
            // A let sees the lets before it in the same step, as evaluated.
            var bits = 0UL;
            foreach (var e in earlier) bits |= 1UL << e.Bit;
            var withEarlier = bits == 0 ? sets : sets.Select(s => s | bits).ToList();
            var probe = new FlowNode { Env = node.Env with { Lets = node.Env.Lets.Concat(earlier).ToList() } };
            earlier.Add(let);
            var scope = ScopeFor(probe, let.Owner, withEarlier, null, $"let '{let.Name}'");
            var scalar = _context.AsScalar(let.Value, $"let '{let.Name}'");
            if (scalar is null) continue;
            var value = _binder.BindExpression(scalar, scope, expected: null, requireValue: false, $"let '{let.Name}'");
            if (value is null) continue;
            if (value.Type.Type.Kind is TypeKind.Void or TypeKind.Null)
            {
                _context.Report(DiagnosticTable.TypeMismatch, scalar.Span, $"let '{let.Name}'", "a value", value.Type.ToString());
                continue;
            }
            let.Bound = new LetBinding(let.Name, let.FieldName, value.Type, value);
        }
    }

    private void BindGuards(FlowNode choice, IReadOnlyList<ulong> sets)
    {
        var env = choice.Env with { Lets = choice.Env.Lets.Concat(choice.Lets).ToList() };
        var probe = new FlowNode { Env = env };
        foreach (var (when, first, _) in choice.BranchSyntax)
        {
            BoundExpr? guard = null;
            if (when is not null)
                guard = _binder.BindExpression(when, ScopeFor(probe, choice.Chooser, sets, null, "a branch's 'when'"), TypeRef.Bool, requireValue: true, "a branch's 'when'");
            choice.Branches.Add((guard, first));
        }
    }

    private void BindMessageStep(FlowNode node, IReadOnlyList<ulong> before, IReadOnlyList<ulong> after)
    {
        var step = (YamlMapping)node.Syntax;
        var message = node.Message!;
        // The step's own lets are in scope for its 'ensure' and 'set'; what 'ensure' proves holds for 'set' on.
        var proven = step["ensure"] is YamlSequence ensureItems
            ? ensureItems.Items.OfType<YamlScalar>().SelectMany(e => ExpressionBinder.NarrowedByCheck(e.Value))
            : Enumerable.Empty<string>();
        var own = node.Env with { Lets = node.Env.Lets.Concat(node.Lets).ToList() };
        var probe = new FlowNode { Env = own };
        var provenProbe = new FlowNode { Env = own with { Narrowed = own.Narrowed.Concat(proven).Distinct().ToList() } };
        var mid = _mid[node.Id];
        if (step["ensure"] is { } ensureNode && _context.AsSequence(ensureNode, "'ensure'") is { } ensures)
        {
            var scope = ScopeFor(probe, node.Sender, mid, null, $"the 'ensure' of '{message.Name}'");
            foreach (var item in ensures.Items)
                if (_context.AsScalar(item, "A check") is { } scalar && _binder.BindCheck(scalar, scope) is { } check)
                    node.Ensures.Add(check);
        }
        var set = step["set"] is { } setNode ? _context.AsMapping(setNode, "'set'") : new YamlMapping(step.Span, EquatableArray<YamlEntry>.Empty);
        if (set is not null)
            node.Set.AddRange(SpecBinder.BindAssignments(_context, _binder, message, set,
                ScopeFor(provenProbe, node.Sender, mid, null, $"the 'set' of '{message.Name}'"), new string[0]));

        if (step["require"] is { } requireNode && _context.AsSequence(requireNode, "'require'") is { } requires)
        {
            var scope = ScopeFor(probe, node.Receiver, after, message, $"the 'require' of '{message.Name}'");
            foreach (var item in requires.Items)
                if (_context.AsScalar(item, "A check") is { } scalar && _binder.BindCheck(scalar, scope) is { } check)
                    node.Checks.Add(check);
        }

        if (step["do"] is { } doNode && _context.AsMapping(doNode, "'do'") is { } actions)
        {
            var seenRoles = new HashSet<string>();
            foreach (var entry in actions.Entries)
            {
                var role = entry.Key.Value;
                if (!seenRoles.Add(role))
                {
                    _context.Report(DiagnosticTable.DuplicateKey, entry.Key.Span, role, "'do'");
                    continue;
                }
                if (!_context.Roles.Contains(role))
                {
                    _context.Report(DiagnosticTable.UnknownRole, entry.Key.Span, role, _context.RoleList);
                    continue;
                }
                var list = entry.Value is YamlScalar single ? new List<YamlNode> { single } : _context.AsSequence(entry.Value, $"The actions of '{role}'")?.Items.ToList();
                if (list is null) continue;
                var scope = ScopeFor(probe, role, after, message, $"the 'do' of '{message.Name}'");
                var bound = node.Actions.TryGetValue(role, out var existing) ? existing : node.Actions[role] = new List<Action>();
                foreach (var item in list)
                {
                    if (_context.AsScalar(item, "An action") is not { } scalar) continue;
                    var call = _binder.BindExpression(scalar, scope, expected: null, requireValue: false, "an action");
                    if (call is null) continue;
                    if (call is not ServiceCallExpr)
                    {
                        _context.Report(DiagnosticTable.BadCall, scalar.Span, "An action must call a service method, such as 'threads.open(...)'");
                        continue;
                    }
                    bound.Add(new Action(call));
                }
            }
        }
    }
}
