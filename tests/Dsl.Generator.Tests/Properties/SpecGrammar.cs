using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using CsCheck;

namespace Dsl.Generator.Tests.Properties;

/// <summary>Everything a spec declares before its flow: what the flow's expressions draw from.</summary>
internal sealed record Decls(
    bool InvalidExpressions,
    int Depth,
    IReadOnlyList<string> Roles,
    ImmutableDictionary<string, IReadOnlyList<Field>> Inputs,
    IReadOnlyList<Service> Services,
    IReadOnlyList<Message> Pool,
    IReadOnlyList<Message> ErrorMessages,
    IReadOnlyList<ErrorDecl> Errors,
    Envelope? Envelope,
    (Message Ping, Message Pong)? Beat,
    string? Malformed,
    int Scale = 3)
{
    /// <summary>The hooks: decisions the application makes, called by the role that holds each.</summary>
    public IReadOnlyList<Hook> Hooks { get; init; } = Array.Empty<Hook>();

    public IEnumerable<Hook> HooksOf(string role) => Hooks.Where(h => h.At == role);

    public IReadOnlyList<string> Codes => Errors.Select(e => e.Code).ToList();

    public string Other(string role) => Roles[0] == role ? Roles[1] : Roles[0];

    public IReadOnlyList<Field> InputsOf(string role) => Inputs.TryGetValue(role, out var inputs) ? inputs : Array.Empty<Field>();

    public IEnumerable<Service> ServicesOf(string role) => Services.Where(s => s.At.Contains(role));
}

/// <summary>
/// A grammar of the spec language (docs/spec-language.md) as CsCheck generators. It is type-directed: declarations
/// come first, then the flow is drawn step by step with a <see cref="Scope"/> of what each role can read there, so
/// that most specs are valid; one spec in five is drawn invalid on purpose, either through one wrong expression
/// somewhere (a wrong type, an unknown name, an absent value, a bad call or bad syntax) or through one structural
/// <see cref="Mutation"/>. Sizes are bounded (a few messages, at most seven steps at the top, choices two deep,
/// expressions up to three deep) so that a failure shrinks to a spec a person can read.
/// </summary>
internal static partial class SpecGrammar
{
    private static readonly (string, string)[] RolePairs =
    {
        ("client", "server"), ("initiator", "responder"), ("alice", "bob"), ("a", "b"), ("node_a", "node_b"), ("Left", "RIGHT"),
    };

