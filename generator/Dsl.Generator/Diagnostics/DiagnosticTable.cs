using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Dsl.Generator.Diagnostics;

/// <summary>
/// Every diagnostic the generator reports, in one table. Ranges by stage: DSL0xx syntax,
/// DSL1xx schema, DSL2xx expressions, DSL3xx flow, DSL4xx across specs, DSL5xx security lints. Each id has a page in
/// <c>docs/diagnostics/ID.md</c>.
/// </summary>
internal static class DiagnosticTable
{
    private const string Syntax = "Syntax", Schema = "Schema", Expressions = "Expressions", Flow = "Flow", Specs = "Specs", Security = "Security";

    // Syntax: the YAML itself and the shape of the document.
    public static readonly DiagnosticKind YamlSyntax = new("DSL001", "Invalid YAML", "The spec is not valid YAML: {0}", Syntax);
    public static readonly DiagnosticKind UnknownKey = new("DSL002", "Unknown key", "Unknown key '{0}' in {1}; expected one of: {2}", Syntax);
    public static readonly DiagnosticKind DuplicateKey = new("DSL003", "Duplicate key", "Key '{0}' appears more than once in {1}", Syntax);
    public static readonly DiagnosticKind WrongNodeKind = new("DSL004", "Wrong kind of YAML node", "{0} must be {1}", Syntax);
    public static readonly DiagnosticKind MissingKey = new("DSL005", "Missing required key", "{0} needs the key '{1}'{2}", Syntax);
    public static readonly DiagnosticKind InvalidValue = new("DSL006", "Invalid value", "Invalid value '{0}' for {1}: {2}", Syntax);
    public static readonly DiagnosticKind InvalidName = new("DSL007", "Invalid name", "'{0}' is not a valid {1} name: use letters, digits and '_', starting with a letter (a protocol's name may also hold '-')", Syntax);

    // Schema: roles, types, messages, fields, inputs, services, errors.
    public static readonly DiagnosticKind UnknownType = new("DSL101", "Unknown field type", "Unknown type '{0}'; expected one of: {1}", Schema);
    public static readonly DiagnosticKind DuplicateMessage = new("DSL102", "Duplicate message", "Message '{0}' is declared more than once", Schema);
    public static readonly DiagnosticKind DuplicateField = new("DSL103", "Duplicate field", "Field '{0}' is declared more than once in {1}", Schema);
    public static readonly DiagnosticKind UnusedMessage = new("DSL104", "Message never used", "Message '{0}' is declared but never used in the flow, as an error message or by the session", Schema);
    public static readonly DiagnosticKind RoleCount = new("DSL105", "Wrong number of roles", "A protocol has exactly two roles; this spec declares {0}", Schema);
    public static readonly DiagnosticKind UnknownRole = new("DSL106", "Unknown role", "Unknown role '{0}'; the roles are {1}", Schema);
    public static readonly DiagnosticKind ConstraintMismatch = new("DSL107", "Constraint does not fit the type", "Constraint '{0}' does not apply to a field of type '{1}'", Schema);
    public static readonly DiagnosticKind BadDefault = new("DSL108", "Default does not fit the type", "Default '{0}' is not a valid value of type '{1}'", Schema);
    public static readonly DiagnosticKind UnknownServiceKind = new("DSL109", "Unknown service kind", "Unknown service kind '{0}'; expected one of: {1}", Schema);
    public static readonly DiagnosticKind NotImplemented = new("DSL110", "Not implemented yet", "'{0}' is part of the language design but not implemented yet: {1}", Schema);
    public static readonly DiagnosticKind ReservedField = new("DSL111", "Reserved field name", "Field '{0}' in '{1}' has the name of the discriminator", Schema);
    public static readonly DiagnosticKind NameCollision = new("DSL112", "Names collide in C#", "'{0}' and '{1}' both become '{2}' in C#", Schema);
    public static readonly DiagnosticKind TooManyFields = new("DSL113", "Too many fields", "Message '{0}' has {1} fields; at most 64 are supported", Schema);
    public static readonly DiagnosticKind ErrorMessageShape = new("DSL114", "Invalid error message", "Error message '{0}': {1}", Schema);
    public static readonly DiagnosticKind UnknownErrorCode = new("DSL115", "Unknown error code", "Unknown error code '{0}'; declare it under 'errors'", Schema);
    public static readonly DiagnosticKind InvalidType = new("DSL117", "Invalid type declaration", "{0}", Schema);
    public static readonly DiagnosticKind InvalidConstant = new("DSL118", "Invalid constant", "Constant '{0}': {1}", Schema);
    public static readonly DiagnosticKind UnsetRequiredField = new("DSL116", "Required field not set", "Message '{0}' is sent without a value for its required field '{1}'", Schema);

