using Dsl.Generator.Language;

namespace Dsl.Generator.Emit;

/// <summary>
/// How a machine stores a value it keeps for later steps: in its own C# type, or, for a type whose descriptor says
/// <see cref="ValueTypeDescriptor.KeptAsArray"/>, as a <c>KeptBytes</c> (the array it wraps, 8 bytes). Every declaration, store and load of a kept
/// value goes through here.
/// </summary>
internal static class KeptStorage
{
    private static bool AsArray(TypeRef type) => type.Kind != TypeKind.List && type.Descriptor.KeptAsArray;

    /// <summary>The field's C# type (it is absent until the step that sets it).</summary>
    public static string Type(TypeRef type) => AsArray(type) ? "global::Dsl.Runtime.Expressions.KeptBytes" : CSharp.Type(type, true);

    /// <summary>The kept value, read from <paramref name="field"/>, in its C# type (nullable).</summary>
    public static string Load(TypeRef type, string field) => AsArray(type) ? $"{CSharp.Present}.Kept({field})" : field;

    /// <summary>What to assign to the field for <paramref name="value"/>, a C# expression of the value's (nullable) type.</summary>
    public static string Store(TypeRef type, string value) => AsArray(type) ? $"{CSharp.Present}.Keep({value})" : value;
}
