using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;
using Dsl.Generator.Projection;

namespace Dsl.Generator.Emit;

/// <summary>
/// Where an expression is emitted in a machine: which received message is at hand, which lets are local
/// variables, and the names of the step's clock and cancellation token.
/// </summary>
internal sealed class EmitScope
{
    public static readonly EmitScope Empty = new();

    /// <summary>The message at hand as <see cref="MessageVariable"/> (a receive), or null.</summary>
    public string? Current { get; init; }

    public string MessageVariable { get; init; } = "msg";

    /// <summary>Lets computed in this part of the machine, by id, and their local variables.</summary>
    public IReadOnlyDictionary<int, string> LocalLets { get; init; } = new Dictionary<int, string>();

    public string Clock { get; init; } = "now";

    public string Token { get; init; } = "cancellationToken";

    public EmitScope WithLocals(IReadOnlyDictionary<int, string> locals) => new() { Current = Current, MessageVariable = MessageVariable, LocalLets = locals, Clock = Clock, Token = Token };
}

/// <summary>
/// Lowers bound expressions to C#: the only place, with the other emitters, that writes C#. Every C# expression
/// it writes has a known static type, nullable or not; where the binder proved a value present but C# sees a
/// nullable, the value goes through <c>Present</c>, which throws only on a generator bug.
/// </summary>
internal sealed class ExpressionEmitter
{
    private readonly BoundProtocol _protocol;
    private readonly RoleMachine? _machine;
    private readonly IReadOnlyDictionary<KeptValue, string> _kept;
    private Dictionary<int, LetSymbol>? _lets;

    public ExpressionEmitter(BoundProtocol protocol, RoleMachine? machine = null, IReadOnlyDictionary<KeptValue, string>? kept = null)
    {
        _protocol = protocol;
        _machine = machine;
        _kept = kept ?? new Dictionary<KeptValue, string>();
    }

    /// <summary>The flow's lets by id, made on first use (a field's default, a literal, never needs them).</summary>
    private Dictionary<int, LetSymbol> Lets => _lets ??= _protocol.Flow.Lets.ToDictionary(l => l.Id);

    /// <summary>C# for a value the binder proved present: its C# type is never nullable.</summary>
    public string Value(BoundExpression expression, EmitScope scope)
    {
        var code = Emit(expression, scope);
        if (!Nullable(expression, scope)) return code;
        return (CSharp.IsValueType(expression.Type.Type) ? CSharp.Present + ".Value(" : CSharp.Present + ".Reference(") + code + ")";
    }

    /// <summary>C# for a value that may be absent (a nullable C# type when it may).</summary>
    public string Maybe(BoundExpression expression, EmitScope scope) => Emit(expression, scope);

    /// <summary>C# for a field's value: what the property of that field takes.</summary>
    public string FieldValue(FieldSymbol field, BoundExpression value, EmitScope scope)
    {
        if (field.IsNullable) return Maybe(value, scope);
        if (field.Default is { } fallback && value.Type.MayBeAbsent && Nullable(value, scope))
            return $"({Maybe(value, scope)} ?? {Maybe(fallback, scope)})";
        return Value(value, scope);
    }

    /// <summary>Whether the C# expression for <paramref name="expression"/> has a nullable type, whatever the binder proved.</summary>
    public bool Nullable(BoundExpression expression, EmitScope scope) => expression switch
    {
        BoundLiteral literal => literal.Value is NullConstant,
        BoundInput input => _protocol.Role(input.Role).Inputs.First(i => i.Name == input.Input).IsNullable,
        BoundField { Source: MessageSource.Ping } ping => _protocol.Message(ping.Message).Field(ping.Field).IsNullable,
        BoundField field when IsAtHand(field.Message, field.Source, scope) => _protocol.Message(field.Message).Field(field.Field).IsNullable,
        BoundField => true,
        BoundEnvelopeField envelope when IsAtHand(envelope.Message, envelope.Source, scope)
            => envelope.Field is not null && _protocol.Envelope!.Fields.First(f => f.Name == envelope.Field).IsNullable,
        BoundEnvelopeField => true,
        BoundLet let => !scope.LocalLets.ContainsKey(let.LetId) || Lets[let.LetId].Type.MayBeAbsent,
        BoundContext => false,
        BoundCall call => call.Descriptor.MayBeAbsent,
        BoundServiceCall service => service.Descriptor.MayBeAbsent,
        BoundBinary { Operator: BinaryOperator.Coalesce } coalesce => CoalesceNullable(coalesce, scope),
        _ => false,
    };

    private bool CoalesceNullable(BoundBinary coalesce, EmitScope scope)
    {
        if (coalesce.Left is BoundLiteral { Value: NullConstant }) return Nullable(coalesce.Right, scope);
        return Nullable(coalesce.Left, scope) && Nullable(coalesce.Right, scope);
    }

    private static bool IsAtHand(string message, MessageSource source, EmitScope scope)
        => source == MessageSource.Current && scope.Current == message;