    // Names that collide with generated or framework names once PascalCased: they probe qualification and collisions.
    private static readonly (string, string)[] HazardRolePairs = { ("message", "codec"), ("client", "client_inputs"), ("server", "error_codes"), ("run", "state") };
    private static readonly string[] ProtocolWords = { "greet", "ltp", "mesh", "stt", "hs", "relay", "auth-x", "p2p", "x-y-z", "a" };
    private static readonly string[] HazardProtocols = { "system", "dsl", "global", "task", "runtime" };
    private static readonly string[] Versions = { "1", "0.2", "1.0-beta", "2025.01", "v\"3\"", "a\\b", "1\n2", "{0}", "<&>", "*/", "é" };
    private static readonly string[] Texts =
    {
        "A plain sentence.", "Uses <angle> & ampersand.", "Braces {0} and {{1}}.", "Quotes \"double\" and 'single'.",
        "Two\nlines.", "Ends with a backslash \\", "*/ closes a comment", "/// three slashes", "Tab\there", "é and 😀",
    };
    private static readonly string[] MessageWords =
    {
        "hello", "init", "ack", "resume", "reject", "offer", "accept", "confirm", "challenge", "response", "proof", "finish",
        "welcome", "request", "reply", "commit", "reveal", "probe", "grant", "deny",
    };
    private static readonly string[] HazardMessageWords =
    {
        "task", "value_task", "bytes", "guid", "exception", "metadata", "handshake_outcome", "handshake_error", "cancellation_token",
        "system", "builtins", "uuid", "handshake_options", "math", "array", "encoding", "list", "action", "func", "object",
        "generated_code", "string_comparison", "culture_info", "i_buffer_writer", "utf8_json_writer", "read_only_span",
    };
    private static readonly string[] FieldWords =
    {
        "name", "nick", "count", "token", "nonce", "node_id", "key", "tag", "reason", "version", "session_id", "thread_id",
        "stamp", "data", "note", "flags", "items", "ids", "level", "score", "secret", "hint", "when_sent", "proof",
    };
    private static readonly string[] HazardFieldWords =
    {
        "envelope", "to_string", "get_hash_code", "print_members", "deconstruct", "equals", "clone", "get_type", "msg", "self",
        "peer", "run", "value", "default", "null", "true", "inputs", "services", "state", "result", "now", "payload",
    };
    private static readonly string[] InputWords = { "client_id", "name", "nick", "seed", "limit", "tags", "deadline", "token", "secret", "node_id", "level", "meta" };
    private static readonly string[] StoreWords = { "threads", "saved", "pins", "trust", "replay", "blocked", "vault", "ledger", "seen" };
    private static readonly string[] ErrorMessageWords = { "error", "failure", "abort" };
    private static readonly string[] CodeWords =
    {
        "BAD_NAME", "MALFORMED", "REFUSED", "REPLAY", "CLOCK_SKEW", "WRONG_SEED", "BLOCKED", "MISMATCH", "TOO_LATE", "not_found",
        "Invalid_Input", "DENIED",
    };
    private static readonly string[] OutcomeWords = { "session_id", "thread_id", "peer_key", "key", "resumed", "who", "ok", "when_done", "items", "count", "greeting" };
    private static readonly string[] Patterns = { "[a-z]+", "\\d{1,3}", ".*", "[^\"]*", "(a|b)+", "\\{x\\}", "k\\{1\\}.*" };
    private static readonly string[] Durations = { "500ms", "1s", "2s", "5s", "10s", "30s", "2m", "1m", "86400s", "1ms" };

    private sealed record HeadPart(string Protocol, string Version, string? Namespace, string? Description, IReadOnlyList<string> Roles, IReadOnlyList<string?>? RoleDocs,
        (string?, string?)? Timeouts);

