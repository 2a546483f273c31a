using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Dsl.Generator.Tests.Properties;

/// <summary>
/// The one renderer: a <see cref="Spec"/> to a YAML tree (applying its deliberate <see cref="Mutation"/>s), and the
/// tree to text. Expressions are plain scalars where YAML allows it; elsewhere they are quoted, except under
/// <c>set</c>, where a quoted scalar would be a string literal, so they are parenthesised instead.
/// </summary>
internal static class SpecYaml
{
    public static string Render(Spec spec) => Write(ToTree(spec));

    public static YMap ToTree(Spec spec)
    {
        var root = new List<(string, Y)>
        {
            ("protocol", Text(spec.Protocol)),
            ("version", new YDouble(spec.Version)),
        };
        if (spec.Namespace is { } ns) root.Add(("namespace", Text(ns)));
        if (spec.Description is { } description) root.Add(("description", new YDouble(description)));
        root.Add(("roles", spec.RoleDocs is { } docs
            ? new YMap(spec.Roles.Select((r, i) => (r, docs[i] is { } d ? (Y)new YDouble(d) : new YEmpty())).ToList())
            : new YSeq(spec.Roles.Select(r => (Y)new YPlain(r)).ToList(), Flow: true)));
        if (spec.Wire is { } wire)
        {
            var entries = new List<(string, Y)>();
            if (wire.Encoding is { } e) entries.Add(("encoding", new YPlain(e)));
            if (wire.Discriminator is { } d) entries.Add(("discriminator", new YPlain(d)));
            if (wire.Malformed is { } m) entries.Add(("malformed", new YPlain(m)));
            root.Add(("wire", new YMap(entries)));
        }
        if (spec.Inputs.Count > 0)
            root.Add(("inputs", new YMap(spec.Inputs.Select(i => (i.Role, (Y)Fields(i.Inputs))).ToList())));
        if (spec.Services.Count > 0)
            root.Add(("services", new YMap(spec.Services.Select(s => (s.Name, (Y)Service(s))).ToList())));
        if (spec.Hooks.Count > 0)
            root.Add(("hooks", new YMap(spec.Hooks.Select(h => (h.Name, (Y)new YMap(new List<(string, Y)>
            {
                ("at", new YPlain(h.At)),
                ("inputs", new YMap(h.Inputs.Select(i => (i.Name, (Y)new YPlain(i.Type.Spelling))).ToList())),
                ("output", new YPlain(h.Output.Spelling + (h.OutputOptional ? "?" : ""))),
            }))).ToList())));
        if (spec.Envelope is { } envelope)
        {
            var entries = new List<(string, Y)> { ("name", new YPlain(envelope.Name)) };
            if (envelope.Payload is { } p) entries.Add(("payload", new YPlain(p)));
            if (envelope.Doc is { } doc) entries.Add(("doc", new YDouble(doc)));
            entries.Add(("fields", Fields(envelope.Fields)));
            if (envelope.Set.Count > 0) entries.Add(("set", Set(envelope.Set)));
            root.Add(("envelope", new YMap(entries)));
        }
        root.Add(("messages", new YMap(spec.Messages.Select(m => (m.Name, (Y)Message(m))).ToList())));
        if (spec.Errors.Count > 0)
            root.Add(("errors", new YMap(spec.Errors.Select(e => (e.Code, Error(e))).ToList())));
        if (spec.OnFailure.Count > 0)
            root.Add(("on_failure", Effects(spec.OnFailure)));
        if (spec.Timeouts is { } timeouts)
        {
            var entries = new List<(string, Y)>();
            if (timeouts.Handshake is { } h) entries.Add(("handshake", new YPlain(h)));
            if (timeouts.Step is { } s) entries.Add(("step", new YPlain(s)));
            root.Add(("timeouts", new YMap(entries, Flow: true)));
        }
        root.Add(("flow", Steps(spec.Flow)));
        if (spec.Outcome.Count > 0)
            root.Add(("outcome", new YMap(spec.Outcome.Select(o => (o.Role,
                (Y)new YMap(o.Values.Select(v => (v.Name, Expression(v.Value))).ToList()))).ToList())));
        if (spec.Session is { } hb)
        {
            var heartbeat = new List<(string, Y)>
            {
                ("pinger", new YPlain(hb.Pinger)),
                ("interval_ms", Expression(hb.Interval)),
            };
            if (hb.Missed is { } missed) heartbeat.Add(("missed", new YPlain(missed.ToString(CultureInfo.InvariantCulture))));
            heartbeat.Add(("ping", Beat(hb.Ping, hb.PingSet)));
            heartbeat.Add(("pong", Beat(hb.Pong, hb.PongSet)));
            root.Add(("session", new YMap(new List<(string, Y)> { ("heartbeat", new YMap(heartbeat)) })));
        }
        var tree = new YMap(root);
        foreach (var mutation in spec.Mutations) tree = Mutate(tree, mutation);
        return tree;
    }

