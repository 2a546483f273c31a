using System.Collections.Generic;
using System.Linq;
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
        ["bytes"] = TypeRef.Bytes,
        ["list<string>"] = TypeRef.ListOf(TypeKind.String),
        ["list<int>"] = TypeRef.ListOf(TypeKind.Int),
        ["list<uuid>"] = TypeRef.ListOf(TypeKind.Uuid),
    };

    public const string TypeNames = "string, int, bool, uuid, timestamp, bytes, bytes<N>, map, list<string>, list<int>, list<uuid>, and for inputs ed25519_key";

    /// <summary>Parses a type as specs write it; <c>ed25519_key</c> only where <paramref name="allowKeys"/>.</summary>
    public static bool TryParseType(string text, bool allowKeys, out TypeRef type)
    {
        if (Types.TryGetValue(text, out type!)) return true;
        if (allowKeys && text == "ed25519_key")
        {
            type = TypeRef.Ed25519Key;
            return true;
        }
        if (text.StartsWith("bytes<", System.StringComparison.Ordinal) && text.EndsWith(">", System.StringComparison.Ordinal)
            && int.TryParse(text.Substring(6, text.Length - 7), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length)
            && length is > 0 and <= 65536)
        {
            type = TypeRef.BytesOf(length);
            return true;
        }
        type = TypeRef.Null;
        return false;
    }

    /// <summary>A built-in function: parameters (TypeRef.Null: checked by the binder), result, and whether the result may be absent.</summary>
    internal sealed record Function(string Name, Parameter[] Parameters, TypeRef Returns, bool ReturnsNullable = false, bool Variadic = false, string Doc = "");

    private static Parameter P(string name, TypeRef type) => new(name, type);

    private static readonly TypeRef Key32 = TypeRef.BytesOf(32), Nonce12 = TypeRef.BytesOf(12);

    /// <summary>Built-in functions. Where a parameter is bytes, a string literal is accepted as its UTF-8 bytes.</summary>
    public static readonly IReadOnlyDictionary<string, Function> Functions = new[]
    {
        new Function("uuid4", new Parameter[0], TypeRef.Uuid, Doc: "a random (version 4) UUID from the cryptographic RNG"),
        new Function("now", new Parameter[0], TypeRef.Timestamp, Doc: "the current time, from the run's clock"),
        new Function("text", new[] { P("value", TypeRef.Null) }, TypeRef.String, Doc: "a value as text (bytes as hex)"),
        new Function("len", new[] { P("value", TypeRef.Null) }, TypeRef.Int, Doc: "the length of a string, list or bytes"),
        new Function("random", new[] { P("count", TypeRef.Int) }, TypeRef.Bytes, Doc: "count random bytes"),
        new Function("sha256", new[] { P("data", TypeRef.Bytes) }, Key32),
        new Function("hmac_sha256", new[] { P("key", TypeRef.Bytes), P("data", TypeRef.Bytes) }, Key32),
        new Function("hkdf_sha256", new[] { P("ikm", TypeRef.Bytes), P("salt", TypeRef.Bytes), P("info", TypeRef.Bytes), P("length", TypeRef.Int) }, TypeRef.Bytes),
        new Function("chacha20_seal", new[] { P("key", Key32), P("nonce", Nonce12), P("plaintext", TypeRef.Bytes), P("aad", TypeRef.Bytes) }, TypeRef.Bytes),
        new Function("chacha20_open", new[] { P("key", Key32), P("nonce", Nonce12), P("ciphertext", TypeRef.Bytes), P("aad", TypeRef.Bytes) }, TypeRef.Bytes, ReturnsNullable: true),
        new Function("aes256gcm_seal", new[] { P("key", Key32), P("nonce", Nonce12), P("plaintext", TypeRef.Bytes), P("aad", TypeRef.Bytes) }, TypeRef.Bytes),
        new Function("aes256gcm_open", new[] { P("key", Key32), P("nonce", Nonce12), P("ciphertext", TypeRef.Bytes), P("aad", TypeRef.Bytes) }, TypeRef.Bytes, ReturnsNullable: true),
        new Function("ed25519_public", new[] { P("key", TypeRef.Ed25519Key) }, Key32),
        new Function("ed25519_sign", new[] { P("key", TypeRef.Ed25519Key), P("data", TypeRef.Bytes) }, TypeRef.BytesOf(64)),
        new Function("ed25519_verify", new[] { P("public_key", Key32), P("data", TypeRef.Bytes), P("signature", TypeRef.BytesOf(64)) }, TypeRef.Bool),
        new Function("utf8", new[] { P("text", TypeRef.String) }, TypeRef.Bytes),
        new Function("hex", new[] { P("data", TypeRef.Bytes) }, TypeRef.String),
        new Function("base64", new[] { P("data", TypeRef.Bytes) }, TypeRef.String),
        new Function("concat", new[] { P("parts", TypeRef.Bytes) }, TypeRef.Bytes, Variadic: true),
        new Function("take", new[] { P("data", TypeRef.Bytes), P("count", TypeRef.Int) }, TypeRef.Bytes),
        new Function("abs", new[] { P("value", TypeRef.Int) }, TypeRef.Int),
        new Function("unix", new[] { P("time", TypeRef.Timestamp) }, TypeRef.Int),
        new Function("unix_ms", new[] { P("time", TypeRef.Timestamp) }, TypeRef.Int),
    }.ToDictionary(f => f.Name);

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
