using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax.Yaml;

namespace Dsl.Generator.Syntax;

// The parse stage's typed syntax: one record per construct, located, value-equal (it is cached between runs).
// Names and texts are the YAML scalars that wrote them (YamlScalar: value, style, line and column). The keys each
// construct accepts are declared on its own type, in its nested Keys class; the parser reads a mapping only
// through them.

/// <summary>The parse stage's output for one spec file: the typed syntax (null when the YAML itself is broken) and the diagnostics.</summary>
internal sealed record SpecSyntax(string FilePath, ProtocolSyntax? Protocol, EquatableArray<SpecDiagnostic> Diagnostics)
{
    /// <summary>For a spec that extends another: the base as the compiler sees it alone (the binder checks it first).</summary>
    public SpecSyntax? Base { get; init; }

    /// <summary>Where this spec says <c>extends</c>.</summary>
    public SourceSpan ExtendsSpan { get; init; }
}

/// <summary>A whole spec.</summary>
internal sealed record ProtocolSyntax(
    SourceSpan Span,
    YamlScalar Name,
    YamlScalar Version,
    YamlScalar? Description,
    YamlScalar? Namespace,
    RolesSyntax? Roles,
    WireSyntax? Wire,
    EquatableArray<RoleInputsSyntax> Inputs,
    EquatableArray<ServiceSyntax> Services,
    EquatableArray<HookSyntax> Hooks,
    EquatableArray<TypeDeclarationSyntax> Types,
    EnvelopeSyntax? Envelope,
    EquatableArray<MessageSyntax> Messages,
    EquatableArray<ErrorSyntax> Errors,
    EffectsSyntax? OnFailure,
    TimeoutsSyntax? Timeouts,
    FlowSyntax? Flow,
    OutcomeSyntax? Outcome,
    SessionSyntax? Session)
{
    /// <summary>The security lints the spec acknowledges, each with its reason (<c>acknowledge</c>).</summary>
    public EquatableArray<AcknowledgementSyntax> Acknowledgements { get; init; } = EquatableArray<AcknowledgementSyntax>.Empty;

    public static class Keys
    {
        public static readonly SyntaxKey Protocol = SyntaxKey.Mandatory("protocol", "The protocol's name.");
        public static readonly SyntaxKey Version = SyntaxKey.Mandatory("version", "The version this file describes.");
        public static readonly SyntaxKey Description = SyntaxKey.Optional("description", "Prose; the doc comment of the message base record.");
        public static readonly SyntaxKey Namespace = SyntaxKey.Optional("namespace", "The C# namespace of the generated code.");
        public static readonly SyntaxKey Roles = SyntaxKey.Mandatory("roles", "The two roles.");
        public static readonly SyntaxKey Wire = SyntaxKey.Optional("wire", "Encoding, discriminator and the malformed code.");
        public static readonly SyntaxKey Inputs = SyntaxKey.Optional("inputs", "What each role is configured with.");
        public static readonly SyntaxKey Services = SyntaxKey.Optional("services", "Stores the roles use.");
        public static readonly SyntaxKey Envelope = SyntaxKey.Optional("envelope", "What every message travels in.");
        public static readonly SyntaxKey Messages = SyntaxKey.Mandatory("messages", "The messages.");
        public static readonly SyntaxKey Errors = SyntaxKey.Optional("errors", "The error codes.");
        public static readonly SyntaxKey OnFailure = SyntaxKey.Optional("on_failure", "What each role does after any failure.");
        public static readonly SyntaxKey Timeouts = SyntaxKey.Optional("timeouts", "The handshake and step timeouts.");
        public static readonly SyntaxKey Flow = SyntaxKey.Mandatory("flow", "The steps, from a global point of view.");
        public static readonly SyntaxKey Outcome = SyntaxKey.Optional("outcome", "What each role learns on success.");
        public static readonly SyntaxKey Session = SyntaxKey.Optional("session", "What runs after the handshake.");
        public static readonly SyntaxKey Extends = SyntaxKey.Optional("extends", "The spec this one extends: its file, relative to this one.");
        public static readonly SyntaxKey Hooks = SyntaxKey.Optional("hooks", "Decisions the application makes, called like functions.");
        public static readonly SyntaxKey OnError = SyntaxKey.NotImplemented("on_error", "write the effects of an error under the error's own 'do', and those of any failure under 'on_failure'");
        public static readonly SyntaxKey Types = SyntaxKey.Optional("types", "Named object and enum types.");
        public static readonly SyntaxKey Acknowledge = SyntaxKey.Optional("acknowledge", "Security lints the spec accepts, by name, each with its reason.");
        public static readonly SyntaxKey Retry = SyntaxKey.NotImplemented("retry", "handshake-level retries are not generated yet; lossy transports retransmit on their own");

        public static readonly KeySet All = new("top level",
            Protocol, Version, Description, Namespace, Roles, Wire, Inputs, Services, Envelope, Messages, Errors, OnFailure, Timeouts,
            Flow, Outcome, Session, Extends, Hooks, Types, Retry, OnError, Acknowledge);
    }
}

