using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;

namespace Dsl.Cli.Pages;

/// <summary>
/// <c>dsl page</c>: the page a stranger implements a peer from. Everything on it comes from the spec (as the generator
/// binds it) and from the runtime's wire rules (<see cref="WireRules"/>): the flow and each role's machine, every
/// message and field as it travels, what is signed, every check in order with its error, what goes on the wire for
/// each error, the timeouts, and each transport's framing and limits.
/// </summary>
internal static class ProtocolPage
{
    public static string Write(SpecModel spec, string specPath, IReadOnlyList<(string File, string Description)> vectors)
    {
        var protocol = spec.Protocol;
        var text = new StringBuilder();
        text.Append("# ").Append(protocol.Name).Append(' ').Append(protocol.Version).Append("\n\n");
        text.Append("<!-- Made by `dsl page ").Append(specPath).Append("` from the spec; a test fails when it is stale. Do not edit by hand. -->\n\n");
        if (protocol.Description is { } description) text.Append(description).Append("\n\n");
        text.Append("Spec: [`").Append(specPath).Append("`](../../").Append(specPath).Append(").\n\n");

        text.Append("## Roles\n\n");
        foreach (var role in protocol.Roles) text.Append("- **").Append(role.Name).Append("**").Append(role.Doc is null ? "" : ": " + role.Doc).Append('\n');
        text.Append('\n');

        text.Append("## The flow\n\n```mermaid\n").Append(MermaidWriter.Sequence(spec)).Append("```\n\n");
        foreach (var machine in spec.Projected.Machines)
            text.Append("### The ").Append(machine.Role).Append("'s machine\n\n```mermaid\n").Append(MermaidWriter.States(spec, machine)).Append("```\n\n");

        Encoding(text, protocol);
        Messages(text, protocol);
        Steps(text, protocol);
        Errors(text, protocol);
        Timeouts(text, protocol);
        text.Append(WireRules.Transports);
        text.Append("## Test vectors\n\n");
        if (vectors.Count == 0)
            text.Append("None yet: `dsl vectors ").Append(specPath).Append("` writes them.\n");
        else
        {
            text.Append("Made by `dsl vectors ").Append(specPath).Append("`, with every random byte from a seed and every clock at one instant, so a peer that ")
                .Append("takes the same inputs and the same random bytes must send exactly these bytes (each file says how its random bytes are made). ")
                .Append("A test replays each against the generated machines, so a change on the wire fails it.\n\n");
            foreach (var (file, about) in vectors) text.Append("- [`").Append(System.IO.Path.GetFileName(file)).Append("`](../../").Append(file).Append("): ").Append(about).Append('\n');
            text.Append("\nThe errors no vector reaches, if any, are listed in the vectors' [README](../../").Append(System.IO.Path.GetDirectoryName(vectors[0].File)!.Replace('\\', '/')).Append("/README.md).\n");
        }
        return text.ToString();
    }

    private static void Encoding(StringBuilder text, BoundProtocol protocol)
    {
        text.Append("## Encoding\n\n");
        text.Append("Every message is one JSON object, UTF-8, whose `").Append(protocol.Discriminator)
            .Append("` member names the message (the wire names below). ").Append(WireRules.Json).Append("\n\n");
        if (protocol.Wrap is { } wrap)
            text.Append("Every message travels wrapped: `{\"").Append(wrap).Append("\": MESSAGE}`, and nothing else at the top level.\n\n");
        if (protocol.Envelope is { } envelope)
        {
            text.Append("Every message travels in the envelope `").Append(envelope.Name).Append("`: a JSON object whose `")
                .Append(envelope.PayloadField).Append("` member is the message, beside these fields:\n\n");
            FieldTable(text, envelope.Fields);
            text.Append("`payload` below is the message as RFC 8785 canonical JSON");
            if (envelope.SignsItself)
                text.Append("; `unsigned` is the whole envelope as RFC 8785 canonical JSON without ")
                    .Append(string.Join(" and ", envelope.SignatureFields.Select(f => "`" + f + "`"))).Append(": the bytes the signature covers");
            text.Append(". ").Append(WireRules.Canonical).Append(" The sender computes:\n\n");
            foreach (var role in envelope.Set)
            {
                text.Append("- as **").Append(role.Role).Append("**: ");
                text.Append(string.Join("; ", role.Set.Select(a => $"`{a.Field}` = `{Show(protocol, a.Source)}`"))).Append('\n');
            }
            text.Append('\n');
            if (!envelope.Checks.IsEmpty)
            {
                text.Append("Before any message's own checks, the receiver checks its envelope, in this order:\n\n");
                foreach (var role in envelope.Checks)
                {
                    text.Append("- as **").Append(role.Role).Append("**:\n");
                    foreach (var check in role.Checks) text.Append("  1. `").Append(Show(protocol, check.Source)).Append("`, else **").Append(check.Code).Append("**\n");
                }
                text.Append('\n');
            }
        }
    }

