using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax;

namespace Dsl.Generator.Binding;

/// <summary>
/// Binds expression syntax to typed <see cref="BoundExpression"/>s, reporting name, type and absence errors at the
/// sub-expression's line and column. Absence is path-sensitive: a value is present where it is on every path set
/// the scope can be reached with, which covers messages exchanged on some paths only, lets evaluated on some paths
/// only, and presence proven by a check or a guard on the way.
/// </summary>
internal sealed class ExpressionBinder
{
    private readonly BindingContext _context;
    private readonly FactTable _facts;

    public ExpressionBinder(BindingContext context, FactTable facts)
    {
        _context = context;
        _facts = facts;
    }

    /// <summary>A bound sub-expression, the paths it is present on, and why it may be absent.</summary>
    private readonly struct Bound(BoundExpression expr, ulong mask, string why)
    {
        public BoundExpression Expr { get; } = expr;
        public ulong Mask { get; } = mask;
        public string Why { get; } = why;
    }

    /// <summary>Thrown after a diagnostic, to abandon the expression.</summary>
    private sealed class BindFailed : System.Exception { }

    /// <summary>Binds an expression; null after reporting errors.</summary>
    /// <param name="expected">The type the place wants, or null for any value.</param>
    /// <param name="requirePresent">Whether a value that may be absent is an error here (DSL205).</param>
    public BoundExpression? BindExpression(ExpressionText text, Scope scope, TypeRef? expected, bool requirePresent, string what)
    {
        try
        {
            var bound = Bind(text, text.Syntax, scope);
            if (expected is not null)
            {
                bound = AsEnumValue(text, text.Syntax, bound, expected, what);
                RequireType(text, text.Syntax, bound, expected, what);
                bound = Coerce(bound, expected);
            }
            if (requirePresent) RequirePresent(text, text.Syntax, bound, scope);
            return bound.Expr;
        }
        catch (BindFailed)
        {
            return null;
        }
    }

    /// <summary>Binds a value under <c>set</c> (an expression, or a YAML list of values) for a field of type <paramref name="expected"/>.</summary>
    public BoundExpression? BindValue(ValueSyntax value, Scope scope, TypeRef expected, bool allowAbsent, string what)
    {
        switch (value)
        {
            case ExpressionValueSyntax expression:
                return BindExpression(expression.Expression, scope, expected, !allowAbsent, what);
            case ListValueSyntax list:
            {
                if (expected.Kind != TypeKind.List)
                {
                    _context.Report(DiagnosticTable.TypeMismatch, list.Span, what, expected.ToString(), "a list");
                    return null;
                }
                var items = new List<BoundExpression>();
                foreach (var item in list.Items)
                {
                    var bound = BindValue(item, scope, expected.ElementType, allowAbsent: false, what + " item");
                    if (bound is null) return null;
                    items.Add(bound);
                }
                return new BoundList(new ExprType(expected, false), items.ToEquatableArray());
            }
            case ObjectValueSyntax obj:
            {
                if (expected.Kind != TypeKind.Object || !_context.Types.TryGetValue(expected.Name!, out var type) || type is null)
                {
                    _context.Report(DiagnosticTable.TypeMismatch, obj.Span, what, expected.ToString(), "an object");
                    return null;
                }
                var fields = SpecBinder.BindAssignments(_context, this, type.Name, type.Fields, obj.Fields, scope, new string[0]);
                // A field that did not bind has been reported; the spec generates nothing then.
                return new BoundObject(new ExprType(expected, false), type.Name, fields.ToEquatableArray());
            }
            default:
                return null;
        }
    }

    /// <summary>Binds <c>condition else CODE</c>.</summary>
    public BoundCheck? BindCheck(CheckSyntax check, Scope scope)
    {
        var condition = BindExpression(check.Condition, scope, TypeRef.Bool, requirePresent: true, "a check");
        if (!_context.ErrorCodes.Contains(check.Code))
        {
            _context.Report(DiagnosticTable.UnknownErrorCode, check.CodeSpan, check.Code);
            return null;
        }
        return condition is null ? null : new BoundCheck(condition, check.Code, check.ConditionText, check.Span);
    }