/// <summary>
/// A security lint the spec accepts: its name, the findings it covers (<c>at</c>: fields as <c>MESSAGE.FIELD</c>,
/// services, inputs as <c>ROLE.INPUT</c>; all of the lint's when empty) and why.
/// </summary>
internal sealed record AcknowledgementSyntax(YamlScalar Lint, EquatableArray<YamlScalar> At, YamlScalar? Because, SourceSpan Span)
{
    public static class Keys
    {
        public static readonly SyntaxKey At = SyntaxKey.Optional("at", "The findings it covers: fields (MESSAGE.FIELD), services or inputs (ROLE.INPUT); all of the lint's when absent.");
        public static readonly SyntaxKey Because = SyntaxKey.Mandatory("because", "Why the spec accepts it.");
        public static readonly KeySet All = new("an acknowledgement", At, Because);
    }
}

/// <summary>The roles: a list of names, or a mapping from name to a line of docs.</summary>
internal sealed record RolesSyntax(SourceSpan Span, EquatableArray<RoleSyntax> Roles);

internal sealed record RoleSyntax(YamlScalar Name, string? Doc);

internal sealed record WireSyntax(YamlScalar? Encoding, YamlScalar? Discriminator, YamlScalar? Malformed)
{
    public static class Keys
    {
        public static readonly SyntaxKey Encoding = SyntaxKey.Optional("encoding", "json (binary is designed).");
        public static readonly SyntaxKey Discriminator = SyntaxKey.Optional("discriminator", "The field that names the message; default type.");
        public static readonly SyntaxKey Malformed = SyntaxKey.Optional("malformed", "The error code for a message that cannot be decoded or is unexpected.");
        public static readonly KeySet All = new("`wire`", Encoding, Discriminator, Malformed);
    }
}

/// <summary>The inputs of one role.</summary>
internal sealed record RoleInputsSyntax(YamlScalar Role, EquatableArray<FieldSyntax> Fields);

/// <summary>What a field's type says: <c>bytes&lt;32&gt;?</c> is bytes, argument 32, optional.</summary>
internal sealed record TypeSyntax(YamlScalar Source, string Name, string? Argument, bool Optional);

internal enum ConstraintKind { MinLength, MaxLength, Min, Max, Pattern, OneOf }

/// <summary>A constraint on a field as written: its key, and its value (a scalar, or for one_of a list of scalars).</summary>
internal sealed record ConstraintSyntax(YamlScalar Key, ConstraintKind Kind, YamlScalar? Value, EquatableArray<YamlScalar> Values);

/// <summary>A default value: a scalar, or a list of scalars.</summary>
internal sealed record DefaultSyntax(SourceSpan Span, YamlScalar? Scalar, EquatableArray<YamlScalar> Items, bool IsList, string KindName);

