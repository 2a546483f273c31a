using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using CsCheck;

namespace Dsl.Generator.Tests.Properties;

/// <summary>A let in scope: its owner, type, and whether it is present here (evaluated on every path, or narrowed).</summary>
internal sealed record LetVar(string Owner, string Name, Ty Type, bool Present);

/// <summary>
/// What holds at a point of the flow, conservatively: messages exchanged on every path (<see cref="Seen"/>) or on
/// some (<see cref="Maybe"/>), the lets visible there, and the labels of steps on every path to it (targets for a
/// backward goto that keep all of this true at the label).
/// </summary>
internal sealed record Scope(ImmutableHashSet<string> Seen, ImmutableHashSet<string> Maybe, ImmutableList<LetVar> Lets, ImmutableList<string> Labels)
{
    public static readonly Scope Start = new(ImmutableHashSet<string>.Empty, ImmutableHashSet<string>.Empty, ImmutableList<LetVar>.Empty, ImmutableList<string>.Empty);

    public Scope Exchange(string message) => this with { Seen = Seen.Add(message), Maybe = Maybe.Remove(message) };

    public Scope Narrow(LetVar let) => this with { Lets = Lets.Replace(let, let with { Present = true }) };
}

/// <summary>Where a role raises a code, with the messages exchanged on every path there (what its effects may read).</summary>
internal sealed record RaiseSite(string Role, string Code, ImmutableHashSet<string> Seen);

/// <summary>What the flow accumulates across branches: a name counter, raise sites, success points, messages used, let names.</summary>
internal sealed record Acc(int Next, ImmutableList<RaiseSite> Raises, ImmutableList<Scope> Successes, ImmutableHashSet<string> Used, ImmutableHashSet<(string Owner, string Name)> LetNames)
{
    public static readonly Acc Start = new(0, ImmutableList<RaiseSite>.Empty, ImmutableList<Scope>.Empty, ImmutableHashSet<string>.Empty, ImmutableHashSet<(string, string)>.Empty);
}

/// <summary>The list being drawn: who fails a <c>fail</c> here (the receiver of its last message step, else the chooser), nesting, goto targets.</summary>
internal sealed record ListCtx(string? Chooser, string? LastReceiver, bool InBranch, int Depth, ImmutableList<string> SiblingLabels)
{
    public static readonly ListCtx Top = new(null, null, false, 0, ImmutableList<string>.Empty);
}

/// <summary>Steps drawn, the scope after them, and whether control reaches their end.</summary>
internal sealed record Piece(IReadOnlyList<Step> Steps, Scope End, Acc Acc, bool Reaches);

internal static partial class SpecGrammar
{
    private static readonly string[] LetWords = { "saved", "opened", "shared", "secret", "digest", "stamp", "counter", "who", "peer_id", "ok", "mac", "tx", "key", "note" };
    private static readonly string[] LabelWords = { "again", "start", "retry", "init", "loop", "top" };
    private static readonly string[] PhaseWords = { "hello", "init", "established", "rejected", "resume", "lookup", "proof", "sync", "p1", "final_check" };

    /// <summary>The flow: a list of steps, drawn in order so that every expression sees exactly what is in scope.</summary>
    internal static Gen<Piece> Flow(Decls d)
        => from budget in Gen.Int[1, 1 + 2 * d.Scale]
           from piece in StepList(d, Scope.Start, Acc.Start, ListCtx.Top, budget, first: true)
           select piece.Reaches ? piece with { Acc = piece.Acc with { Successes = piece.Acc.Successes.Add(piece.End) } } : piece;

    private static Piece Prepend(Step step, Piece rest) => rest with { Steps = new[] { step }.Concat(rest.Steps).ToList() };

