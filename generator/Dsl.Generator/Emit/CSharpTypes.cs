using Dsl.Generator.Model;

namespace Dsl.Generator.Emit;

/// <summary>The C# spelling of spec types.</summary>
internal static class CSharpTypes
{
    public const string GeneratedCode = "[global::System.CodeDom.Compiler.GeneratedCode(\"Dsl.Generator\", \"0.1.0\")]";

    public static string Of(TypeRef type) => type.Kind switch
    {
        TypeKind.String => "string",
        TypeKind.Int => "long",
        TypeKind.Bool => "bool",
        TypeKind.Uuid => "global::System.Guid",
        TypeKind.Timestamp => "global::System.DateTimeOffset",
        TypeKind.Map => "global::Dsl.Runtime.Codecs.Metadata",
        TypeKind.Bytes => "global::Dsl.Runtime.Codecs.Bytes",
        TypeKind.Ed25519Key => "global::Dsl.Runtime.Cryptography.Ed25519Key",
        TypeKind.X25519Key => "global::Dsl.Runtime.Cryptography.X25519Key",
        TypeKind.List => $"global::System.Collections.Generic.IReadOnlyList<{Of(new TypeRef(type.Element == TypeKind.Null ? TypeKind.String : type.Element))}>",
        _ => "object",
    };

    public static string Of(TypeRef type, bool nullable) => nullable ? Of(type) + "?" : Of(type);

    public static string Of(ExprType type) => Of(type.Type, type.Nullable);
}