/// <summary>A field of a message or an envelope, or an input of a role: <c>name: type</c> or <c>name: { type: ..., ... }</c>.</summary>
internal sealed record FieldSyntax(
    YamlScalar Name,
    TypeSyntax Type,
    YamlScalar? Optional,
    DefaultSyntax? Default,
    string? Doc,
    EquatableArray<ConstraintSyntax> Constraints,
    YamlScalar? EncodingKey,
    YamlScalar? Encoding,
    SourceSpan Span)
{
    /// <summary>The JSON name, when the field's <c>wire</c> gives one.</summary>
    public YamlScalar? Wire { get; init; }

    /// <summary>The only value the field may have (<c>const</c>).</summary>
    public YamlScalar? Const { get; init; }

    /// <summary>For an input: <c>secret: true</c>, a value the role must never send (the security lints read it).</summary>
    public YamlScalar? Secret { get; init; }

    /// <summary>For an inline object (<c>type: object</c> or <c>list&lt;object&gt;</c>): its fields; null when <c>fields</c> is not given.</summary>
    public EquatableArray<FieldSyntax>? Fields { get; init; }

    /// <summary>For an inline enum (<c>type: enum</c> or <c>list&lt;enum&gt;</c>): its values; null when <c>values</c> is not given.</summary>
    public EquatableArray<YamlScalar>? Values { get; init; }

    public static class Keys
    {
        public static readonly SyntaxKey Type = SyntaxKey.Mandatory("type", "The field's type; a trailing ? makes it optional.");
        public static readonly SyntaxKey Optional = SyntaxKey.Optional("optional", "true: the field may be absent.");
        public static readonly SyntaxKey Default = SyntaxKey.Optional("default", "The value when the field is absent (makes it optional).");
        public static readonly SyntaxKey Doc = SyntaxKey.Optional("doc", "The property's doc comment.");
        public static readonly SyntaxKey Encoding = SyntaxKey.Optional("encoding", "For bytes: hex or base64 on the wire.");
        public static readonly SyntaxKey MinLength = SyntaxKey.Optional("min_length", "At least this many characters, bytes or items.");
        public static readonly SyntaxKey MaxLength = SyntaxKey.Optional("max_length", "At most this many characters, bytes or items.");
        public static readonly SyntaxKey Min = SyntaxKey.Optional("min", "An int at least this.");
        public static readonly SyntaxKey Max = SyntaxKey.Optional("max", "An int at most this.");
        public static readonly SyntaxKey Pattern = SyntaxKey.Optional("pattern", "A string matching this regular expression, whole.");
        public static readonly SyntaxKey OneOf = SyntaxKey.Optional("one_of", "A string among these values.");
        public static readonly SyntaxKey Wire = SyntaxKey.Optional("wire", "The JSON name, when it differs from the field's name.");
        public static readonly SyntaxKey Const = SyntaxKey.Optional("const", "The only value the field may have; the sender writes it.");
        public static readonly SyntaxKey Fields = SyntaxKey.Optional("fields", "For type object or list<object>: the object's fields.");
        public static readonly SyntaxKey Values = SyntaxKey.Optional("values", "For type enum or list<enum>: the enum's values.");

        public static readonly KeySet Message = new("`messages.NAME.fields.NAME`", Type, Optional, Default, Doc, Encoding, MinLength, MaxLength, Min, Max, Pattern, OneOf, Wire, Const, Fields, Values);
        public static readonly SyntaxKey Secret = SyntaxKey.Optional("secret", "true for a secret the role must never send (its inputs record prints it as (secret)); a secret string is taken as low-entropy (a phrase, a PIN).");
        public static readonly KeySet Input = new("`inputs.ROLE.NAME`", Type, Optional, Default, Doc, MinLength, MaxLength, Min, Max, Pattern, OneOf, Values, Secret);
        public static readonly KeySet HookInput = new("`hooks.NAME.inputs.NAME`", Type, Optional, Doc);

        public static readonly IReadOnlyList<(SyntaxKey Key, ConstraintKind Kind)> Constraints = new[]
        {
            (MinLength, ConstraintKind.MinLength), (MaxLength, ConstraintKind.MaxLength), (Min, ConstraintKind.Min),
            (Max, ConstraintKind.Max), (Pattern, ConstraintKind.Pattern), (OneOf, ConstraintKind.OneOf),
        };
    }
}

/// <summary>A service: <c>name: { kind: ..., at: ..., ... }</c>; its settings depend on its kind.</summary>
internal sealed record ServiceSyntax(
    YamlScalar Name,
    YamlScalar Kind,
    EquatableArray<YamlScalar> At,
    SourceSpan AtSpan,
    TypeSyntax? Of,
    string? Doc,
    EquatableArray<SettingSyntax> Settings,
    SourceSpan Span)
{
    public static class Keys
    {
        public static readonly SyntaxKey Kind = SyntaxKey.Mandatory("kind", "The service kind.");
        public static readonly SyntaxKey At = SyntaxKey.Mandatory("at", "The role that holds it, or a list of roles that each hold one.");
        public static readonly SyntaxKey Doc = SyntaxKey.Optional("doc", "The property's doc comment.");
        public static readonly SyntaxKey Of = SyntaxKey.Mandatory("of", "The type of the values (value_store).");

        /// <summary>Before the kind is known: what any service accepts.</summary>
        public static readonly KeySet Common = new("`services.NAME`", Kind, At, Doc);

        private static readonly Dictionary<string, KeySet> s_byKind = ServiceKinds.All.ToDictionary(k => k.Name, k => new KeySet(
            "`services.NAME`",
            new[] { Kind, At, Doc }
                .Concat(k.Generic ? new[] { Of } : new SyntaxKey[0])
                .Concat(k.Settings.Select(s => SyntaxKey.Mandatory(s.Name, s.Doc)))
                .ToArray()));

        /// <summary>The keys a service of a known kind accepts: the common ones, <c>of</c> when generic, and the kind's settings.</summary>
        public static KeySet For(ServiceKindDescriptor kind) => s_byKind[kind.Name];
    }
}

