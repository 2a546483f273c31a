using System.Collections.Generic;
using System.Globalization;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;

namespace Dsl.Generator.Emit;

/// <summary>The C# spelling of the language's types, literals and the runtime's members, read from the descriptors.</summary>
internal static class CSharp
{
    public const string GeneratedCode = "[global::System.CodeDom.Compiler.GeneratedCode(\"Dsl.Generator\", \"0.2.0\")]";

    public const string Builtins = "global::Dsl.Runtime.Expressions.Builtins";
    public const string Operators = "global::Dsl.Runtime.Expressions.Operators";
    public const string Present = "global::Dsl.Runtime.Expressions.Present";
    public const string Handshakes = "global::Dsl.Runtime.Handshakes";
    public const string Codecs = "global::Dsl.Runtime.Codecs";
    public const string Tasks = "global::System.Threading.Tasks";
    public const string CancellationToken = "global::System.Threading.CancellationToken";

    /// <summary>The C# type of a value of <paramref name="type"/>.</summary>
    public static string Type(TypeRef type)
    {
        var descriptor = type.Descriptor;
        return type.Kind == TypeKind.List ? string.Format(CultureInfo.InvariantCulture, descriptor.CSharp, Type(type.ElementType))
             : descriptor.Declared ? string.Format(CultureInfo.InvariantCulture, descriptor.CSharp, Naming.DeclaredType(type.Name!))
             : descriptor.CSharp;
    }

    /// <summary>The C# type of a value that may be absent when <paramref name="nullable"/>.</summary>
    public static string Type(TypeRef type, bool nullable) => nullable ? Type(type) + "?" : Type(type);

    /// <summary>Whether the C# type is a value type (its absent form is <c>Nullable&lt;T&gt;</c>).</summary>
    public static bool IsValueType(TypeRef type) => type.Descriptor.CSharpValueType;

    /// <summary>A C# identifier for a name: a keyword gets its '@'.</summary>
    public static string Identifier(string name) => Naming.IsReservedKeyword(name) ? "@" + name : name;

    /// <summary>A C# string literal.</summary>
    public static string Literal(string value) => Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(value, quote: true);

    /// <summary>A literal value in C#.</summary>
    public static string Literal(ConstantValue value) => value switch
    {
        StringConstant text => Literal(text.Value),
        IntegerConstant number => number.Value.ToString(CultureInfo.InvariantCulture) + "L",
        DecimalConstant number => number.Value.ToString(CultureInfo.InvariantCulture) + "m",
        BooleanConstant boolean => boolean.Value ? "true" : "false",
        DurationConstant duration => $"global::System.TimeSpan.FromMilliseconds({duration.Milliseconds.ToString(CultureInfo.InvariantCulture)})",
        _ => "null",
    };

    /// <summary>A service setting's value, as its runtime member takes it.</summary>
    public static string Setting(ConstantValue value) => value switch
    {
        IntegerConstant number => number.Value.ToString(CultureInfo.InvariantCulture),
        _ => Literal(value),
    };

    /// <summary>The bytes encoding argument of a bytes field.</summary>
    public static string Encoding(BytesEncoding encoding) => $"{Codecs}.BytesEncoding.{encoding}";
}

/// <summary>Unique C# identifiers for one scope, derived from spec names.</summary>
internal sealed class NameTable
{
    private readonly HashSet<string> _taken;

    public NameTable(params string[] reserved) => _taken = new HashSet<string>(reserved);

    /// <summary><paramref name="name"/>, or it with a number when taken.</summary>
    public string Take(string name)
    {
        var candidate = name;
        for (var i = 2; !_taken.Add(candidate); i++) candidate = name + i.ToString(CultureInfo.InvariantCulture);
        return candidate;
    }
}