    private static Gen<Piece> StepList(Decls d, Scope s, Acc a, ListCtx ctx, int budget, bool first)
    {
        var senders = d.Roles.Where(r => Sendable(d, s, r).Any()).ToList();
        var raiser = ctx.LastReceiver ?? ctx.Chooser;
        var targets = s.Labels.Concat(ctx.SiblingLabels).ToList();
        return Choose<Piece>(
            (first ? 0 : budget <= 0 ? 12 : 2, () => Gen.Const(new Piece(Array.Empty<Step>(), s, a, true))),
            (budget > 0 && senders.Count > 0 ? 6 : 0, () =>
                from step in MessageStepGen(d, s, a, ctx, Pick(senders), ImmutableHashSet<string>.Empty)
                from rest in StepList(d, step.End, step.Acc, ctx with { LastReceiver = ((MessageStep)step.Steps[0]).To }, budget - 1, first: false)
                select Prepend(step.Steps[0], rest)),
            (budget > 1 && ctx.Depth < 2 && Choosers(d, s).Any() ? 2 : 0, () =>
                from choice in ChoiceStepGen(d, s, a, ctx, budget - 1)
                from rest in choice.Reaches
                    ? StepList(d, choice.End, choice.Acc, ctx, budget / 2, first: false)
                    : Gen.Const(new Piece(Array.Empty<Step>(), choice.End, choice.Acc, false))
                select Prepend(choice.Steps[0], rest)),
            (first ? 0 : 1, () => Gen.Const(new Piece(new Step[] { new SuccessStep() }, s, a with { Successes = a.Successes.Add(s) }, false))),
            (!first && raiser is not null ? 1 : 0, () =>
                from code in Pick(d.Codes)
                select new Piece(new Step[] { new FailStep(code) }, s, a with { Raises = a.Raises.Add(new RaiseSite(raiser!, code, s.Seen)) }, false)),
            (!first && ctx.InBranch && targets.Count > 0 ? 1 : 0, () =>
                Pick(targets).Select(label => new Piece(new Step[] { new GotoStep(label) }, s, a, false))),
            // No role can send any message here (each needs a value nothing in scope makes, a map or a key): end the
            // flow, which leaves its messages unused (DSL104), so the spec is one with a diagnostic.
            (first && senders.Count == 0 ? 1 : 0, () => Gen.Const(new Piece(new Step[] { new SuccessStep() }, s, a with { Successes = a.Successes.Add(s) }, false))));
    }

    /// <summary>The flow messages <paramref name="sender"/> can send here: every field it must set can be made from its scope.</summary>
    private static List<Message> Sendable(Decls d, Scope s, string sender)
    {
        var env = Before(d, s, sender);
        return d.Pool.Where(m => m.Fields.Where(f => f.MustSet).All(f => CanMake(env, f.Type, Need.Present))).ToList();
    }

    private static IEnumerable<string> Choosers(Decls d, Scope s) => d.Roles.Where(r => Sendable(d, s, r).Count + (d.Codes.Count > 0 ? 1 : 0) >= 2 && Sendable(d, s, r).Count >= 1);

    // ---- Message steps ----

    private static Gen<Piece> MessageStepGen(Decls d, Scope s, Acc a, ListCtx ctx, Gen<string> senders, ImmutableHashSet<string> exclude)
        => from sender in senders
           let receiver = d.Other(sender)
           from lets in Lets(d, s, a, sender)
           let s1 = lets.Scope
           from message in Pick(Sendable(d, s1, sender).Where(m => !exclude.Contains(m.Name)).ToList())
           from ensure in Checks(d, s1, sender, narrowing: true, max: 2)
           let s2 = ensure.Scope
           from set in Set(Before(d, s2, sender), message.Fields, required: true)
           let s3 = s2.Exchange(message.Name)
           from require in Checks(d, s3, receiver, narrowing: false, max: 3, current: message)
           // An ensure narrows for the step's set and the steps after it, not for the step's own do.
           from effects in StepEffects(d, s1.Exchange(message.Name), message)
           from label in Chance(ctx.InBranch ? 30 : 20)
           from phase in Chance(30).SelectMany(p => p ? Pick(PhaseWords).Select(w => (string?)w) : Gen.Const<string?>(default(string?)))
           from timeout in Chance(15).SelectMany(t => t ? Pick(Durations).Select(w => (string?)w) : Gen.Const<string?>(default(string?)))
           let labelName = label ? NameFrom(LabelWords, lets.Acc.Next) : null
           let step = new MessageStep(sender, receiver, message.Name, lets.Lets, ensure.Checks, set, require.Checks, effects, timeout, phase, labelName)
           let raises = ensure.Checks.Select(c => new RaiseSite(sender, c.Code, s1.Seen))
               .Concat(require.Checks.Select(c => new RaiseSite(receiver, c.Code, s3.Seen)))
           let acc = lets.Acc with { Next = lets.Acc.Next + 1, Raises = lets.Acc.Raises.AddRange(raises), Used = lets.Acc.Used.Add(message.Name) }
           select new Piece(new Step[] { step }, labelName is null ? s3 : s3 with { Labels = s3.Labels.Add(labelName) }, acc, true);

