using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using CsCheck;

namespace Dsl.Generator.Tests.Properties;

/// <summary>A typed expression as drawn: its type (bytes with the length the binder knows) and whether it is present.</summary>
internal sealed record TE(Expr Expr, Ty Type, bool Present);

/// <summary>A name in scope at an expression's place: what it reads, its type, and whether it is present there.</summary>
internal sealed record Avail(Expr Expr, Ty Type, bool Present);

/// <summary>What an expression's place accepts: only present values, values that may be absent, or also <c>null</c>.</summary>
internal enum Need { Present, MayBeAbsent, OrNull }

/// <summary>
/// Where an expression is evaluated, as the "Where expressions appear" table of docs/spec-language.md has it:
/// the evaluating role, the names in scope, whether it may call that role's services.
/// </summary>
internal sealed record Env(Decls D, string? Role, ImmutableList<Avail> Values, bool Services, bool Invalid, int Depth)
{
    public IEnumerable<Service> CallableServices => Services && Role is not null ? D.ServicesOf(Role) : Enumerable.Empty<Service>();
}

internal static partial class SpecGrammar
{
    // Unknown-length sentinel for bytes whose length the binder may or may not know (a string literal's UTF-8,
    // a concat over one): such values go only where any length is accepted.
    private const int Unsure = -1;

    private static readonly Ty[] ComparableTypes = { Ty.String, Ty.Int, Ty.Bool, Ty.Uuid, Ty.Timestamp, Ty.Bytes };

    /// <summary>Chooses one of several alternatives by weight, building only the chosen one (the grammar recurses).</summary>
    internal static Gen<T> Choose<T>(params (int Weight, Func<Gen<T>> Make)[] alternatives)
    {
        var live = alternatives.Where(a => a.Weight > 0).ToArray();
        if (live.Length == 0) throw new InvalidOperationException("no alternative");
        if (live.Length == 1) return live[0].Make();
        return Gen.Frequency(live.Select((a, i) => (a.Weight, (IGen<int>)Gen.Const(i))).ToArray()).SelectMany(i => live[i].Make());
    }

    internal static Gen<T> Pick<T>(IReadOnlyList<T> items) => items.Count == 1 ? Gen.Const(items[0]) : Gen.Int[0, items.Count - 1].Select(i => items[i]);

    internal static Gen<bool> Chance(int percent) => Gen.Int[0, 99].Select(i => i < percent);

    private static bool Fits(Ty have, Ty want) => have.Kind == want.Kind
        && (have.Kind != Kind.Bytes || want.Length is null || have.Length is null || have.Length == want.Length);

    private static IEnumerable<Avail> Values(Env env, Ty want, bool present)
        => env.Values.Where(v => Fits(v.Type, want) && v.Present == present && (v.Type.Kind != Kind.Bytes || want.Length is null || v.Type.Length != Unsure));

    /// <summary>Whether an expression of <paramref name="want"/> can be drawn here (maps and keys have no literal).</summary>
    internal static bool CanMake(Env env, Ty want, Need need) => want.Kind switch
    {
        Kind.Map or Kind.Ed25519Key or Kind.X25519Key => Values(env, want, true).Any() || (need != Need.Present && Values(env, want, false).Any()) || need == Need.OrNull,
        _ => true,
    };

    /// <summary>An expression of type <paramref name="want"/> from the names in <paramref name="env"/>.</summary>
    internal static Gen<TE> Expression(Env env, Ty want, Need need) => Of(env, want, need, env.Depth);