    // Expressions: names, types, nullability, functions.
    public static readonly DiagnosticKind ExpressionSyntax = new("DSL201", "Invalid expression", "Invalid expression: {0}", Expressions);
    public static readonly DiagnosticKind UnknownName = new("DSL202", "Unknown name", "Unknown name '{0}' in {1}", Expressions);
    public static readonly DiagnosticKind UnknownMember = new("DSL203", "Unknown member", "'{0}' has no member '{1}'", Expressions);
    public static readonly DiagnosticKind TypeMismatch = new("DSL204", "Type mismatch", "{0}: expected {1}, found {2}", Expressions);
    public static readonly DiagnosticKind MaybeNull = new("DSL205", "Value may be absent", "'{0}' may be absent here ({1}); {2}", Expressions);
    public static readonly DiagnosticKind BadCall = new("DSL206", "Invalid call", "{0}", Expressions);
    public static readonly DiagnosticKind MessageNotAvailable = new("DSL207", "Message not yet exchanged", "Message '{0}' has not been exchanged on any path to this point", Expressions);
    public static readonly DiagnosticKind NotVisibleToRole = new("DSL208", "Not visible to this role", "'{0}' belongs to role '{1}' and cannot be used by '{2}' here", Expressions);
    public static readonly DiagnosticKind NoCurrentMessage = new("DSL209", "No current message", "'msg' is only meaningful inside a message step", Expressions);

    // Flow: the global protocol.
    public static readonly DiagnosticKind UnknownFlowMessage = new("DSL301", "Unknown message", "Unknown message '{0}'; it is not declared under 'messages'", Flow);
    public static readonly DiagnosticKind BadStepRoles = new("DSL302", "Invalid sender or receiver", "Flow step '{0}': {1}", Flow);
    public static readonly DiagnosticKind IndistinctBranches = new("DSL303", "Branches cannot be told apart", "Branches of the choice by '{0}' both start with message '{1}'; '{2}' cannot tell them apart", Flow);
    public static readonly DiagnosticKind UnreachableStep = new("DSL304", "Unreachable step", "This step can never run: it follows '{0}'", Flow);
    public static readonly DiagnosticKind BranchStart = new("DSL305", "Branch must start with the chooser's message", "A branch of the choice by '{0}' must start with a message that '{0}' sends; it starts with {1}", Flow);
    public static readonly DiagnosticKind UnknownLabel = new("DSL306", "Unknown label", "'goto: {0}' names no step label", Flow);
    public static readonly DiagnosticKind DuplicateLabel = new("DSL307", "Duplicate label", "Label '{0}' is used by more than one step", Flow);
    public static readonly DiagnosticKind NoDefaultBranch = new("DSL308", "Choice without a default branch", "The last branch of a choice must have no 'when', so that some branch is always taken", Flow);
    public static readonly DiagnosticKind EmptyFlow = new("DSL309", "Empty flow or branch", "{0} has no steps", Flow);
    public static readonly DiagnosticKind UnknownOutcomeRole = new("DSL310", "Outcome for an unknown role", "Outcome is given for unknown role '{0}'; the roles are {1}", Flow);
    public static readonly DiagnosticKind SessionShape = new("DSL311", "Invalid session", "{0}", Flow);