    private static string NameFrom(string[] words, int n) => words[n % words.Length] + n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private sealed record LetsResult(IReadOnlyList<Let> Lets, Scope Scope, Acc Acc);

    /// <summary>A step's or a choice's lets, in order, each seeing the ones before it.</summary>
    private static Gen<LetsResult> Lets(Decls d, Scope s, Acc a, string owner)
        => Gen.Frequency((5, Gen.Const(0)), (3, Gen.Const(1)), (1, Gen.Const(2)))
            .SelectMany(n => LetsFrom(d, new LetsResult(Array.Empty<Let>(), s, a), owner, n));

    private static Gen<LetsResult> LetsFrom(Decls d, LetsResult sofar, string owner, int n)
    {
        if (n == 0) return Gen.Const(sofar);
        var env = Before(d, sofar.Scope, owner);
        var reusable = sofar.Acc.LetNames.Where(l => l.Owner != owner && !sofar.Acc.LetNames.Contains((owner, l.Name))).Select(l => l.Name).ToList();
        return from reuse in Chance(reusable.Count > 0 ? 20 : 0)
               from reused in reuse ? Pick(reusable) : Gen.Const("")
               let name = reuse ? reused : NameFrom(LetWords, sofar.Acc.Next)
               from type in Pick(LetTypes.Where(t => CanMake(env, t, Need.MayBeAbsent)).ToList())
               from value in Expression(env, type, Need.MayBeAbsent)
               let variable = new LetVar(owner, name, value.Type, value.Present)
               let next = new LetsResult(
                   sofar.Lets.Append(new Let(name, value.Expr)).ToList(),
                   sofar.Scope with { Lets = sofar.Scope.Lets.Add(variable) },
                   sofar.Acc with { Next = sofar.Acc.Next + 1, LetNames = sofar.Acc.LetNames.Add((owner, name)) })
               from rest in LetsFrom(d, next, owner, n - 1)
               select rest;
    }

    private static readonly Ty[] LetTypes = { Ty.String, Ty.Int, Ty.Bool, Ty.Uuid, Ty.Timestamp, Ty.Bytes, Ty.BytesOf(32), Ty.ListString, Ty.Map };

    private sealed record ChecksResult(IReadOnlyList<Check> Checks, Scope Scope);

    /// <summary>
    /// <c>ensure</c> (the sender's, before the message; a <c>LET != null</c> test narrows the let for the rest of the
    /// list) or <c>require</c> (the receiver's, with <c>msg</c> and the envelope).
    /// </summary>
    private static Gen<ChecksResult> Checks(Decls d, Scope s, string role, bool narrowing, int max, Message? current = null)
        => Gen.Int[0, max].SelectMany(n => ChecksFrom(d, s, new ChecksResult(Array.Empty<Check>(), s), role, narrowing, n, current));

    // The checks of one list all see the scope before it: what an ensure proves holds from the step's set on.
    private static Gen<ChecksResult> ChecksFrom(Decls d, Scope before, ChecksResult sofar, string role, bool narrowing, int n, Message? current)
    {
        if (n == 0 || d.Codes.Count == 0) return Gen.Const(sofar);
        var env = current is null ? Before(d, before, role) : After(d, before, role, current);
        var absentLets = narrowing ? before.Lets.Where(l => l.Owner == role && !l.Present && l.Type.Comparable).ToList() : new List<LetVar>();
        return from narrow in Chance(absentLets.Count > 0 ? 60 : 0)
               from check in narrow
                   ? from lv in Pick(absentLets)
                     from extra in Chance(30)
                     from more in extra ? Expression(env, Ty.Bool, Need.Present).Select(e => (Expr?)e.Expr) : Gen.Const<Expr?>(default(Expr?))
                     from flip in Gen.Bool
                     let test = flip ? new Binary("!=", new Lit("null"), new Ref(lv.Name)) : new Binary("!=", new Ref(lv.Name), new Lit("null"))
                     select (Condition: more is null ? (Expr)test : new Binary("&&", test, more), Narrowed: lv)
                   : Expression(env, Ty.Bool, Need.Present).Select(e => (Condition: e.Expr, Narrowed: (LetVar?)null))
               from code in Pick(d.Codes)
               let next = new ChecksResult(sofar.Checks.Append(new Check(check.Condition, code)).ToList(),
                   check.Narrowed is { } narrowed && sofar.Scope.Lets.Contains(narrowed) ? sofar.Scope.Narrow(narrowed) : sofar.Scope)
               from rest in ChecksFrom(d, before, next, role, narrowing, n - 1, current)
               select rest;
    }

