using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Dsl.Generator.Tests.Properties;

// The pieces of a spec as the grammar (SpecGrammar) draws them, and their one rendering to YAML (SpecYaml).
// These records know nothing of the generator: they are what a spec author writes.

/// <summary>A type of the spec language.</summary>
internal enum Kind { String, Int, Bool, Uuid, Timestamp, Map, Bytes, ListString, ListInt, ListUuid, Ed25519Key, X25519Key }

/// <summary>A spec type; <see cref="Length"/> is N of <c>bytes&lt;N&gt;</c>, or the length the binder knows of a bytes expression.</summary>
internal sealed record Ty(Kind Kind, int? Length = null)
{
    public static readonly Ty String = new(Kind.String), Int = new(Kind.Int), Bool = new(Kind.Bool), Uuid = new(Kind.Uuid),
        Timestamp = new(Kind.Timestamp), Map = new(Kind.Map), Bytes = new(Kind.Bytes), ListString = new(Kind.ListString),
        ListInt = new(Kind.ListInt), ListUuid = new(Kind.ListUuid), Ed25519Key = new(Kind.Ed25519Key), X25519Key = new(Kind.X25519Key);

    public static Ty BytesOf(int? length) => new(Kind.Bytes, length);

    public string Spelling => Kind switch
    {
        Kind.String => "string",
        Kind.Int => "int",
        Kind.Bool => "bool",
        Kind.Uuid => "uuid",
        Kind.Timestamp => "timestamp",
        Kind.Map => "map",
        Kind.Bytes => Length is { } n ? $"bytes<{n.ToString(CultureInfo.InvariantCulture)}>" : "bytes",
        Kind.ListString => "list<string>",
        Kind.ListInt => "list<int>",
        Kind.ListUuid => "list<uuid>",
        Kind.Ed25519Key => "ed25519_key",
        _ => "x25519_key",
    };

    /// <summary>Types <c>==</c> and <c>!=</c> accept.</summary>
    public bool Comparable => Kind is Kind.String or Kind.Int or Kind.Bool or Kind.Uuid or Kind.Timestamp or Kind.Bytes;

    public bool IsList => Kind is Kind.ListString or Kind.ListInt or Kind.ListUuid;

    public Ty? Element => Kind switch { Kind.ListString => String, Kind.ListInt => Int, Kind.ListUuid => Uuid, _ => null };

    /// <summary>Whether a value of this type may stand where <paramref name="want"/> is expected (known byte lengths must agree).</summary>
    public bool Fits(Ty want) => Kind == want.Kind && (Kind != Kind.Bytes || want.Length is null || Length is null || Length == want.Length);

    public override string ToString() => Spelling;
}

// ---- Expressions -------------------------------------------------------------------------------------------

/// <summary>An expression of the spec language; <see cref="ExprText"/> renders it with the language's precedence.</summary>
internal abstract record Expr
{
    public sealed override string ToString() => ExprText.Render(this);
}

/// <summary>A literal token as written: <c>42</c>, <c>"k{1}"</c>, <c>true</c>, <c>null</c>.</summary>
internal sealed record Lit(string Text) : Expr;

/// <summary>A bare name: a let, <c>msg</c>, <c>self</c>, <c>detail</c>, a message, a service, a function.</summary>
internal sealed record Ref(string Name) : Expr;

internal sealed record Member(Expr Target, string Name) : Expr;

internal sealed record Call(Expr Callee, IReadOnlyList<Expr> Args) : Expr;

internal sealed record Not(Expr Operand) : Expr;

internal sealed record Binary(string Op, Expr Left, Expr Right) : Expr;

internal sealed record ListLit(IReadOnlyList<Expr> Items) : Expr;

/// <summary><c>if Condition then Then else Else</c>.</summary>
internal sealed record Cond(Expr Condition, Expr Then, Expr Else) : Expr;

/// <summary>Parentheses the precedence does not need, written anyway.</summary>
internal sealed record Parens(Expr Inner) : Expr;

/// <summary>Text that is deliberately not a well-formed expression (the invalid share).</summary>
internal sealed record Raw(string Text) : Expr;

internal static class ExprText
{
    // Loosest to tightest, as docs/spec-language.md "Precedence" lists them.
    private static int Level(Expr e) => e switch
    {
        Cond => 0,
        Binary { Op: "||" } => 1,
        Binary { Op: "&&" } => 2,
        Not => 3,
        Binary { Op: "==" or "!=" or "<" or "<=" or ">" or ">=" } => 4,
        Binary { Op: "??" } => 5,
        Binary => 6,
        _ => 7,
    };

