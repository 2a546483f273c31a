using System.Collections.Generic;
using Dsl.Generator.Model;

namespace Dsl.Generator.Binding;

/// <summary>A parameter of a built-in function or service method.</summary>
internal sealed record Parameter(string Name, TypeRef Type);

/// <summary>A method of a built-in service kind; <see cref="Returns"/> may be <see cref="TypeRef.Void"/>.</summary>
internal sealed record ServiceMethod(string Name, string CSharpName, Parameter[] Parameters, TypeRef Returns, bool ReturnsNullable);

/// <summary>A built-in service kind: its runtime interface and methods.</summary>
internal sealed record ServiceKind(string Name, string Interface, bool Generic, ServiceMethod[] Methods);

/// <summary>The built-in names of the language: types, functions and service kinds.</summary>
internal static class Catalog
{
    public static readonly IReadOnlyDictionary<string, TypeRef> Types = new Dictionary<string, TypeRef>
    {
        ["string"] = TypeRef.String,
        ["int"] = TypeRef.Int,
        ["bool"] = TypeRef.Bool,
        ["uuid"] = TypeRef.Uuid,
        ["timestamp"] = TypeRef.Timestamp,
        ["map"] = TypeRef.Map,
        ["list<string>"] = TypeRef.ListOf(TypeKind.String),
        ["list<int>"] = TypeRef.ListOf(TypeKind.Int),
        ["list<uuid>"] = TypeRef.ListOf(TypeKind.Uuid),
    };

    public const string TypeNames = "string, int, bool, uuid, timestamp, map, list<string>, list<int>, list<uuid>";

    /// <summary>Built-in functions: name, parameters, result.</summary>
    public static readonly IReadOnlyDictionary<string, (Parameter[] Parameters, TypeRef Returns)> Functions =
        new Dictionary<string, (Parameter[], TypeRef)>
        {
            ["uuid4"] = (new Parameter[0], TypeRef.Uuid),
            ["now"] = (new Parameter[0], TypeRef.Timestamp),
            ["text"] = (new[] { new Parameter("value", TypeRef.Null) }, TypeRef.String),
            ["len"] = (new[] { new Parameter("value", TypeRef.Null) }, TypeRef.Int),
        };

    public static readonly IReadOnlyDictionary<string, ServiceKind> Services = new Dictionary<string, ServiceKind>
    {
        ["thread_store"] = new("thread_store", "global::Dsl.Runtime.Services.IThreadStore", false, new[]
        {
            new ServiceMethod("contains", "ContainsAsync", new[] { new Parameter("thread_id", TypeRef.Uuid), new Parameter("client_id", TypeRef.String) }, TypeRef.Bool, false),
            new ServiceMethod("open", "OpenAsync", new[] { new Parameter("thread_id", TypeRef.Uuid), new Parameter("client_id", TypeRef.String), new Parameter("session_id", TypeRef.Uuid) }, TypeRef.Void, false),
            new ServiceMethod("touch", "TouchAsync", new[] { new Parameter("thread_id", TypeRef.Uuid), new Parameter("session_id", TypeRef.Uuid) }, TypeRef.Void, false),
        }),
        ["value_store"] = new("value_store", "global::Dsl.Runtime.Services.IValueStore", true, new[]
        {
            // The value type (the service's 'of') replaces TypeRef.Null here.
            new ServiceMethod("get", "GetAsync", new[] { new Parameter("key", TypeRef.String) }, TypeRef.Null, true),
            new ServiceMethod("set", "SetAsync", new[] { new Parameter("key", TypeRef.String), new Parameter("value", TypeRef.Null) }, TypeRef.Void, false),
            new ServiceMethod("remove", "RemoveAsync", new[] { new Parameter("key", TypeRef.String) }, TypeRef.Void, false),
        }),
    };

    public const string ServiceKindNames = "thread_store, value_store";
}