/// <summary>A hook: <c>name: { at: ROLE, inputs: { ... }, output: TYPE }</c>, a decision the application makes.</summary>
internal sealed record HookSyntax(
    YamlScalar Name,
    EquatableArray<YamlScalar> At,
    SourceSpan AtSpan,
    EquatableArray<FieldSyntax> Inputs,
    TypeSyntax? Output,
    string? Doc,
    SourceSpan Span)
{
    public static class Keys
    {
        public static readonly SyntaxKey At = SyntaxKey.Mandatory("at", "The role that calls it, or a list of roles.");
        public static readonly SyntaxKey Inputs = SyntaxKey.Optional("inputs", "Its parameters, in order, typed as fields are.");
        public static readonly SyntaxKey Output = SyntaxKey.Mandatory("output", "The type of its answer; a trailing ? lets it answer nothing.");
        public static readonly SyntaxKey Doc = SyntaxKey.Optional("doc", "The interface method's doc comment.");
        public static readonly KeySet All = new("`hooks.NAME`", At, Inputs, Output, Doc);
    }
}

/// <summary>A service setting as written (its value is read by the binder, by the setting's kind).</summary>
internal sealed record SettingSyntax(YamlScalar Key, YamlScalar Value);

/// <summary>
/// The envelope every message travels in: a named record with fields the sender computes (a signature, over the
/// payload or over the whole envelope but itself), or the plain <c>wrap</c> form (<c>{"entft": {...}}</c>).
/// </summary>
internal sealed record EnvelopeSyntax(SourceSpan Span, YamlScalar? Name, YamlScalar? Payload, EquatableArray<FieldSyntax> Fields, AssignmentsSyntax? Set)
{
    /// <summary>The plain form: the property every message travels in, alone.</summary>
    public YamlScalar? Wrap { get; init; }

    /// <summary>The fields the signed bytes leave out (<c>signature:</c>), when the signature covers the envelope.</summary>
    public EquatableArray<YamlScalar> Signature { get; init; } = EquatableArray<YamlScalar>.Empty;

    /// <summary>The checks the receiver runs on every message's envelope, before the message's own.</summary>
    public EquatableArray<CheckSyntax> Require { get; init; } = EquatableArray<CheckSyntax>.Empty;

    public static class Keys
    {
        public static readonly SyntaxKey Name = SyntaxKey.Optional("name", "The envelope's name (its C# record's); required unless it is a wrap.");
        public static readonly SyntaxKey Wrap = SyntaxKey.Optional("wrap", "The plain form: every message travels as {\"NAME\": message}.");
        public static readonly SyntaxKey Payload = SyntaxKey.Optional("payload", "The property that holds the message; default payload.");
        public static readonly SyntaxKey Fields = SyntaxKey.Optional("fields", "The envelope's own fields, written as a message's; at least one.");
        public static readonly SyntaxKey Set = SyntaxKey.Optional("set", "How the sender computes each field over payload (and unsigned).");
        public static readonly SyntaxKey Signature = SyntaxKey.Optional("signature", "The field (or list of fields) that signs the rest of the envelope: the bytes 'unsigned' leaves it out.");
        public static readonly SyntaxKey Require = SyntaxKey.Optional("require", "Checks the receiver runs on every message's envelope, before the message's own.");
        public static readonly SyntaxKey Doc = SyntaxKey.Optional("doc", "Prose for the reader.");
        public static readonly KeySet All = new("`envelope`", Name, Wrap, Payload, Fields, Set, Signature, Require, Doc);
    }
}

