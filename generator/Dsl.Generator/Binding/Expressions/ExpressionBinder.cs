using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax;

namespace Dsl.Generator.Binding.Expressions;

/// <summary>A let binding visible to expressions, owned by the role that evaluates it.</summary>
internal sealed record LocalInfo(string Name, string Owner, string FieldName, ExprType Type, int Bit);

/// <summary>What an expression may refer to at the place it is written.</summary>
internal sealed class Scope
{
    /// <summary>The role that evaluates the expression, or null for role-neutral places (errors).</summary>
    public string? Role { get; init; }

    /// <summary>Where the expression is, for messages ("the 'set' of handshake_init").</summary>
    public string Where { get; init; } = "";

    /// <summary>The message <c>msg</c> refers to.</summary>
    public MessageModel? Current { get; init; }

    /// <summary>The sets of messages (bit = message index) that may have been exchanged when this runs.</summary>
    public IReadOnlyList<ulong> SeenSets { get; init; } = new ulong[] { 0 };

    public IReadOnlyDictionary<string, LocalInfo> Locals { get; init; } = new Dictionary<string, LocalInfo>();

    public IReadOnlyCollection<string> Narrowed { get; init; } = new string[0];

    /// <summary>Bare names given by the context (<c>detail</c>, <c>code</c>), with their C# and type.</summary>
    public IReadOnlyDictionary<string, (string CSharp, ExprType Type)> ContextValues { get; init; } = new Dictionary<string, (string, ExprType)>();

    /// <summary>A message value given by the context (<c>ping</c> in a pong), with the C# that reaches it.</summary>
    public IReadOnlyDictionary<string, (MessageModel Message, string CSharp)> ContextMessages { get; init; } = new Dictionary<string, (MessageModel, string)>();

    public bool AllowTranscript { get; init; } = true;

    /// <summary>Whether <c>peer.address</c> may be used (not where no run is at hand, as in an error message's values).</summary>
    public bool AllowPeer { get; init; } = true;
}

/// <summary>
/// Binds expression syntax to typed <see cref="BoundExpr"/>s, reporting name, type and nullability errors
/// at the sub-expression's line and column. Nullability is path-sensitive: a field of a message is present
/// exactly on the paths where that message was exchanged, and <c>a ?? b</c> is present where either is.
/// </summary>
internal sealed class ExpressionBinder
{
    private readonly BindingContext _context;

    public ExpressionBinder(BindingContext context) => _context = context;

    private readonly struct Bound(BoundExpr expr, ulong mask)
    {
        public BoundExpr Expr { get; } = expr;
        /// <summary>Bit i set: the value is present on seen-set i.</summary>
        public ulong Mask { get; } = mask;
    }

    private sealed class BindFailed : System.Exception { }

    /// <summary>Parses and binds an expression written in <paramref name="scalar"/>; null after reporting errors.</summary>
    public BoundExpr? BindExpression(YamlScalar scalar, Scope scope, TypeRef? expected, bool requireValue, string what)
    {
        ExprSyntax syntax;
        try
        {
            syntax = ExpressionParser.ParseExpression(scalar.Value);
        }
        catch (ExprSyntaxException ex)
        {
            _context.Report(DiagnosticTable.ExpressionSyntax, At(scalar, ex.Offset, ex.ErrorLength), ex.Message);
            return null;
        }
        return BindTop(scalar, syntax, scope, expected, requireValue, what);
    }

    /// <summary>Binds a YAML value (a quoted scalar is a string literal, a sequence a list) used as a field value.</summary>
    public BoundExpr? BindValue(YamlNode node, Scope scope, TypeRef expected, bool allowNull, string what)
    {
        switch (node)
        {
            case YamlScalar { IsQuoted: true } quoted:
                return CheckAssignable(quoted, 0, quoted.Value.Length + 2,
                    new Bound(new LiteralExpr(new ExprType(TypeRef.String, false), Literal(quoted.Value)), Full(scope)), scope, expected, !allowNull, what);
            case YamlScalar { Style: ScalarStyle.Block } block:
                return CheckAssignable(block, 0, 1,
                    new Bound(new LiteralExpr(new ExprType(TypeRef.String, false), Literal(block.Value)), Full(scope)), scope, expected, !allowNull, what);
            case YamlScalar scalar:
                return BindExpression(scalar, scope, expected, !allowNull, what);
            case YamlSequence sequence:
            {
                if (expected.Kind != TypeKind.List)
                {
                    _context.Report(DiagnosticTable.TypeMismatch, sequence.Span, what, expected.ToString(), "a list");
                    return null;
                }
                var items = new List<BoundExpr>();
                foreach (var item in sequence.Items)
                {
                    var bound = BindValue(item, scope, new TypeRef(expected.Element), allowNull: false, what + " item");
                    if (bound is null) return null;
                    items.Add(bound);
                }
                return new ListExpr(new ExprType(expected, false), items.ToEquatableArray());
            }
            default:
                _context.Report(DiagnosticTable.WrongNodeKind, node.Span, what, "a value (a scalar or a list)");
                return null;
        }
    }