    private static Gen<TE> Of(Env env, Ty want, Need need, int depth)
    {
        if (want.Length == Unsure) want = Ty.Bytes;   // a length the binder may not know asks for no length
        var present = Values(env, want, true).ToList();
        var maybe = need == Need.Present ? new List<Avail>() : Values(env, want, false).ToList();
        // A fallback must have the left side's length, so a left side of a length the binder may know is left out.
        var coalescible = Values(env, want, false).Where(v => v.Type.Length != Unsure).ToList();
        var alternatives = new List<(int, Func<Gen<TE>>)>
        {
            (present.Count > 0 ? 6 : 0, () => Pick(present).Select(v => new TE(v.Expr, v.Type, true))),
            (maybe.Count > 0 ? 3 : 0, () => Pick(maybe).Select(v => new TE(v.Expr, v.Type, false))),
            (need == Need.OrNull ? 1 : 0, () => Gen.Const(new TE(new Lit("null"), want, false))),
            (depth > 0 && coalescible.Count > 0 ? 3 : 0, () =>
                from left in Pick(coalescible)
                from right in Of(env, left.Type, need == Need.OrNull ? Need.MayBeAbsent : need, depth - 1)
                select new TE(new Binary("??", left.Expr, right.Expr), left.Type, right.Present)),
            (env.Invalid && depth == env.Depth ? 3 : 0, () => Wrong(env, want)),
        };
        alternatives.AddRange(Constructs(env, want, need, depth));
        // A conditional of any type: its values as the place needs them.
        if (depth > 0 && CanMake(env, want, need))
            alternatives.Add((1, () => from c in Of(env, Ty.Bool, Need.Present, depth - 1)
                                       from t in Of(env, want, need, depth - 1)
                                       from e in Of(env, want, need, depth - 1)
                                       where t.Type.Length == e.Type.Length
                                       select new TE(new Cond(c.Expr, t.Expr, e.Expr), t.Type, t.Present && e.Present)));
        if (need != Need.Present && depth > 0)
            alternatives.AddRange(AbsentConstructs(env, want, depth));
        // A kind with no literal (a map, a key) and no value of it in scope: null, which the generator reports.
        if (alternatives.All(a => a.Item1 <= 0)) alternatives.Add((1, () => Gen.Const(new TE(new Lit("null"), want, false))));
        return Choose(alternatives.ToArray());
    }