internal sealed record MessageSyntax(YamlScalar Name, string? Doc, EquatableArray<FieldSyntax> Fields, ReportsSyntax? Reports, SourceSpan Span)
{
    /// <summary>The message's name on the wire (the discriminator's value), when its <c>wire</c> gives one.</summary>
    public YamlScalar? Wire { get; init; }

    /// <summary>The fields that sign the rest of the message (<c>signature:</c>): <c>unsigned</c> leaves them out.</summary>
    public EquatableArray<YamlScalar> Signature { get; init; } = EquatableArray<YamlScalar>.Empty;

    public static class Keys
    {
        public static readonly SyntaxKey Doc = SyntaxKey.Optional("doc", "The record's doc comment.");
        public static readonly SyntaxKey Fields = SyntaxKey.Optional("fields", "The message's fields.");
        public static readonly SyntaxKey Reports = SyntaxKey.Optional("reports", "Makes it an error message: which field holds the code and which the detail.");
        public static readonly SyntaxKey Wire = SyntaxKey.Optional("wire", "The discriminator's value for this message, when it differs from its name.");
        public static readonly SyntaxKey Signature = SyntaxKey.Optional("signature", "The field (or list of fields) that signs the rest of the message: 'unsigned' is the canonical message without them.");
        public static readonly KeySet All = new("`messages.NAME`", Doc, Fields, Reports, Wire, Signature);
    }
}

/// <summary>A type declared under <c>types</c>: an object (<c>fields</c>) or an enum (<c>values</c>).</summary>
internal sealed record TypeDeclarationSyntax(YamlScalar Name, string? Doc, EquatableArray<FieldSyntax>? Fields, EquatableArray<YamlScalar>? Values, SourceSpan Span)
{
    public static class Keys
    {
        public static readonly SyntaxKey Doc = SyntaxKey.Optional("doc", "The type's doc comment.");
        public static readonly SyntaxKey Fields = SyntaxKey.Optional("fields", "An object type's fields, written as a message's.");
        public static readonly SyntaxKey Values = SyntaxKey.Optional("values", "An enum type's values, as they travel on the wire.");
        public static readonly KeySet All = new("`types.NAME`", Doc, Fields, Values);
    }
}

internal sealed record ReportsSyntax(SourceSpan Span, YamlScalar Code, YamlScalar? Detail)
{
    public static class Keys
    {
        public static readonly SyntaxKey Code = SyntaxKey.Mandatory("code", "The required string field that holds the error code.");
        public static readonly SyntaxKey Detail = SyntaxKey.Optional("detail", "The string field that holds the explanation.");
        public static readonly KeySet All = new("`messages.NAME.reports`", Code, Detail);
    }
}

/// <summary>An error code: bare, a line of docs, or a mapping.</summary>
internal sealed record ErrorSyntax(YamlScalar Code, string? Doc, YamlScalar? Send, AssignmentsSyntax? Set, EffectsSyntax? Do, SourceSpan Span)
{
    public static class Keys
    {
        public static readonly SyntaxKey Doc = SyntaxKey.Optional("doc", "The constant's doc comment.");
        public static readonly SyntaxKey Send = SyntaxKey.Optional("send", "The error message this side sends when it raises the code.");
        public static readonly SyntaxKey Set = SyntaxKey.Optional("set", "Values for the sent message's fields.");
        public static readonly SyntaxKey Do = SyntaxKey.Optional("do", "What each role does after it raises the code.");
        public static readonly KeySet All = new("`errors.CODE`", Doc, Send, Set, Do);
    }
}

/// <summary>Service calls per role (an error's <c>do</c>, a step's <c>do</c>, <c>on_failure</c>).</summary>
internal sealed record EffectsSyntax(SourceSpan Span, EquatableArray<RoleEffectsSyntax> Roles);

internal sealed record RoleEffectsSyntax(YamlScalar Role, EquatableArray<ExpressionText> Calls);

/// <summary>A <c>set</c>: values for fields.</summary>
internal sealed record AssignmentsSyntax(SourceSpan Span, EquatableArray<AssignmentSyntax> Entries);

/// <summary>A field's value under <c>set</c>; null when it did not parse (reported by the parser).</summary>
internal sealed record AssignmentSyntax(YamlScalar Field, ValueSyntax? Value);

/// <summary>A value under <c>set</c>: an expression (a quoted or block scalar is a string literal), a YAML list of values, or a mapping (an object).</summary>
internal abstract record ValueSyntax(SourceSpan Span);

