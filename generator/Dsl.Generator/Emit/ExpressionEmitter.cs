using System.Linq;
using Dsl.Generator.Model;

namespace Dsl.Generator.Emit;

/// <summary>
/// Lowers bound expressions to C#. Transcript messages are fields of the machine (<c>_handshakeAck</c>),
/// inputs are <c>_inputs.X</c>, services <c>_services.X</c>, lets are fields, the current message is <c>msg</c>.
/// Where the binder proved a value present but C# still sees a nullable, the value is unwrapped.
/// </summary>
internal static class ExpressionEmitter
{
    public static string TranscriptField(string messageTypeName) => "_" + char.ToLowerInvariant(messageTypeName[0]) + messageTypeName.Substring(1);

    /// <summary>C# for a value that must be present (the binder proved it is).</summary>
    public static string Value(BoundExpr expr)
    {
        var code = Emit(expr);
        if (!CSharpNullable(expr) || expr.Type.Nullable) return code;
        // The binder proved the value present on every path; C# cannot see through fields and awaits.
        return expr.Type.Type.IsValueType
            ? $"({code} ?? throw new global::System.InvalidOperationException(\"A value the spec proves present is absent.\"))"
            : $"({code})!";
    }

    /// <summary>C# for a value that may be absent (typed nullable when it is).</summary>
    public static string Emit(BoundExpr expr)
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
            case LocalExpr local:
                return local.FieldName;
            case ContextExpr context:
                return context.CSharp;
            case CallExpr call:
                return Call(call);
            case ServiceCallExpr service:
                return $"(await _services.{service.ServiceProperty}.{service.Method}({Arguments(service)}).ConfigureAwait(false))";
            case UnaryExpr unary:
                return $"!{Value(unary.Operand)}";
            case BinaryExpr binary:
                return Binary(binary);
            case ListExpr list:
                return list.Items.Count == 0
                    ? $"global::System.Array.Empty<{CSharpTypes.Of(new TypeRef(list.Type.Type.Element == TypeKind.Null ? TypeKind.String : list.Type.Type.Element))}>()"
                    : $"new {CSharpTypes.Of(new TypeRef(list.Items[0].Type.Type.Kind))}[] {{ {string.Join(", ", list.Items.Select(Value))} }}";
        }
        return "default";
    }

    /// <summary>A service call used as a statement.</summary>
    public static string Statement(BoundExpr expr)
        => expr is ServiceCallExpr service
            ? $"await _services.{service.ServiceProperty}.{service.Method}({Arguments(service)}).ConfigureAwait(false);"
            : $"_ = {Emit(expr)};";

    private static string Arguments(ServiceCallExpr service)
        => string.Join(", ", service.Arguments.Select(Value).Concat(new[] { "run.CancellationToken" }));

    /// <summary>Whether the C# expression has a nullable type, whatever the binder proved.</summary>
    public static bool CSharpNullable(BoundExpr expr) => expr switch
    {
        LiteralExpr literal => literal.Text == "null",
        InputExpr input => input.Type.Nullable,
        MessageFieldExpr field => field.FieldNullable || (!field.IsCurrent && field.MessageMayBeAbsent),
        LocalExpr => true, // lets are kept in nullable fields
        CallExpr call => call.Type.Nullable,
        ContextExpr context => context.Type.Nullable,
        ServiceCallExpr service => service.Type.Nullable,
        BinaryExpr { Operator: "??" } coalesce => CSharpNullable(coalesce.Left) && CSharpNullable(coalesce.Right),
        _ => false,
    };

    private static string Call(CallExpr call)
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
                return argument.Type.Type.Kind == TypeKind.List ? $"(long)({Value(argument)}).Count" : $"(long)({Value(argument)}).Length";
            }
            case "utf8" when call.Arguments[0] is LiteralExpr literal:
                // A constant label: encoded once, when the class is first used, would be nicer; this is still allocation-light.
                return $"global::Dsl.Runtime.Expressions.Builtins.Utf8({literal.Text})";
            case "text":
            {
                var argument = call.Arguments[0];
                var value = Value(argument);
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
        return $"global::Dsl.Runtime.Expressions.Builtins.{Binding.BindingContext.Pascal(call.Function)}({string.Join(", ", call.Arguments.Select(Value))})";
    }

    private static string Binary(BinaryExpr binary)
    {
        switch (binary.Operator)
        {
            case "??":
                // A left side that C# sees as never absent needs no fallback (and C# refuses '??' on it).
                return CSharpNullable(binary.Left) ? $"({Emit(binary.Left)} ?? {Emit(binary.Right)})" : Emit(binary.Left);
            case "==":
            case "!=":
                // Lifted comparison: either side may be absent (compared with null).
                return $"({Emit(binary.Left)} {binary.Operator} {Emit(binary.Right)})";
            case "-" when binary.Left.Type.Type.Kind == TypeKind.Timestamp:
                return $"(long)({Value(binary.Left)} - {Value(binary.Right)}).TotalSeconds";
            case "+" when binary.Left.Type.Type.Kind == TypeKind.String:
                return $"string.Concat({Value(binary.Left)}, {Value(binary.Right)})";
            default:
                return $"({Value(binary.Left)} {binary.Operator} {Value(binary.Right)})";
        }
    }
}