    // Across specs.
    public static readonly DiagnosticKind DuplicateProtocol = new("DSL401", "Duplicate protocol", "Protocol '{0}' version '{1}' (or its namespace) is also defined in '{2}'; this spec is skipped", Specs);
    public static readonly DiagnosticKind BaseUnavailable = new("DSL402", "Base spec unavailable", "Cannot extend: {0}", Specs);
    public static readonly DiagnosticKind CannotChange = new("DSL403", "Not changeable by an extension", "An extension cannot change this: {0}", Specs);
    public static readonly DiagnosticKind Loosens = new("DSL404", "Extension loosens a limit", "An extension may only tighten: {0}", Specs);
    public static readonly DiagnosticKind InvalidFlowEdit = new("DSL405", "Invalid flow edit", "Invalid flow edit: {0}", Specs);
    public static readonly DiagnosticKind ExtensionChange = new("DSL406", "What an extension changes", "Extends '{0}': {1}", Specs) { Severity = DiagnosticSeverity.Info };
    // Security: lints a spec may acknowledge with a reason (acknowledge:), and the acknowledgements themselves.
    public static readonly DiagnosticKind UnprotectedField = new("DSL501", "Received field bound to nothing", "{0}'s outcome '{1}' comes from '{2}', which nothing {3} verifies binds to its sender (no signature, MAC or AEAD covers it): anyone on the path can change it", Security) { Severity = DiagnosticSeverity.Warning };
    public static readonly DiagnosticKind SignatureWithoutFreshness = new("DSL502", "Authentication without freshness", "{0} authenticates '{1}' without anything fresh under it (a timestamp it checks, a nonce it remembers, its own challenge echoed): a recorded '{1}' can be replayed", Security) { Severity = DiagnosticSeverity.Warning };
    public static readonly DiagnosticKind KeyWithoutTranscript = new("DSL503", "Key derived without the transcript", "{0}'s outcome '{1}' is a key derived without the transcript (no transcript() and no values from both roles' messages under it): a key agreed in one session can be made to match another's", Security) { Severity = DiagnosticSeverity.Warning };
    public static readonly DiagnosticKind SecretInClear = new("DSL505", "Secret sent in clear", "'{0}' sends {1} in clear: anyone on the path reads it", Security) { Severity = DiagnosticSeverity.Warning };
    public static readonly DiagnosticKind LowEntropyKey = new("DSL506", "Low-entropy key without an exchange secret", "{0} keys a MAC or cipher with '{1}', a low-entropy secret, and nothing from a key exchange: one recorded exchange lets anyone test guesses offline", Security) { Severity = DiagnosticSeverity.Warning };
    public static readonly DiagnosticKind FailureWritesClaim = new("DSL504", "A failure writes a claim", "When {0} fails, '{1}' writes what the peer claimed ({2}) to '{3}': a handshake that failed authenticated nothing, so anyone can make that write", Security) { Severity = DiagnosticSeverity.Warning };
    public static readonly DiagnosticKind UnknownLint = new("DSL507", "Unknown lint", "'{0}' is not a security lint; the lints are {1}", Security);
    public static readonly DiagnosticKind StaleAcknowledgement = new("DSL508", "Acknowledgement of nothing", "The acknowledgement of '{0}'{1} matches no finding: remove it, or name what it is for", Security) { Severity = DiagnosticSeverity.Warning };

    public static readonly DiagnosticKind BaseHasErrors = new("DSL407", "Base spec has errors", "The base spec '{0}' has {1} error(s); fix them before this spec can extend it", Specs);
    public static readonly DiagnosticKind GeneratorFailure = new("DSL999", "Internal generator error", "The generator failed on this spec in its {0} stage; please report it: {1}", Specs);

    public static IReadOnlyList<DiagnosticKind> All { get; } = typeof(DiagnosticTable)
        .GetFields()
        .Where(f => f.FieldType == typeof(DiagnosticKind))
        .Select(f => (DiagnosticKind)f.GetValue(null)!)
        .OrderBy(k => k.Id, System.StringComparer.Ordinal)
        .ToArray();

    private static readonly Dictionary<string, DiagnosticKind> s_byId = All.ToDictionary(k => k.Id);
    private static readonly Dictionary<string, DiagnosticDescriptor> s_descriptors = All.ToDictionary(k => k.Id, k => Describe(k, k.HelpLink));

    // Descriptors whose help links point into a docs folder, by folder (one or two per build: the package's, the repository's).
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Dictionary<string, DiagnosticDescriptor>> s_byDocs = new();

    public static DiagnosticKind ById(string id) => s_byId[id];

    public static DiagnosticDescriptor Descriptor(string id) => s_descriptors[id];

    /// <summary>
    /// The descriptor whose help link is the page in <paramref name="docs"/>, the docs folder the build names (the
    /// package's, through its build props, or the repository's): a file URI that opens from any project. Without one,
    /// the link is the repository-relative path.
    /// </summary>
    public static DiagnosticDescriptor Descriptor(string id, string? docs)
    {
        if (docs is null || !System.IO.Path.IsPathRooted(docs)) return Descriptor(id);
        var descriptors = s_byDocs.GetOrAdd(docs, root => All.ToDictionary(k => k.Id, k => Describe(k, HelpUri(root, k))));
        return descriptors[id];
    }

    private static string HelpUri(string docs, DiagnosticKind kind)
    {
        try
        {
            return new System.Uri(System.IO.Path.GetFullPath(System.IO.Path.Combine(docs, kind.HelpPage))).AbsoluteUri;
        }
        catch (System.Exception ex) when (ex is System.ArgumentException or System.UriFormatException or System.NotSupportedException or System.IO.PathTooLongException)
        {
            return kind.HelpLink;
        }
    }

    private static DiagnosticDescriptor Describe(DiagnosticKind kind, string helpLink) => new(
        kind.Id, kind.Title, kind.MessageFormat, "Dsl." + kind.Stage, kind.Severity, isEnabledByDefault: true, helpLinkUri: helpLink);
}