internal sealed record ExpressionValueSyntax(SourceSpan Span, ExpressionText Expression) : ValueSyntax(Span);

internal sealed record ListValueSyntax(SourceSpan Span, EquatableArray<ValueSyntax> Items) : ValueSyntax(Span);

/// <summary>An object's value: a YAML mapping of its fields' values.</summary>
internal sealed record ObjectValueSyntax(SourceSpan Span, AssignmentsSyntax Fields) : ValueSyntax(Span);

internal sealed record LetSyntax(YamlScalar Name, ExpressionText Value);

/// <summary>A receiver's let among its checks: computed once the first <see cref="Position"/> checks have passed.</summary>
internal sealed record PositionedLetSyntax(int Position, LetSyntax Let);

/// <summary>A duration as written (<c>10s</c>), with its value.</summary>
internal sealed record DurationSyntax(YamlScalar Source, long Milliseconds)
{
    /// <summary>What a duration is, for DSL006.</summary>
    public const string Rule = "a duration is a positive whole number followed by ms, s or m, such as 500ms or 10s, of at most a day";

    /// <summary>Reads 10s, 500ms or 2m as milliseconds; false for anything else, or more than a day.</summary>
    public static bool TryParse(string text, out long milliseconds)
    {
        text = text.Trim();
        long factor = 0;
        var digits = text;
        if (text.EndsWith("ms")) { factor = 1; digits = text.Substring(0, text.Length - 2); }
        else if (text.EndsWith("s")) { factor = 1000; digits = text.Substring(0, text.Length - 1); }
        else if (text.EndsWith("m")) { factor = 60_000; digits = text.Substring(0, text.Length - 1); }
        milliseconds = 0;
        if (factor == 0 || !long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value <= 0 || value > 86_400_000 / factor)
            return false;
        milliseconds = value * factor;
        return true;
    }
}

internal sealed record TimeoutsSyntax(DurationSyntax? Handshake, DurationSyntax? Step, DurationSyntax? ClockSkew)
{
    public static class Keys
    {
        public static readonly SyntaxKey Handshake = SyntaxKey.Optional("handshake", "How long the whole handshake may take; default 30s.");
        public static readonly SyntaxKey Step = SyntaxKey.Optional("step", "How long a role waits for each message; default 10s.");
        public static readonly SyntaxKey ClockSkew = SyntaxKey.Optional("clock_skew", "How far a peer's timestamp may be from this side's clock for fresh(t).");
        public static readonly KeySet All = new("`timeouts`", Handshake, Step, ClockSkew);
    }
}

internal sealed record FlowSyntax(SourceSpan Span, EquatableArray<StepSyntax> Steps);

/// <summary>A step of the flow.</summary>
internal abstract record StepSyntax(SourceSpan Span);

/// <summary><c>sender -> receiver: message</c> and its keys.</summary>
internal sealed record MessageStepSyntax(
    SourceSpan Span,
    YamlScalar Arrow,
    string Sender,
    string Receiver,
    YamlScalar Message,
    EquatableArray<LetSyntax> Lets,
    EquatableArray<CheckSyntax> Ensure,
    AssignmentsSyntax? Set,
    EquatableArray<CheckSyntax> Require,
    EffectsSyntax? Do,
    DurationSyntax? Timeout,
    YamlScalar? Phase,
    YamlScalar? Label) : StepSyntax(Span)
{
    /// <summary>
    /// The receiver's lets, written among its checks (<c>- let: { name: value }</c>): each is computed after the
    /// checks before it (<see cref="PositionedLetSyntax.Position"/> of them) have passed.
    /// </summary>
    public EquatableArray<PositionedLetSyntax> ReceiverLets { get; init; } = EquatableArray<PositionedLetSyntax>.Empty;

    public static class Keys
    {
        public static readonly SyntaxKey Let = SyntaxKey.Optional("let", "Values the sender computes first and keeps.");
        public static readonly SyntaxKey Ensure = SyntaxKey.Optional("ensure", "Checks the sender makes before building the message.");
        public static readonly SyntaxKey Set = SyntaxKey.Optional("set", "The message's field values.");
        public static readonly SyntaxKey Require = SyntaxKey.Optional("require", "Checks the receiver makes.");
        public static readonly SyntaxKey Do = SyntaxKey.Optional("do", "Service calls per role.");
        public static readonly SyntaxKey Timeout = SyntaxKey.Optional("timeout", "How long the receiver waits for this message.");
        public static readonly SyntaxKey Phase = SyntaxKey.Optional("phase", "The phase failures in this step report.");
        public static readonly SyntaxKey Label = SyntaxKey.Optional("label", "A name for goto.");
        public static readonly SyntaxKey RequireLet = SyntaxKey.Mandatory("let", "The receiver's values, computed once the checks before them have passed.");
        public static readonly KeySet RequireItem = new("a 'require' item", RequireLet);
        public static readonly KeySet All = new("message step", Let, Ensure, Set, Require, Do, Timeout, Phase, Label)
        {
            DynamicKey = "ROLE -> ROLE",
            IsDynamicKey = key => key.Contains("->"),
        };
    }
}

