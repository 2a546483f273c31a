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
    public string Value(BoundExpression expression, EmitScope scope) => Present(expression, Lower(expression, scope));

    /// <summary>C# for a value that may be absent (a nullable C# type when it may).</summary>
    public string Maybe(BoundExpression expression, EmitScope scope) => Lower(expression, scope).Code;

    /// <summary>C# for a field's value: what the property of that field takes.</summary>
    public string FieldValue(FieldSymbol field, BoundExpression value, EmitScope scope)
    {
        if (field.IsNullable) return Maybe(value, scope);
        var lowered = Lower(value, scope);
        if (field.Default is { } fallback && value.Type.MayBeAbsent && lowered.Nullable)
            return $"({lowered.Code} ?? {Maybe(fallback, scope)})";
        return Present(value, lowered);
    }

    /// <summary>C# for an expression, and whether C# sees its type as nullable, whatever the binder proved.</summary>
    private readonly struct Lowered(string code, bool nullable)
    {
        public string Code { get; } = code;
        public bool Nullable { get; } = nullable;
    }

    /// <summary>Where the binder proved a value present but C# sees a nullable, the value goes through <c>Present</c>.</summary>
    private static string Present(BoundExpression expression, Lowered lowered)
        => !lowered.Nullable ? lowered.Code
           : (CSharp.IsValueType(expression.Type.Type) ? CSharp.Present + ".Value(" : CSharp.Present + ".Reference(") + lowered.Code + ")";

    /// <summary>A field of the message in <paramref name="variable"/>.</summary>
    public static string FieldMember(string variable, string field) => variable + "." + Naming.Pascal(field);

    /// <summary>A field of the envelope of the message in <paramref name="variable"/>, or (<paramref name="field"/> null) its payload.</summary>
    public static string EnvelopeMember(string variable, string? field)
        => $"{CSharp.Present}.Reference({variable}.Envelope).{(field is null ? Naming.EnvelopePayload : field == Naming.UnsignedName ? Naming.EnvelopeUnsigned : Naming.Pascal(field))}";

    private static bool IsAtHand(string message, MessageSource source, EmitScope scope)
        => source == MessageSource.Current && scope.Current == message;

    private Lowered Lower(BoundExpression expression, EmitScope scope)
    {
        switch (expression)
        {
            case BoundLiteral literal:
                return new(Constant(literal.Type.Type, literal.Value), literal.Value is NullConstant);
            case BoundInput input:
                return new("_inputs." + Naming.Pascal(input.Input), _protocol.Role(input.Role).Inputs.First(i => i.Name == input.Input).IsNullable);
            case BoundField { Source: MessageSource.Ping } ping:
                return new("ping." + Naming.Pascal(ping.Field), _protocol.Message(ping.Message).Field(ping.Field).IsNullable);
            case BoundField field when IsAtHand(field.Message, field.Source, scope):
                return new(FieldMember(scope.MessageVariable, field.Field), _protocol.Message(field.Message).Field(field.Field).IsNullable);
            case BoundField field:
                return new(Kept(KeptValue.OfField(_protocol, field.Message, field.Field)), true);
            case BoundEnvelopeField envelope when IsAtHand(envelope.Message, envelope.Source, scope):
                return new(EnvelopeMember(scope.MessageVariable, envelope.Field),
                    _protocol.Envelope!.Fields.FirstOrDefault(f => f.Name == envelope.Field) is { IsNullable: true });
            case BoundEnvelopeField envelope:
                return new(Kept(KeptValue.OfEnvelope(_protocol, envelope.Message, envelope.Field)), true);
            case BoundMessageUnsigned unsigned when IsAtHand(unsigned.Message, MessageSource.Current, scope):
                return new(scope.MessageVariable + "." + Naming.EnvelopeUnsigned, false);
            case BoundMessageUnsigned unsigned:
                throw new System.InvalidOperationException($"'{unsigned.Message}.unsigned' is read where the message is not at hand.");
            case BoundLet let when scope.LocalLets.TryGetValue(let.LetId, out var local):
                return new(local, Lets[let.LetId].Type.MayBeAbsent);
            case BoundLet let:
                return new(Kept(KeptValue.OfLet(Lets[let.LetId])), true);
            case BoundContext context:
                return new(context.Value switch
                {
                    ContextValue.ErrorCode => "error.Code",
                    ContextValue.ErrorDetail => "error.Detail",
                    ContextValue.PeerAddress => "PeerAddress",
                    ContextValue.SealedUnsigned or ContextValue.MessageUnsigned => "unsigned",
                    _ => "payload",
                }, false);
            case BoundCall call:
            {
                var descriptor = call.Descriptor;
                // Implicit arguments come first, but the cancellation token, which comes last, as .NET puts it.
                var arguments = descriptor.Implicit.Where(i => i.Kind != ImplicitKind.Cancellation).Select(i => Implicit(i, null, scope))
                    .Concat(call.Arguments.Select(a => Value(a, scope)))
                    .Concat(descriptor.Implicit.Where(i => i.Kind == ImplicitKind.Cancellation).Select(i => Implicit(i, null, scope)));
                var owner = descriptor.OnCodec ? Naming.Codec(Naming.Pascal(_protocol.Name)) : CSharp.Builtins;
                return new($"{owner}.{descriptor.RuntimeMember}({string.Join(", ", arguments)})", descriptor.MayBeAbsent);
            }
            case BoundServiceCall service:
            {
                var symbol = _protocol.Services.First(s => s.Name == service.Service);
                var descriptor = service.Descriptor;
                var arguments = service.Arguments.Select(a => Value(a, scope))
                    .Concat(descriptor.Implicit.Select(i => Implicit(i, symbol, scope)))
                    .Append(scope.Token);
                return new($"(await _services.{Naming.Pascal(symbol.Name)}.{descriptor.RuntimeMember}({string.Join(", ", arguments)}).ConfigureAwait(false))", descriptor.MayBeAbsent);
            }
            case BoundHookCall hook:
            {
                var symbol = _protocol.Hooks.First(h => h.Name == hook.Hook);
                var arguments = hook.Arguments.Select((a, i) => symbol.Parameters[i].Optional ? Maybe(a, scope) : Value(a, scope)).Append(scope.Token);
                return new($"(await Hook{Naming.Pascal(symbol.Name)}Async({string.Join(", ", arguments)}).ConfigureAwait(false))", symbol.OutputMayBeAbsent);
            }
            case BoundUnary unary:
                return new($"(!{Value(unary.Operand, scope)})", false);
            case BoundMember member:
            {
                var field = _protocol.Type(member.ObjectType).Fields.First(f => f.Name == member.Field);
                var target = Lower(member.Target, scope);
                // An object that may be absent here gives an absent field; one the binder proved present is read through.
                if (target.Nullable && member.Target.Type.MayBeAbsent) return new($"{target.Code}?.{Naming.Pascal(field.Name)}", true);
                return new($"{Present(member.Target, target)}.{Naming.Pascal(field.Name)}", field.IsNullable);
            }
            case BoundObject obj:
            {
                var type = _protocol.Type(obj.ObjectType);
                var values = obj.Fields.Select(a => $"{Naming.Pascal(a.Field)} = {FieldValue(type.Fields.First(f => f.Name == a.Field), a.Value, scope)}");
                return new($"new {CSharp.Type(obj.Type.Type)} {{ {string.Join(", ", values)} }}", false);
            }
            case BoundConditional conditional:
            {
                var then = Lower(conditional.Then, scope);
                var otherwise = Lower(conditional.Else, scope);
                var condition = Value(conditional.Condition, scope);
                if (!then.Nullable && !otherwise.Nullable) return new($"({condition} ? {then.Code} : {otherwise.Code})", false);
                // One side may be absent: both sides as the nullable type, so that C# sees one type.
                var type = CSharp.Type(conditional.Type.Type, true);
                return new($"({condition} ? ({type}){then.Code} : ({type}){otherwise.Code})", true);
            }
            case BoundBinary binary:
                return Binary(binary, scope);
            case BoundList list:
            {
                var element = list.Type.Type.Element == TypeKind.Null ? TypeRef.String : list.Type.Type.ElementType;
                return new(list.Items.Count == 0
                    ? $"global::System.Array.Empty<{CSharp.Type(element)}>()"
                    : $"new {CSharp.Type(element)}[] {{ {string.Join(", ", list.Items.Select(i => Value(i, scope)))} }}", false);
            }
        }
        throw new System.InvalidOperationException("Cannot emit " + expression.GetType().Name);
    }

    /// <summary>C# for a constant of <paramref name="type"/>: an enum's value is its member (<c>Role.Commander</c>).</summary>
    public string Constant(TypeRef type, ConstantValue value)
        => type.Kind == TypeKind.Enum && value is StringConstant text ? $"{CSharp.Type(type)}.{Naming.EnumMember(text.Value)}" : CSharp.Literal(value);

    private string Implicit(ImplicitArgument argument, ServiceSymbol? service, EmitScope scope) => argument.Kind switch
    {
        ImplicitKind.ServiceSetting => CSharp.Setting(service!.Settings.First(s => s.Name == argument.Setting).Value),
        ImplicitKind.ClockSkew => CSharp.Setting(new DurationConstant(_protocol.ClockSkewMs
            ?? throw new System.InvalidOperationException("fresh() in a spec without timeouts.clock_skew; the binder reports it"))),
        ImplicitKind.Cancellation => scope.Token,
        ImplicitKind.Transcript => $"{CSharp.Present}.Value({Kept(KeptValue.Transcript)})",
        ImplicitKind.Random => "_options.Random",
        _ => scope.Clock,
    };

    private string Kept(KeptValue value)
        => _kept.TryGetValue(value, out var field) ? KeptStorage.Load(value.Type, field)
           : throw new System.InvalidOperationException($"The machine of '{_machine?.Role}' does not keep '{value.Name}'.");

    private Lowered Binary(BoundBinary binary, EmitScope scope)
    {
        switch (binary.Operator)
        {
            case BinaryOperator.Coalesce:
            {
                if (IsNull(binary.Left)) return Lower(binary.Right, scope);
                // A left side that C# sees as never absent needs no fallback (and C# refuses '??' on a value type).
                var left = Lower(binary.Left, scope);
                if (!left.Nullable) return left;
                var right = Lower(binary.Right, scope);
                return new($"({left.Code} ?? {right.Code})", right.Nullable);
            }
            case BinaryOperator.Equal:
            case BinaryOperator.NotEqual:
            {
                var equal = binary.Operator == BinaryOperator.Equal;
                // Comparing null with a value C# knows is never null is a constant (and a C# warning): write the constant.
                if (IsNull(binary.Left) && IsNull(binary.Right)) return new(equal ? "true" : "false", false);
                var left = Lower(binary.Left, scope);
                var right = Lower(binary.Right, scope);
                if ((IsNull(binary.Left) && !right.Nullable) || (IsNull(binary.Right) && !left.Nullable))
                    return new($"({(equal ? "!" : "")}{CSharp.Operators}.IsPresent({(IsNull(binary.Left) ? right : left).Code}))", false);
                // Lifted comparison: either side may be absent, and two absent values are equal.
                return new($"({left.Code} {(equal ? "==" : "!=")} {right.Code})", false);
            }
            case BinaryOperator.Plus:
                return new($"{CSharp.Operators}.Plus({Value(binary.Left, scope)}, {Value(binary.Right, scope)})", false);
            case BinaryOperator.Minus:
                return new($"{CSharp.Operators}.Minus({Value(binary.Left, scope)}, {Value(binary.Right, scope)})", false);
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
                return new($"({Value(binary.Left, scope)} {symbol} {Value(binary.Right, scope)})", false);
        }
    }

    private static bool IsNull(BoundExpression expression) => expression is BoundLiteral { Value: NullConstant };
}