    private static void Messages(StringBuilder text, BoundProtocol protocol)
    {
        text.Append("## Messages\n\n");
        foreach (var message in protocol.Messages)
        {
            text.Append("### `").Append(message.Wire).Append("`\n\n");
            if (message.Doc is { } doc) text.Append(doc).Append("\n\n");
            if (message.IsErrorMessage)
                text.Append("An error message: `").Append(message.ReportsCode).Append("` carries the error code")
                    .Append(message.ReportsDetail is { } detail ? $", `{detail}` the explanation" : "").Append(".\n\n");
            if (message.SignsItself)
                text.Append("Signed by ").Append(string.Join(" and ", message.SignatureFields.Select(f => "`" + f + "`")))
                    .Append(": over the message as received, RFC 8785 canonical JSON, without those members (every other member, `")
                    .Append(protocol.Discriminator).Append("` and unknown ones included). ").Append(WireRules.Canonical).Append("\n\n");
            if (message.Fields.IsEmpty) text.Append("No fields but `").Append(protocol.Discriminator).Append("`.\n\n");
            else FieldTable(text, message.Fields);
        }
        foreach (var type in protocol.Types)
        {
            text.Append("### Type `").Append(type.Name).Append("`\n\n");
            if (type.Doc is { } doc) text.Append(doc).Append("\n\n");
            if (type.Kind == TypeKind.Enum)
                text.Append("A string, one of: ").Append(string.Join(", ", type.Values.Select(v => "`\"" + v + "\"`"))).Append("; any other is refused.\n\n");
            else FieldTable(text, type.Fields);
        }
    }

    private static void FieldTable(StringBuilder text, IReadOnlyList<FieldSymbol> fields)
    {
        text.Append("| member | on the wire | presence | constraints | meaning |\n| --- | --- | --- | --- | --- |\n");
        foreach (var field in fields)
        {
            var presence = field.Const is { } constant ? "always, exactly " + Constant(constant)
                : field.Default is not null ? "optional (a default applies)"
                : field.Optional ? "optional (may be absent or null)" : "required";
            text.Append("| `").Append(field.Wire).Append("` | ").Append(Wire(field.Type, field.Encoding)).Append(" | ").Append(presence)
                .Append(" | ").Append(Constraints(field)).Append(" | ").Append(Cell(field.Doc ?? "")).Append(" |\n");
        }
        text.Append('\n');
    }

    /// <summary>How a value of the type is written in JSON.</summary>
    internal static string Wire(TypeRef type, BytesEncoding encoding = BytesEncoding.Hex) => type.Kind switch
    {
        TypeKind.String => "string",
        TypeKind.Int => "integer (a JSON number without fraction or exponent, −2^63 to 2^63−1)",
        TypeKind.Decimal => "number (decimal)",
        TypeKind.Bool => "`true` or `false`",
        TypeKind.Uuid => "string: a UUID, `8-4-4-4-12` hex digits",
        TypeKind.Timestamp => "integer: Unix seconds",
        TypeKind.Map => "object (any members)",
        TypeKind.Bytes when encoding == BytesEncoding.Base64 => type.Length > 0 ? $"string: {type.Length} bytes in base64" : "string: bytes in base64",
        TypeKind.Bytes => type.Length > 0 ? $"string: {type.Length} bytes as {type.Length * 2} lower-case hex digits" : "string: bytes as lower-case hex digits",
        TypeKind.List => "array of " + type.Element switch
        {
            TypeKind.Object or TypeKind.Enum => $"`{type.Name}`",
            TypeKind.Bytes => encoding == BytesEncoding.Base64 ? "base64 strings" : "hex strings",
            var element => Wire(new TypeRef(element)),
        },
        TypeKind.Object => $"object: `{type.Name}`",
        TypeKind.Enum => $"string: `{type.Name}`",
        _ => type.Kind.ToString().ToLowerInvariant(),
    };

    private static string Constraints(FieldSymbol field)
    {
        var parts = new List<string>();
        var c = field.Constraints;
        var unit = field.Type.Kind switch { TypeKind.List => "items", TypeKind.Bytes => "bytes", _ => "characters" };
        if (c.MinLength is { } minLength) parts.Add($"at least {minLength} {unit}");
        if (c.MaxLength is { } maxLength) parts.Add($"at most {maxLength} {unit}");
        if (c.Min is { } min) parts.Add($"≥ {min}");
        if (c.Max is { } max) parts.Add($"≤ {max}");
        if (c.Pattern is { } pattern) parts.Add($"matches `{Cell(pattern)}` (whole)");
        if (!c.OneOf.IsEmpty) parts.Add("one of " + string.Join(", ", c.OneOf.Select(v => $"`{v}`")));
        return parts.Count == 0 ? "" : string.Join("; ", parts);
    }

