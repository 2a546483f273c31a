using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Model;

namespace Dsl.Generator.Binding;

/// <summary>A parameter of a built-in function or service method.</summary>
internal sealed record Parameter(string Name, TypeRef Type);

/// <summary>
/// A method of a built-in service kind. <see cref="Template"/> is the C# of the call, awaited where it is
/// asynchronous: <c>{s}</c> is the service, <c>{0}</c>… the arguments, <c>{now}</c> the run's clock,
/// <c>{ct}</c> the cancellation token and <c>{setting}</c> one of the service's settings.
/// </summary>
internal sealed record ServiceMethod(string Name, Parameter[] Parameters, TypeRef Returns, bool ReturnsNullable, string Template, string Doc);

/// <summary>A setting a service kind takes in the spec (a duration or a number), with its C# form.</summary>
internal sealed record ServiceSetting(string Name, bool IsDuration, string Doc);

/// <summary>A built-in service kind: its runtime interface, settings and methods.</summary>
internal sealed record ServiceKind(string Name, string Interface, bool Generic, ServiceSetting[] Settings, ServiceMethod[] Methods, string Doc);

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

    public const string TypeNames = "string, int, bool, uuid, timestamp, bytes, bytes<N>, map, list<string>, list<int>, list<uuid>, and for inputs ed25519_key, x25519_key";

    /// <summary>Parses a type as specs write it; <c>ed25519_key</c> only where <paramref name="allowKeys"/>.</summary>
    public static bool TryParseType(string text, bool allowKeys, out TypeRef type)
    {
        if (Types.TryGetValue(text, out type!)) return true;
        if (allowKeys && text is "ed25519_key" or "x25519_key")
        {
            type = text == "ed25519_key" ? TypeRef.Ed25519Key : TypeRef.X25519Key;
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
        new Function("x25519_public", new[] { P("key", TypeRef.X25519Key) }, Key32),
        new Function("x25519_agree", new[] { P("key", TypeRef.X25519Key), P("peer_public_key", Key32) }, Key32, ReturnsNullable: true),
        new Function("utf8", new[] { P("text", TypeRef.String) }, TypeRef.Bytes),
        new Function("hex", new[] { P("data", TypeRef.Bytes) }, TypeRef.String),
        new Function("base64", new[] { P("data", TypeRef.Bytes) }, TypeRef.String),
        new Function("concat", new[] { P("parts", TypeRef.Bytes) }, TypeRef.Bytes, Variadic: true),
        new Function("take", new[] { P("data", TypeRef.Bytes), P("count", TypeRef.Int) }, TypeRef.Bytes),
        new Function("abs", new[] { P("value", TypeRef.Int) }, TypeRef.Int),
        new Function("unix", new[] { P("time", TypeRef.Timestamp) }, TypeRef.Int),
        new Function("unix_ms", new[] { P("time", TypeRef.Timestamp) }, TypeRef.Int),
    }.ToDictionary(f => f.Name);

    private static readonly TypeRef AnyBytes = TypeRef.Bytes;

    public static readonly IReadOnlyDictionary<string, ServiceKind> Services = new[]
    {
        new ServiceKind("thread_store", "global::Dsl.Runtime.Services.IThreadStore", false, new ServiceSetting[0], new[]
        {
            new ServiceMethod("contains", new[] { P("thread_id", TypeRef.Uuid), P("client_id", TypeRef.String) }, TypeRef.Bool, false,
                "await {s}.ContainsAsync({0}, {1}, {ct}).ConfigureAwait(false)", "whether the thread was issued to this client"),
            new ServiceMethod("open", new[] { P("thread_id", TypeRef.Uuid), P("client_id", TypeRef.String), P("session_id", TypeRef.Uuid) }, TypeRef.Void, false,
                "await {s}.OpenAsync({0}, {1}, {2}, {ct}).ConfigureAwait(false)", "records a new thread"),
            new ServiceMethod("touch", new[] { P("thread_id", TypeRef.Uuid), P("session_id", TypeRef.Uuid) }, TypeRef.Void, false,
                "await {s}.TouchAsync({0}, {1}, {ct}).ConfigureAwait(false)", "records that a session resumed the thread"),
        }, "the threads a server issued (LTP)"),
        new ServiceKind("value_store", "global::Dsl.Runtime.Services.IValueStore", true, new ServiceSetting[0], new[]
        {
            // The value type (the service's 'of') replaces TypeRef.Null here.
            new ServiceMethod("get", new[] { P("key", TypeRef.String) }, TypeRef.Null, true,
                "await {s}.GetAsync({0}, {ct}).ConfigureAwait(false)", "the value under key, or absent"),
            new ServiceMethod("set", new[] { P("key", TypeRef.String), P("value", TypeRef.Null) }, TypeRef.Void, false,
                "await {s}.SetAsync({0}, {1}, {ct}).ConfigureAwait(false)", "stores a value"),
            new ServiceMethod("remove", new[] { P("key", TypeRef.String) }, TypeRef.Void, false,
                "await {s}.RemoveAsync({0}, {ct}).ConfigureAwait(false)", "removes a value"),
        }, "single values by key (a client's saved thread id)"),
        new ServiceKind("pin_store", "global::Dsl.Runtime.Services.IPinnedKeyStore", false, new ServiceSetting[0], new[]
        {
            new ServiceMethod("matches", new[] { P("node_id", AnyBytes), P("public_key", AnyBytes) }, TypeRef.Bool, false,
                "await {s}.MatchesAsync({0}, {1}, {ct}).ConfigureAwait(false)", "true when the node id has no pin or is pinned to this key"),
            new ServiceMethod("pin", new[] { P("node_id", AnyBytes), P("public_key", AnyBytes) }, TypeRef.Bool, false,
                "await {s}.PinAsync({0}, {1}, {ct}).ConfigureAwait(false)", "pins the key if the node id has none; false if another key is pinned"),
        }, "public keys pinned per node id (Mesh)"),
        new ServiceKind("trust_store", "global::Dsl.Runtime.Services.ITrustStore", false, new ServiceSetting[0], new[]
        {
            new ServiceMethod("is_blacklisted", new[] { P("node_id", AnyBytes) }, TypeRef.Bool, false,
                "await {s}.IsBlacklistedAsync({0}, {ct}).ConfigureAwait(false)", "whether the node is in the refused state"),
            new ServiceMethod("authenticate", new[] { P("node_id", AnyBytes) }, TypeRef.Void, false,
                "await {s}.AuthenticateAsync({0}, {now}, {ct}).ConfigureAwait(false)", "moves the node to AUTHENTICATED where the trust state machine allows"),
            new ServiceMethod("blacklist", new[] { P("node_id", AnyBytes) }, TypeRef.Void, false,
                "await {s}.BlacklistAsync({0}, {now}, {ct}).ConfigureAwait(false)", "moves the node to BLACKLISTED (unless it is SYSTEM)"),
        }, "the trust state of each node (Mesh)"),
        new ServiceKind("replay_cache", "global::Dsl.Runtime.Services.IReplayCache", false,
            new[] { new ServiceSetting("window", true, "how long a value is remembered") }, new[]
        {
            new ServiceMethod("fresh", new[] { P("value", AnyBytes) }, TypeRef.Bool, false,
                "await {s}.TryAddAsync({0}, {now}, {now} + {window}, {ct}).ConfigureAwait(false)", "true the first time a value is seen within the window (and remembers it)"),
        }, "values seen recently, to refuse replays"),
        new ServiceKind("address_block_list", "global::Dsl.Runtime.Services.IAddressBlockList", false,
            new[]
            {
                new ServiceSetting("max_failures", false, "failed attempts that block an address"),
                new ServiceSetting("within", true, "the window in which they count"),
                new ServiceSetting("block_for", true, "how long the address stays blocked"),
            }, new[]
        {
            new ServiceMethod("allows", new[] { P("address", TypeRef.String) }, TypeRef.Bool, false,
                "!await {s}.IsBlockedAsync({0}, {now}, {ct}).ConfigureAwait(false)", "false while the address is blocked"),
            new ServiceMethod("strike", new[] { P("address", TypeRef.String) }, TypeRef.Void, false,
                "await {s}.RecordFailureAsync({0}, {now}, {max_failures}, {within}, {block_for}, {ct}).ConfigureAwait(false)", "records a failed attempt from the address"),
        }, "addresses refused after repeated failures"),
    }.ToDictionary(k => k.Name);

    public const string ServiceKindNames = "thread_store, value_store, pin_store, trust_store, replay_cache, address_block_list";
}
