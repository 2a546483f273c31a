using System.Collections.Generic;
using System.Linq;
using System.Text;
using Dsl.Generator.Binding;
using Dsl.Generator.Projection;

namespace Dsl.Cli;

/// <summary>
/// Mermaid diagrams of a spec: a sequence diagram of the global flow (each choice an <c>alt</c>, each step's checks a
/// note), and a state diagram of each role's projected machine.
/// </summary>
internal static class MermaidWriter
{
    public static string Sequence(SpecModel spec)
    {
        var protocol = spec.Protocol;
        var text = new StringBuilder("sequenceDiagram\n");
        foreach (var role in protocol.Roles) text.Append("    participant ").Append(Id(role.Name)).Append(" as ").Append(role.Name).Append('\n');
        var rendered = new HashSet<int>();
        Steps(spec, protocol.Flow.Start, rendered, text, "    ");
        return text.ToString();
    }

    private static void Steps(SpecModel spec, int id, HashSet<int> rendered, StringBuilder text, string indent)
    {
        var flow = spec.Protocol.Flow;
        var everyone = string.Join(",", spec.Protocol.Roles.Select(r => Id(r.Name)));
        while (id >= 0 && id < flow.Nodes.Count)
        {
            var node = flow[id];
            if (!rendered.Add(id))
            {
                // A goto (or branches meeting again): the flow continues at a step already drawn.
                text.Append(indent).Append("Note over ").Append(everyone).Append(": continues at ").Append(Escape(Describe(node))).Append('\n');
                return;
            }
            switch (node)
            {
                case MessageNode message:
                    text.Append(indent).Append(Id(message.Sender)).Append("->>").Append(Id(message.Receiver)).Append(": ").Append(Escape(message.Message)).Append('\n');
                    if (message.Requires.Count > 0)
                        text.Append(indent).Append("Note right of ").Append(Id(message.Receiver)).Append(": ")
                            .Append(string.Join("<br/>", message.Requires.Select(c => Escape(c.Source + " else " + c.Code)))).Append('\n');
                    id = message.Next;
                    break;
                case ChoiceNode choice:
                    for (var i = 0; i < choice.Branches.Count; i++)
                    {
                        var branch = choice.Branches[i];
                        var guard = branch.GuardSource ?? "otherwise";
                        text.Append(indent).Append(i == 0 ? "alt " : "else ").Append(Escape(choice.Chooser + ": " + guard)).Append('\n');
                        Steps(spec, branch.First, rendered, text, indent + "    ");
                    }
                    text.Append(indent).Append("end\n");
                    return;
                case FailNode fail:
                    text.Append(indent).Append("Note over ").Append(Id(fail.RaisedBy)).Append(": fails with ").Append(fail.Code).Append('\n');
                    return;
                case SuccessNode:
                    text.Append(indent).Append("Note over ").Append(everyone).Append(": success\n");
                    return;
                default:
                    return;
            }
        }
    }

    private static string Describe(FlowNode node) => (node.Label is { } label ? label + ": " : "") + node switch
    {
        MessageNode message => $"{message.Sender} -> {message.Receiver}: {message.Message}",
        ChoiceNode choice => $"the choice by {choice.Chooser}",
        FailNode fail => $"fail {fail.Code}",
        _ => "success",
    };

    /// <summary>The state diagram of one role's machine.</summary>
    public static string States(SpecModel spec, RoleMachine machine)
    {
        var text = new StringBuilder("stateDiagram-v2\n");
        foreach (var state in machine.States)
        {
            var name = $"S{state.Id}";
            var label = state.Kind switch
            {
                StateKind.Send => $"{state.Phase}: send {state.Message}",
                StateKind.Receive => $"{state.Phase}: wait",
                StateKind.Decide => $"{state.Phase}: decide",
                StateKind.Fail => $"failed {state.FailCode}",
                _ => "succeeded",
            };
            text.Append("    ").Append(name).Append(" : ").Append(Escape(label)).Append('\n');
        }
        text.Append("    [*] --> S0\n");
        foreach (var state in machine.States)
        {
            var name = $"S{state.Id}";
            switch (state.Kind)
            {
                case StateKind.Send:
                    text.Append("    ").Append(name).Append(" --> S").Append(state.Next).Append(" : sent ").Append(Escape(state.Message ?? "")).Append('\n');
                    break;
                case StateKind.Receive:
                    foreach (var alternative in state.Alternatives)
                        text.Append("    ").Append(name).Append(" --> S").Append(alternative.Next).Append(" : ").Append(Escape(alternative.Message)).Append('\n');
                    break;
                case StateKind.Decide:
                    foreach (var branch in state.Branches)
                    {
                        var guard = branch.GuardSource ?? "otherwise";
                        text.Append("    ").Append(name).Append(" --> S").Append(branch.Next).Append(" : ").Append(Escape(guard)).Append('\n');
                    }
                    break;
                default:
                    text.Append("    ").Append(name).Append(" --> [*]\n");
                    break;
            }
        }
        return text.ToString();
    }

    /// <summary>The diagrams as a Markdown page.</summary>
    public static string Markdown(SpecModel spec)
    {
        var protocol = spec.Protocol;
        var text = new StringBuilder();
        text.Append("# ").Append(protocol.Name).Append(' ').Append(protocol.Version).Append("\n\n");
        text.Append("## The flow\n\n```mermaid\n").Append(Sequence(spec)).Append("```\n");
        foreach (var machine in spec.Projected.Machines)
            text.Append("\n## The ").Append(machine.Role).Append("'s machine\n\n```mermaid\n").Append(States(spec, machine)).Append("```\n");
        return text.ToString();
    }

    private static string Id(string role) => "R_" + role;

    /// <summary>Text Mermaid shows as it is: its own syntax characters as entities.</summary>
    private static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            escaped.Append(c switch
            {
                '#' => "#35;",
                ';' => "#59;",
                ':' => "#58;",
                '"' => "#quot;",
                '<' => "#lt;",
                '>' => "#gt;",
                '{' => "#123;",
                '}' => "#125;",
                _ => c.ToString(),
            });
        }
        return escaped.ToString();
    }
}