    /// <summary>Binds <c>condition else CODE</c>.</summary>
    public Check? BindCheck(YamlScalar scalar, Scope scope)
    {
        CheckSyntax syntax;
        try
        {
            syntax = ExpressionParser.ParseCheck(scalar.Value);
        }
        catch (ExprSyntaxException ex)
        {
            _context.Report(DiagnosticTable.ExpressionSyntax, At(scalar, ex.Offset, ex.ErrorLength), ex.Message);
            return null;
        }
        if (syntax.Code is null)
        {
            _context.Report(DiagnosticTable.ExpressionSyntax, At(scalar, scalar.Value.Length, 0), "a check ends with 'else ERROR_CODE' naming the error it raises");
            return null;
        }
        var condition = BindTop(scalar, syntax.Condition, scope, TypeRef.Bool, true, "a check");
        if (!_context.ErrorCodes.Contains(syntax.Code))
        {
            _context.Report(DiagnosticTable.UnknownErrorCode, At(scalar, syntax.CodeStart, syntax.Code.Length), syntax.Code);
            return null;
        }
        var source = scalar.Value.Substring(0, syntax.Condition.End).Trim();
        return condition is null ? null : new Check(condition, syntax.Code, source);
    }

    /// <summary>The names a passed check proves present: <c>x != null else CODE</c>.</summary>
    public static IEnumerable<string> NarrowedByCheck(string check)
    {
        try
        {
            return Narrowed(ExpressionParser.ParseCheck(check).Condition).ToList();
        }
        catch (ExprSyntaxException)
        {
            return new string[0];
        }
    }

    /// <summary>The names a guard proves present: locals tested with <c>x != null</c> in its top-level conjuncts.</summary>
    public static IEnumerable<string> NarrowedBy(string guard)
    {
        try
        {
            return Narrowed(ExpressionParser.ParseExpression(guard)).ToList();
        }
        catch (ExprSyntaxException)
        {
            return new string[0];
        }
    }