    /// <summary>The literals, operators, built-ins and service calls that make a present value of the kind.</summary>
    private static IEnumerable<(int, Func<Gen<TE>>)> Constructs(Env env, Ty want, Need need, int depth)
    {
        var d = depth - 1;
        var deep = depth > 0;
        switch (want.Kind)
        {
            case Kind.String:
                yield return (4, () => StringLiteral.Select(s => new TE(s, Ty.String, true)));
                yield return (deep ? 1 : 0, () => from a in Of(env, Ty.String, Need.Present, d)
                                                  from b in Of(env, Ty.String, Need.Present, d)
                                                  select new TE(new Binary("+", a.Expr, b.Expr), Ty.String, true));
                yield return (deep ? 2 : 0, () => from t in Pick(ComparableTypes)
                                                  from a in Of(env, t, Need.Present, d)
                                                  select new TE(Fn("text", a.Expr), Ty.String, true));
                yield return (deep ? 1 : 0, () => from f in Pick(new[] { "hex", "base64" })
                                                  from a in Of(env, Ty.Bytes, Need.Present, d)
                                                  select new TE(Fn(f, a.Expr), Ty.String, true));
                break;
            case Kind.Int:
                yield return (4, () => IntLiteral.Select(n => new TE(n, Ty.Int, true)));
                yield return (deep ? 1 : 0, () => from op in Pick(new[] { "+", "-" })
                                                  from a in Of(env, Ty.Int, Need.Present, d)
                                                  from b in Of(env, Ty.Int, Need.Present, d)
                                                  select new TE(new Binary(op, a.Expr, b.Expr), Ty.Int, true));
                // The difference of two timestamps is a duration; seconds() makes it an int.
                yield return (deep ? 1 : 0, () => from a in Of(env, Ty.Timestamp, Need.Present, d)
                                                  from b in Of(env, Ty.Timestamp, Need.Present, d)
                                                  select new TE(Fn("seconds", new Binary("-", a.Expr, b.Expr)), Ty.Int, true));
                yield return (deep ? 1 : 0, () => from a in Of(env, Ty.Timestamp, Need.Present, d)
                                                  from unit in Pick(new[] { "500ms", "60s", "5m", "1h" })
                                                  select new TE(Fn("milliseconds", Fn("abs", new Binary("-", Fn("now"), new Binary("+", a.Expr, new Lit(unit))))), Ty.Int, true));
                yield return (deep ? 2 : 0, () => from t in Pick(new[] { Ty.String, Ty.Bytes, Ty.ListString, Ty.ListInt, Ty.ListUuid })
                                                  from a in Of(env, t, Need.Present, d)
                                                  select new TE(Fn("len", a.Expr), Ty.Int, true));
                yield return (deep ? 1 : 0, () => Of(env, Ty.Int, Need.Present, d).Select(a => new TE(Fn("abs", a.Expr), Ty.Int, true)));
                yield return (deep ? 1 : 0, () => from f in Pick(new[] { "unix", "unix_ms" })
                                                  from a in Of(env, Ty.Timestamp, Need.Present, d)
                                                  select new TE(Fn(f, a.Expr), Ty.Int, true));
                break;
            case Kind.Bool:
                yield return (3, () => Pick(new[] { "true", "false" }).Select(b => new TE(new Lit(b), Ty.Bool, true)));
                yield return (deep ? 4 : 0, () => Equality(env, d));
                yield return (deep ? 2 : 0, () => from op in Pick(new[] { "<", "<=", ">", ">=" })
                                                  from t in Pick(new[] { Ty.Int, Ty.Timestamp })
                                                  from a in Of(env, t, Need.Present, d)
                                                  from b in Of(env, t, Need.Present, d)
                                                  select new TE(new Binary(op, a.Expr, b.Expr), Ty.Bool, true));
                yield return (deep ? 2 : 0, () => from op in Pick(new[] { "&&", "||" })
                                                  from a in Of(env, Ty.Bool, Need.Present, d)
                                                  from b in Of(env, Ty.Bool, Need.Present, d)
                                                  select new TE(new Binary(op, a.Expr, b.Expr), Ty.Bool, true));
                yield return (deep ? 1 : 0, () => Of(env, Ty.Bool, Need.Present, d).Select(a => new TE(new Not(a.Expr), Ty.Bool, true)));
                yield return (deep ? 1 : 0, () => from a in Of(env, Ty.Bool, Need.Present, d) select new TE(new Parens(a.Expr), Ty.Bool, true));
                yield return (deep ? 1 : 0, () => from k in Of(env, Ty.BytesOf(32), Need.Present, d)
                                                  from data in BuiltinBytes(env, d)
                                                  from sig in Of(env, Ty.BytesOf(64), Need.Present, d)
                                                  select new TE(Fn("ed25519_verify", k.Expr, data.Expr, sig.Expr), Ty.Bool, true));
                break;
            case Kind.Uuid:
                yield return (3, () => Gen.Const(new TE(Fn("uuid4"), Ty.Uuid, true)));
                break;
            case Kind.Timestamp:
                yield return (3, () => Gen.Const(new TE(Fn("now"), Ty.Timestamp, true)));
                break;
            case Kind.ListString:
            case Kind.ListInt:
            case Kind.ListUuid:
                yield return (3, () => from n in Gen.Int[0, 3]
                                       from items in Repeat(n, () => Of(env, want.Element!, Need.Present, Math.Max(0, d)))
                                       select new TE(new ListLit(items.Select(i => i.Expr).ToList()), want, true));
                break;
            case Kind.Bytes:
                foreach (var alternative in Bytes(env, want.Length, d, deep)) yield return alternative;
                break;
        }
        // Service methods that answer a present value of this kind.
        if (depth > 0)
            foreach (var service in env.CallableServices)
                foreach (var method in Methods(service).Where(m => m.Returns is { } r && Fits(r, want) && !m.ReturnsAbsent))
                    yield return (2, () => ServiceCall(env, service, method, d));
        // Hooks the role holds that answer a value of this kind for sure.
        if (depth > 0)
            foreach (var hook in CallableHooks(env).Where(h => h.Output.Fits(want) && !h.OutputOptional))
                yield return (2, () => HookCall(env, hook, d));
    }

    /// <summary>The hooks the evaluating role may call here: where it may call its services.</summary>
    private static IEnumerable<Hook> CallableHooks(Env env) => env.Services && env.Role is not null ? env.D.HooksOf(env.Role) : Enumerable.Empty<Hook>();

    private static Gen<TE> HookCall(Env env, Hook hook, int d)
        => from args in Sequence(hook.Inputs.Select(i => (Func<Gen<TE>>)(() => Of(env, i.Type, Need.Present, Math.Max(0, d)))).ToList())
           select new TE(new Call(new Ref(hook.Name), args.Select(a => a.Expr).ToList()), hook.Output, !hook.OutputOptional);