    public static string Render(Expr e) => Render(e, 0);

    private static string Render(Expr e, int min)
    {
        var text = e switch
        {
            Lit l => l.Text,
            StrLit s => StringLiteral(s.Value, s.Quote),
            Ref r => r.Name,
            Raw r => r.Text,
            Member m => Render(m.Target, 7) + "." + m.Name,
            Call c => Render(c.Callee, 7) + "(" + string.Join(", ", c.Args.Select(a => Render(a, 0))) + ")",
            Not n => "!" + Render(n.Operand, 3),
            ListLit l => "[" + string.Join(", ", l.Items.Select(i => Render(i, 0))) + "]",
            Parens p => "(" + Render(p.Inner, 0) + ")",
            // Its parts reach as far as they can: each is written whole, in parentheses when it is itself a conditional.
            Cond c => "if " + Render(c.Condition, 1) + " then " + Render(c.Then, 1) + " else " + Render(c.Else, 1),
            Binary { Op: "||" } b => Render(b.Left, 1) + " || " + Render(b.Right, 2),
            Binary { Op: "&&" } b => Render(b.Left, 2) + " && " + Render(b.Right, 3),
            Binary { Op: "??" } b => Render(b.Left, 6) + " ?? " + Render(b.Right, 5),
            Binary { Op: "+" or "-" } b => Render(b.Left, 6) + " " + b.Op + " " + Render(b.Right, 7),
            Binary b => Render(b.Left, 5) + " " + b.Op + " " + Render(b.Right, 5),
            _ => "?",
        };
        return Level(e) < min ? "(" + text + ")" : text;
    }

    /// <summary>A string literal of the expression language, escaped for its delimiter.</summary>
    public static string StringLiteral(string value, char quote)
    {
        var b = new StringBuilder().Append(quote);
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\t': b.Append("\\t"); break;
                case '\r': b.Append("\\r"); break;
                default:
                    if (c == quote) b.Append('\\');
                    b.Append(c);
                    break;
            }
        }
        return b.Append(quote).ToString();
    }
}

// ---- The spec ----------------------------------------------------------------------------------------------

internal enum Optionality { Required, Question, OptionalKey }

internal sealed record Constraints(int? MinLength = null, int? MaxLength = null, long? Min = null, long? Max = null, string? Pattern = null, IReadOnlyList<string>? OneOf = null)
{
    public bool Any => MinLength is not null || MaxLength is not null || Min is not null || Max is not null || Pattern is not null || OneOf is not null;
}

/// <summary>A message field, an envelope field or an input. <see cref="Default"/> is the YAML of the default.</summary>
internal sealed record Field(string Name, Ty Type, Optionality Optional = Optionality.Required, Y? Default = null, string? Doc = null,
    string? Encoding = null, Constraints? Constraints = null, bool Block = false)
{
    public bool IsOptional => Optional != Optionality.Required;

    /// <summary>Present in expressions: required, or with a default.</summary>
    public bool Present => !IsOptional || Default is not null;

    /// <summary>A sender must set it.</summary>
    public bool MustSet => !IsOptional && Default is null;
}

internal sealed record Reports(string Code, string? Detail);

internal sealed record Message(string Name, IReadOnlyList<Field> Fields, string? Doc = null, Reports? Reports = null);

/// <summary>A hook: its role, its typed inputs and its output (absent-able when <see cref="OutputOptional"/>).</summary>
internal sealed record Hook(string Name, string At, IReadOnlyList<(string Name, Ty Type)> Inputs, Ty Output, bool OutputOptional);

internal sealed record Service(string Name, string Kind, IReadOnlyList<string> At, bool AtAsList, Ty? Of = null, string? Window = null,
    int? MaxFailures = null, string? Within = null, string? BlockFor = null, string? Doc = null);

/// <summary>A value under <c>set</c>: a plain scalar (an expression), a quoted scalar (a string literal), or a YAML list of values.</summary>
internal abstract record Value;

internal sealed record ExprValue(Expr Expr) : Value;

internal sealed record TextValue(string Text, bool SingleQuoted) : Value;

internal sealed record SeqValue(IReadOnlyList<Value> Items) : Value;

internal sealed record SetEntry(string Field, Value Value);

internal sealed record Let(string Name, Expr Value);

internal sealed record Check(Expr Condition, string Code);

/// <summary>Service calls a role makes (a step's or an error's <c>do</c>, <c>on_failure</c>).</summary>
internal sealed record RoleEffects(string Role, IReadOnlyList<Expr> Calls);

internal enum ErrorForm { Empty, Line, Mapping }