    /// <summary>
    /// Values for a message's fields (a step's, an error's, a ping's): every field that must be set is; optional
    /// ones sometimes, with values that may be absent (or <c>null</c>). String literals are sometimes written as
    /// quoted YAML scalars and lists as YAML sequences, the two other forms a value under <c>set</c> takes.
    /// </summary>
    internal static Gen<IReadOnlyList<SetEntry>> Set(Env env, IReadOnlyList<Field> fields, bool required, IReadOnlyCollection<string>? skip = null)
        => Sequence(fields.Where(f => skip is null || !skip.Contains(f.Name)).Select(f => (Func<Gen<SetEntry?>>)(() =>
        {
            var need = f.MustSet ? Need.Present : f.Default is not null ? Need.MayBeAbsent : Need.OrNull;
            var percent = f.MustSet && required ? 100 : f.Default is not null ? 30 : 60;
            if (!CanMake(env, f.Type, need)) return Gen.Const<SetEntry?>(default(SetEntry?));
            return from include in Chance(percent)
                   from value in include ? Expression(env, f.Type, need).Select(v => (TE?)v) : Gen.Const<TE?>(default(TE?))
                   from form in Gen.Int[0, 2]
                   select value is null ? null : new SetEntry(f.Name, SetForm(value.Expr, form));
        })).ToList()).Select(entries => (IReadOnlyList<SetEntry>)entries.Where(e => e is not null).Select(e => e!).ToList());

    private static Value SetForm(Expr expr, int form) => (expr, form) switch
    {
        (StrLit s, 0) => new TextValue(s.Value, s.Quote == '\''),
        (ListLit l, 0) => new SeqValue(l.Items.Select(i => SetForm(i, 0)).ToList()),
        _ => new ExprValue(expr),
    };

    private static Gen<IReadOnlyList<RoleEffects>> StepEffects(Decls d, Scope s, Message current)
        => Sequence(d.Roles.Where(r => d.ServicesOf(r).Any()).Select(r => (Func<Gen<RoleEffects?>>)(() =>
                from act in Chance(25)
                from n in Gen.Int[1, 2]
                from calls in act ? Repeat(n, () => Effect(After(d, s, r, current))) : Gen.Const<IReadOnlyList<Expr>>(Array.Empty<Expr>())
                select act ? new RoleEffects(r, calls) : (RoleEffects?)null)).ToList())
            .Select(e => (IReadOnlyList<RoleEffects>)e.Where(x => x is not null).Select(x => x!).ToList());

    // ---- Choices ----

    private static Gen<Piece> ChoiceStepGen(Decls d, Scope s, Acc a, ListCtx ctx, int budget)
        => from chooser in Pick(Choosers(d, s).ToList())
           from lets in Lets(d, s, a, chooser)
           from label in Chance(20)
           from phase in Chance(30).SelectMany(p => p ? Pick(PhaseWords).Select(w => (string?)w) : Gen.Const<string?>(default(string?)))
           from timeout in Chance(15).SelectMany(t => t ? Pick(Durations).Select(w => (string?)w) : Gen.Const<string?>(default(string?)))
           let labelName = label ? NameFrom(LabelWords, lets.Acc.Next) : null
           let acc = label ? lets.Acc with { Next = lets.Acc.Next + 1 } : lets.Acc
           let atChoice = labelName is null ? lets.Scope : lets.Scope with { Labels = lets.Scope.Labels.Add(labelName) }
           let available = Sendable(d, atChoice, chooser).Count + (d.Codes.Count > 0 ? 1 : 0)
           from count in Gen.Int[2, Math.Max(2, Math.Min(3, available))]
           from branches in Branches(d, atChoice, acc, chooser, ctx, count, 0, ImmutableHashSet<string>.Empty, ImmutableList<string>.Empty, budget, new List<(Branch, Piece)>())
           let step = new ChoiceStep(chooser, lets.Lets, branches.Select(b => b.Branch).ToList(), phase, labelName, timeout)
           select Join(step, atChoice, branches.Select(b => b.Piece).ToList());

    /// <summary>After a choice: what every branch that reaches its end exchanged; the lets and narrowing of before it.</summary>
    private static Piece Join(ChoiceStep step, Scope atChoice, List<Piece> branches)
    {
        var acc = branches[^1].Acc;
        var reaching = branches.Where(b => b.Reaches).ToList();
        if (reaching.Count == 0) return new Piece(new Step[] { step }, atChoice, acc, false);
        var seen = reaching.Select(b => b.End.Seen).Aggregate((x, y) => x.Intersect(y));
        var maybe = reaching.SelectMany(b => b.End.Seen.Union(b.End.Maybe)).Concat(atChoice.Maybe).Where(m => !seen.Contains(m)).ToImmutableHashSet();
        return new Piece(new Step[] { step }, atChoice with { Seen = seen, Maybe = maybe }, acc, true);
    }