    /// <summary>Built-ins and service methods whose result may be absent: for places that accept an absent value.</summary>
    private static IEnumerable<(int, Func<Gen<TE>>)> AbsentConstructs(Env env, Ty want, int depth)
    {
        foreach (var hook in CallableHooks(env).Where(h => h.Output.Fits(want) && h.OutputOptional))
            yield return (2, () => HookCall(env, hook, depth - 1));
        foreach (var service in env.CallableServices)
            foreach (var method in Methods(service).Where(m => m.Returns is { } r && Fits(r, want) && m.ReturnsAbsent))
                yield return (2, () => ServiceCall(env, service, method, depth - 1));
        if (want.Kind == Kind.Bytes && want.Length is null)
            yield return (1, () => from f in Pick(new[] { "chacha20_open", "aes256gcm_open" })
                                   from k in Of(env, Ty.BytesOf(32), Need.Present, depth - 1)
                                   from n in Of(env, Ty.BytesOf(12), Need.Present, depth - 1)
                                   from c in BuiltinBytes(env, depth - 1)
                                   from a in BuiltinBytes(env, depth - 1)
                                   select new TE(Fn(f, k.Expr, n.Expr, c.Expr, a.Expr), Ty.BytesOf(Unsure), false));
        if (want.Kind == Kind.Bytes && want.Length is null or 32 && Values(env, Ty.X25519Key, true).Any())
            yield return (1, () => from k in Pick(Values(env, Ty.X25519Key, true).ToList())
                                   from p in Of(env, Ty.BytesOf(32), Need.Present, depth - 1)
                                   select new TE(Fn("x25519_agree", k.Expr, p.Expr), Ty.BytesOf(32), false));
    }

    private static Gen<TE> Equality(Env env, int d)
        => from op in Pick(new[] { "==", "!=" })
           from t in Pick(ComparableTypes)
           from a in Of(env, t, Need.MayBeAbsent, d)
           from b in Of(env, t, a.Present ? Need.MayBeAbsent : Need.OrNull, d)
           from swap in Gen.Bool
           select new TE(swap ? new Binary(op, b.Expr, a.Expr) : new Binary(op, a.Expr, b.Expr), Ty.Bool, true);