    private Bound Bind(ExpressionText text, ExprSyntax syntax, Scope scope)
    {
        var full = scope.Paths.All;
        switch (syntax)
        {
            case LiteralSyntax literal:
                return literal.Kind switch
                {
                    LiteralKind.String => Present(new BoundLiteral(new ExprType(TypeRef.String, false), new StringConstant(literal.Text)), scope),
                    LiteralKind.Int => long.TryParse(literal.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                        ? Present(new BoundLiteral(new ExprType(TypeRef.Int, false), new IntegerConstant(number)), scope)
                        : Fail(DiagnosticTable.ExpressionSyntax, text, syntax, $"'{literal.Text}' does not fit in a 64-bit integer"),
                    LiteralKind.Bool => Present(new BoundLiteral(new ExprType(TypeRef.Bool, false), new BooleanConstant(literal.Text == "true")), scope),
                    LiteralKind.Duration => DurationLiteral(literal.Text) is { } ms
                        ? Present(new BoundLiteral(new ExprType(TypeRef.Duration, false), new DurationConstant(ms)), scope)
                        : Fail(DiagnosticTable.ExpressionSyntax, text, syntax, $"the duration '{literal.Text}' is too long"),
                    LiteralKind.Decimal => decimal.TryParse(literal.Text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var fraction)
                        ? Present(new BoundLiteral(new ExprType(TypeRef.Decimal, false), new DecimalConstant(fraction)), scope)
                        : Fail(DiagnosticTable.ExpressionSyntax, text, syntax, $"'{literal.Text}' does not fit in a decimal"),
                    _ => new Bound(new BoundLiteral(new ExprType(TypeRef.Null, true), NullConstant.Instance), 0, "it is null"),
                };

            case NameSyntax name:
                return BindName(text, name, scope);

            case MemberSyntax member:
                return BindMember(text, member, scope);

            case CallSyntax call:
                return BindCall(text, call, scope);

            case UnarySyntax unary:
            {
                var operand = Bind(text, unary.Operand, scope);
                RequireType(text, unary.Operand, operand, TypeRef.Bool, "the operand of '!'");
                RequirePresent(text, unary.Operand, operand, scope);
                return Present(new BoundUnary(new ExprType(TypeRef.Bool, false), UnaryOperator.Not, operand.Expr), scope);
            }

            case BinarySyntax binary:
                return BindBinary(text, binary, scope);

            case ConditionalSyntax conditional:
                return BindConditional(text, conditional, scope);

            case ListSyntax list:
            {
                var items = list.Items.Select(item => Bind(text, item, scope)).ToList();
                var element = items.Count == 0 ? TypeKind.Null : items[0].Expr.Type.Type.Kind;
                for (var i = 0; i < items.Count; i++)
                {
                    if (!ValueTypes.Of(element).Allows(TypePlaces.ListElement))
                        Fail(DiagnosticTable.TypeMismatch, text, list.Items[i], "a list item", ElementSpellings, items[i].Expr.Type.ToString());
                    RequireType(text, list.Items[i], items[i], new TypeRef(element), "a list item");
                    RequirePresent(text, list.Items[i], items[i], scope);
                }
                return Present(new BoundList(new ExprType(TypeRef.ListOf(element), false), items.Select(i => i.Expr).ToEquatableArray()), scope);
            }
        }
        throw new BindFailed();
    }

    /// <summary>A duration literal (<c>500ms</c>, <c>60s</c>, <c>5m</c>, <c>1h</c>) in milliseconds; null when it overflows.</summary>
    private static long? DurationLiteral(string text)
    {
        var unitStart = text.Length;
        while (unitStart > 0 && char.IsLetter(text[unitStart - 1])) unitStart--;
        var factor = text.Substring(unitStart) switch { "ms" => 1L, "s" => 1000L, "m" => 60_000L, _ => 3_600_000L };
        // Beyond ten thousand years is a typo, not a duration (and TimeSpan ends not far beyond).
        return long.TryParse(text.Substring(0, unitStart), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= 315_576_000_000_000L / factor
            ? value * factor : null;
    }

    /// <summary>
    /// <c>if c then a else b</c>: the condition is a present bool; each value is bound where the condition is known
    /// to hold (or not), with what that proves; the values have one type (or one is null, and the result may be absent).
    /// </summary>
    private Bound BindConditional(ExpressionText text, ConditionalSyntax conditional, Scope scope)
    {
        var condition = Bind(text, conditional.Condition, scope);
        RequireType(text, conditional.Condition, condition, TypeRef.Bool, "the condition of 'if'");
        RequirePresent(text, conditional.Condition, condition, scope);
        var thenScope = AfterCondition(scope, conditional.Condition, true);
        var elseScope = AfterCondition(scope, conditional.Condition, false);
        var then = Bind(text, conditional.Then, thenScope);
        var otherwise = Bind(text, conditional.Else, elseScope);
        var tt = then.Expr.Type.Type;
        var et = otherwise.Expr.Type.Type;
        // Absent either way: the conditional is null itself (and takes the type the place gives it).
        if (tt.Kind == TypeKind.Null && et.Kind == TypeKind.Null) return then;
        TypeRef type;
        if (tt.Kind == TypeKind.Null) type = et;
        else if (tt is { Kind: TypeKind.List, Element: TypeKind.Null } && et is { Kind: TypeKind.List, Element: not TypeKind.Null })
        {
            // [] on one side takes the list type of the other.
            type = et;
        }
        else
        {
            otherwise = AsEnumValue(text, conditional.Else, otherwise, tt, "the 'else' value of 'if'");
            RequireType(text, conditional.Else, otherwise, tt, "the 'else' value of 'if'");
            // Bytes of different known lengths are bytes of unknown length.
            type = tt.Kind == TypeKind.Bytes && tt != et && et.Kind != TypeKind.Null ? TypeRef.Bytes : tt;
        }
        then = Coerce(then, type);
        otherwise = Coerce(otherwise, type);
        var mask = then.Mask & otherwise.Mask;
        var why = then.Mask != scope.Paths.All ? then.Why : otherwise.Why;
        return new Bound(new BoundConditional(new ExprType(type, mask != scope.Paths.All), condition.Expr, then.Expr, otherwise.Expr), mask,
            why.Length > 0 ? why : "one of the values of 'if' may be absent");
    }

    private static string ElementSpellings => string.Join(", ", ValueTypes.All.Where(d => d.Allows(TypePlaces.ListElement)).Select(d => d.Name));

    private Bound BindName(ExpressionText text, NameSyntax name, Scope scope)
    {
        if (scope.Lets.TryGetValue(name.Name, out var let))
        {
            if (scope.Role is not null && let.Owner != scope.Role)
                return Fail(DiagnosticTable.NotVisibleToRole, text, name, name.Name, let.Owner, scope.Role);
            // A let whose own value did not bind has been reported already.
            if (let.Symbol is not { } symbol) throw new BindFailed();
            var evaluated = scope.Paths.Where(_facts.Let(let.Id));
            if (evaluated == 0)
                return Fail(DiagnosticTable.UnknownName, text, name, name.Name, scope.Where + $" (let '{name.Name}' is not evaluated on any path to here)");
            var why = evaluated != scope.Paths.All ? $"let '{name.Name}' is not evaluated on every path to here" : "";
            if (symbol.Type.MayBeAbsent && why.Length == 0) why = $"let '{name.Name}' holds a value that may be absent";
            // Present where it was evaluated to a value that cannot be absent, or where a check proved it present.
            var mask = (symbol.Type.MayBeAbsent ? 0 : evaluated) | Proven(scope, let.Owner, NarrowTarget.Let(name.Name));
            return new Bound(new BoundLet(new ExprType(symbol.Type.Type, mask != scope.Paths.All), let.Id, let.Name, let.Owner), mask, why);
        }
        if (scope.ErrorValues && name.Name is "detail" or "code")
            return Present(new BoundContext(new ExprType(TypeRef.String, false), name.Name == "code" ? ContextValue.ErrorCode : ContextValue.ErrorDetail), scope);
        if (scope.Sealing && name.Name == "payload")
            return Present(new BoundContext(new ExprType(TypeRef.Bytes, false), ContextValue.SealedPayload), scope);
        if (scope.Sealing && name.Name == Naming.UnsignedName && _context.Envelope is { SignsItself: true })
            return Present(new BoundContext(new ExprType(TypeRef.Bytes, false), ContextValue.SealedUnsigned), scope);
        if (scope.Signing is not null && name.Name == Naming.UnsignedName)
            return Present(new BoundContext(new ExprType(TypeRef.Bytes, false), ContextValue.MessageUnsigned), scope);
        if (name.Name == "msg" || name.Name == "self" || _context.Messages.ContainsKey(name.Name) || scope.Ping?.Name == name.Name)
            return Fail(DiagnosticTable.ExpressionSyntax, text, name, $"'{name.Name}' is not a value; name one of its fields, as in '{name.Name}.field'");
        if (_context.Services.ContainsKey(name.Name))
            return Fail(DiagnosticTable.ExpressionSyntax, text, name, $"'{name.Name}' is a service; call one of its methods, as in '{name.Name}.method(...)'");
        if (_context.Hooks.ContainsKey(name.Name))
            return Fail(DiagnosticTable.ExpressionSyntax, text, name, $"'{name.Name}' is a hook; call it, as in '{name.Name}(...)'");
        if (Builtins.Find(name.Name) is not null)
            return Fail(DiagnosticTable.ExpressionSyntax, text, name, $"'{name.Name}' is a function; call it, as in '{name.Name}()'");
        return Fail(DiagnosticTable.UnknownName, text, name, name.Name, scope.Where);
    }

    /// <summary>The paths on which <paramref name="role"/> has proven <paramref name="target"/> present (all of them where the expression itself did).</summary>
    private ulong Proven(Scope scope, string? role, NarrowTarget target)
        => scope.Narrowed.Contains(target) ? scope.Paths.All
           : role is not null && _facts.Find(role, target) is { } bit ? scope.Paths.Where(bit) : 0;

    private Bound BindMember(ExpressionText text, MemberSyntax member, Scope scope)
    {
        var memberName = member.MemberName;
        if (member.Target is NameSyntax target)
        {
            if (target.Name == "msg")
            {
                if (scope.AnyMessage)
                    return Fail(DiagnosticTable.UnknownName, text, target, "msg", scope.Where + " (it runs for every message: read the envelope's fields, 'envelope.FIELD')");
                if (scope.Current is null) return Fail(DiagnosticTable.NoCurrentMessage, text, target);
                // The message as received, canonical, without its signature fields: what its signature covers.
                if (member.Member == Naming.UnsignedName && scope.Current.SignsItself)
                    return Present(new BoundMessageUnsigned(new ExprType(TypeRef.Bytes, false), scope.Current.Name), scope);
                return Field(text, scope.Current, member, MessageSource.Current, scope.Paths.All, scope);
            }
            if (target.Name == "self")
            {
                if (scope.Role is null)
                    return Fail(DiagnosticTable.UnknownName, text, target, "self", scope.Where + " (which no single role evaluates)");
                var input = _context.Input(scope.Role, member.Member)
                    ?? Fail<FieldSymbol>(DiagnosticTable.UnknownMember, text, memberName, $"self ({scope.Role})", member.Member);
                var mask = input.IsNullable ? Proven(scope, scope.Role, NarrowTarget.Input(input.Name)) : scope.Paths.All;
                return new Bound(new BoundInput(new ExprType(input.Type, mask != scope.Paths.All), scope.Role, input.Name), mask, $"input '{input.Name}' is optional");
            }
            if (target.Name == "spec" && !_context.Messages.ContainsKey("spec"))
            {
                // The spec's own name and version: constants, which an extension's new version changes everywhere at once.
                var constant = member.Member switch { "version" => _context.Version, "protocol" => _context.Protocol, _ => null };
                if (constant is null) return Fail(DiagnosticTable.UnknownMember, text, memberName, "spec", member.Member);
                return Present(new BoundLiteral(new ExprType(TypeRef.String, false), new StringConstant(constant)), scope);
            }
            if (target.Name == "peer")
            {
                if (!scope.AllowPeer || scope.Role is null)
                    return Fail(DiagnosticTable.UnknownName, text, target, "peer", scope.Where + " (the peer is known only while a role runs)");
                if (member.Member != "address") return Fail(DiagnosticTable.UnknownMember, text, memberName, "peer", member.Member);
                return Present(new BoundContext(new ExprType(TypeRef.String, false), ContextValue.PeerAddress), scope);
            }
            if (target.Name == "envelope" && _context.Envelope is { } envelope)
            {
                if (scope.AnyMessage) return EnvelopeField(text, envelope, AnyMessage, member, MessageSource.Current, scope.Paths.All, scope);
                if (scope.Current is null) return Fail(DiagnosticTable.NoCurrentMessage, text, target);
                return EnvelopeField(text, envelope, scope.Current, member, MessageSource.Current, scope.Paths.All, scope);
            }
            if (scope.Ping is { } ping && target.Name == ping.Name)
                return Field(text, ping, member, MessageSource.Ping, scope.Paths.All, scope);
            if (_context.Messages.TryGetValue(target.Name, out var message))
            {
                if (!scope.AllowTranscript) return Fail(DiagnosticTable.UnknownName, text, target, target.Name, scope.Where);
                var present = scope.Paths.Where(_facts.Message(message.Name));
                if (present == 0) return Fail(DiagnosticTable.MessageNotAvailable, text, target, target.Name);
                var source = scope.Current?.Name == message.Name ? MessageSource.Current : MessageSource.Transcript;
                return Field(text, message, member, source, present, scope);
            }
            if (_context.Services.ContainsKey(target.Name))
                return Fail(DiagnosticTable.ExpressionSyntax, text, member, $"'{target.Name}.{member.Member}' is a service method; call it with (...)");
        }
        if (member.Target is MemberSyntax { Member: "envelope", Target: NameSyntax enveloped } && _context.Envelope is { } envelopeOf
            && _context.Messages.TryGetValue(enveloped.Name, out var envelopedMessage) && scope.AllowTranscript)
        {
            var present = scope.Paths.Where(_facts.Message(envelopedMessage.Name));
            if (present == 0) return Fail(DiagnosticTable.MessageNotAvailable, text, enveloped, enveloped.Name);
            var source = scope.Current?.Name == envelopedMessage.Name ? MessageSource.Current : MessageSource.Transcript;
            return EnvelopeField(text, envelopeOf, envelopedMessage, member, source, present, scope);
        }
        var inner = Bind(text, member.Target, scope);
        if (inner.Expr.Type.Type is { Kind: TypeKind.Object, Name: { } typeName } && _context.Types.TryGetValue(typeName, out var type) && type is not null)
        {
            var field = type.Fields.FirstOrDefault(f => f.Name == member.Member)
                ?? Fail<FieldSymbol>(DiagnosticTable.UnknownMember, text, memberName, typeName, member.Member);
            // Present where the object is and the field cannot be absent.
            var mask = field.IsNullable ? 0 : inner.Mask;
            var why = inner.Mask != scope.Paths.All ? inner.Why : $"field '{field.Name}' of '{typeName}' is optional";
            return new Bound(new BoundMember(new ExprType(field.Type, mask != scope.Paths.All), inner.Expr, typeName, field.Name), mask, why);
        }
        return Fail(DiagnosticTable.UnknownMember, text, memberName, inner.Expr.Type.ToString(), member.Member);
    }

    /// <summary>
    /// A string literal where an enum is expected stands for that value of the enum (<c>set: { sender_type: "metabolic" }</c>,
    /// <c>msg.role == "commander"</c>); a literal that is not one of its values is DSL204.
    /// </summary>
    private Bound AsEnumValue(ExpressionText text, ExprSyntax syntax, Bound bound, TypeRef expected, string what)
    {
        if (expected.Kind != TypeKind.Enum || bound.Expr.Type.Type.Kind != TypeKind.String) return bound;
        var values = _context.Types.TryGetValue(expected.Name!, out var type) && type is not null ? type.Values : EquatableArray<string>.Empty;
        BoundExpression? Convert(BoundExpression expression, ExprSyntax at) => expression switch
        {
            BoundLiteral { Value: StringConstant literal } when values.Contains(literal.Value) => new BoundLiteral(new ExprType(expected, false), literal),
            BoundLiteral { Value: StringConstant literal } => Fail<BoundExpression>(DiagnosticTable.TypeMismatch, text, at, what,
                $"a value of '{expected}' ({string.Join(", ", values)})", $"\"{literal.Value}\""),
            // if c then "a" else "b": each value of the conditional is a literal of the enum.
            BoundConditional conditional when at is ConditionalSyntax written
                && Convert(conditional.Then, written.Then) is { } then && Convert(conditional.Else, written.Else) is { } otherwise
                => conditional with { Type = new ExprType(expected, conditional.Type.MayBeAbsent), Then = then, Else = otherwise },
            _ => null,
        };
        return Convert(bound.Expr, syntax) is { } converted ? new Bound(converted, bound.Mask, bound.Why) : bound;
    }

    private Bound Field(ExpressionText text, MessageSymbol message, MemberSyntax member, MessageSource source, ulong present, Scope scope)
    {
        var field = message.Fields.FirstOrDefault(f => f.Name == member.Member)
            ?? Fail<FieldSymbol>(DiagnosticTable.UnknownMember, text, member.MemberName, message.Name, member.Member);
        var why = present != scope.Paths.All ? $"'{message.Name}' is not exchanged on every path to here" : "";
        if (field.IsNullable && why.Length == 0) why = $"field '{field.Name}' of '{message.Name}' is optional";
        // Present where the message was exchanged and the field cannot be absent, or where a check proved it present.
        var mask = (field.IsNullable ? 0 : present) | (source == MessageSource.Ping ? 0 : Proven(scope, scope.Role, NarrowTarget.Field(message.Name, field.Name)));
        return new Bound(new BoundField(new ExprType(field.Type, mask != scope.Paths.All), message.Name, field.Name, source), mask, why);
    }

    /// <summary>The envelope's members: its own fields, and <c>payload</c>, the canonical bytes of the message it wraps.</summary>
    /// <summary>The message an envelope check reads the envelope of: whichever arrived (see <see cref="Scope.AnyMessage"/>).</summary>
    internal static readonly MessageSymbol AnyMessage = new(AnyMessageName, null, EquatableArray<FieldSymbol>.Empty, null, null, -1, default);

    /// <summary>The name <see cref="AnyMessage"/> goes by in the bound tree.</summary>
    internal const string AnyMessageName = "*";

    private Bound EnvelopeField(ExpressionText text, EnvelopeSymbol envelope, MessageSymbol message, MemberSyntax member, MessageSource source, ulong present, Scope scope)
    {
        var why = present != scope.Paths.All ? $"'{message.Name}' is not exchanged on every path to here" : "";
        if (member.Member == "payload")
            return new Bound(new BoundEnvelopeField(new ExprType(TypeRef.Bytes, present != scope.Paths.All), message.Name, null, source), present, why);
        if (member.Member == Naming.UnsignedName && envelope.SignsItself)
            return new Bound(new BoundEnvelopeField(new ExprType(TypeRef.Bytes, present != scope.Paths.All), message.Name, Naming.UnsignedName, source), present, why);
        var field = envelope.Fields.FirstOrDefault(f => f.Name == member.Member)
            ?? Fail<FieldSymbol>(DiagnosticTable.UnknownMember, text, member.MemberName, "envelope (" + envelope.Name + ")", member.Member);
        var mask = field.IsNullable ? 0 : present;
        if (field.IsNullable && why.Length == 0) why = $"field '{field.Name}' of the envelope is optional";
        return new Bound(new BoundEnvelopeField(new ExprType(field.Type, mask != scope.Paths.All), message.Name, field.Name, source), mask, why);
    }

    private Bound BindCall(ExpressionText text, CallSyntax call, Scope scope)
    {
        if (call.Target is NameSyntax function)
            return BindFunction(text, call, function, scope);
        if (call.Target is MemberSyntax { Target: NameSyntax serviceName } method && _context.Services.TryGetValue(serviceName.Name, out var service))
        {
            if (scope.Role is null)
                return Fail(DiagnosticTable.UnknownName, text, serviceName, serviceName.Name, scope.Where + " (which no single role evaluates, so no service is at hand)");
            if (!service.Roles.Contains(scope.Role))
                return Fail(DiagnosticTable.NotVisibleToRole, text, serviceName, serviceName.Name, string.Join("' and '", service.Roles), scope.Role);
            var descriptor = service.Descriptor.Method(method.Member)
                ?? Fail<ServiceMethodDescriptor>(DiagnosticTable.UnknownMember, text, method.MemberName, $"{service.Name} ({service.Kind})", method.Member);
            var arguments = BindArguments(text, call, descriptor, $"{service.Name}.{descriptor.Name}", variadic: false, service.ValueType, scope);
            var result = descriptor.Result.Kind == TypeKind.Null ? service.ValueType! : descriptor.Result;
            var bound = new BoundServiceCall(new ExprType(result, descriptor.MayBeAbsent), service.Name, service.Kind, descriptor.Name, arguments);
            return new Bound(bound, descriptor.MayBeAbsent ? 0 : scope.Paths.All, $"'{service.Name}.{descriptor.Name}' gives nothing {descriptor.AbsentWhen}");
        }
        if (call.Target is MemberSyntax { Target: NameSyntax unknown } && !_context.Messages.ContainsKey(unknown.Name) && unknown.Name is not ("msg" or "self"))
            return Fail(DiagnosticTable.UnknownName, text, unknown, unknown.Name, scope.Where);
        return Fail(DiagnosticTable.BadCall, text, call, "only built-in functions and service methods can be called");
    }

    private Bound BindFunction(ExpressionText text, CallSyntax call, NameSyntax function, Scope scope)
    {
        if (_context.Hooks.TryGetValue(function.Name, out var hook))
            return BindHookCall(text, call, function, hook, scope);
        var descriptor = Builtins.Find(function.Name)
            ?? Fail<BuiltinDescriptor>(DiagnosticTable.BadCall, text, function, $"Unknown function '{function.Name}'; the built-in functions are {Builtins.Names}");
        // A key the machine makes must be one it can wipe: the whole value of a let, which it disposes.
        if (descriptor.Result.Kind == TypeKind.X25519Key && !(scope.LetValue && ReferenceEquals(text.Syntax, call)))
            Fail(DiagnosticTable.BadCall, text, function, $"'{descriptor.Name}()' makes a key that must be wiped after use: make it the whole value of a let ('eph: {descriptor.Name}()') and use the let");
        // The transcript and the step's cancellation belong to a role running a step (not an error's or the envelope's set).
        if (descriptor.Implicit.Contains(ImplicitArgument.Transcript) && (scope.Role is null || !scope.AllowTranscript || scope.Sealing))
            Fail(DiagnosticTable.BadCall, text, function, $"'{descriptor.Name}()' reads the messages a role has exchanged, which {scope.Where} cannot see");
        if (descriptor.Implicit.Contains(ImplicitArgument.Cancellation) && (scope.Role is null || scope.Sealing))
            Fail(DiagnosticTable.BadCall, text, function, $"'{descriptor.Name}()' runs under a step's timeout, which {scope.Where} does not have");
        if (descriptor.Implicit.Contains(ImplicitArgument.ClockSkew) && _context.ClockSkewMs is null)
            Fail(DiagnosticTable.BadCall, text, function, $"'{descriptor.Name}' compares with the spec's clock skew: give one under 'timeouts' (clock_skew: 300s)");
        var arguments = BindArguments(text, call, descriptor, descriptor.Name, descriptor.Variadic, null, scope);
        var result = new ExprType(ResultType(descriptor, call, arguments), descriptor.MayBeAbsent);
        return new Bound(new BoundCall(result, descriptor.Name, arguments),
            descriptor.MayBeAbsent ? 0 : scope.Paths.All, $"'{descriptor.Name}' gives nothing {descriptor.AbsentWhen}");
    }

    /// <summary>A hook call: only by a role that holds the hook, where services can be called; arguments as a built-in's.</summary>
    private Bound BindHookCall(ExpressionText text, CallSyntax call, NameSyntax function, HookSymbol hook, Scope scope)
    {
        if (scope.Role is null)
            return Fail(DiagnosticTable.UnknownName, text, function, hook.Name, scope.Where + " (hooks are called only by a role running a step)");
        if (!hook.Roles.Contains(scope.Role))
            return Fail(DiagnosticTable.NotVisibleToRole, text, function, hook.Name, string.Join("' and '", hook.Roles), scope.Role);
        var count = call.Arguments.Count;
        if (count != hook.Parameters.Count)
            Fail(DiagnosticTable.BadCall, text, call,
                $"hook '{hook.Name}' takes {hook.Parameters.Count.ToString(CultureInfo.InvariantCulture)} argument(s) ({string.Join(", ", hook.Parameters.Select(p => p.Name + ": " + p.Type + (p.Optional ? "?" : "")))}), not {count.ToString(CultureInfo.InvariantCulture)}");
        var arguments = new BoundExpression[count];
        for (var i = 0; i < count; i++)
        {
            var parameter = hook.Parameters[i];
            var argument = AsEnumValue(text, call.Arguments[i], Bind(text, call.Arguments[i], scope), parameter.Type, $"argument '{parameter.Name}' of hook '{hook.Name}'");
            RequireType(text, call.Arguments[i], argument, parameter.Type, $"argument '{parameter.Name}' of hook '{hook.Name}'");
            if (!parameter.Optional) RequirePresent(text, call.Arguments[i], argument, scope);
            arguments[i] = Coerce(argument, parameter.Type).Expr;
        }
        var bound = new BoundHookCall(new ExprType(hook.Output, hook.OutputMayBeAbsent), hook.Name, new EquatableArray<BoundExpression>(arguments));
        return new Bound(bound, hook.OutputMayBeAbsent ? 0 : scope.Paths.All, $"hook '{hook.Name}' may answer nothing");
    }

    /// <summary>
    /// Binds a call's arguments against its descriptor's parameters, built-in or service method alike: as many as
    /// it takes, each present and of its parameter's type. A string literal where bytes are expected is its UTF-8
    /// encoding: <c>hkdf_sha256(seed, salt, "label", 32)</c>.
    /// </summary>
    /// <param name="valueType">What a parameter of type <see cref="TypeKind.Null"/> stands for: the service's value type.</param>
    private EquatableArray<BoundExpression> BindArguments(ExpressionText text, CallSyntax call, CallDescriptor descriptor, string callee, bool variadic, TypeRef? valueType, Scope scope)
    {
        ParameterType TypeOf(Parameter parameter) => parameter.Type.Exact is { Kind: TypeKind.Null } ? ParameterType.Of(valueType!) : parameter.Type;
        var count = call.Arguments.Count;
        if (variadic ? count < 1 : count != descriptor.Parameters.Count)
            Fail(DiagnosticTable.BadCall, text, call,
                $"'{callee}' takes {(variadic ? "one or more" : descriptor.Parameters.Count.ToString(CultureInfo.InvariantCulture))} argument(s) ({string.Join(", ", descriptor.Parameters.Select(p => p.Name + ": " + TypeOf(p)))}), not {count}");
        var arguments = new BoundExpression[count];
        for (var i = 0; i < count; i++)
        {
            var parameter = descriptor.Parameters[variadic ? 0 : i];
            var type = TypeOf(parameter);
            var syntax = call.Arguments[i];
            var argument = type.Exact is { Kind: TypeKind.Bytes } && syntax is LiteralSyntax { Kind: LiteralKind.String } literal
                ? Present(new BoundCall(new ExprType(TypeRef.BytesOf(System.Text.Encoding.UTF8.GetByteCount(literal.Text)), false), "utf8",
                    new EquatableArray<BoundExpression>(new BoundExpression[] { new BoundLiteral(new ExprType(TypeRef.String, false), new StringConstant(literal.Text)) })), scope)
                : Bind(text, syntax, scope);
            if (!type.Accepts(argument.Expr.Type.Type))
                Fail(DiagnosticTable.TypeMismatch, text, syntax, $"argument '{parameter.Name}' of {callee}", type.ToString(), argument.Expr.Type.Type.ToString());
            RequirePresent(text, syntax, argument, scope);
            arguments[i] = argument.Expr;
        }
        return new EquatableArray<BoundExpression>(arguments);
    }

    /// <summary>Where it can be known, the length of a bytes result: random(32) is bytes&lt;32&gt;.</summary>
    private static TypeRef ResultType(BuiltinDescriptor descriptor, CallSyntax call, EquatableArray<BoundExpression> arguments)
    {
        switch (descriptor.LengthRule)
        {
            case ResultLengthRule.LiteralArgument:
                return TypeRef.BytesOf(call.Arguments[descriptor.LengthArgument] is LiteralSyntax { Kind: LiteralKind.Int } n
                    && int.TryParse(n.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= 65536 ? value : 0);
            case ResultLengthRule.ArgumentLength:
                var length = arguments[descriptor.LengthArgument].Type.Type.Length;
                return TypeRef.BytesOf(length > 0 && length + descriptor.LengthDelta > 0 ? length + descriptor.LengthDelta : 0);
            case ResultLengthRule.SumOfArguments:
                return TypeRef.BytesOf(arguments.All(a => a.Type.Type.Length > 0) ? arguments.Sum(a => a.Type.Type.Length) : 0);
            case ResultLengthRule.ArgumentType:
                return arguments[descriptor.LengthArgument].Type.Type;
            default:
                return descriptor.Result;
        }
    }

    private static readonly Dictionary<string, BinaryOperator> s_operators = new()
    {
        ["||"] = BinaryOperator.Or, ["&&"] = BinaryOperator.And, ["=="] = BinaryOperator.Equal, ["!="] = BinaryOperator.NotEqual,
        ["<"] = BinaryOperator.Less, ["<="] = BinaryOperator.LessOrEqual, [">"] = BinaryOperator.Greater, [">="] = BinaryOperator.GreaterOrEqual,
        ["??"] = BinaryOperator.Coalesce, ["+"] = BinaryOperator.Plus, ["-"] = BinaryOperator.Minus,
    };

    private Bound BindBinary(ExpressionText text, BinarySyntax binary, Scope scope)
    {
        var left = Bind(text, binary.Left, scope);
        var op = s_operators[binary.Operator];
        // The right of 'a && b' runs only where a held, of 'a || b' only where it did not: what that proves holds there.
        var rightScope = op is BinaryOperator.And or BinaryOperator.Or ? AfterCondition(scope, binary.Left, op == BinaryOperator.And) : scope;
        var right = Bind(text, binary.Right, rightScope);
        var lt = left.Expr.Type.Type;
        var rt = right.Expr.Type.Type;
        BoundExpression Make(TypeRef type, bool mayBeAbsent = false) => new BoundBinary(new ExprType(type, mayBeAbsent), op, left.Expr, right.Expr);
        switch (op)
        {
            case BinaryOperator.And:
            case BinaryOperator.Or:
                RequireType(text, binary.Left, left, TypeRef.Bool, $"the left of '{binary.Operator}'");
                RequireType(text, binary.Right, right, TypeRef.Bool, $"the right of '{binary.Operator}'");
                RequirePresent(text, binary.Left, left, scope);
                RequirePresent(text, binary.Right, right, rightScope);
                return Present(Make(TypeRef.Bool), scope);
            case BinaryOperator.Equal:
            case BinaryOperator.NotEqual:
                if (lt.Kind == TypeKind.Enum) right = AsEnumValue(text, binary.Right, right, lt, $"the right of '{binary.Operator}'");
                if (rt.Kind == TypeKind.Enum) left = AsEnumValue(text, binary.Left, left, rt, $"the left of '{binary.Operator}'");
                lt = left.Expr.Type.Type;
                rt = right.Expr.Type.Type;
                if (lt.Kind != TypeKind.Null && rt.Kind != TypeKind.Null && (lt.Kind != rt.Kind || lt.Name != rt.Name))
                    Fail(DiagnosticTable.TypeMismatch, text, binary.Right, $"the right of '{binary.Operator}'", lt.ToString(), rt.ToString());
                // A presence test (x != null) takes any type; comparing two values needs an equatable one.
                foreach (var (side, type) in new[] { (binary.Left, lt), (binary.Right, rt) })
                    if (type.Kind != TypeKind.Null && lt.Kind != TypeKind.Null && rt.Kind != TypeKind.Null && !type.Descriptor.Equatable)
                        Fail(DiagnosticTable.TypeMismatch, text, binary, $"'{binary.Operator}'",
                            string.Join(", ", ValueTypes.All.Where(d => d.Equatable).Select(d => d.Name)) + " operands", type.ToString());
                return Present(Make(TypeRef.Bool), scope);
            case BinaryOperator.Less:
            case BinaryOperator.LessOrEqual:
            case BinaryOperator.Greater:
            case BinaryOperator.GreaterOrEqual:
                if (!lt.Descriptor.Ordered)
                    Fail(DiagnosticTable.TypeMismatch, text, binary.Left, $"the left of '{binary.Operator}'", Spell(d => d.Ordered), lt.ToString());
                RequireType(text, binary.Right, right, lt, $"the right of '{binary.Operator}'");
                RequirePresent(text, binary.Left, left, scope);
                RequirePresent(text, binary.Right, right, scope);
                return Present(Make(TypeRef.Bool), scope);
            case BinaryOperator.Coalesce:
            {
                if (lt.Kind != TypeKind.Null) RequireType(text, binary.Right, right, lt, "the fallback of '??'");
                // An empty list takes the type of the other side: self.ids ?? [] is a list<uuid>.
                left = Coerce(left, rt);
                right = Coerce(right, lt);
                var type = lt.Kind == TypeKind.Null || lt is { Kind: TypeKind.List, Element: TypeKind.Null } ? right.Expr.Type.Type : left.Expr.Type.Type;
                var mask = left.Mask | right.Mask;
                return new Bound(new BoundBinary(new ExprType(type, mask != scope.Paths.All), op, left.Expr, right.Expr), mask, right.Why);
            }
            case BinaryOperator.Plus:
                // A value moved by an offset: timestamp + duration is a timestamp.
                if (lt.Descriptor.OffsetBy is { } offset && rt.Kind == offset)
                {
                    RequirePresent(text, binary.Left, left, scope);
                    RequirePresent(text, binary.Right, right, scope);
                    return Present(Make(lt), scope);
                }
                if (!lt.Descriptor.Addable)
                    Fail(DiagnosticTable.TypeMismatch, text, binary.Left, "the left of '+'", Spell(d => d.Addable) + " (or a timestamp plus a duration)", lt.ToString());
                RequireType(text, binary.Right, right, lt, "the right of '+'");
                RequirePresent(text, binary.Left, left, scope);
                RequirePresent(text, binary.Right, right, scope);
                return Present(Make(lt), scope);
            default:
                if (lt.Descriptor.OffsetBy is { } back && rt.Kind == back)
                {
                    RequirePresent(text, binary.Left, left, scope);
                    RequirePresent(text, binary.Right, right, scope);
                    return Present(Make(lt), scope);
                }
                if (lt.Descriptor.Difference is not { } difference)
                    return Fail(DiagnosticTable.TypeMismatch, text, binary.Left, "the left of '-'", Spell(d => d.Difference is not null), lt.ToString());
                RequireType(text, binary.Right, right, lt, "the right of '-'");
                RequirePresent(text, binary.Left, left, scope);
                RequirePresent(text, binary.Right, right, scope);
                return Present(Make(new TypeRef(difference)), scope);
        }
    }

    /// <summary>The scope where <paramref name="condition"/> is known to have held (or not): with the presence it proves.</summary>
    private Scope AfterCondition(Scope scope, ExprSyntax condition, bool holds)
    {
        var proven = FactTable.ProvenPresent(condition, holds, scope.Current?.Name, _context.Messages.ContainsKey).ToList();
        return proven.Count == 0 ? scope : scope with { Narrowed = scope.Narrowed.Concat(proven).ToList() };
    }

    /// <summary>Gives <c>[]</c> (a list of no known item type) the list type the place expects, inside a conditional too.</summary>
    private static Bound Coerce(Bound bound, TypeRef expected) => new(Coerce(bound.Expr, expected), bound.Mask, bound.Why);

    private static BoundExpression Coerce(BoundExpression expression, TypeRef expected)
    {
        if (expected is not { Kind: TypeKind.List, Element: not TypeKind.Null } || expression.Type.Type is not { Kind: TypeKind.List, Element: TypeKind.Null })
            return expression;
        return expression switch
        {
            BoundList list => list with { Type = new ExprType(expected, list.Type.MayBeAbsent) },
            BoundConditional conditional => conditional with
            {
                Type = new ExprType(expected, conditional.Type.MayBeAbsent),
                Then = Coerce(conditional.Then, expected),
                Else = Coerce(conditional.Else, expected),
            },
            _ => expression,
        };
    }

    private static string Spell(System.Func<ValueTypeDescriptor, bool> has)
        => string.Join(" or ", ValueTypes.All.Where(has).Select(d => d.Name));

    private static Bound Present(BoundExpression expression, Scope scope) => new(expression, scope.Paths.All, "");

    private void RequireType(ExpressionText text, ExprSyntax syntax, Bound bound, TypeRef expected, string what)
    {
        if (!Types.Assignable(bound.Expr.Type.Type, expected))
            Fail(DiagnosticTable.TypeMismatch, text, syntax, what, expected.ToString(), bound.Expr.Type.Type.ToString());
    }

    private void RequirePresent(ExpressionText text, ExprSyntax syntax, Bound bound, Scope scope)
    {
        if (bound.Mask == scope.Paths.All) return;
        var why = bound.Why.Length > 0 ? bound.Why : "it may be absent";
        _context.Report(DiagnosticTable.MaybeNull, text.At(syntax), text.Excerpt(syntax), why, Advice(text, syntax, scope));
        throw new BindFailed();
    }

    /// <summary>DSL205's advice: where a check can prove the value present, say so; else a fallback.</summary>
    private string Advice(ExpressionText text, ExprSyntax syntax, Scope scope)
    {
        const string fallback = "give a fallback with '??'";
        var excerpt = text.Excerpt(syntax);
        var nameable = FactTable.TargetOf(syntax, scope.Current?.Name, _context.Messages.ContainsKey) is not null;
        return scope.Advice switch
        {
            AbsenceAdvice.Ensure when nameable => $"check it first in the step's 'ensure' ('{excerpt} != null else CODE'), or {fallback}",
            AbsenceAdvice.Ensure => $"keep it in a 'let' and check that with 'ensure' ('name != null else CODE'), or {fallback}",
            AbsenceAdvice.Require when nameable => $"check it first with an earlier '{excerpt} != null else CODE' in this 'require', or {fallback}",
            AbsenceAdvice.When when nameable => $"test it in a branch's 'when' ('{excerpt} != null'), or {fallback}",
            _ => fallback,
        };
    }

    private Bound Fail(DiagnosticKind kind, ExpressionText text, ExprSyntax syntax, params string[] arguments)
    {
        _context.Report(kind, text.At(syntax), arguments);
        throw new BindFailed();
    }

    private T Fail<T>(DiagnosticKind kind, ExpressionText text, ExprSyntax syntax, params string[] arguments)
    {
        _context.Report(kind, text.At(syntax), arguments);
        throw new BindFailed();
    }
}
