using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Dsl.Generator.Language;

/// <summary>The kinds of value the language knows; each has one <see cref="ValueTypeDescriptor"/> in <see cref="ValueTypes"/>.</summary>
internal enum TypeKind { String, Int, Decimal, Bool, Uuid, Timestamp, Duration, Map, Bytes, List, Object, Enum, Ed25519Key, X25519Key, Null, Void }

/// <summary>Where a type may be declared.</summary>
[Flags]
internal enum TypePlaces
{
    None = 0,
    /// <summary>A field of a message or an envelope.</summary>
    Message = 1,
    /// <summary>An input of a role.</summary>
    Input = 2,
    /// <summary>The <c>of</c> of a <c>value_store</c>.</summary>
    StoredValue = 4,
    /// <summary>The element of a <c>list&lt;T&gt;</c>.</summary>
    ListElement = 8,
    /// <summary>A value a machine keeps between steps (a let, a transcript field) and exports with its state.</summary>
    Kept = 16,
}

/// <summary>The constraints a field of a type can carry.</summary>
[Flags]
internal enum ConstraintKinds { None = 0, Length = 1, Range = 2, Pattern = 4, OneOf = 8 }

/// <summary>
/// One value type of the language: its spelling, what it becomes in C#, on the wire and in an exported state,
/// which operators and constraints apply, and where it may be declared. The binder, the emitter, DSL101's list
/// and the docs' type table all read this one list.
/// </summary>
internal sealed class ValueTypeDescriptor
{
    public ValueTypeDescriptor(TypeKind kind, string name, string doc)
    {
        Kind = kind;
        Name = name;
        Doc = doc;
    }

    public TypeKind Kind { get; }

    /// <summary>The spelling in specs; a parametric type's base (<c>bytes</c>, <c>list</c>).</summary>
    public string Name { get; }

    /// <summary>A line of docs: what the type is for, and what to know about it.</summary>
    public string Doc { get; }

    /// <summary>How a value travels in JSON, for the docs.</summary>
    public string Wire { get; init; } = "";

    /// <summary>How a list of this type travels in JSON, for the docs.</summary>
    public string? ListWire { get; init; }

    /// <summary>For a parametric type, the docs of its parametric form.</summary>
    public string? ParametricDoc { get; init; }

    /// <summary>How a parametric type is spelled: <c>bytes&lt;N&gt;</c>, <c>list&lt;T&gt;</c>.</summary>
    public string? Parametric { get; init; }

    /// <summary>The C# type; for a list, a format with the element's C# type as <c>{0}</c>.</summary>
    public string CSharp { get; init; } = "object";

    /// <summary>Whether the C# type is a value type (its absent form is <c>Nullable&lt;T&gt;</c>).</summary>
    public bool CSharpValueType { get; init; }

    /// <summary>Whether a machine keeps a value of the type as a <c>KeptBytes</c>, the array it wraps (<c>Present.Keep</c>/<c>Present.Kept</c>): 8 bytes instead of a nullable struct's 16.</summary>
    public bool KeptAsArray { get; init; }

    public TypePlaces Places { get; init; }

    public ConstraintKinds Constraints { get; init; }

    /// <summary>What <c>min_length</c>/<c>max_length</c> count.</summary>
    public string? LengthUnit { get; init; }

    /// <summary>Whether <c>==</c> and <c>!=</c> apply.</summary>
    public bool Equatable { get; init; }

    /// <summary>Whether <c>&lt;</c>, <c>&lt;=</c>, <c>&gt;</c>, <c>&gt;=</c> apply.</summary>
    public bool Ordered { get; init; }

    /// <summary>Whether <c>a + b</c> applies (the result has the same type).</summary>
    public bool Addable { get; init; }

    /// <summary>The type of <c>a - b</c>, when it applies.</summary>
    public TypeKind? Difference { get; init; }

    /// <summary>The kind <c>a + d</c> and <c>a - d</c> move a value by (a timestamp by a duration); the result has the value's type.</summary>
    public TypeKind? OffsetBy { get; init; }

    /// <summary>Whether <c>abs(value)</c> applies (the result has the same type).</summary>
    public bool Signed { get; init; }

    /// <summary>Whether <c>text(value)</c> applies.</summary>
    public bool HasText { get; init; }

    /// <summary>Whether <c>len(value)</c> applies.</summary>
    public bool HasLength { get; init; }