    private static Gen<List<(Branch Branch, Piece Piece)>> Branches(Decls d, Scope atChoice, Acc a, string chooser, ListCtx ctx, int count, int index,
        ImmutableHashSet<string> firsts, ImmutableList<string> siblingLabels, int budget, List<(Branch, Piece)> sofar)
    {
        if (index == count) return Gen.Const(sofar);
        var last = index == count - 1;
        var branchCtx = new ListCtx(chooser, d.Other(chooser), true, ctx.Depth + 1, siblingLabels);
        return from when in last ? Gen.Const<(Expr? When, LetVar? Narrowed)>((null, null)) : When(d, atChoice, chooser)
               let scope = when.Narrowed is { } narrowed ? atChoice.Narrow(narrowed) : atChoice
               let candidates = Sendable(d, scope, chooser).Where(m => !firsts.Contains(m.Name)).ToList()
               // Leave a message for each later branch but one (which may just fail).
               let mustSend = candidates.Count > 0 && (d.Codes.Count == 0 || sofar.Any(b => b.Item1.Steps is [FailStep]))
               from branch in Choose<(Branch Branch, Piece Piece)>(
                   (candidates.Count > 0 ? 8 : 0, () =>
                       from first in MessageStepGen(d, scope, a, branchCtx, Gen.Const(chooser), firsts)
                       let firstStep = (MessageStep)first.Steps[0]
                       from rest in StepList(d, first.End, first.Acc, branchCtx, Math.Min(budget, 3), first: false)
                       select (new Branch(when.When, new Step[] { firstStep }.Concat(rest.Steps).ToList()), rest)),
                   (mustSend || d.Codes.Count == 0 ? 0 : 1, () =>
                       from code in Pick(d.Codes)
                       select (new Branch(when.When, new Step[] { new FailStep(code) }),
                           new Piece(Array.Empty<Step>(), scope, a with { Raises = a.Raises.Add(new RaiseSite(chooser, code, scope.Seen)) }, false))))
               let firstMessage = branch.Branch.Steps[0] as MessageStep
               from rest in Branches(d, atChoice, branch.Piece.Acc, chooser, ctx, count, index + 1,
                   firstMessage is null ? firsts : firsts.Add(firstMessage.Message),
                   firstMessage?.Label is { } l ? siblingLabels.Add(l) : siblingLabels,
                   budget, sofar.Append(branch).ToList())
               select rest;
    }

    /// <summary>A branch's guard; a <c>LET != null</c> test narrows that let for the branch's steps.</summary>
    private static Gen<(Expr? When, LetVar? Narrowed)> When(Decls d, Scope s, string chooser)
    {
        var env = Before(d, s, chooser);
        var absentLets = s.Lets.Where(l => l.Owner == chooser && !l.Present && l.Type.Comparable).ToList();
        return from narrow in Chance(absentLets.Count > 0 ? 60 : 0)
               from result in narrow
                   ? from lv in Pick(absentLets)
                     from extra in Chance(30)
                     from more in extra ? Expression(env, Ty.Bool, Need.Present).Select(e => (Expr?)e.Expr) : Gen.Const<Expr?>(default(Expr?))
                     let test = new Binary("!=", new Ref(lv.Name), new Lit("null"))
                     select ((Expr?)(more is null ? test : new Binary("&&", test, more)), (LetVar?)lv)
                   : Expression(env, Ty.Bool, Need.Present).Select(e => ((Expr?)e.Expr, (LetVar?)null))
               select result;
    }

    // ---- Environments: the names each place sees ----

    private static readonly Expr Self = new Ref("self");
    private static readonly Avail PeerAddress = new(new Member(new Ref("peer"), "address"), Ty.String, true);

    private static IEnumerable<Avail> SelfValues(Decls d, string role)
        => d.InputsOf(role).Select(f => new Avail(new Member(Self, f.Name), f.Type, f.Present));