    private string Emit(BoundExpression expression, EmitScope scope)
    {
        switch (expression)
        {
            case BoundLiteral literal:
                return CSharp.Literal(literal.Value);
            case BoundInput input:
                return "_inputs." + Naming.Pascal(input.Input);
            case BoundField { Source: MessageSource.Ping } ping:
                return "ping." + Naming.Pascal(ping.Field);
            case BoundField field when IsAtHand(field.Message, field.Source, scope):
                return scope.MessageVariable + "." + Naming.Pascal(field.Field);
            case BoundField field:
                return Kept(KeptValue.OfField(_protocol, field.Message, field.Field));
            case BoundEnvelopeField envelope when IsAtHand(envelope.Message, envelope.Source, scope):
                return $"{CSharp.Present}.Reference({scope.MessageVariable}.Envelope).{(envelope.Field is null ? "Payload" : Naming.Pascal(envelope.Field))}";
            case BoundEnvelopeField envelope:
                return Kept(KeptValue.OfEnvelope(_protocol, envelope.Message, envelope.Field));
            case BoundLet let when scope.LocalLets.TryGetValue(let.LetId, out var local):
                return local;
            case BoundLet let:
                return Kept(KeptValue.OfLet(Lets[let.LetId]));
            case BoundContext context:
                return context.Value switch
                {
                    ContextValue.ErrorCode => "error.Code",
                    ContextValue.ErrorDetail => "error.Detail",
                    ContextValue.PeerAddress => "PeerAddress",
                    _ => "payload",
                };
            case BoundCall call:
            {
                var descriptor = call.Descriptor;
                var arguments = descriptor.Implicit.Select(i => Implicit(i, null, scope)).Concat(call.Arguments.Select(a => Value(a, scope)));
                return $"{CSharp.Builtins}.{descriptor.RuntimeMember}({string.Join(", ", arguments)})";
            }
            case BoundServiceCall service:
            {
                var symbol = _protocol.Services.First(s => s.Name == service.Service);
                var descriptor = service.Descriptor;
                var arguments = service.Arguments.Select(a => Value(a, scope))
                    .Concat(descriptor.Implicit.Select(i => Implicit(i, symbol, scope)))
                    .Append(scope.Token);
                return $"(await _services.{Naming.Pascal(symbol.Name)}.{descriptor.RuntimeMember}({string.Join(", ", arguments)}).ConfigureAwait(false))";
            }
            case BoundUnary unary:
                return $"(!{Value(unary.Operand, scope)})";
            case BoundBinary binary:
                return Binary(binary, scope);
            case BoundList list:
            {
                var element = list.Type.Type.Element == TypeKind.Null ? TypeRef.String : list.Type.Type.ElementType;
                return list.Items.Count == 0
                    ? $"global::System.Array.Empty<{CSharp.Type(element)}>()"
                    : $"new {CSharp.Type(element)}[] {{ {string.Join(", ", list.Items.Select(i => Value(i, scope)))} }}";
            }
        }
        throw new System.InvalidOperationException("Cannot emit " + expression.GetType().Name);
    }

    private static string Implicit(ImplicitArgument argument, ServiceSymbol? service, EmitScope scope)
        => argument.Setting is { } setting ? CSharp.Setting(service!.Settings.First(s => s.Name == setting).Value) : scope.Clock;

    private string Kept(KeptValue value)
        => _kept.TryGetValue(value, out var field) ? field
           : throw new System.InvalidOperationException($"The machine of '{_machine?.Role}' does not keep '{value.Name}'.");

    private string Binary(BoundBinary binary, EmitScope scope)
    {
        switch (binary.Operator)
        {
            case BinaryOperator.Coalesce:
                if (binary.Left is BoundLiteral { Value: NullConstant }) return Maybe(binary.Right, scope);
                // A left side that C# sees as never absent needs no fallback (and C# refuses '??' on a value type).
                return Nullable(binary.Left, scope) ? $"({Maybe(binary.Left, scope)} ?? {Maybe(binary.Right, scope)})" : Maybe(binary.Left, scope);
            case BinaryOperator.Equal:
            case BinaryOperator.NotEqual:
            {
                var op = binary.Operator == BinaryOperator.Equal ? "==" : "!=";
                // Comparing null with a value C# knows is never null is a constant (and a C# warning): write the constant.
                if (IsNull(binary.Left) && IsNull(binary.Right)) return binary.Operator == BinaryOperator.Equal ? "true" : "false";
                if ((IsNull(binary.Left) && !Nullable(binary.Right, scope)) || (IsNull(binary.Right) && !Nullable(binary.Left, scope)))
                    return $"({(binary.Operator == BinaryOperator.Equal ? "!" : "")}{CSharp.Operators}.IsPresent({Maybe(IsNull(binary.Left) ? binary.Right : binary.Left, scope)}))";
                // Lifted comparison: either side may be absent, and two absent values are equal.
                return $"({Maybe(binary.Left, scope)} {op} {Maybe(binary.Right, scope)})";
            }
            case BinaryOperator.Plus:
                return $"{CSharp.Operators}.Plus({Value(binary.Left, scope)}, {Value(binary.Right, scope)})";
            case BinaryOperator.Minus:
                return $"{CSharp.Operators}.Minus({Value(binary.Left, scope)}, {Value(binary.Right, scope)})";
            default:
                var symbol = binary.Operator switch
                {
                    BinaryOperator.Or => "||",
                    BinaryOperator.And => "&&",
                    BinaryOperator.Less => "<",
                    BinaryOperator.LessOrEqual => "<=",
                    BinaryOperator.Greater => ">",
                    _ => ">=",
                };
                return $"({Value(binary.Left, scope)} {symbol} {Value(binary.Right, scope)})";
        }
    }

    private static bool IsNull(BoundExpression expression) => expression is BoundLiteral { Value: NullConstant };
}