    private static Y Beat(string message, IReadOnlyList<SetEntry> set)
    {
        var entries = new List<(string, Y)> { ("message", new YPlain(message)) };
        if (set.Count > 0) entries.Add(("set", Set(set)));
        return new YMap(entries);
    }

    private static YMap Fields(IReadOnlyList<Field> fields) => new(fields.Select(f => (f.Name, Field(f))).ToList());

    private static Y Field(Field f)
    {
        var type = f.Type.Spelling + (f.Optional == Optionality.Question ? "?" : "");
        var entries = new List<(string, Y)> { ("type", new YPlain(type)) };
        if (f.Optional == Optionality.OptionalKey) entries.Add(("optional", new YPlain("true")));
        if (f.Default is { } d) entries.Add(("default", d));
        if (f.Encoding is { } e) entries.Add(("encoding", new YPlain(e)));
        if (f.Constraints is { } c)
        {
            if (c.MinLength is { } minLength) entries.Add(("min_length", Number(minLength)));
            if (c.MaxLength is { } maxLength) entries.Add(("max_length", Number(maxLength)));
            if (c.Min is { } min) entries.Add(("min", Number(min)));
            if (c.Max is { } max) entries.Add(("max", Number(max)));
            if (c.Pattern is { } pattern) entries.Add(("pattern", new YSingle(pattern)));
            if (c.OneOf is { } oneOf) entries.Add(("one_of", new YSeq(oneOf.Select(o => (Y)new YDouble(o)).ToList(), Flow: true)));
        }
        if (f.Doc is { } doc) entries.Add(("doc", new YDouble(doc)));
        if (entries.Count == 1) return new YPlain(type);
        return new YMap(entries, Flow: !f.Block);
    }

    private static Y Number(long n) => new YPlain(n.ToString(CultureInfo.InvariantCulture));

    private static Y Service(Service s)
    {
        var entries = new List<(string, Y)>
        {
            ("kind", new YPlain(s.Kind)),
            ("at", s.AtAsList ? new YSeq(s.At.Select(a => (Y)new YPlain(a)).ToList(), Flow: true) : new YPlain(s.At[0])),
        };
        if (s.Of is { } of) entries.Add(("of", new YPlain(of.Spelling)));
        if (s.Window is { } window) entries.Add(("window", new YPlain(window)));
        if (s.MaxFailures is { } max) entries.Add(("max_failures", Number(max)));
        if (s.Within is { } within) entries.Add(("within", new YPlain(within)));
        if (s.BlockFor is { } blockFor) entries.Add(("block_for", new YPlain(blockFor)));
        if (s.Doc is { } doc) entries.Add(("doc", new YDouble(doc)));
        return new YMap(entries);
    }

    private static Y Message(Message m)
    {
        var entries = new List<(string, Y)>();
        if (m.Doc is { } doc) entries.Add(("doc", new YDouble(doc)));
        if (m.Reports is { } reports)
        {
            var r = new List<(string, Y)> { ("code", new YPlain(reports.Code)) };
            if (reports.Detail is { } detail) r.Add(("detail", new YPlain(detail)));
            entries.Add(("reports", new YMap(r, Flow: true)));
        }
        if (m.Fields.Count > 0) entries.Add(("fields", Fields(m.Fields)));
        return entries.Count == 0 ? new YMap(entries, Flow: true) : new YMap(entries);
    }

    private static Y Error(ErrorDecl e)
    {
        switch (e.Form)
        {
            case ErrorForm.Empty:
                return new YEmpty();
            case ErrorForm.Line:
                return Text(e.Doc ?? "");
        }
        var entries = new List<(string, Y)>();
        if (e.Doc is { } doc) entries.Add(("doc", new YDouble(doc)));
        if (e.Send is { } send) entries.Add(("send", new YPlain(send)));
        if (e.Set is { Count: > 0 } set) entries.Add(("set", Set(set)));
        if (e.Do is { Count: > 0 } effects) entries.Add(("do", Effects(effects)));
        return new YMap(entries);
    }

    private static YMap Effects(IReadOnlyList<RoleEffects> effects)
        => new(effects.Select(e => (e.Role, (Y)new YSeq(e.Calls.Select(Expression).ToList()))).ToList());

    private static YMap Set(IReadOnlyList<SetEntry> set) => new(set.Select(s => (s.Field, SetValue(s.Value))).ToList());