    private static void Steps(StringBuilder text, BoundProtocol protocol)
    {
        text.Append("## Steps\n\nEach message step: what the sender sets, then what the receiver checks, in order; the first check that fails ends the handshake with its error.\n\n");
        foreach (var step in protocol.Flow.Nodes.OfType<MessageNode>())
        {
            text.Append("### ").Append(step.Sender).Append(" → ").Append(step.Receiver).Append(": `").Append(protocol.Message(step.Message).Wire).Append('`');
            text.Append(step.Label is { } label ? $" (`{label}`)" : "").Append(", phase `").Append(step.Phase).Append("`\n\n");
            if (!step.Ensures.IsEmpty)
            {
                text.Append("Before sending, the ").Append(step.Sender).Append(" checks:\n\n");
                foreach (var check in step.Ensures) text.Append("1. `").Append(Show(protocol, check.Source)).Append("`, else **").Append(check.Code).Append("**\n");
                text.Append('\n');
            }
            if (!step.Set.IsEmpty)
            {
                text.Append("The ").Append(step.Sender).Append(" sets:\n\n");
                foreach (var let in step.Lets) text.Append("- first computes `").Append(let.Name).Append("` = `").Append(Show(protocol, let.Source)).Append("`\n");
                foreach (var set in step.Set) text.Append("- `").Append(set.Field).Append("` = `").Append(Show(protocol, set.Source)).Append("`\n");
                text.Append('\n');
            }
            if (!step.Requires.IsEmpty)
            {
                text.Append("The ").Append(step.Receiver).Append(" checks:\n\n");
                for (var i = 0; i <= step.Requires.Count; i++)
                {
                    foreach (var let in step.ReceiverLets.Where(l => l.Position == i))
                        text.Append("1. computes `").Append(let.Let.Name).Append("` = `").Append(Show(protocol, let.Let.Source)).Append("`\n");
                    if (i < step.Requires.Count)
                        text.Append("1. `").Append(Show(protocol, step.Requires[i].Source)).Append("`, else **").Append(step.Requires[i].Code).Append("**\n");
                }
                text.Append('\n');
            }
            if (step.TimeoutMs is { } timeout) text.Append("The ").Append(step.Receiver).Append(" waits at most ").Append(Duration(timeout)).Append(" for it.\n\n");
        }
    }

    private static void Errors(StringBuilder text, BoundProtocol protocol)
    {
        text.Append("## Errors\n\nA role that raises an error sends what the table says (if anything), then closes the connection. ")
            .Append(WireRules.Failure).Append("\n\n");
        text.Append("| code | meaning | on the wire |\n| --- | --- | --- |\n");
        foreach (var error in protocol.Errors)
        {
            var sent = error.Send is { } message
                ? $"`{protocol.Message(message).Wire}` with " + string.Join(", ", error.Set.Select(s => $"`{s.Field}` = `{Cell(Show(protocol, s.Source))}`")
                    .Prepend($"the code in `{protocol.Message(message).ReportsCode}`"))
                : "nothing: the connection closes";
            text.Append("| **").Append(error.Code).Append("** | ").Append(Cell(error.Doc ?? "")).Append(" | ").Append(sent).Append(" |\n");
        }
        text.Append("\nA message that cannot be decoded, or is not expected where it arrives, raises **").Append(protocol.MalformedCode).Append("**.\n\n");
    }

    private static void Timeouts(StringBuilder text, BoundProtocol protocol)
    {
        text.Append("## Timeouts\n\n");
        text.Append("- The whole handshake: ").Append(Duration(protocol.HandshakeTimeoutMs)).Append(".\n");
        text.Append("- Each wait for the peer's next message: ").Append(Duration(protocol.StepTimeoutMs)).Append(", unless its step says otherwise.\n");
        if (protocol.ClockSkewMs is { } skew) text.Append("- `fresh(t)` accepts a timestamp within ").Append(Duration(skew)).Append(" of the receiver's clock, either way.\n");
        text.Append("\nA role that times out ends with `step_timeout` or `handshake_timeout` and closes the connection; it sends no error message.\n\n");
    }

    /// <summary>An expression as written, with the spec's own constants (<c>spec.version</c>) spelled out.</summary>
    private static string Show(BoundProtocol protocol, string? source)
        => (source ?? "").Replace("spec.version", "\"" + protocol.Version + "\"").Replace("spec.protocol", "\"" + protocol.Name + "\"");

    private static string Duration(long milliseconds)
        => milliseconds % 1000 == 0 ? (milliseconds / 1000).ToString(CultureInfo.InvariantCulture) + " s" : milliseconds.ToString(CultureInfo.InvariantCulture) + " ms";

    private static string Constant(ConstantValue value) => value switch
    {
        StringConstant s => $"`\"{s.Value}\"`",
        IntegerConstant i => $"`{i.Value.ToString(CultureInfo.InvariantCulture)}`",
        BooleanConstant b => b.Value ? "`true`" : "`false`",
        DecimalConstant d => $"`{d.Value.ToString(CultureInfo.InvariantCulture)}`",
        _ => "",
    };

    /// <summary>Text that sits in a table cell: no line breaks, no bare pipes.</summary>
    private static string Cell(string text) => text.Replace("\r", "").Replace("\n", " ").Replace("|", "\\|").Trim();
}