    private static IEnumerable<string> Narrowed(ExprSyntax syntax)
    {
        var pending = new Stack<ExprSyntax>();
        pending.Push(syntax);
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            if (node is BinarySyntax { Operator: "&&" } and)
            {
                pending.Push(and.Left);
                pending.Push(and.Right);
            }
            else if (node is BinarySyntax { Operator: "!=" } test)
            {
                if (test.Left is NameSyntax left && test.Right is LiteralSyntax { Kind: LiteralKind.Null }) yield return left.Name;
                if (test.Right is NameSyntax right && test.Left is LiteralSyntax { Kind: LiteralKind.Null }) yield return right.Name;
            }
        }
    }

    private BoundExpr? BindTop(YamlScalar scalar, ExprSyntax syntax, Scope scope, TypeRef? expected, bool requireValue, string what)
    {
        try
        {
            var bound = Bind(scalar, syntax, scope);
            if (expected is null)
            {
                if (requireValue && bound.Mask != Full(scope))
                    ReportMaybeNull(scalar, syntax, scope);
                return Finish(bound, scope);
            }
            return CheckAssignable(scalar, syntax.Start, syntax.Length, bound, scope, expected, requireValue, what);
        }
        catch (BindFailed)
        {
            return null;
        }
    }

    private BoundExpr? CheckAssignable(YamlScalar scalar, int start, int length, Bound bound, Scope scope, TypeRef expected, bool requireValue, string what)
    {
        var actual = bound.Expr.Type.Type;
        if (!Assignable(actual, expected))
        {
            _context.Report(DiagnosticTable.TypeMismatch, At(scalar, start, length), what, expected.ToString(), actual.ToString());
            return null;
        }
        if (requireValue && bound.Mask != Full(scope))
        {
            _context.Report(DiagnosticTable.MaybeNull, At(scalar, start, length), Excerpt(scalar.Value, start, length), MaybeNullReason(scope));
            return null;
        }
        return Finish(bound, scope);
    }

    private static BoundExpr Finish(Bound bound, Scope scope)
        => bound.Expr.Type.Nullable == (bound.Mask != Full(scope)) ? bound.Expr : Retype(bound.Expr, bound.Mask != Full(scope));

    private static BoundExpr Retype(BoundExpr expr, bool nullable)
    {
        var type = new ExprType(expr.Type.Type, nullable);
        return expr switch
        {
            BinaryExpr b => b with { Type = type },
            MessageFieldExpr m => m with { Type = type },
            LocalExpr l => l with { Type = type },
            _ => expr,
        };
    }

    private static bool Assignable(TypeRef actual, TypeRef expected)
    {
        if (actual == expected || actual.Kind == TypeKind.Null) return true;
        // Bytes of unknown length fit any bytes; known lengths must agree (the peer's decoder checks the rest).
        if (actual.Kind == TypeKind.Bytes && expected.Kind == TypeKind.Bytes)
            return actual.Length == 0 || expected.Length == 0 || actual.Length == expected.Length;
        return actual.Kind == TypeKind.List && expected.Kind == TypeKind.List && actual.Element == TypeKind.Null;
    }

    private void ReportMaybeNull(YamlScalar scalar, ExprSyntax syntax, Scope scope)
    {
        _context.Report(DiagnosticTable.MaybeNull, At(scalar, syntax.Start, syntax.Length), Excerpt(scalar.Value, syntax.Start, syntax.Length), MaybeNullReason(scope));
        throw new BindFailed();
    }

    private static string MaybeNullReason(Scope scope)
        => scope.SeenSets.Count > 1 ? "it is optional, or not exchanged on every path to this point" : "it is optional";

    private static ulong Full(Scope scope) => scope.SeenSets.Count >= 64 ? ulong.MaxValue : (1UL << scope.SeenSets.Count) - 1;

    private Bound Bind(YamlScalar scalar, ExprSyntax syntax, Scope scope)
    {
        switch (syntax)
        {
            case LiteralSyntax literal:
                return literal.Kind switch
                {
                    LiteralKind.String => new Bound(new LiteralExpr(new ExprType(TypeRef.String, false), Literal(literal.Text)), Full(scope)),
                    LiteralKind.Int => long.TryParse(literal.Text, out var number)
                        ? new Bound(new LiteralExpr(new ExprType(TypeRef.Int, false), number.ToString(System.Globalization.CultureInfo.InvariantCulture) + "L"), Full(scope))
                        : Fail(DiagnosticTable.ExpressionSyntax, scalar, syntax, $"'{literal.Text}' does not fit in a 64-bit integer"),
                    LiteralKind.Bool => new Bound(new LiteralExpr(new ExprType(TypeRef.Bool, false), literal.Text), Full(scope)),
                    _ => new Bound(new LiteralExpr(new ExprType(TypeRef.Null, true), "null"), 0),
                };

            case NameSyntax name:
                return BindName(scalar, name, scope);

            case MemberSyntax member:
                return BindMember(scalar, member, scope);

            case CallSyntax call:
                return BindCall(scalar, call, scope);

            case UnarySyntax unary:
            {
                var operand = Bind(scalar, unary.Operand, scope);
                RequireType(scalar, unary.Operand, operand, TypeRef.Bool, "the operand of '!'", scope);
                RequirePresent(scalar, unary.Operand, operand, scope);
                return new Bound(new UnaryExpr(new ExprType(TypeRef.Bool, false), "!", operand.Expr), Full(scope));
            }

            case BinarySyntax binary:
                return BindBinary(scalar, binary, scope);

            case ListSyntax list:
            {
                var items = list.Items.Select(item => Bind(scalar, item, scope)).ToList();
                var element = items.Count == 0 ? TypeKind.Null : items[0].Expr.Type.Type.Kind;
                for (var i = 0; i < items.Count; i++)
                {
                    RequireType(scalar, list.Items[i], items[i], new TypeRef(element), "a list item", scope);
                    RequirePresent(scalar, list.Items[i], items[i], scope);
                    if (element is TypeKind.List or TypeKind.Map)
                        Fail(DiagnosticTable.TypeMismatch, scalar, list.Items[i], "a list item", "string, int or uuid", items[i].Expr.Type.ToString());
                }
                return new Bound(new ListExpr(new ExprType(TypeRef.ListOf(element), false), items.Select(i => i.Expr).ToEquatableArray()), Full(scope));
            }
        }
        throw new BindFailed();
    }

    private Bound BindName(YamlScalar scalar, NameSyntax name, Scope scope)
    {
        if (scope.Locals.TryGetValue(name.Name, out var local))
        {
            if (scope.Role is not null && local.Owner != scope.Role)
                return Fail(DiagnosticTable.NotVisibleToRole, scalar, name, name.Name, local.Owner, scope.Role);
            var narrowed = scope.Narrowed.Contains(name.Name);
            var nullable = local.Type.Nullable && !narrowed;
            // Present on the paths that evaluated the let (and, if it may be absent, were narrowed by a guard).
            ulong evaluated = 0;
            for (var i = 0; i < scope.SeenSets.Count && i < 64; i++)
                if ((scope.SeenSets[i] & (1UL << local.Bit)) != 0) evaluated |= 1UL << i;
            if (evaluated == 0) return Fail(DiagnosticTable.UnknownName, scalar, name, name.Name, scope.Where + $" (let '{name.Name}' is not evaluated on any path to here)");
            var mask = nullable ? 0 : evaluated;
            return new Bound(new LocalExpr(new ExprType(local.Type.Type, mask != Full(scope)), local.FieldName, narrowed && local.Type.Nullable), mask);
        }
        if (scope.ContextValues.TryGetValue(name.Name, out var value))
            return new Bound(new ContextExpr(value.Type, value.CSharp), value.Type.Nullable ? 0 : Full(scope));
        if (name.Name == "msg" || name.Name == "self" || _context.MessagesByName.ContainsKey(name.Name) || scope.ContextMessages.ContainsKey(name.Name))
            return Fail(DiagnosticTable.ExpressionSyntax, scalar, name, $"'{name.Name}' is not a value; name one of its fields, as in '{name.Name}.field'");
        if (_context.ServicesByName.ContainsKey(name.Name))
            return Fail(DiagnosticTable.ExpressionSyntax, scalar, name, $"'{name.Name}' is a service; call one of its methods, as in '{name.Name}.method(...)'");
        if (Catalog.Functions.ContainsKey(name.Name))
            return Fail(DiagnosticTable.ExpressionSyntax, scalar, name, $"'{name.Name}' is a function; call it, as in '{name.Name}()'");
        return Fail(DiagnosticTable.UnknownName, scalar, name, name.Name, scope.Where);
    }

    private Bound BindMember(YamlScalar scalar, MemberSyntax member, Scope scope)
    {
        var memberSpan = new NameSyntax(member.MemberStart, member.End, member.Member);
        if (member.Target is NameSyntax target)
        {
            if (target.Name == "msg")
            {
                if (scope.Current is null) return Fail(DiagnosticTable.NoCurrentMessage, scalar, target);
                var field = FindField(scalar, scope.Current, member, memberSpan);
                return FieldValue(scope.Current, field, isCurrent: true, messageMask: Full(scope), scope);
            }
            if (target.Name == "self")
            {
                if (scope.Role is null)
                    return Fail(DiagnosticTable.UnknownName, scalar, target, "self", scope.Where + " (which no single role evaluates)");
                var inputs = _context.Inputs[scope.Role];
                var input = inputs.FirstOrDefault(i => i.Name == member.Member)
                    ?? Fail<FieldModel>(DiagnosticTable.UnknownMember, scalar, memberSpan, $"self ({scope.Role})", member.Member);
                var type = new ExprType(input.Type, input.IsNullable);
                return new Bound(new InputExpr(type, input.PropertyName), input.IsNullable ? 0 : Full(scope));
            }
            if (target.Name == "peer" && !scope.ContextValues.ContainsKey("peer"))
            {
                if (!scope.AllowPeer || scope.Role is null)
                    return Fail(DiagnosticTable.UnknownName, scalar, target, "peer", scope.Where + " (the peer is known only while a role runs)");
                if (member.Member != "address") return Fail(DiagnosticTable.UnknownMember, scalar, memberSpan, "peer", member.Member);
                return new Bound(new ContextExpr(new ExprType(TypeRef.String, false), "run.PeerHost"), Full(scope));
            }
            if (target.Name == "envelope" && _context.Envelope is { } envelope)
            {
                if (scope.Current is null) return Fail(DiagnosticTable.NoCurrentMessage, scalar, target);
                var (property, type, nullable) = EnvelopeMember(scalar, envelope, member, memberSpan);
                return new Bound(new EnvelopeFieldExpr(new ExprType(type, nullable), scope.Current.TypeName, property, IsCurrent: true, MessageMayBeAbsent: false, FieldNullable: nullable), nullable ? 0 : Full(scope));
            }
            if (scope.ContextMessages.TryGetValue(target.Name, out var contextMessage))
            {
                var field = FindField(scalar, contextMessage.Message, member, memberSpan);
                var type = new ExprType(field.Type, field.IsNullable);
                return new Bound(new ContextExpr(type, contextMessage.CSharp + "." + field.PropertyName), field.IsNullable ? 0 : Full(scope));
            }
            if (_context.MessagesByName.TryGetValue(target.Name, out var message))
            {
                if (!scope.AllowTranscript)
                    return Fail(DiagnosticTable.UnknownName, scalar, target, target.Name, scope.Where);
                var bit = 1UL << message.Index;
                ulong present = 0;
                for (var i = 0; i < scope.SeenSets.Count && i < 64; i++)
                    if ((scope.SeenSets[i] & bit) != 0) present |= 1UL << i;
                if (present == 0) return Fail(DiagnosticTable.MessageNotAvailable, scalar, target, target.Name);
                var field = FindField(scalar, message, member, memberSpan);
                return FieldValue(message, field, isCurrent: false, messageMask: present, scope);
            }
            if (_context.ServicesByName.ContainsKey(target.Name))
                return Fail(DiagnosticTable.ExpressionSyntax, scalar, member, $"'{target.Name}.{member.Member}' is a service method; call it with (...)");
        }
        if (member.Target is MemberSyntax { Member: "envelope", Target: NameSyntax enveloped } && _context.Envelope is { } envelopeOf
            && _context.MessagesByName.TryGetValue(enveloped.Name, out var envelopedMessage) && scope.AllowTranscript)
        {
            var present = PresentMask(envelopedMessage, scope);
            if (present == 0) return Fail(DiagnosticTable.MessageNotAvailable, scalar, enveloped, enveloped.Name);
            var (property, type, nullable) = EnvelopeMember(scalar, envelopeOf, member, memberSpan);
            var mask = nullable ? 0 : present;
            return new Bound(new EnvelopeFieldExpr(new ExprType(type, mask != Full(scope)), envelopedMessage.TypeName, property, IsCurrent: false, MessageMayBeAbsent: present != Full(scope), FieldNullable: nullable), mask);
        }
        var inner = Bind(scalar, member.Target, scope);
        return Fail(DiagnosticTable.UnknownMember, scalar, memberSpan, inner.Expr.Type.ToString(), member.Member);
    }

    /// <summary>The envelope's members: its own fields, and <c>payload</c>, the canonical bytes of the message it wraps.</summary>
    private (string Property, TypeRef Type, bool Nullable) EnvelopeMember(YamlScalar scalar, EnvelopeModel envelope, MemberSyntax member, NameSyntax memberSpan)
    {
        if (member.Member == "payload") return ("Payload", TypeRef.Bytes, false);
        var field = envelope.Fields.FirstOrDefault(f => f.Name == member.Member)
            ?? Fail<FieldModel>(DiagnosticTable.UnknownMember, scalar, memberSpan, "envelope (" + envelope.Name + ")", member.Member);
        return (field.PropertyName, field.Type, field.IsNullable);
    }

    private static ulong PresentMask(MessageModel message, Scope scope)
    {
        var bit = 1UL << message.Index;
        ulong present = 0;
        for (var i = 0; i < scope.SeenSets.Count && i < 64; i++)
            if ((scope.SeenSets[i] & bit) != 0) present |= 1UL << i;
        return present;
    }

    private FieldModel FindField(YamlScalar scalar, MessageModel message, MemberSyntax member, NameSyntax memberSpan)
        => message.Fields.FirstOrDefault(f => f.Name == member.Member)
           ?? Fail<FieldModel>(DiagnosticTable.UnknownMember, scalar, memberSpan, message.Name, member.Member);

    private static Bound FieldValue(MessageModel message, FieldModel field, bool isCurrent, ulong messageMask, Scope scope)
    {
        var mask = field.IsNullable ? 0 : messageMask;
        var type = new ExprType(field.Type, mask != Full(scope));
        return new Bound(new MessageFieldExpr(type, message.TypeName, field.PropertyName, isCurrent, messageMask != Full(scope), field.IsNullable), mask);
    }

    private Bound BindCall(YamlScalar scalar, CallSyntax call, Scope scope)
    {
        if (call.Target is NameSyntax function)
            return BindFunction(scalar, call, function, scope);
        if (call.Target is MemberSyntax { Target: NameSyntax serviceName } method && _context.ServicesByName.TryGetValue(serviceName.Name, out var service))
        {
            if (scope.Role is null || !service.Roles.Contains(scope.Role))
                return Fail(DiagnosticTable.NotVisibleToRole, scalar, serviceName, serviceName.Name, string.Join(" and ", service.Roles), scope.Role ?? scope.Where);
            var kind = Catalog.Services[service.Kind];
            var signature = kind.Methods.FirstOrDefault(m => m.Name == method.Member)
                ?? Fail<ServiceMethod>(DiagnosticTable.UnknownMember, scalar, new NameSyntax(method.MemberStart, method.End, method.Member), $"{service.Name} ({service.Kind})", method.Member);
            if (call.Arguments.Count != signature.Parameters.Length)
                return Fail(DiagnosticTable.BadCall, scalar, call, $"'{service.Name}.{signature.Name}' takes {signature.Parameters.Length} argument(s) ({string.Join(", ", signature.Parameters.Select(p => p.Name))}), not {call.Arguments.Count}");
            var arguments = new List<BoundExpr>();
            for (var i = 0; i < call.Arguments.Count; i++)
            {
                var argument = Bind(scalar, call.Arguments[i], scope);
                var parameterType = signature.Parameters[i].Type.Kind == TypeKind.Null ? service.ValueType! : signature.Parameters[i].Type;
                RequireType(scalar, call.Arguments[i], argument, parameterType, $"argument '{signature.Parameters[i].Name}' of {service.Name}.{signature.Name}", scope);
                RequirePresent(scalar, call.Arguments[i], argument, scope);
                arguments.Add(argument.Expr);
            }
            var returns = signature.Returns.Kind == TypeKind.Null ? service.ValueType! : signature.Returns;
            var result = new ExprType(returns, signature.ReturnsNullable);
            var template = signature.Template.Replace("{s}", "_services." + service.PropertyName);
            foreach (var setting in service.Settings) template = template.Replace("{" + setting.Name + "}", setting.CSharp);
            return new Bound(new ServiceCallExpr(result, service.PropertyName, template, arguments.ToEquatableArray()), signature.ReturnsNullable ? 0 : Full(scope));
        }
        if (call.Target is MemberSyntax { Target: NameSyntax unknown } && !_context.MessagesByName.ContainsKey(unknown.Name) && unknown.Name is not ("msg" or "self"))
            return Fail(DiagnosticTable.UnknownName, scalar, unknown, unknown.Name, scope.Where);
        return Fail(DiagnosticTable.BadCall, scalar, call, "only built-in functions and service methods can be called");
    }

    private Bound BindFunction(YamlScalar scalar, CallSyntax call, NameSyntax function, Scope scope)
    {
        if (!Catalog.Functions.TryGetValue(function.Name, out var signature))
            return Fail(DiagnosticTable.BadCall, scalar, function, $"Unknown function '{function.Name}'; the built-in functions are {string.Join(", ", Catalog.Functions.Keys.OrderBy(k => k, System.StringComparer.Ordinal))}");
        var count = call.Arguments.Count;
        if (signature.Variadic ? count < 1 : count != signature.Parameters.Length)
            return Fail(DiagnosticTable.BadCall, scalar, call,
                $"'{function.Name}' takes {(signature.Variadic ? "one or more" : signature.Parameters.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))} argument(s) ({string.Join(", ", signature.Parameters.Select(p => p.Name + ": " + p.Type))}), not {count}");
        var arguments = new List<BoundExpr>();
        for (var i = 0; i < count; i++)
        {
            var parameter = signature.Parameters[signature.Variadic ? 0 : i];
            var syntax = call.Arguments[i];
            var what = $"argument '{parameter.Name}' of {function.Name}";
            // A string literal where bytes are expected is its UTF-8 encoding: hkdf_sha256(seed, salt, "label", 32).
            if (parameter.Type.Kind == TypeKind.Bytes && syntax is LiteralSyntax { Kind: LiteralKind.String } text)
            {
                var utf8 = System.Text.Encoding.UTF8.GetByteCount(text.Text);
                arguments.Add(new CallExpr(new ExprType(TypeRef.BytesOf(utf8 == 0 ? 0 : utf8), false), "utf8",
                    new EquatableArray<BoundExpr>(new BoundExpr[] { new LiteralExpr(new ExprType(TypeRef.String, false), Literal(text.Text)) })));
                continue;
            }
            var argument = Bind(scalar, syntax, scope);
            RequirePresent(scalar, syntax, argument, scope);
            var actual = argument.Expr.Type.Type;
            if (parameter.Type.Kind != TypeKind.Null)
                RequireType(scalar, syntax, argument, parameter.Type, what, scope);
            else if (function.Name == "len" && actual.Kind is not (TypeKind.String or TypeKind.List or TypeKind.Bytes))
                Fail(DiagnosticTable.TypeMismatch, scalar, syntax, "the argument of len", "string, list or bytes", actual.ToString());
            else if (function.Name == "text" && actual.Kind is TypeKind.List or TypeKind.Map or TypeKind.Ed25519Key or TypeKind.X25519Key)
                Fail(DiagnosticTable.TypeMismatch, scalar, syntax, "the argument of text", "string, int, bool, uuid, timestamp or bytes", actual.ToString());
            arguments.Add(argument.Expr);
        }
        var returns = ResultType(signature, call, arguments);
        return new Bound(new CallExpr(new ExprType(returns, signature.ReturnsNullable), function.Name, arguments.ToEquatableArray()),
            signature.ReturnsNullable ? 0 : Full(scope));
    }

    /// <summary>Where it can be known, the length of a bytes result: random(32) is bytes&lt;32&gt;.</summary>
    private static TypeRef ResultType(Catalog.Function signature, CallSyntax call, List<BoundExpr> arguments)
    {
        int LiteralAt(int index) => call.Arguments[index] is LiteralSyntax { Kind: LiteralKind.Int } n
            && int.TryParse(n.Text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;
        switch (signature.Name)
        {
            case "random": return TypeRef.BytesOf(LiteralAt(0));
            case "hkdf_sha256": return TypeRef.BytesOf(LiteralAt(3));
            case "take": return TypeRef.BytesOf(LiteralAt(1));
            case "chacha20_seal":
            case "aes256gcm_seal":
                return TypeRef.BytesOf(arguments[2].Type.Type.Length > 0 ? arguments[2].Type.Type.Length + 16 : 0);
            case "chacha20_open":
            case "aes256gcm_open":
                return TypeRef.BytesOf(arguments[2].Type.Type.Length > 16 ? arguments[2].Type.Type.Length - 16 : 0);
            case "concat":
                return TypeRef.BytesOf(arguments.All(a => a.Type.Type.Length > 0) ? arguments.Sum(a => a.Type.Type.Length) : 0);
            default: return signature.Returns;
        }
    }

    private Bound BindBinary(YamlScalar scalar, BinarySyntax binary, Scope scope)
    {
        var left = Bind(scalar, binary.Left, scope);
        var right = Bind(scalar, binary.Right, scope);
        var full = Full(scope);
        var lt = left.Expr.Type.Type;
        var rt = right.Expr.Type.Type;
        switch (binary.Operator)
        {
            case "&&":
            case "||":
                RequireType(scalar, binary.Left, left, TypeRef.Bool, $"the left of '{binary.Operator}'", scope);
                RequireType(scalar, binary.Right, right, TypeRef.Bool, $"the right of '{binary.Operator}'", scope);
                RequirePresent(scalar, binary.Left, left, scope);
                RequirePresent(scalar, binary.Right, right, scope);
                return new Bound(new BinaryExpr(new ExprType(TypeRef.Bool, false), binary.Operator, left.Expr, right.Expr), full);
            case "==":
            case "!=":
                if (lt.Kind != TypeKind.Null && rt.Kind != TypeKind.Null && lt.Kind != rt.Kind)
                    Fail(DiagnosticTable.TypeMismatch, scalar, binary.Right, $"the right of '{binary.Operator}'", lt.ToString(), rt.ToString());
                if (lt.Kind is TypeKind.List or TypeKind.Map or TypeKind.Ed25519Key or TypeKind.X25519Key || rt.Kind is TypeKind.List or TypeKind.Map or TypeKind.Ed25519Key or TypeKind.X25519Key)
                    Fail(DiagnosticTable.TypeMismatch, scalar, binary, $"'{binary.Operator}'", "string, int, bool, uuid or timestamp operands", lt.Kind is TypeKind.List or TypeKind.Map ? lt.ToString() : rt.ToString());
                return new Bound(new BinaryExpr(new ExprType(TypeRef.Bool, false), binary.Operator, left.Expr, right.Expr), full);
            case "<":
            case "<=":
            case ">":
            case ">=":
                if (lt.Kind is not (TypeKind.Int or TypeKind.Timestamp))
                    Fail(DiagnosticTable.TypeMismatch, scalar, binary.Left, $"the left of '{binary.Operator}'", "int or timestamp", lt.ToString());
                RequireType(scalar, binary.Right, right, lt, $"the right of '{binary.Operator}'", scope);
                RequirePresent(scalar, binary.Left, left, scope);
                RequirePresent(scalar, binary.Right, right, scope);
                return new Bound(new BinaryExpr(new ExprType(TypeRef.Bool, false), binary.Operator, left.Expr, right.Expr), full);
            case "??":
            {
                if (lt.Kind != TypeKind.Null)
                    RequireType(scalar, binary.Right, right, lt, "the fallback of '??'", scope);
                var type = lt.Kind == TypeKind.Null ? rt : lt;
                var mask = left.Mask | right.Mask;
                return new Bound(new BinaryExpr(new ExprType(type, mask != full), "??", left.Expr, right.Expr), mask);
            }
            case "+":
                if (lt.Kind is not (TypeKind.Int or TypeKind.String))
                    Fail(DiagnosticTable.TypeMismatch, scalar, binary.Left, "the left of '+'", "int or string", lt.ToString());
                RequireType(scalar, binary.Right, right, lt, "the right of '+'", scope);
                RequirePresent(scalar, binary.Left, left, scope);
                RequirePresent(scalar, binary.Right, right, scope);
                return new Bound(new BinaryExpr(new ExprType(lt, false), "+", left.Expr, right.Expr), full);
            case "-":
                if (lt.Kind is not (TypeKind.Int or TypeKind.Timestamp))
                    Fail(DiagnosticTable.TypeMismatch, scalar, binary.Left, "the left of '-'", "int or timestamp", lt.ToString());
                RequireType(scalar, binary.Right, right, lt, "the right of '-'", scope);
                RequirePresent(scalar, binary.Left, left, scope);
                RequirePresent(scalar, binary.Right, right, scope);
                // timestamp - timestamp is a number of seconds.
                return new Bound(new BinaryExpr(new ExprType(TypeRef.Int, false), "-", left.Expr, right.Expr), full);
        }
        throw new BindFailed();
    }

    private void RequireType(YamlScalar scalar, ExprSyntax syntax, Bound bound, TypeRef expected, string what, Scope scope)
    {
        if (!Assignable(bound.Expr.Type.Type, expected))
            Fail(DiagnosticTable.TypeMismatch, scalar, syntax, what, expected.ToString(), bound.Expr.Type.Type.ToString());
    }

    private void RequirePresent(YamlScalar scalar, ExprSyntax syntax, Bound bound, Scope scope)
    {
        if (bound.Mask != Full(scope)) ReportMaybeNull(scalar, syntax, scope);
    }

    private Bound Fail(DiagnosticKind kind, YamlScalar scalar, ExprSyntax syntax, params string[] arguments)
    {
        _context.Report(kind, At(scalar, syntax.Start, syntax.Length), arguments);
        throw new BindFailed();
    }

    private T Fail<T>(DiagnosticKind kind, YamlScalar scalar, ExprSyntax syntax, params string[] arguments)
    {
        _context.Report(kind, At(scalar, syntax.Start, syntax.Length), arguments);
        throw new BindFailed();
    }

    private static SourceSpan At(YamlScalar scalar, int offset, int length)
        => scalar.Style == ScalarStyle.Block ? scalar.Span : scalar.ContentSpan.Shift(offset, length);

    private static string Excerpt(string text, int start, int length)
        => start >= 0 && start + length <= text.Length && length > 0 ? text.Substring(start, length) : text;

    public static string Literal(string value) => Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(value, quote: true);
}