    private static IEnumerable<(int, Func<Gen<TE>>)> Bytes(Env env, int? length, int d, bool deep)
    {
        var key32 = Ty.BytesOf(32);
        var ed = Values(env, Ty.Ed25519Key, true).ToList();
        var x = Values(env, Ty.X25519Key, true).ToList();
        Gen<int> Count() => length is { } n ? Gen.Const(n) : Gen.OneOf(12, 16, 32, 64, 1, 7);

        yield return (3, () => Count().Select(n => new TE(Fn("random", Int(n)), Ty.BytesOf(n), true)));
        yield return (deep ? 1 : 0, () => from n in Count()
                                          from data in Of(env, Ty.Bytes, Need.Present, d)
                                          let source = data.Type.Length is { } known && known != Unsure && known < n
                                              ? Fn("concat", data.Expr, Fn("random", Int(n)))
                                              : data.Expr
                                          select new TE(Fn("take", source, Int(n)), Ty.BytesOf(n), true));
        yield return (deep ? 1 : 0, () => from n in Count()
                                          from ikm in BuiltinBytes(env, d)
                                          from salt in BuiltinBytes(env, d)
                                          from info in BuiltinBytes(env, d)
                                          select new TE(Fn("hkdf_sha256", ikm.Expr, salt.Expr, info.Expr, Int(n)), Ty.BytesOf(n), true));
        if (length is null or 32)
        {
            yield return (deep ? 2 : 0, () => BuiltinBytes(env, d).Select(a => new TE(Fn("sha256", a.Expr), key32, true)));
            yield return (deep ? 1 : 0, () => from k in BuiltinBytes(env, d)
                                              from a in BuiltinBytes(env, d)
                                              select new TE(Fn("hmac_sha256", k.Expr, a.Expr), key32, true));
            yield return (deep && ed.Count > 0 ? 2 : 0, () => Pick(ed).Select(k => new TE(Fn("ed25519_public", k.Expr), key32, true)));
            yield return (deep && x.Count > 0 ? 2 : 0, () => Pick(x).Select(k => new TE(Fn("x25519_public", k.Expr), key32, true)));
        }
        if (length is null or 64)
            yield return (deep && ed.Count > 0 ? 2 : 0, () => from k in Pick(ed)
                                                              from data in BuiltinBytes(env, d)
                                                              select new TE(Fn("ed25519_sign", k.Expr, data.Expr), Ty.BytesOf(64), true));
        if (length is null)
        {
            yield return (deep ? 1 : 0, () => Of(env, Ty.String, Need.Present, d).Select(s => new TE(Fn("utf8", s.Expr), Ty.BytesOf(Unsure), true)));
            yield return (deep ? 1 : 0, () => from n in Gen.Int[1, 3]
                                              from parts in Repeat(n, () => BuiltinBytes(env, d))
                                              select new TE(Fn("concat", parts.Select(p => p.Expr).ToArray()),
                                                  Ty.BytesOf(parts.All(p => p.Type.Length is > 0) ? parts.Sum(p => p.Type.Length!.Value) : Unsure), true));
            yield return (deep ? 1 : 0, () => from f in Pick(new[] { "chacha20_seal", "aes256gcm_seal" })
                                              from k in Of(env, key32, Need.Present, d)
                                              from n in Of(env, Ty.BytesOf(12), Need.Present, d)
                                              from p in BuiltinBytes(env, d)
                                              from a in BuiltinBytes(env, d)
                                              select new TE(Fn(f, k.Expr, n.Expr, p.Expr, a.Expr), Ty.BytesOf(p.Type.Length is > 0 and var l ? l + 16 : Unsure), true));
        }
    }

    /// <summary>A built-in's bytes argument: any bytes, or a string literal standing for its UTF-8.</summary>
    private static Gen<TE> BuiltinBytes(Env env, int d)
        => Choose<TE>(
            (1, () => StringLiteral.Select(s => new TE(s, Ty.BytesOf(Unsure), true))),
            (4, () => Of(env, Ty.Bytes, Need.Present, Math.Max(0, d))));

    // ---- Service methods (docs/spec-language.md, "Service kinds") ----

    internal sealed record Method(string Name, Ty[] Parameters, Ty? Returns, bool ReturnsAbsent = false);

    internal static IReadOnlyList<Method> Methods(Service service) => service.Kind switch
    {
        "thread_store" => new Method[]
        {
            new("contains", new[] { Ty.Uuid, Ty.String }, Ty.Bool),
            new("open", new[] { Ty.Uuid, Ty.String, Ty.Uuid }, null),
            new("touch", new[] { Ty.Uuid, Ty.Uuid }, null),
        },
        "value_store" => new Method[]
        {
            new("get", new[] { Ty.String }, service.Of, ReturnsAbsent: true),
            new("set", new[] { Ty.String, service.Of! }, null),
            new("remove", new[] { Ty.String }, null),
        },
        "pin_store" => new Method[] { new("matches", new[] { Ty.Bytes, Ty.Bytes }, Ty.Bool), new("pin", new[] { Ty.Bytes, Ty.Bytes }, Ty.Bool) },
        "trust_store" => new Method[]
        {
            new("is_blacklisted", new[] { Ty.Bytes }, Ty.Bool),
            new("authenticate", new[] { Ty.Bytes }, null),
            new("blacklist", new[] { Ty.Bytes }, null),
        },
        "replay_cache" => new Method[] { new("fresh", new[] { Ty.Bytes }, Ty.Bool) },
        "address_block_list" => new Method[] { new("allows", new[] { Ty.String }, Ty.Bool), new("strike", new[] { Ty.String }, null) },
        _ => Array.Empty<Method>(),
    };

    internal static Gen<TE> ServiceCall(Env env, Service service, Method method, int d)
        => from args in Sequence(method.Parameters.Select(p => (Func<Gen<TE>>)(() => Of(env, p, Need.Present, Math.Max(0, d)))).ToList())
           select new TE(new Call(new Member(new Ref(service.Name), method.Name), args.Select(a => a.Expr).ToList()),
               method.Returns ?? Ty.Bool, !method.ReturnsAbsent);