internal sealed record ErrorDecl(string Code, ErrorForm Form, string? Doc = null, string? Send = null, IReadOnlyList<SetEntry>? Set = null, IReadOnlyList<RoleEffects>? Do = null);

internal sealed record Envelope(string Name, string? Payload, IReadOnlyList<Field> Fields, IReadOnlyList<SetEntry> Set, string? Doc);

internal abstract record Step;

internal sealed record MessageStep(string From, string To, string Message, IReadOnlyList<Let> Lets, IReadOnlyList<Check> Ensure,
    IReadOnlyList<SetEntry> Set, IReadOnlyList<Check> Require, IReadOnlyList<RoleEffects> Do,
    string? Timeout = null, string? Phase = null, string? Label = null) : Step;

internal sealed record ChoiceStep(string Chooser, IReadOnlyList<Let> Lets, IReadOnlyList<Branch> Branches,
    string? Phase = null, string? Label = null, string? Timeout = null) : Step;

internal sealed record Branch(Expr? When, IReadOnlyList<Step> Steps);

internal sealed record GotoStep(string Label) : Step;

internal sealed record FailStep(string Code) : Step;

internal sealed record SuccessStep : Step;

internal sealed record Heartbeat(string Pinger, Expr Interval, int? Missed, string Ping, IReadOnlyList<SetEntry> PingSet, string Pong, IReadOnlyList<SetEntry> PongSet);

internal sealed record Wire(string? Encoding, string? Discriminator, string? Malformed);

internal sealed record Spec(
    string Protocol,
    string Version,
    string? Namespace,
    string? Description,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string?>? RoleDocs,
    Wire? Wire,
    IReadOnlyList<(string Role, IReadOnlyList<Field> Inputs)> Inputs,
    IReadOnlyList<Service> Services,
    Envelope? Envelope,
    IReadOnlyList<Message> Messages,
    IReadOnlyList<ErrorDecl> Errors,
    IReadOnlyList<RoleEffects> OnFailure,
    (string? Handshake, string? Step)? Timeouts,
    IReadOnlyList<Step> Flow,
    IReadOnlyList<(string Role, IReadOnlyList<(string Name, Expr Value)> Values)> Outcome,
    Heartbeat? Session,
    IReadOnlyList<Mutation> Mutations)
{
    /// <summary>The hooks the spec declares.</summary>
    public IReadOnlyList<Hook> Hooks { get; init; } = System.Array.Empty<Hook>();

    /// <summary>Drawn invalid on purpose (a wrong expression or a <see cref="Mutation"/>); not rendered.</summary>
    public bool Invalid { get; init; }

    /// <summary>The C# namespace the generator uses: the spec's, or <c>Dsl.Protocols.{Prefix}</c>.</summary>
    public string EffectiveNamespace => Namespace ?? "Dsl.Protocols." + Pascal(Protocol);

    public string Yaml => SpecYaml.Render(this);

    public override string ToString() => Yaml;

    /// <summary>The generator's PascalCase (handshake_init → HandshakeInit, MALFORMED → Malformed).</summary>
    public static string Pascal(string name)
    {
        var b = new StringBuilder();
        var upper = true;
        var allCaps = name.ToUpperInvariant() == name;
        foreach (var c in name)
        {
            if (c is '_' or '-' or '.') { upper = true; continue; }
            b.Append(upper ? char.ToUpperInvariant(c) : allCaps ? char.ToLowerInvariant(c) : c);
            upper = false;
        }
        return b.ToString();
    }
}

/// <summary>A deliberate structural error, applied to the YAML tree (the invalid share).</summary>
internal abstract record Mutation;

/// <summary>Adds a key no construct accepts at a top-level section.</summary>
internal sealed record AddUnknownKey(string Section, string Key) : Mutation;

/// <summary>Removes a required top-level key or a key of the first message step.</summary>
internal sealed record RemoveKey(string Section, string Key) : Mutation;

/// <summary>Replaces a plain scalar value (not a key) wherever it occurs: a type, a role, a code, a label, a message.</summary>
internal sealed record ReplaceScalar(string From, string To) : Mutation;

// ---- YAML -------------------------------------------------------------------------------------------------

/// <summary>A YAML node as the renderer writes it.</summary>
internal abstract record Y;

internal sealed record YPlain(string Text) : Y;

internal sealed record YDouble(string Text) : Y;

internal sealed record YSingle(string Text) : Y;

internal sealed record YEmpty : Y;

internal sealed record YSeq(IReadOnlyList<Y> Items, bool Flow = false) : Y;

internal sealed record YMap(IReadOnlyList<(string Key, Y Value)> Entries, bool Flow = false) : Y;