    private static IEnumerable<Avail> Transcript(Decls d, ImmutableHashSet<string> seen, ImmutableHashSet<string> maybe)
    {
        foreach (var m in d.Pool.Where(m => seen.Contains(m.Name) || maybe.Contains(m.Name)))
        {
            var always = seen.Contains(m.Name);
            foreach (var f in m.Fields) yield return new Avail(new Member(new Ref(m.Name), f.Name), f.Type, always && f.Present);
            if (d.Envelope is { } envelope)
            {
                var on = new Member(new Ref(m.Name), "envelope");
                yield return new Avail(new Member(on, "payload"), Ty.Bytes, always);
                foreach (var f in envelope.Fields) yield return new Avail(new Member(on, f.Name), f.Type, always && f.Present);
            }
        }
    }

    private static IEnumerable<Avail> LetValues(Scope s, string role)
        => s.Lets.Where(l => l.Owner == role).Select(l => new Avail(new Ref(l.Name), l.Type, l.Present));

    /// <summary>A step's <c>let</c>, <c>ensure</c> and <c>set</c>, a choice's <c>let</c> and <c>when</c>: the sender's or chooser's view before the message.</summary>
    internal static Env Before(Decls d, Scope s, string role)
        => new(d, role, SelfValues(d, role).Concat(Transcript(d, s.Seen, s.Maybe)).Concat(LetValues(s, role)).Append(PeerAddress).ToImmutableList(), true, d.InvalidExpressions, d.Depth);

    /// <summary>A step's <c>require</c> and <c>do</c>: the message just exchanged is <c>msg</c>, with its envelope.</summary>
    internal static Env After(Decls d, Scope s, string role, Message current)
    {
        var values = SelfValues(d, role).Concat(Transcript(d, s.Seen, s.Maybe)).Concat(LetValues(s, role)).Append(PeerAddress)
            .Concat(current.Fields.Select(f => new Avail(new Member(new Ref("msg"), f.Name), f.Type, f.Present)));
        if (d.Envelope is { } envelope)
            values = values.Append(new Avail(new Member(new Ref("envelope"), "payload"), Ty.Bytes, true))
                .Concat(envelope.Fields.Select(f => new Avail(new Member(new Ref("envelope"), f.Name), f.Type, f.Present)));
        return new(d, role, values.ToImmutableList(), true, d.InvalidExpressions, d.Depth);
    }

    /// <summary>An outcome: the role's view where it succeeds (what holds at every success point).</summary>
    internal static Env OutcomeEnv(Decls d, Scope atSuccess, string role) => Before(d, atSuccess, role);

    /// <summary>An error's <c>do</c> or <c>on_failure</c>: what holds wherever the role can raise the code.</summary>
    internal static Env EffectsEnv(Decls d, string role, ImmutableHashSet<string> seen)
        => new(d, role, SelfValues(d, role).Concat(Transcript(d, seen, ImmutableHashSet<string>.Empty)).Append(PeerAddress).ToImmutableList(), true, d.InvalidExpressions, d.Depth);

    /// <summary>An error's <c>set</c>: only <c>detail</c>, <c>code</c>, literals and functions.</summary>
    internal static Env ErrorSetEnv(Decls d)
        => new(d, null, ImmutableList.Create(new Avail(new Ref("detail"), Ty.String, true), new Avail(new Ref("code"), Ty.String, true)), false, d.InvalidExpressions, d.Depth);

    /// <summary>The envelope's <c>set</c>: <c>payload</c>, and the inputs both roles have.</summary>
    internal static Env EnvelopeSetEnv(Decls d)
    {
        var common = d.InputsOf(d.Roles[0]).Where(f => d.InputsOf(d.Roles[1]).Contains(f)).Select(f => new Avail(new Member(Self, f.Name), f.Type, f.Present));
        return new(d, null, common.Append(new Avail(new Ref("payload"), Ty.Bytes, true)).ToImmutableList(), false, d.InvalidExpressions, d.Depth);
    }

    /// <summary>The heartbeat's <c>interval_ms</c> (both roles), <c>ping.set</c> (the pinger) or <c>pong.set</c> (with the ping).</summary>
    internal static Env HeartbeatEnv(Decls d, Scope atSuccess, string? role, Message? ping)
    {
        var values = Transcript(d, atSuccess.Seen, atSuccess.Maybe);
        if (role is not null) values = SelfValues(d, role).Concat(values);
        if (ping is not null) values = values.Concat(ping.Fields.Select(f => new Avail(new Member(new Ref(ping.Name), f.Name), f.Type, f.Present)));
        return new(d, role, values.ToImmutableList(), false, d.InvalidExpressions, d.Depth);
    }
}