internal sealed record ChoiceStepSyntax(
    SourceSpan Span,
    YamlScalar Chooser,
    EquatableArray<BranchSyntax> Branches,
    EquatableArray<LetSyntax> Lets,
    YamlScalar? Phase,
    YamlScalar? Label,
    DurationSyntax? Timeout) : StepSyntax(Span)
{
    public static class Keys
    {
        public static readonly SyntaxKey Choice = SyntaxKey.Mandatory("choice", "The role that decides.");
        public static readonly SyntaxKey Branches = SyntaxKey.Mandatory("branches", "Two or more branches.");
        public static readonly SyntaxKey Let = SyntaxKey.Optional("let", "Values the chooser computes first.");
        public static readonly SyntaxKey Phase = SyntaxKey.Optional("phase", "The phase of the decision and of the other role's wait.");
        public static readonly SyntaxKey Label = SyntaxKey.Optional("label", "A name for goto.");
        public static readonly SyntaxKey Timeout = SyntaxKey.Optional("timeout", "How long the other role waits for the chooser's first message.");
        public static readonly KeySet All = new("choice step", Choice, Branches, Let, Phase, Label, Timeout);
    }
}

/// <summary>A branch of a choice; <see cref="When"/> is null for the default branch (and for a guard that did not parse: <see cref="HasWhen"/>).</summary>
internal sealed record BranchSyntax(SourceSpan Span, ExpressionText? When, bool HasWhen, SourceSpan WhenSpan, FlowSyntax Steps)
{
    public static class Keys
    {
        public static readonly SyntaxKey When = SyntaxKey.Optional("when", "The guard; the last branch has none.");
        public static readonly SyntaxKey Steps = SyntaxKey.Mandatory("steps", "The branch's steps.");
        public static readonly KeySet All = new("branch", When, Steps);
    }
}

internal sealed record GotoStepSyntax(SourceSpan Span, YamlScalar Label) : StepSyntax(Span)
{
    public static class Keys
    {
        public static readonly SyntaxKey Goto = SyntaxKey.Mandatory("goto", "The label to continue at.");
        public static readonly KeySet All = new("goto step", Goto);
    }
}

internal sealed record FailStepSyntax(SourceSpan Span, YamlScalar Code) : StepSyntax(Span)
{
    public static class Keys
    {
        public static readonly SyntaxKey Fail = SyntaxKey.Mandatory("fail", "The error code the handshake ends with.");
        public static readonly KeySet All = new("fail step", Fail);
    }
}

/// <summary>The scalar <c>success</c>.</summary>
internal sealed record SuccessStepSyntax(SourceSpan Span) : StepSyntax(Span);

/// <summary>What each role learns on success.</summary>
internal sealed record OutcomeSyntax(SourceSpan Span, EquatableArray<RoleOutcomeSyntax> Roles);

internal sealed record RoleOutcomeSyntax(YamlScalar Role, EquatableArray<OutcomeValueSyntax> Values);

internal sealed record OutcomeValueSyntax(YamlScalar Name, ExpressionText Value);

internal sealed record SessionSyntax(SourceSpan Span, YamlScalar? HeartbeatKey, HeartbeatSyntax? Heartbeat)
{
    /// <summary>The secure channel after the handshake, if the spec declares one.</summary>
    public ChannelSyntax? Channel { get; init; }

    public static class Keys
    {
        public static readonly SyntaxKey Heartbeat = SyntaxKey.Optional("heartbeat", "Pings after the handshake.");
        public static readonly SyntaxKey Channel = SyntaxKey.Optional("channel", "The AEAD channel the traffic keys open after the handshake.");
        public static readonly KeySet All = new("`session`", Heartbeat, Channel);
    }
}

