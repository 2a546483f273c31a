using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax;

namespace Dsl.Generator.Binding;

/// <summary>
/// Binds the types a spec declares: named objects and enums under <c>types</c>, inline ones in a field
/// (<c>{ type: object, fields: ... }</c>, <c>{ type: enum, values: [...] }</c>, and their <c>list&lt;...&gt;</c> forms),
/// and resolves every field's type against them and the built-in ones. Also binds a field's <c>const</c>.
/// </summary>
internal static class TypeBinder
{
    /// <summary>Declares the named types, then binds their fields (which may name each other), then refuses cycles.</summary>
    public static void Bind(BindingContext context, ProtocolSyntax syntax)
    {
        foreach (var type in syntax.Types)
        {
            var name = type.Name.Value;
            if (context.DeclaredKinds.ContainsKey(name))
            {
                context.Report(DiagnosticTable.DuplicateKey, type.Name.Span, name, "'types'");
                continue;
            }
            if (ValueTypes.All.Any(d => d.Name == name) || name == "list")
            {
                context.Report(DiagnosticTable.InvalidType, type.Name.Span, $"Type '{name}' has the name of a built-in type");
                continue;
            }
            if (type.Fields is null == type.Values is null)
            {
                context.Report(DiagnosticTable.InvalidType, type.Name.Span,
                    $"Type '{name}' must have either 'fields' (an object) or 'values' (an enum){(type.Fields is null ? "" : ", not both")}");
                continue;
            }
            context.DeclaredKinds[name] = type.Fields is not null ? TypeKind.Object : TypeKind.Enum;
        }
        foreach (var type in syntax.Types)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            var name = type.Name.Value;
            if (!context.DeclaredKinds.TryGetValue(name, out var kind) || context.Types.ContainsKey(name)) continue;
            Declare(context, name, kind, type.Doc, type.Fields, type.Values, type.Name);
        }
        ReportCycles(context);
    }

    /// <summary>
    /// The type of a field as written, in <paramref name="place"/>: a built-in type, a named type, or an inline object
    /// or enum, declared here under the name <c>{scope}_{field}</c>. Null after a diagnostic.
    /// </summary>
    public static TypeRef? Resolve(BindingContext context, FieldSyntax field, TypePlaces place, string scope)
    {
        var syntax = field.Type;
        var inline = syntax.Argument is null ? syntax.Name : syntax.Name == "list" ? syntax.Argument : null;
        TypeRef? type;
        if (inline is "object" or "enum")
        {
            var kind = inline == "object" ? TypeKind.Object : TypeKind.Enum;
            var shape = kind == TypeKind.Object ? "fields" : "values";
            if ((kind == TypeKind.Object ? field.Fields is null : field.Values is null))
            {
                context.Report(DiagnosticTable.MissingKey, field.Type.Source.Span, $"Field '{field.Name.Value}' of type '{syntax.Source.Value}'", shape,
                    kind == TypeKind.Object ? " (the object's fields)" : " (the enum's values)");
                return null;
            }
            var name = scope + "_" + field.Name.Value;
            if (!context.Types.ContainsKey(name) && !context.DeclaredKinds.ContainsKey(name))
                Declare(context, name, kind, field.Doc, field.Fields, field.Values, field.Name);
            if (!context.Types.TryGetValue(name, out var declared) || declared is null) return null;
            var element = TypeRef.Declared(kind, name);
            type = syntax.Name == "list" ? TypeRef.ListOf(element) : element;
        }
        else
        {
            type = ValueTypes.Resolve(syntax.Name, syntax.Argument, place);
            if (type is null && syntax.Argument is null && context.DeclaredKinds.TryGetValue(syntax.Name, out var namedKind))
                type = TypeRef.Declared(namedKind, syntax.Name);
            else if (type is null && syntax.Name == "list" && syntax.Argument is { } item && context.DeclaredKinds.TryGetValue(item, out var itemKind))
                type = TypeRef.ListOf(TypeRef.Declared(itemKind, item));
            if (field.Fields is not null || field.Values is not null)
            {
                var key = field.Fields is not null ? "fields" : "values";
                context.Report(DiagnosticTable.InvalidType, field.Type.Source.Span,
                    $"'{key}' declares an inline {(key == "fields" ? "object" : "enum")}; field '{field.Name.Value}' is of type '{syntax.Source.Value}' (write 'type: {(key == "fields" ? "object" : "enum")}')");
                return null;
            }
        }
        var descriptor = type is null ? null : type.Kind == TypeKind.List ? type.ElementType.Descriptor : type.Descriptor;
        if (type is null || !type.Descriptor.Allows(place) || (type.Kind == TypeKind.List && !descriptor!.Allows(TypePlaces.ListElement)))
        {
            context.Report(DiagnosticTable.UnknownType, syntax.Source.Span, syntax.Source.Value,
                ValueTypes.Spellings(place) + ", or a type declared under 'types'" + (place == TypePlaces.Message ? " (keys are inputs only)" : ""));
            return null;
        }
        return type;
    }

    /// <summary>A type as written outside a field (a hook's output): a built-in type or a named one; null when it is neither.</summary>
    public static TypeRef? Resolve(BindingContext context, TypeSyntax syntax, TypePlaces place)
    {
        var type = ValueTypes.Resolve(syntax.Name, syntax.Argument, place);
        if (type is not null) return type;
        if (syntax.Argument is null && context.DeclaredKinds.TryGetValue(syntax.Name, out var kind)) return TypeRef.Declared(kind, syntax.Name);
        if (syntax.Name == "list" && syntax.Argument is { } item && context.DeclaredKinds.TryGetValue(item, out var itemKind))
            return TypeRef.ListOf(TypeRef.Declared(itemKind, item));
        return null;
    }

    /// <summary>A field's <c>const</c>: a literal of its type (an enum's among its values), on a required field without a default.</summary>
    public static ConstantValue? Constant(BindingContext context, Syntax.Yaml.YamlScalar syntax, TypeRef type, bool optional, bool hasDefault)
    {
        if (optional || hasDefault)
        {
            context.Report(DiagnosticTable.InvalidConstant, syntax.Span, syntax.Value, "a constant field is required and has no default: it always carries its one value");
            return null;
        }
        if (type.Kind == TypeKind.Enum)
        {
            var values = context.Types[type.Name!]?.Values ?? EquatableArray<string>.Empty;
            if (values.Contains(syntax.Value)) return new StringConstant(syntax.Value);
            context.Report(DiagnosticTable.InvalidConstant, syntax.Span, syntax.Value, $"not a value of '{type}' ({string.Join(", ", values)})");
            return null;
        }
        if (type.Kind is TypeKind.String or TypeKind.Int or TypeKind.Bool or TypeKind.Decimal && type.Descriptor.ParseLiteral?.Invoke(syntax.Value) is { } value)
            return value;
        context.Report(DiagnosticTable.InvalidConstant, syntax.Span, syntax.Value,
            type.Kind is TypeKind.String or TypeKind.Int or TypeKind.Bool or TypeKind.Decimal
                ? $"not a valid value of type '{type}'"
                : $"a field of type '{type}' cannot be a constant (only string, int, bool, decimal and enum fields can)");
        return null;
    }

    private static void Declare(BindingContext context, string name, TypeKind kind, string? doc, EquatableArray<FieldSyntax>? fields, EquatableArray<Syntax.Yaml.YamlScalar>? values, Syntax.Yaml.YamlScalar at)
    {
        var csharp = Naming.DeclaredType(name);
        if (context.TypeNames.TryGetValue(csharp, out var other) || context.MessageTypeNames.Contains(csharp)
            || Naming.GeneratedTypes(context.Prefix, context.Roles).Contains(csharp))
        {
            context.Report(DiagnosticTable.NameCollision, at.Span, other ?? (context.MessageTypeNames.Contains(csharp) ? "a message or the envelope" : "a generated type"), name, csharp);
            return;
        }
        context.TypeNames[csharp] = name;
        // Marked while its fields are bound, so that an inline type inside it can be named after it.
        context.Types[name] = null;
        if (kind == TypeKind.Object)
        {
            var bound = SpecBinder.BindFields(context, fields!.Value, $"'{name}'", null, TypePlaces.Message, csharp, Naming.ObjectMembers, name);
            if (fields.Value.IsEmpty) context.Report(DiagnosticTable.InvalidType, at.Span, $"Object type '{name}' has no fields");
            if (bound.Count != fields.Value.Count || fields.Value.IsEmpty) return;
            context.Types[name] = new TypeSymbol(name, kind, doc, bound.ToEquatableArray(), EquatableArray<string>.Empty, at.Span);
            return;
        }
        var seen = new HashSet<string>();
        var members = new Dictionary<string, string>();
        var ok = !values!.Value.IsEmpty;
        if (!ok) context.Report(DiagnosticTable.InvalidType, at.Span, $"Enum type '{name}' has no values");
        foreach (var value in values.Value)
        {
            var member = Naming.EnumMember(value.Value);
            if (!seen.Add(value.Value))
            {
                context.Report(DiagnosticTable.DuplicateKey, value.Span, value.Value, $"the values of '{name}'");
                ok = false;
            }
            else if (member.Length == 0 || !(char.IsLetter(member[0]) || member[0] == '_') || !member.All(c => char.IsLetterOrDigit(c) || c == '_'))
            {
                context.Report(DiagnosticTable.InvalidType, value.Span, $"Enum value '{value.Value}' of '{name}' has no C# name: use letters, digits, '_' and '-', starting with a letter");
                ok = false;
            }
            else if (members.TryGetValue(member, out var twin))
            {
                context.Report(DiagnosticTable.NameCollision, value.Span, twin, value.Value, member);
                ok = false;
            }
            else members[member] = value.Value;
        }
        if (ok) context.Types[name] = new TypeSymbol(name, kind, doc, EquatableArray<FieldSymbol>.Empty, values.Value.Select(v => v.Value).ToEquatableArray(), at.Span);
    }

    /// <summary>An object that holds itself through required fields can never be built: report the cycle.</summary>
    private static void ReportCycles(BindingContext context)
    {
        var state = new Dictionary<string, int>();
        foreach (var type in context.Types.Values.Where(t => t is { Kind: TypeKind.Object }).Select(t => t!).OrderBy(t => t.Name, System.StringComparer.Ordinal))
            if (Visit(type.Name, new List<string>())) return;

        bool Visit(string name, List<string> path)
        {
            if (state.TryGetValue(name, out var mark))
            {
                if (mark == 1)
                {
                    var cycle = path.Skip(path.IndexOf(name)).Append(name);
                    context.Report(DiagnosticTable.InvalidType, context.Types[name]!.Span,
                        $"Type '{name}' holds itself through required fields ({string.Join(" → ", cycle)}), so no value of it can be built; make one of them optional or a list");
                    return true;
                }
                return false;
            }
            state[name] = 1;
            path.Add(name);
            foreach (var field in context.Types[name]?.Fields ?? EquatableArray<FieldSymbol>.Empty)
                if (!field.Optional && field.Type.Kind == TypeKind.Object && Visit(field.Type.Name!, path)) return true;
            path.RemoveAt(path.Count - 1);
            state[name] = 2;
            return false;
        }
    }
}