    /// <summary>The <c>JsonEncoding</c> and <c>JsonDecoding</c> members for a field of this type.</summary>
    public string? JsonWrite { get; init; }
    public string? JsonRead { get; init; }

    /// <summary>The <c>JsonEncoding</c> and <c>JsonDecoding</c> members for a list of this type.</summary>
    public string? JsonListWrite { get; init; }
    public string? JsonListRead { get; init; }

    /// <summary>
    /// The <c>JsonCanonicalEncoding</c> members that write a field of this type, and a list of it, directly in the RFC 8785
    /// canonical form; null when the type has none the codec can write in one pass (a message with such a field is
    /// written, then canonicalized).
    /// </summary>
    public string? CanonicalWrite { get; init; }
    public string? CanonicalListWrite { get; init; }

    /// <summary>Whether the wire form takes the field's <c>encoding</c> and length (bytes).</summary>
    public bool JsonTakesEncoding { get; init; }

    /// <summary>The <c>HandshakeStateWriter</c>/<c>Reader</c> members for a kept value of this type, and of a list of it.</summary>
    public string? StateWrite { get; init; }
    public string? StateRead { get; init; }
    public string? StateListWrite { get; init; }
    public string? StateListRead { get; init; }

    /// <summary>Reads a literal of this type from a YAML scalar (a default value), or null when it is not one.</summary>
    public Func<string, ConstantValue?>? ParseLiteral { get; init; }

    /// <summary>
    /// Whether the spec declares the type (an object or an enum, named under <c>types</c> or inline): its C# type is
    /// generated, named after the declaration, and the codec writes its JSON and state members (<see cref="JsonWrite"/>
    /// and the others are then formats whose <c>{0}</c> is the C# type name).
    /// </summary>
    public bool Declared { get; init; }

    public bool Allows(TypePlaces place) => (Places & place) == place;
}

/// <summary>
/// A type: a kind, for lists the element kind, for bytes the length (0: any), and for a declared type (an object or
/// an enum, or a list of them) the declaration's name.
/// </summary>
internal sealed record TypeRef(TypeKind Kind, TypeKind Element = TypeKind.Null, int Length = 0, string? Name = null)
{
    public static readonly TypeRef String = new(TypeKind.String);
    public static readonly TypeRef Int = new(TypeKind.Int);
    public static readonly TypeRef Bool = new(TypeKind.Bool);
    public static readonly TypeRef Uuid = new(TypeKind.Uuid);
    public static readonly TypeRef Timestamp = new(TypeKind.Timestamp);
    public static readonly TypeRef Duration = new(TypeKind.Duration);
    public static readonly TypeRef Decimal = new(TypeKind.Decimal);
    public static readonly TypeRef Map = new(TypeKind.Map);
    public static readonly TypeRef Bytes = new(TypeKind.Bytes);
    public static readonly TypeRef Null = new(TypeKind.Null);
    public static readonly TypeRef Void = new(TypeKind.Void);

    public static TypeRef ListOf(TypeKind element) => new(TypeKind.List, element);

    /// <summary>A list of <paramref name="element"/>, a declared type's included.</summary>
    public static TypeRef ListOf(TypeRef element) => new(TypeKind.List, element.Kind, 0, element.Name);

    /// <summary>A declared object or enum type.</summary>
    public static TypeRef Declared(TypeKind kind, string name) => new(kind, TypeKind.Null, 0, name);

    public static TypeRef BytesOf(int length) => new(TypeKind.Bytes, TypeKind.Null, length);

    public ValueTypeDescriptor Descriptor => ValueTypes.Of(Kind);

    /// <summary>For a list, its element type.</summary>
    public TypeRef ElementType => new(Element, TypeKind.Null, 0, Name);

    /// <summary>The spelling used in specs and diagnostics.</summary>
    public override string ToString()
        => Kind == TypeKind.List ? $"list<{Name ?? ValueTypes.Of(Element).Name}>"
           : Kind == TypeKind.Bytes && Length > 0 ? $"bytes<{Length.ToString(CultureInfo.InvariantCulture)}>"
           : Name ?? Descriptor.Name;
}

/// <summary>The static type of an expression: a type, and whether the value may be absent where it is used.</summary>
internal sealed record ExprType(TypeRef Type, bool MayBeAbsent)
{
    public override string ToString() => MayBeAbsent ? Type + "?" : Type.ToString();
}