/// <summary><c>session.channel</c>: the cipher, and for each role the outcome values that are its send and receive keys.</summary>
internal sealed record ChannelSyntax(SourceSpan Span, YamlScalar Cipher, YamlScalar? Binding, EquatableArray<ChannelKeysSyntax> Keys)
{
    public static class KeyNames
    {
        public static readonly SyntaxKey Cipher = SyntaxKey.Mandatory("cipher", "chacha20-poly1305 or aes-256-gcm, or an outcome value that names one.");
        public static readonly SyntaxKey Binding = SyntaxKey.Optional("binding", "An outcome value (bytes) bound into every frame's associated data.");
        public static readonly SyntaxKey KeysKey = SyntaxKey.Mandatory("keys", "For each role, the outcome values of its send and receive keys.");
        public static readonly KeySet All = new("`session.channel`", Cipher, Binding, KeysKey);
    }
}

/// <summary>One role's channel keys: outcome values.</summary>
internal sealed record ChannelKeysSyntax(YamlScalar Role, YamlScalar Send, YamlScalar Receive)
{
    public static class Keys
    {
        public static readonly SyntaxKey Send = SyntaxKey.Mandatory("send", "The outcome value this role encrypts with.");
        public static readonly SyntaxKey Receive = SyntaxKey.Mandatory("receive", "The outcome value this role decrypts with.");
        public static readonly KeySet All = new("`session.channel.keys.ROLE`", Send, Receive);
    }
}

internal sealed record HeartbeatSyntax(SourceSpan Span, YamlScalar Pinger, ExpressionText? IntervalMs, YamlScalar? Missed, HeartbeatPartSyntax Ping, HeartbeatPartSyntax Pong)
{
    public static class Keys
    {
        public static readonly SyntaxKey Pinger = SyntaxKey.Mandatory("pinger", "The role that sends pings.");
        public static readonly SyntaxKey IntervalMs = SyntaxKey.Mandatory("interval_ms", "Milliseconds between pings (an int expression both roles evaluate).");
        public static readonly SyntaxKey Missed = SyntaxKey.Optional("missed", "Intervals of silence that end the session; default 2.");
        public static readonly SyntaxKey Ping = SyntaxKey.Mandatory("ping", "The ping message and its values.");
        public static readonly SyntaxKey Pong = SyntaxKey.Mandatory("pong", "The pong message and its values.");
        public static readonly KeySet All = new("`session.heartbeat`", Pinger, IntervalMs, Missed, Ping, Pong);
    }
}

internal sealed record HeartbeatPartSyntax(SourceSpan Span, YamlScalar Message, AssignmentsSyntax? Set)
{
    public static class Keys
    {
        public static readonly SyntaxKey Message = SyntaxKey.Mandatory("message", "The message.");
        public static readonly SyntaxKey Set = SyntaxKey.Optional("set", "Its field values.");
        public static readonly KeySet All = new("`ping`, `pong`", Message, Set);
    }
}

/// <summary>Every construct's key set, for the docs' key index and its test.</summary>
internal static class SyntaxKeySets
{
    public static readonly IReadOnlyList<KeySet> All = new[]
    {
        ProtocolSyntax.Keys.All, WireSyntax.Keys.All, FieldSyntax.Keys.Input, ServiceSyntax.Keys.Common, HookSyntax.Keys.All, FieldSyntax.Keys.HookInput, TypeDeclarationSyntax.Keys.All, EnvelopeSyntax.Keys.All,
        MessageSyntax.Keys.All, FieldSyntax.Keys.Message, ReportsSyntax.Keys.All, ErrorSyntax.Keys.All, TimeoutsSyntax.Keys.All,
        MessageStepSyntax.Keys.All, MessageStepSyntax.Keys.RequireItem, ChoiceStepSyntax.Keys.All, BranchSyntax.Keys.All, GotoStepSyntax.Keys.All, FailStepSyntax.Keys.All,
        SessionSyntax.Keys.All, ChannelSyntax.KeyNames.All, ChannelKeysSyntax.Keys.All, HeartbeatSyntax.Keys.All, HeartbeatPartSyntax.Keys.All,
        AcknowledgementSyntax.Keys.All,
    };
}