    private static readonly Gen<HeadPart> Head =
        // A number keeps the specs of one batch apart (the same protocol and version twice is DSL401).
        from hazard in Chance(5)
        from protocol in hazard ? Pick(HazardProtocols) : Pick(ProtocolWords)
        from number in hazard ? Gen.Const("") : Gen.Int[0, 9999].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))
        from version in Pick(Versions)
        from ns in Choose<string?>(
            (6, () => Gen.Const<string?>(default(string?))),
            (3, () => Gen.Int[0, 999].Select(i => (string?)$"Prop.Gen{i}")),
            (1, () => Pick(new[] { "Acme.System", "Acme.Dsl.Runtime", "Acme.Task.Handshakes", "Acme.Global" }).Select(n => (string?)n)))
        from description in Optional(30, Pick(Texts))
        from roles in Choose<(string, string)>((19, () => Pick(RolePairs)), (1, () => Pick(HazardRolePairs)))
        from withDocs in Chance(30)
        from docs in Repeat(2, () => Optional(70, Pick(Texts)))
        from timeouts in Chance(30)
        from handshake in Optional(70, Pick(Durations))
        from step in Optional(70, Pick(Durations))
        select new HeadPart(protocol + number, version, ns, description, new[] { roles.Item1, roles.Item2 }, withDocs ? docs : null,
            timeouts ? (handshake, step) : null);

    /// <summary>A whole spec, as text rendering goes: <c>spec.Yaml</c>.</summary>
    public static readonly Gen<Spec> Spec =
        from scale in Gen.Frequency((1, Gen.Const(0)), (2, Gen.Const(1)), (3, Gen.Const(2)), (3, Gen.Const(3)))
        from invalid in Chance(20)
        from structural in Chance(40)
        from depth in Gen.Int[Math.Min(1, scale), scale]
        from head in Head
        from decls in Declarations(head.Roles, invalid && !structural, depth, scale)
        from flow in Flow(decls)
        from spec in Tail(decls, head, flow)
        from mutations in invalid && structural ? Mutations(decls, spec) : Gen.Const<IReadOnlyList<Mutation>>(Array.Empty<Mutation>())
        select spec with { Mutations = mutations, Invalid = invalid };

    private static Gen<T?> Optional<T>(int percent, Gen<T> gen) where T : class
        => Chance(percent).SelectMany(p => p ? gen.Select(v => (T?)v) : Gen.Const<T?>(default(T?)));

    // ---- Declarations ----

    /// <summary>The declarations, their counts bounded by <paramref name="scale"/> (0 to 3) so that small specs are drawn often and shrinking finds them.</summary>
    private static Gen<Decls> Declarations(IReadOnlyList<string> roles, bool invalidExpressions, int depth, int scale)
        => from envelope in Chance(scale == 0 ? 0 : 25)
           from sharedIdentity in Chance(envelope ? 60 : 5)
           from inputs in Repeat(2, () => FieldList(InputWords, 0, Math.Min(4, scale + 1), input: true))
           from services in Services(roles, scale)
           from poolSize in Gen.Int[2, 2 + scale + (scale + 1) / 2]
           from names in Distinct(MessageWords, poolSize, HazardMessageWords)
           from pool in Sequence(names.Select(n => (Func<Gen<Message>>)(() => MessageDecl(n, scale))).ToList())
           from errorMessages in scale == 0 ? Gen.Const<IReadOnlyList<Message>>(Array.Empty<Message>()) : ErrorMessages
           from beat in Chance(scale == 0 ? 0 : 15).SelectMany(b => b ? Beat.Select(x => ((Message, Message)?)x) : Gen.Const<(Message, Message)?>(default((Message, Message)?)))
           from codeCount in Gen.Int[1, 1 + scale + (scale + 1) / 2]
           from codes in Distinct(CodeWords, codeCount)
           let identity = new Field("identity", Ty.Ed25519Key)
           let roleInputs = roles.Select((r, i) => (r, (IReadOnlyList<Field>)(sharedIdentity ? inputs[i].Append(identity).ToList() : inputs[i].ToList())))
               .ToImmutableDictionary(x => x.r, x => x.Item2)
           let draft = new Decls(invalidExpressions, depth, roles, roleInputs, services, pool, errorMessages, Array.Empty<ErrorDecl>(), null, beat, null, scale)
           from errors in Sequence(codes.Select(c => (Func<Gen<ErrorDecl>>)(() => Error(draft, c))).ToList())
           from malformed in Chance(40).SelectMany(m => m ? Pick(codes).Select(c => (string?)c) : Gen.Const<string?>(default(string?)))
           from hooks in Hooks(roles, scale)
           let decls = draft with { Errors = errors, Malformed = malformed, Hooks = hooks }
           from wrapped in envelope ? EnvelopeDecl(decls).Select(e => (Envelope?)e) : Gen.Const<Envelope?>(default(Envelope?))
           select decls with { Envelope = wrapped };

    /// <summary><paramref name="n"/> different words, sometimes one of the hazard words in their place.</summary>
    private static Gen<IReadOnlyList<string>> Distinct(string[] words, int n, string[]? hazards = null)
    {
        Gen<IReadOnlyList<string>> From(List<string> left, int k)
            => k == 0 || left.Count == 0
                ? Gen.Const<IReadOnlyList<string>>(Array.Empty<string>())
                : from i in Gen.Int[0, left.Count - 1]
                  from rest in From(left.Where((_, j) => j != i).ToList(), k - 1)
                  select (IReadOnlyList<string>)new[] { left[i] }.Concat(rest).ToList();
        return from picked in From(words.ToList(), n)
               from hazard in Chance(hazards is null ? 0 : 4)
               from replacement in hazards is null ? Gen.Const("") : Pick(hazards)
               select hazard && picked.Count > 0 && !picked.Contains(replacement) ? picked.Skip(1).Prepend(replacement).ToList() : picked;
    }

    private static Gen<Message> MessageDecl(string word, int scale)
        => from style in Gen.Int[0, 2]
           let name = !MessageWords.Contains(word) ? word : style switch { 0 => word, 1 => "hs_" + word, _ => word.ToUpperInvariant() }
           from fields in FieldList(FieldWords, 0, Math.Min(4, scale + 1), input: false, hazards: HazardFieldWords.Append(name).ToArray())
           from doc in Optional(40, Pick(Texts))
           select new Message(name, fields, doc);

    private static readonly Gen<IReadOnlyList<Message>> ErrorMessages =
        from n in Gen.Frequency((4, Gen.Const(0)), (5, Gen.Const(1)), (1, Gen.Const(2)))
        from names in Distinct(ErrorMessageWords, n)
        from messages in Sequence(names.Select(name => (Func<Gen<Message>>)(() =>
            from code in Pick(new[] { "code", "error_code", "err" })
            from hasDetail in Chance(70)
            from detail in Pick(new[] { "detail", "message", "why" })
            from detailOptional in Gen.OneOf(Optionality.Required, Optionality.Question, Optionality.OptionalKey)
            from extra in FieldList(new[] { "stamp", "hint", "versions", "retry_after" }, 0, 2, input: false, plain: true)
            from doc in Optional(40, Pick(Texts))
            let fields = new[] { new Field(code, Ty.String) }
                .Concat(hasDetail ? new[] { new Field(detail, Ty.String, detailOptional) } : Array.Empty<Field>())
                .Concat(extra).ToList()
            select new Message(name, fields, doc, new Reports(code, hasDetail ? detail : null)))).ToList())
        select messages;

    private static readonly Gen<(Message, Message)> Beat =
        from names in Pick(new[] { ("ping", "pong"), ("heartbeat_ping", "heartbeat_pong"), ("KEEPALIVE", "KEEPALIVE_ACK") })
        from pingFields in FieldList(new[] { "session_id", "stamp", "seq", "note" }, 0, 2, input: false, plain: true)
        from pongFields in FieldList(new[] { "session_id", "stamp", "seq", "echo" }, 0, 2, input: false, plain: true)
        select (new Message(names.Item1, pingFields), new Message(names.Item2, pongFields));

    private static Gen<ErrorDecl> Error(Decls d, string code)
        => from form in Gen.Frequency((2, Gen.Const(ErrorForm.Empty)), (3, Gen.Const(ErrorForm.Line)), (5, Gen.Const(ErrorForm.Mapping)))
           from doc in Pick(Texts)
           from withDoc in Chance(60)
           from send in d.ErrorMessages.Count > 0 && form == ErrorForm.Mapping ? Optional(70, Pick(d.ErrorMessages)) : Gen.Const<Message?>(default(Message?))
           from set in send is null
               ? Gen.Const<IReadOnlyList<SetEntry>>(Array.Empty<SetEntry>())
               : Set(ErrorSetEnv(d), send.Fields, required: true, skip: new[] { send.Reports!.Code })
           select form switch
           {
               ErrorForm.Empty => new ErrorDecl(code, form),
               ErrorForm.Line => new ErrorDecl(code, form, doc),
               _ => new ErrorDecl(code, form, withDoc ? doc : null, send?.Name, set),
           };

    private static readonly string[] HookWords = { "approve", "lookup", "policy", "known", "burn_verified", "authorize", "quota" };

    /// <summary>Up to two hooks: typed inputs (none to two), a scalar output that may be absent.</summary>
    private static Gen<IReadOnlyList<Hook>> Hooks(IReadOnlyList<string> roles, int scale)
        => from n in Gen.Frequency((4, Gen.Const(0)), (scale >= 1 ? 2 : 0, Gen.Const(1)), (scale >= 2 ? 1 : 0, Gen.Const(2)))
           from names in Distinct(HookWords, n)
           from hooks in Sequence(names.Select(name => (Func<Gen<Hook>>)(() =>
               from at in Pick(roles)
               from count in Gen.Int[0, 2]
               from inputNames in Distinct(new[] { "name", "amount", "token", "flag", "key" }, count)
               from inputTypes in Repeat(count, () => Pick(new[] { Ty.String, Ty.Int, Ty.Bool, Ty.Bytes, Ty.BytesOf(32), Ty.Uuid }))
               from output in Pick(new[] { Ty.Bool, Ty.String, Ty.Int, Ty.Bytes })
               from optional in Chance(30)
               select new Hook(name, at, inputNames.Zip(inputTypes, (i, t) => (i, t)).ToList(), output, optional))).ToList())
           select hooks;

    private static Gen<IReadOnlyList<Service>> Services(IReadOnlyList<string> roles, int scale)
        => from n in Gen.Frequency((3, Gen.Const(0)), (scale >= 1 ? 3 : 0, Gen.Const(1)), (scale >= 2 ? 2 : 0, Gen.Const(2)), (scale >= 3 ? 1 : 0, Gen.Const(3)))
           from names in Distinct(StoreWords, n)
           from services in Sequence(names.Select(name => (Func<Gen<Service>>)(() =>
               from kind in Pick(new[] { "thread_store", "value_store", "pin_store", "trust_store", "replay_cache", "address_block_list" })
               from at in Gen.Int[0, 2]
               from asList in Chance(30)
               from of in Pick(new[] { Ty.Int, Ty.Bool, Ty.Uuid, Ty.Timestamp, Ty.Bytes, Ty.BytesOf(32) })
               from window in Pick(Durations)
               from max in Gen.Int[1, 5]
               from within in Pick(Durations)
               from blockFor in Pick(Durations)
               from doc in Optional(30, Pick(Texts))
               select new Service(name, kind, at == 2 ? roles : new[] { roles[at] }, at == 2 || asList,
                   kind == "value_store" ? of : null, kind == "replay_cache" ? window : null,
                   kind == "address_block_list" ? max : null, kind == "address_block_list" ? within : null,
                   kind == "address_block_list" ? blockFor : null, doc))).ToList())
           select services;

    private static Gen<Envelope> EnvelopeDecl(Decls d)
        => from name in Pick(new[] { "SignedPacket", "sealed_box", "Wrapper", "envelope_v1", "Frame" })
           from payload in Pick(new[] { null, "payload", "body", "inner" })
           from n in Gen.Int[1, 2]
           from fields in FieldList(new[] { "signature", "mac", "digest", "sent_at", "note", "seq" }, n, n, input: false)
           from doc in Optional(30, Pick(Texts))
           let env = EnvelopeSetEnv(d)
           let settable = fields.Select(f => f.MustSet && !CanMake(env, f.Type, Need.Present) ? f with { Optional = Optionality.Question } : f).ToList()
           from set in Set(env, settable, required: true)
           select new Envelope(name, payload, settable, set, doc);

    // ---- Fields ----

    /// <summary>Fields with different names; <paramref name="plain"/> leaves out maps, which only a value in scope can fill.</summary>
    private static Gen<IReadOnlyList<Field>> FieldList(string[] words, int min, int max, bool input, string[]? hazards = null, bool plain = false)
        => from n in Gen.Int[min, max]
           from names in Distinct(words, n, hazards)
           from fields in Sequence(names.Select(name => (Func<Gen<Field>>)(() => FieldDecl(name, input, plain))).ToList())
           select fields;

    private static Gen<Ty> FieldType(bool input, bool plain)
        => Choose<Ty>(
            (4, () => Gen.Const(Ty.String)), (3, () => Gen.Const(Ty.Int)), (2, () => Gen.Const(Ty.Bool)), (2, () => Gen.Const(Ty.Uuid)),
            (2, () => Gen.Const(Ty.Timestamp)), (plain ? 0 : 1, () => Gen.Const(Ty.Map)), (2, () => Gen.Const(Ty.Bytes)),
            (3, () => Gen.OneOf(Gen.OneOf(12, 16, 32, 64), Gen.Int[1, 100]).Select(n => Ty.BytesOf(n))),
            (1, () => Gen.Const(Ty.ListString)), (1, () => Gen.Const(Ty.ListInt)), (1, () => Gen.Const(Ty.ListUuid)),
            (input ? 1 : 0, () => Gen.Const(Ty.Ed25519Key)), (input ? 1 : 0, () => Gen.Const(Ty.X25519Key)));

    private static Gen<Field> FieldDecl(string name, bool input, bool plain)
        => from type in FieldType(input, plain)
           from optional in Gen.Frequency((7, Gen.Const(Optionality.Required)), (2, Gen.Const(Optionality.Question)), (1, Gen.Const(Optionality.OptionalKey)))
           from withDefault in Chance(optional == Optionality.Required && type.Kind is Kind.String or Kind.Int or Kind.Bool or Kind.ListString ? 20 : 0)
           from value in Default(type)
           from doc in Optional(40, Pick(Texts))
           from encoding in type.Kind == Kind.Bytes && !input ? Pick(new string?[] { null, null, null, "hex", "base64", "base64" }) : Gen.Const<string?>(default(string?))
           from constraints in Chance(20).SelectMany(c => c ? ConstraintsFor(type) : Gen.Const<Constraints?>(default(Constraints?)))
           from block in Chance(20)
           select new Field(name, type, optional, withDefault ? value : null, doc, encoding, constraints, block);

    private static Gen<Y> Default(Ty type) => type.Kind switch
    {
        Kind.String => Pick(StringPieces).Select(s => (Y)new YDouble(s)),
        Kind.Int => Gen.Int[-5, 100].Select(i => (Y)new YPlain(i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        Kind.Bool => Pick(new[] { "true", "false" }).Select(b => (Y)new YPlain(b)),
        _ => from n in Gen.Int[0, 2]
             from items in Repeat(n, () => Pick(StringPieces))
             select (Y)new YSeq(items.Select(i => (Y)new YDouble(i)).ToList(), Flow: true),
    };

    private static Gen<Constraints?> ConstraintsFor(Ty type) => type.Kind switch
    {
        Kind.String => Choose<Constraints?>(
            (2, () => from min in Gen.Int[0, 3] from extra in Gen.Int[0, 300] select (Constraints?)new Constraints(MinLength: min, MaxLength: min + extra)),
            (1, () => Gen.Int[1, 256].Select(max => (Constraints?)new Constraints(MaxLength: max))),
            (1, () => Pick(Patterns).Select(p => (Constraints?)new Constraints(Pattern: p))),
            (1, () => from n in Gen.Int[1, 3] from values in Distinct(new[] { "a", "b", "0.2", "k{1}", "x y", "é" }, n) select (Constraints?)new Constraints(OneOf: values))),
        Kind.Int => from min in Gen.Int[-10, 10] from extra in Gen.Int[0, 1000] from both in Gen.Int[0, 2]
                    select (Constraints?)new Constraints(Min: both != 1 ? min : null, Max: both != 0 ? min + extra : null),
        Kind.Bytes or Kind.ListString or Kind.ListInt or Kind.ListUuid =>
            from min in Gen.Int[0, 2] from extra in Gen.Int[0, 64] select (Constraints?)new Constraints(MinLength: type.Length is null ? min : null, MaxLength: type.Length is { } n ? Math.Max(n, min + extra) : min + extra),
        _ => Gen.Const<Constraints?>(default(Constraints?)),
    };

    // ---- After the flow: outcome, effects, heartbeat ----

    private static Gen<Spec> Tail(Decls d, HeadPart head, Piece flow)
    {
        var successes = flow.Acc.Successes;
        var atSuccess = successes.Count == 0 ? null : AtEverySuccess(successes);
        return from outcome in atSuccess is null ? Gen.Const<IReadOnlyList<(string, IReadOnlyList<(string, Expr)>)>>(Array.Empty<(string, IReadOnlyList<(string, Expr)>)>()) : Outcome(d, atSuccess)
               from errors in Sequence(d.Errors.Select(e => (Func<Gen<ErrorDecl>>)(() => WithEffects(d, e, flow.Acc.Raises))).ToList())
               from onFailure in Sequence(d.Roles.Where(r => d.ServicesOf(r).Any()).Select(r => (Func<Gen<RoleEffects?>>)(() =>
                   from act in Chance(25)
                   from n in Gen.Int[1, 2]
                   from calls in act ? Repeat(n, () => Effect(EffectsEnv(d, r, ImmutableHashSet<string>.Empty))) : Gen.Const<IReadOnlyList<Expr>>(Array.Empty<Expr>())
                   select act ? new RoleEffects(r, calls) : (RoleEffects?)null)).ToList())
               from session in d.Beat is { } beat && atSuccess is not null ? Session(d, atSuccess, beat).Select(h => (Heartbeat?)h) : Gen.Const<Heartbeat?>(default(Heartbeat?))
               from wire in Chance(40)
               from encoding in Optional(50, Gen.Const("json"))
               from discriminator in Optional(30, Pick(new[] { "type", "t", "kind_of", "disc" }))
               let messages = d.Pool.Where(m => flow.Acc.Used.Contains(m.Name)).Concat(d.ErrorMessages)
                   .Concat(session is null ? Array.Empty<Message>() : new[] { d.Beat!.Value.Ping, d.Beat!.Value.Pong }).ToList()
               select new Spec(head.Protocol, head.Version, head.Namespace, head.Description, head.Roles, head.RoleDocs,
                   wire || d.Malformed is not null ? new Wire(wire ? encoding : null, wire ? discriminator : null, d.Malformed) : null,
                   d.Roles.Where(r => d.InputsOf(r).Count > 0).Select(r => (r, d.InputsOf(r))).ToList(),
                   d.Services, d.Envelope, messages, errors, onFailure.Where(e => e is not null).Select(e => e!).ToList(),
                   head.Timeouts, flow.Steps, outcome, session, Array.Empty<Mutation>()) { Hooks = d.Hooks };
    }

    /// <summary>What holds at every success point: messages exchanged on all of them, lets present on all of them.</summary>
    private static Scope AtEverySuccess(ImmutableList<Scope> successes)
    {
        var seen = successes.Select(s => s.Seen).Aggregate((x, y) => x.Intersect(y));
        var maybe = successes.SelectMany(s => s.Seen.Union(s.Maybe)).Where(m => !seen.Contains(m)).ToImmutableHashSet();
        var lets = successes[0].Lets
            .Where(l => successes.All(s => s.Lets.Any(o => o.Owner == l.Owner && o.Name == l.Name)))
            .Select(l => l with { Present = successes.All(s => s.Lets.Single(o => o.Owner == l.Owner && o.Name == l.Name).Present) })
            .ToImmutableList();
        return new Scope(seen, maybe, lets, ImmutableList<string>.Empty);
    }

    private static readonly Ty[] OutcomeTypes = { Ty.String, Ty.Int, Ty.Bool, Ty.Uuid, Ty.Timestamp, Ty.Bytes, Ty.BytesOf(32), Ty.ListString, Ty.ListUuid, Ty.Map };

    private static Gen<IReadOnlyList<(string, IReadOnlyList<(string, Expr)>)>> Outcome(Decls d, Scope atSuccess)
        => Sequence(d.Roles.Select(role => (Func<Gen<(string, IReadOnlyList<(string, Expr)>)?>>)(() =>
           {
               var env = OutcomeEnv(d, atSuccess, role);
               return from has in Chance(70)
                      from n in Gen.Int[1, 3]
                      from names in Distinct(OutcomeWords, has ? n : 0)
                      from values in Sequence(names.Select(name => (Func<Gen<(string, Expr)>>)(() =>
                          from type in Pick(OutcomeTypes.Where(t => CanMake(env, t, Need.MayBeAbsent)).ToList())
                          from value in Expression(env, type, Need.MayBeAbsent)
                          select (name, value.Expr))).ToList())
                      select values.Count == 0 ? ((string, IReadOnlyList<(string, Expr)>)?)null : (role, values);
           })).ToList())
           .Select(list => (IReadOnlyList<(string, IReadOnlyList<(string, Expr)>)>)list.Where(o => o is not null).Select(o => o!.Value).ToList());

    /// <summary>An error's <c>do</c>: effects for a role only where it raises the code, reading what holds at every such place.</summary>
    private static Gen<ErrorDecl> WithEffects(Decls d, ErrorDecl error, ImmutableList<RaiseSite> raises)
        => from effects in Sequence(d.Roles.Where(r => d.ServicesOf(r).Any()).Select(role => (Func<Gen<RoleEffects?>>)(() =>
           {
               var sites = raises.Where(s => s.Role == role && s.Code == error.Code).ToList();
               if (error.Code != d.Malformed && sites.Count == 0) return Gen.Const<RoleEffects?>(default(RoleEffects?));
               var seen = error.Code == d.Malformed ? ImmutableHashSet<string>.Empty : sites.Select(s => s.Seen).Aggregate((x, y) => x.Intersect(y));
               return from act in Chance(35)
                      from n in Gen.Int[1, 2]
                      from calls in act ? Repeat(n, () => Effect(EffectsEnv(d, role, seen))) : Gen.Const<IReadOnlyList<Expr>>(Array.Empty<Expr>())
                      select act ? new RoleEffects(role, calls) : (RoleEffects?)null;
           })).ToList())
           let list = effects.Where(e => e is not null).Select(e => e!).ToList()
           select list.Count == 0 ? error : error with { Form = ErrorForm.Mapping, Do = list };

    private static Gen<Heartbeat> Session(Decls d, Scope atSuccess, (Message Ping, Message Pong) beat)
        => from pinger in Pick(d.Roles)
           from interval in Expression(HeartbeatEnv(d, atSuccess, null, null), Ty.Int, Need.Present)
           from missed in Chance(50).SelectMany(m => m ? Gen.Int[1, 100].Select(i => (int?)i) : Gen.Const<int?>(default(int?)))
           from pingSet in Set(HeartbeatEnv(d, atSuccess, pinger, null), beat.Ping.Fields, required: true)
           from pongSet in Set(HeartbeatEnv(d, atSuccess, d.Other(pinger), beat.Ping), beat.Pong.Fields, required: true)
           select new Heartbeat(pinger, interval.Expr, missed, beat.Ping.Name, pingSet, beat.Pong.Name, pongSet);

    // ---- The invalid share: one structural mistake ----

    private static Gen<IReadOnlyList<Mutation>> Mutations(Decls d, Spec spec)
    {
        var used = spec.Messages.Where(m => m.Reports is null).Select(m => m.Name).ToList();
        var candidates = new List<Mutation>
        {
            new AddUnknownKey("", "colour"),
            new RemoveKey("", "roles"),
            new RemoveKey("", "flow"),
            new ReplaceScalar("string", "strng"),
            new ReplaceScalar("int", "integer"),
            new ReplaceScalar(d.Roles[0], "nobody"),
            new ReplaceScalar("thread_store", "counter"),
        };
        candidates.AddRange(used.Select(m => (Mutation)new ReplaceScalar(m, "ghost_message")));
        candidates.AddRange(d.Codes.Select(c => (Mutation)new ReplaceScalar(c, "UNDECLARED_CODE")));
        if (spec.Timeouts is not null) candidates.Add(new AddUnknownKey("timeouts", "clock_skew"));
        if (spec.Wire is not null) candidates.Add(new AddUnknownKey("wire", "framing"));
        return Pick(candidates).Select(m => (IReadOnlyList<Mutation>)new[] { m });
    }
}