    /// <summary>A service call as an action (a step's or an error's <c>do</c>, <c>on_failure</c>): any method of the role's services.</summary>
    internal static Gen<Expr> Effect(Env env)
    {
        var calls = env.CallableServices.SelectMany(s => Methods(s).Select(m => (s, m))).ToList();
        return Pick(calls).SelectMany(c => ServiceCall(env, c.s, c.m, env.Depth - 1)).Select(t => t.Expr);
    }

    // ---- The invalid share: an expression that is wrong in one way ----

    private static Gen<TE> Wrong(Env env, Ty want)
    {
        var absent = env.Values.Where(v => !v.Present && v.Type.Kind != Kind.Map).ToList();
        return Choose<TE>(
            (2, () => Gen.Const(new TE(want.Kind == Kind.Int ? new StrLit("1", '"') : new Lit("1"), want, true))),   // wrong type
            (want.Kind == Kind.String ? 1 : 0, () => Gen.Const(new TE(new Lit("true"), want, true))),
            (1, () => Pick(new[] { "nosuch", "self.nosuch", "msg.nosuch", "ghost.field", "peer.nosuch" }).Select(n => new TE(new Raw(n), want, true))),
            (absent.Count > 0 ? 2 : 0, () => Pick(absent).Select(v => new TE(new Call(new Ref("text"), new[] { v.Expr }), want, true))),
            (1, () => Pick(new[] { "frobnicate(1)", "sha256()", "len(1, 2)", "now", "uuid4(1)", "concat()" }).Select(t => new TE(new Raw(t), want, true))),
            (1, () => Pick(new[] { "1 +", "(1", "1 < 2 < 3", "1 ?? 2", "\"open", "a..b", "[1, \"x\"]" }).Select(t => new TE(new Raw(t), want, true))));
    }

    // ---- Literals ----

    private static readonly string[] StringPieces =
    {
        "", "0.2", "a", "hello", "k{1}", "{0}", "{1}", "{ct}", "{now}", "{s}", "{window}", "}{", "{{x}}", "say \"hi\"", "it's",
        "back\\slash", "tab\there", "line\nbreak", "é", "😀", "<b>&amp;", "a#b", "a:b", "$x", "%d", "\\n", "'", "\"", "50%",
        "thread_not_found", "/*", "*/", "//", "#region",
    };

    /// <summary>A string literal in either quote, with the pieces that have broken emitters before (braces, quotes, backslashes).</summary>
    internal static readonly Gen<StrLit> StringLiteral =
        from n in Gen.Int[1, 2]
        from pieces in Repeat(n, () => Pick(StringPieces))
        from quote in Gen.OneOf('"', '\'')
        select new StrLit(string.Concat(pieces), quote);

    private static readonly Gen<Expr> IntLiteral = Choose<Expr>(
        (6, () => Gen.Int[0, 100].Select(i => Int(i))),
        (2, () => Gen.Int[0, 3_600_000].Select(i => Int(i))),
        (1, () => Gen.OneOf<Expr>(new Lit("9223372036854775807"), new Binary("-", Int(0), Int(1)))));

    private static Expr Int(long n) => new Lit(n.ToString(System.Globalization.CultureInfo.InvariantCulture));

    internal static Expr Fn(string name, params Expr[] args) => new Call(new Ref(name), args);

    // ---- Sequencing ----

    internal static Gen<IReadOnlyList<T>> Repeat<T>(int n, Func<Gen<T>> item)
        => Sequence(Enumerable.Range(0, n).Select(_ => item).ToList());

    internal static Gen<IReadOnlyList<T>> Sequence<T>(IReadOnlyList<Func<Gen<T>>> items, int start = 0)
        => start >= items.Count
            ? Gen.Const<IReadOnlyList<T>>(Array.Empty<T>())
            : from head in items[start]()
              from tail in Sequence(items, start + 1)
              select (IReadOnlyList<T>)new[] { head }.Concat(tail).ToList();
}

/// <summary>A string literal of the expression language and its value.</summary>
internal sealed record StrLit(string Value, char Quote) : Expr;