    private static Y SetValue(Value value) => value switch
    {
        TextValue t => t.SingleQuoted && !t.Text.Contains('\n') ? new YSingle(t.Text) : new YDouble(t.Text),
        SeqValue s => new YSeq(s.Items.Select(SetValue).ToList()),
        ExprValue e => SetExpression(e.Expr),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Under <c>set</c> a quoted scalar is a literal, so an expression YAML cannot take plain is parenthesised.</summary>
    private static Y SetExpression(Expr expr)
    {
        var text = expr.ToString();
        return new YPlain(PlainSafe(text) ? text : "(" + text + ")");
    }

    /// <summary>Where a scalar is always an expression: plain when YAML allows, else single-quoted.</summary>
    private static Y Expression(Expr expr) => Text(expr.ToString());

    private static Y Check(Check c) => Text(c.Condition + " else " + c.Code);

    private static Y Text(string text) => PlainSafe(text) && !IsYamlWord(text) ? new YPlain(text) : text.Contains('\n') ? new YDouble(text) : new YSingle(text);

    private static YSeq Steps(IReadOnlyList<Step> steps) => new(steps.Select(Step).ToList());

    private static Y Step(Step step)
    {
        switch (step)
        {
            case SuccessStep:
                return new YPlain("success");
            case GotoStep g:
                return new YMap(new List<(string, Y)> { ("goto", new YPlain(g.Label)) });
            case FailStep f:
                return new YMap(new List<(string, Y)> { ("fail", new YPlain(f.Code)) });
            case MessageStep m:
            {
                var entries = new List<(string, Y)> { ($"{m.From} -> {m.To}", new YPlain(m.Message)) };
                if (m.Label is { } label) entries.Add(("label", new YPlain(label)));
                if (m.Phase is { } phase) entries.Add(("phase", new YPlain(phase)));
                if (m.Timeout is { } timeout) entries.Add(("timeout", new YPlain(timeout)));
                if (m.Lets.Count > 0) entries.Add(("let", Lets(m.Lets)));
                if (m.Ensure.Count > 0) entries.Add(("ensure", new YSeq(m.Ensure.Select(Check).ToList())));
                if (m.Set.Count > 0) entries.Add(("set", Set(m.Set)));
                if (m.Require.Count > 0) entries.Add(("require", new YSeq(m.Require.Select(Check).ToList())));
                if (m.Do.Count > 0) entries.Add(("do", Effects(m.Do)));
                return new YMap(entries);
            }
            case ChoiceStep c:
            {
                var entries = new List<(string, Y)> { ("choice", new YPlain(c.Chooser)) };
                if (c.Label is { } label) entries.Add(("label", new YPlain(label)));
                if (c.Phase is { } phase) entries.Add(("phase", new YPlain(phase)));
                if (c.Timeout is { } timeout) entries.Add(("timeout", new YPlain(timeout)));
                if (c.Lets.Count > 0) entries.Add(("let", Lets(c.Lets)));
                entries.Add(("branches", new YSeq(c.Branches.Select(b =>
                {
                    var branch = new List<(string, Y)>();
                    if (b.When is { } when) branch.Add(("when", Expression(when)));
                    branch.Add(("steps", Steps(b.Steps)));
                    return (Y)new YMap(branch);
                }).ToList())));
                return new YMap(entries);
            }
        }
        throw new InvalidOperationException(step.GetType().Name);
    }

    private static YMap Lets(IReadOnlyList<Let> lets) => new(lets.Select(l => (l.Name, Expression(l.Value))).ToList());

    // ---- Mutations (the invalid share) ----

    private static YMap Mutate(YMap root, Mutation mutation) => mutation switch
    {
        AddUnknownKey add when add.Section == "" => root with { Entries = root.Entries.Append((add.Key, (Y)new YPlain("1"))).ToList() },
        AddUnknownKey add => Section(root, add.Section, node => node is YMap m ? m with { Entries = m.Entries.Append((add.Key, (Y)new YPlain("1"))).ToList(), Flow = false } : node),
        RemoveKey remove when remove.Section == "" => root with { Entries = root.Entries.Where(e => e.Key != remove.Key).ToList() },
        RemoveKey remove => Section(root, remove.Section, node => node is YMap m ? m with { Entries = m.Entries.Where(e => e.Key != remove.Key).ToList() } : node),
        ReplaceScalar replace => (YMap)Replace(root, replace.From, replace.To),
        _ => root,
    };

    private static YMap Section(YMap root, string key, Func<Y, Y> change)
        => root with { Entries = root.Entries.Select(e => e.Key == key ? (e.Key, change(e.Value)) : e).ToList() };

    private static Y Replace(Y node, string from, string to) => node switch
    {
        YPlain p when p.Text == from => new YPlain(to),
        YMap m => m with { Entries = m.Entries.Select(e => (e.Key, Replace(e.Value, from, to))).ToList() },
        YSeq s => s with { Items = s.Items.Select(i => Replace(i, from, to)).ToList() },
        _ => node,
    };

    // ---- Writing ----

    /// <summary>Whether YAML reads <paramref name="s"/> back, unquoted in block context, as exactly this text.</summary>
    public static bool PlainSafe(string s)
        => s.Length > 0
           && "?:,[]{}#&*!|>'\"%@`~".IndexOf(s[0]) < 0
           && (s[0] != '-' || (s.Length > 1 && s[1] != ' '))
           && s[0] != ' ' && s[^1] != ' ' && !s.EndsWith(":", StringComparison.Ordinal)
           && !s.Contains(": ", StringComparison.Ordinal) && !s.Contains(" #", StringComparison.Ordinal)
           && s.All(c => c >= ' ' && c != '\u007f' && c != '\u0085' && c != '\u2028' && c != '\u2029' && c != '\ufeff');

    private static bool FlowSafe(string s) => PlainSafe(s) && s.IndexOfAny(new[] { ',', '[', ']', '{', '}' }) < 0;

    // Scalars YAML would resolve to null or a boolean/number in other readers; quoting keeps them text.
    private static bool IsYamlWord(string s) => s is "null" or "Null" or "NULL" or "true" or "false" or "yes" or "no" or "on" or "off";

    public static string Write(YMap root)
    {
        var b = new StringBuilder();
        WriteMap(b, root, 0);
        return b.ToString();
    }

    private static void WriteMap(StringBuilder b, YMap map, int indent)
    {
        foreach (var (key, value) in map.Entries)
        {
            b.Append(' ', indent).Append(key).Append(':');
            WriteValue(b, value, indent);
        }
    }

    /// <summary>Writes a value after "key:" or "- ", ending the line.</summary>
    private static void WriteValue(StringBuilder b, Y value, int indent)
    {
        switch (value)
        {
            case YEmpty:
                b.Append('\n');
                break;
            case YMap { Entries.Count: 0 }:
                b.Append(" {}\n");
                break;
            case YSeq { Items.Count: 0 }:
                b.Append(" []\n");
                break;
            case YMap { Flow: true } m when m.Entries.All(e => e.Value is not YMap and not YSeq { Flow: false }):
                b.Append(" { ").Append(string.Join(", ", m.Entries.Select(e => e.Key + ": " + Inline(e.Value)))).Append(" }\n");
                break;
            case YSeq { Flow: true } s when s.Items.All(i => i is not YMap and not YSeq):
                b.Append(" [").Append(string.Join(", ", s.Items.Select(Inline))).Append("]\n");
                break;
            case YMap m:
                b.Append('\n');
                WriteMap(b, m, indent + 2);
                break;
            case YSeq s:
                b.Append('\n');
                foreach (var item in s.Items)
                {
                    b.Append(' ', indent + 2).Append('-');
                    if (item is YMap { Flow: false, Entries.Count: > 0 } m)
                    {
                        // "- key: value" then the other keys under the first.
                        var (firstKey, firstValue) = m.Entries[0];
                        b.Append(' ').Append(firstKey).Append(':');
                        WriteValue(b, firstValue, indent + 4);
                        WriteMap(b, new YMap(m.Entries.Skip(1).ToList()), indent + 4);
                    }
                    else WriteValue(b, item, indent + 2);
                }
                break;
            default:
                b.Append(' ').Append(Scalar(value, flow: false)).Append('\n');
                break;
        }
    }

    private static string Inline(Y value) => value switch
    {
        YSeq s => "[" + string.Join(", ", s.Items.Select(Inline)) + "]",
        YEmpty => "",
        _ => Scalar(value, flow: true),
    };

    private static string Scalar(Y value, bool flow) => value switch
    {
        YPlain p when (flow ? FlowSafe(p.Text) : PlainSafe(p.Text)) => p.Text,
        YPlain p => Double(p.Text),
        YSingle s when !s.Text.Contains('\n') => "'" + s.Text.Replace("'", "''") + "'",
        YSingle s => Double(s.Text),
        YDouble d => Double(d.Text),
        _ => throw new InvalidOperationException(value.GetType().Name),
    };

    private static string Double(string text)
    {
        var b = new StringBuilder("\"");
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\': b.Append("\\\\"); break;
                case '"': b.Append("\\\""); break;
                case '\n': b.Append("\\n"); break;
                case '\t': b.Append("\\t"); break;
                case '\r': b.Append("\\r"); break;
                default:
                    if (c < ' ' || c == '\u007f') b.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else b.Append(c);
                    break;
            }
        }
        return b.Append('"').ToString();
    }
}