/// <summary>A literal value, typed.</summary>
internal abstract record ConstantValue;

internal sealed record StringConstant(string Value) : ConstantValue;

internal sealed record IntegerConstant(long Value) : ConstantValue;

internal sealed record BooleanConstant(bool Value) : ConstantValue;

internal sealed record DecimalConstant(decimal Value) : ConstantValue;

internal sealed record NullConstant : ConstantValue
{
    public static readonly NullConstant Instance = new();
}

/// <summary>A duration, as a service setting or a timeout.</summary>
internal sealed record DurationConstant(long Milliseconds) : ConstantValue;

/// <summary>Every value type of the language, in one list.</summary>
internal static class ValueTypes
{
    private static ConstantValue? ParseString(string text) => new StringConstant(text);

    private static ConstantValue? ParseInteger(string text)
        => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? new IntegerConstant(value) : null;

    private static ConstantValue? ParseDecimal(string text)
        => decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) ? new DecimalConstant(value) : null;

    private static ConstantValue? ParseBoolean(string text)
        => text switch { "true" => new BooleanConstant(true), "false" => new BooleanConstant(false), _ => null };

    public static readonly IReadOnlyList<ValueTypeDescriptor> All = new[]
    {
        new ValueTypeDescriptor(TypeKind.String, "string", "")
        {
            Wire = "string", ListWire = "array of strings",
            CSharp = "string", Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.ListElement | TypePlaces.Kept,
            Constraints = ConstraintKinds.Length | ConstraintKinds.Pattern | ConstraintKinds.OneOf, LengthUnit = "characters",
            Equatable = true, Addable = true, HasText = true, HasLength = true,
            JsonWrite = "WriteString", JsonRead = "TryReadString", JsonListWrite = "WriteStringList", JsonListRead = "TryReadStringList",
            CanonicalWrite = "WriteString", CanonicalListWrite = "WriteStringList",
            StateWrite = "WriteString", StateRead = "ReadString", StateListWrite = "WriteStringList", StateListRead = "ReadStringList",
            ParseLiteral = ParseString,
        },
        new ValueTypeDescriptor(TypeKind.Int, "int", "no fractions; `+` and `-` saturate at the 64-bit bounds")
        {
            Wire = "number, a 64-bit integer", ListWire = "array of integers",
            CSharp = "long", CSharpValueType = true,
            Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.StoredValue | TypePlaces.ListElement | TypePlaces.Kept,
            Constraints = ConstraintKinds.Range,
            Equatable = true, Ordered = true, Addable = true, Difference = TypeKind.Int, Signed = true, HasText = true,
            JsonWrite = "WriteInt64", JsonRead = "TryReadInt64", JsonListWrite = "WriteInt64List", JsonListRead = "TryReadInt64List",
            CanonicalWrite = "WriteInt64", CanonicalListWrite = "WriteInt64List",
            StateWrite = "WriteInt64", StateRead = "ReadInt64", StateListWrite = "WriteInt64List", StateListRead = "ReadInt64List",
            ParseLiteral = ParseInteger,
        },
        new ValueTypeDescriptor(TypeKind.Decimal, "decimal", "a decimal number such as `0.94` (28 significant digits); `+` and `-` saturate; an `int` does not mix in (`ratio(part, whole)` makes one of two ints)")
        {
            Wire = "number",
            CSharp = "decimal", CSharpValueType = true,
            Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.Kept,
            Constraints = ConstraintKinds.Range,
            Equatable = true, Ordered = true, Addable = true, Difference = TypeKind.Decimal, Signed = true, HasText = true,
            JsonWrite = "WriteDecimal", JsonRead = "TryReadDecimal",
            StateWrite = "WriteDecimal", StateRead = "ReadDecimal",
            ParseLiteral = ParseDecimal,
        },
        new ValueTypeDescriptor(TypeKind.Bool, "bool", "")
        {
            Wire = "`true` / `false`",
            CSharp = "bool", CSharpValueType = true,
            Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.StoredValue | TypePlaces.Kept,
            Equatable = true, HasText = true,
            JsonWrite = "WriteBoolean", JsonRead = "TryReadBoolean",
            CanonicalWrite = "WriteBoolean",
            StateWrite = "WriteBoolean", StateRead = "ReadBoolean",
            ParseLiteral = ParseBoolean,
        },
        new ValueTypeDescriptor(TypeKind.Uuid, "uuid", "written lower case")
        {
            Wire = "string, `8-4-4-4-12` hex", ListWire = "array of UUID strings",
            CSharp = "global::System.Guid", CSharpValueType = true,
            Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.StoredValue | TypePlaces.ListElement | TypePlaces.Kept,
            Equatable = true, HasText = true,
            JsonWrite = "WriteUuid", JsonRead = "TryReadUuid", JsonListWrite = "WriteUuidList", JsonListRead = "TryReadUuidList",
            CanonicalWrite = "WriteUuid", CanonicalListWrite = "WriteUuidList",
            StateWrite = "WriteUuid", StateRead = "ReadUuid", StateListWrite = "WriteUuidList", StateListRead = "ReadUuidList",
        },
        new ValueTypeDescriptor(TypeKind.Timestamp, "timestamp", "`now()` is already whole seconds, so both sides compute with the values the wire carries")
        {
            Wire = "number, Unix time in whole seconds",
            CSharp = "global::System.DateTimeOffset", CSharpValueType = true,
            Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.StoredValue | TypePlaces.Kept,
            Equatable = true, Ordered = true, Difference = TypeKind.Duration, OffsetBy = TypeKind.Duration, HasText = true,
            JsonWrite = "WriteUnixSeconds", JsonRead = "TryReadUnixSeconds",
            CanonicalWrite = "WriteUnixSeconds",
            StateWrite = "WriteTimestamp", StateRead = "ReadTimestamp",
        },
        new ValueTypeDescriptor(TypeKind.Duration, "duration", "a literal such as `60s`, `500ms`, `5m` or `1h`, or the difference of two timestamps; in expressions only, never on the wire")
        {
            CSharp = "global::System.TimeSpan", CSharpValueType = true,
            Places = TypePlaces.Kept,
            Equatable = true, Ordered = true, Addable = true, Difference = TypeKind.Duration, Signed = true,
            StateWrite = "WriteDuration", StateRead = "ReadDuration",
        },
        new ValueTypeDescriptor(TypeKind.Map, "map", "free-form metadata; can be copied, not inspected or compared")
        {
            Wire = "any JSON object",
            CSharp = "global::Dsl.Runtime.Codecs.Metadata",
            Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.Kept,
            JsonWrite = "WriteMetadata", JsonRead = "TryReadMetadata",
            StateWrite = "WriteMetadata", StateRead = "ReadMetadata",
        },
        new ValueTypeDescriptor(TypeKind.Bytes, "bytes", "any length")
        {
            Wire = "string: hex or base64, by the field's `encoding`",
            ParametricDoc = "exactly `N` bytes, 1 ≤ `N` ≤ 65536; another length is a decode error",
            Parametric = "bytes<N>",
            ListWire = "array of strings: hex or base64, by the field's `encoding`",
            CSharp = "global::Dsl.Runtime.Codecs.Bytes", CSharpValueType = true, KeptAsArray = true,
            Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.StoredValue | TypePlaces.ListElement | TypePlaces.Kept,
            Constraints = ConstraintKinds.Length, LengthUnit = "bytes",
            Equatable = true, HasText = true, HasLength = true,
            JsonWrite = "WriteBytes", JsonRead = "TryReadBytes", JsonTakesEncoding = true,
            JsonListWrite = "WriteBytesList", JsonListRead = "TryReadBytesList",
            CanonicalWrite = "WriteBytes", CanonicalListWrite = "WriteBytesList",
            StateWrite = "WriteBytes", StateRead = "ReadBytes", StateListWrite = "WriteBytesList", StateListRead = "ReadBytesList",
        },
        new ValueTypeDescriptor(TypeKind.List, "list", "")
        {
            Parametric = "list<T>",
            CSharp = "global::System.Collections.Generic.IReadOnlyList<{0}>",
            Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.Kept,
            Constraints = ConstraintKinds.Length, LengthUnit = "items",
            HasLength = true,
        },
        new ValueTypeDescriptor(TypeKind.Object, "object", "an object with the fields it declares, inline (`{ type: object, fields: {...} }`) or named under `types`; its fields are read with `.` (`msg.auth.role`)")
        {
            Wire = "object", ListWire = "array of objects",
            CSharp = "{0}", Declared = true,
            Places = TypePlaces.Message | TypePlaces.ListElement | TypePlaces.Kept,
            JsonWrite = "Write{0}Value", JsonRead = "TryRead{0}Value", JsonListWrite = "Write{0}List", JsonListRead = "TryRead{0}List",
            StateWrite = "Save{0}", StateRead = "Restore{0}", StateListWrite = "Save{0}List", StateListRead = "Restore{0}List",
        },
        new ValueTypeDescriptor(TypeKind.Enum, "enum", "one of the values it declares (`{ type: enum, values: [metabolic, open_weight] }`, or named under `types`); a C# enum, its value's text on the wire; an unknown value is a decode error; compared with string literals among its values")
        {
            Wire = "string", ListWire = "array of strings",
            CSharp = "{0}", CSharpValueType = true, Declared = true,
            Places = TypePlaces.Message | TypePlaces.Input | TypePlaces.ListElement | TypePlaces.Kept,
            Equatable = true,
            JsonWrite = "Write{0}Value", JsonRead = "TryRead{0}Value", JsonListWrite = "Write{0}List", JsonListRead = "TryRead{0}List",
            StateWrite = "Save{0}", StateRead = "Restore{0}", StateListWrite = "Save{0}List", StateListRead = "Restore{0}List",
        },
        new ValueTypeDescriptor(TypeKind.Ed25519Key, "ed25519_key", "an Ed25519 key pair; an input only, never on the wire")
        {
            CSharp = "global::Dsl.Runtime.Cryptography.Ed25519Key", Places = TypePlaces.Input,
        },
        new ValueTypeDescriptor(TypeKind.X25519Key, "x25519_key", "an X25519 key pair; an input, or an ephemeral key made by `x25519_keypair()` in a let; never on the wire")
        {
            CSharp = "global::Dsl.Runtime.Cryptography.X25519Key", Places = TypePlaces.Input | TypePlaces.Kept,
            StateWrite = "WriteX25519Key", StateRead = "ReadX25519Key",
        },
        new ValueTypeDescriptor(TypeKind.Null, "null", "The type of the literal null: absent.") { CSharp = "object" },
        new ValueTypeDescriptor(TypeKind.Void, "nothing", "What a service method that returns nothing gives.") { CSharp = "void" },
    };

    private static readonly Dictionary<TypeKind, ValueTypeDescriptor> s_byKind = All.ToDictionary(d => d.Kind);

    public static ValueTypeDescriptor Of(TypeKind kind) => s_byKind[kind];

    /// <summary>The types that can be declared in <paramref name="place"/>, spelled as specs write them (for DSL101).</summary>
    public static string Spellings(TypePlaces place)
        => string.Join(", ", All.Where(d => d.Allows(place)).SelectMany(d => d.Kind switch
        {
            TypeKind.List => All.Where(e => e.Allows(TypePlaces.ListElement) && !e.Declared).Select(e => $"list<{e.Name}>").Append("list<TYPE>"),
            TypeKind.Object or TypeKind.Enum => new[] { d.Name },
            _ when d.Parametric is not null => new[] { d.Name, d.Parametric },
            _ => new[] { d.Name },
        }));

    /// <summary>
    /// Resolves a type as specs write it (<c>string</c>, <c>bytes&lt;32&gt;</c>, <c>list&lt;uuid&gt;</c>) for a place;
    /// null when it names no type that fits there.
    /// </summary>
    public static TypeRef? Resolve(string name, string? argument, TypePlaces place)
    {
        // object and enum are declared types: the binder resolves them, with their declarations.
        var descriptor = All.FirstOrDefault(d => d.Name == name && d.Kind is not (TypeKind.Null or TypeKind.Void) && !d.Declared);
        if (descriptor is null || !descriptor.Allows(place)) return null;
        if (descriptor.Kind == TypeKind.List)
        {
            if (argument is null) return null;
            var element = All.FirstOrDefault(d => d.Name == argument && d.Allows(TypePlaces.ListElement) && !d.Declared);
            return element is null ? null : TypeRef.ListOf(element.Kind);
        }
        if (descriptor.Kind == TypeKind.Bytes && argument is not null)
            return int.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out var length) && length is > 0 and <= 65536
                ? TypeRef.BytesOf(length) : null;
        return argument is null ? new TypeRef(descriptor.Kind) : null;
    }
}
