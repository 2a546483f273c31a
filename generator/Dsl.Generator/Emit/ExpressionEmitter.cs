using System.Globalization;
using System.Linq;
using Dsl.Generator.Model;

namespace Dsl.Generator.Emit;

/// <summary>
/// Lowers bound expressions to C#. Transcript messages are fields of the machine (<c>_handshakeAck</c>),
/// inputs are <c>_inputs.X</c>, services <c>_services.X</c>, lets are fields, the current message is <c>msg</c>.
/// Where the binder proved a value present but C# still sees a nullable, the value is unwrapped.
/// <paramref name="ct"/> everywhere is the C# of the cancellation token service calls get.
/// </summary>
internal static class ExpressionEmitter
{
    public const string RunToken = "run.CancellationToken";

    public static string TranscriptField(string messageTypeName) => "_" + char.ToLowerInvariant(messageTypeName[0]) + messageTypeName.Substring(1);

    /// <summary>C# for a value that must be present (the binder proved it is).</summary>
    public static string Value(BoundExpr expr, string ct = RunToken)
    {
        var code = Emit(expr, ct);
        if (!CSharpNullable(expr) || expr.Type.Nullable) return code;
        // The binder proved the value present on every path; C# cannot see through fields and awaits.
        return expr.Type.Type.IsValueType
            ? $"({code} ?? throw new global::System.InvalidOperationException(\"A value the spec proves present is absent.\"))"
            : $"({code})!";
    }

    /// <summary>C# for a value that may be absent (typed nullable when it is).</summary>
    public static string Emit(BoundExpr expr, string ct = RunToken)
    {
        switch (expr)
        {
            case LiteralExpr literal:
                return literal.Text;
            case InputExpr input:
                return "_inputs." + input.PropertyName;
            case MessageFieldExpr field when field.IsCurrent:
                return "msg." + field.PropertyName;
            case MessageFieldExpr field:
                return TranscriptField(field.MessageTypeName) + (field.MessageMayBeAbsent ? "?." : "!.") + field.PropertyName;
            case EnvelopeFieldExpr envelope when envelope.IsCurrent:
                return "msg.Envelope!." + envelope.PropertyName;
            case EnvelopeFieldExpr envelope:
                return TranscriptField(envelope.MessageTypeName) + (envelope.MessageMayBeAbsent ? "?.Envelope?." : "!.Envelope!.") + envelope.PropertyName;
            case LocalExpr local:
                return local.FieldName;
            case ContextExpr context:
                return context.CSharp;
            case CallExpr call:
                return Call(call, ct);
            case ServiceCallExpr service:
                return "(" + Fill(service, ct) + ")";
            case UnaryExpr unary:
                return $"!{Value(unary.Operand, ct)}";
            case BinaryExpr binary:
                return Binary(binary, ct);
            case ListExpr list:
                return list.Items.Count == 0
                    ? $"global::System.Array.Empty<{CSharpTypes.Of(new TypeRef(list.Type.Type.Element == TypeKind.Null ? TypeKind.String : list.Type.Type.Element))}>()"
                    : $"new {CSharpTypes.Of(new TypeRef(list.Items[0].Type.Type.Kind))}[] {{ {string.Join(", ", list.Items.Select(i => Value(i, ct)))} }}";
        }
        return "default";
    }

    /// <summary>A service call used as a statement.</summary>
    public static string Statement(BoundExpr expr, string ct = RunToken)
    {
        if (expr is not ServiceCallExpr service) return $"_ = {Emit(expr, ct)};";
        var call = Fill(service, ct);
        return call.StartsWith("await ", System.StringComparison.Ordinal) ? call + ";" : $"_ = {call};";
    }

    private static string Fill(ServiceCallExpr service, string ct)
    {
        var code = service.Template.Replace("{now}", "Now").Replace("{ct}", ct);
        for (var i = 0; i < service.Arguments.Count; i++)
            code = code.Replace("{" + i.ToString(CultureInfo.InvariantCulture) + "}", Value(service.Arguments[i], ct));
        return code;
    }

    /// <summary>Whether the C# expression has a nullable type, whatever the binder proved.</summary>
    public static bool CSharpNullable(BoundExpr expr) => expr switch
    {
        LiteralExpr literal => literal.Text == "null",
        InputExpr input => input.Type.Nullable,
        MessageFieldExpr field => field.FieldNullable || (!field.IsCurrent && field.MessageMayBeAbsent),
        EnvelopeFieldExpr envelope => envelope.FieldNullable || (!envelope.IsCurrent && envelope.MessageMayBeAbsent),
        LocalExpr => true, // lets are kept in nullable fields
        CallExpr call => call.Type.Nullable,
        ContextExpr context => context.Type.Nullable,
        ServiceCallExpr service => service.Type.Nullable,
        BinaryExpr { Operator: "??" } coalesce => CSharpNullable(coalesce.Left) && CSharpNullable(coalesce.Right),
        _ => false,
    };

    private static string Call(CallExpr call, string ct)
    {
        switch (call.Function)
        {
            case "uuid4":
                return "global::Dsl.Runtime.Handshakes.Uuid.NewV4()";
            case "now":
                return "Now";
            case "len":
            {
                var argument = call.Arguments[0];
                return argument.Type.Type.Kind == TypeKind.List ? $"(long)({Value(argument, ct)}).Count" : $"(long)({Value(argument, ct)}).Length";
            }
            case "text":
            {
                var argument = call.Arguments[0];
                var value = Value(argument, ct);
                return argument.Type.Type.Kind switch
                {
                    TypeKind.String => value,
                    TypeKind.Bool => $"(({value}) ? \"true\" : \"false\")",
                    TypeKind.Uuid => $"({value}).ToString(\"D\")",
                    TypeKind.Timestamp => $"({value}).ToUnixTimeSeconds().ToString(global::System.Globalization.CultureInfo.InvariantCulture)",
                    TypeKind.Bytes => $"({value}).ToHex()",
                    _ => $"({value}).ToString(global::System.Globalization.CultureInfo.InvariantCulture)",
                };
            }
        }
        return $"global::Dsl.Runtime.Expressions.Builtins.{Binding.BindingContext.Pascal(call.Function)}({string.Join(", ", call.Arguments.Select(a => Value(a, ct)))})";
    }

    private static string Binary(BinaryExpr binary, string ct)
    {
        switch (binary.Operator)
        {
            case "??":
                // A left side that C# sees as never absent needs no fallback (and C# refuses '??' on it).
                return CSharpNullable(binary.Left) ? $"({Emit(binary.Left, ct)} ?? {Emit(binary.Right, ct)})" : Emit(binary.Left, ct);
            case "==":
            case "!=":
                // Lifted comparison: either side may be absent (compared with null).
                return $"({Emit(binary.Left, ct)} {binary.Operator} {Emit(binary.Right, ct)})";
            case "-" when binary.Left.Type.Type.Kind == TypeKind.Timestamp:
                return $"(long)({Value(binary.Left, ct)} - {Value(binary.Right, ct)}).TotalSeconds";
            case "+" when binary.Left.Type.Type.Kind == TypeKind.String:
                return $"string.Concat({Value(binary.Left, ct)}, {Value(binary.Right, ct)})";
            default:
                return $"({Value(binary.Left, ct)} {binary.Operator} {Value(binary.Right, ct)})";
        }
    }
}
